package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// killedTrace records a trace of three generations and returns it, and
// the trace its process would have left if killed as the last began.
func killedTrace(t *testing.T) (whole *bytes.Buffer, killed []byte) {
	t.Helper()
	whole = new(bytes.Buffer)
	if err := synth.RecordGenerations(whole, 3); err != nil {
		t.Fatal(err)
	}
	killed, err := synth.KilledAtLastGeneration(whole.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return whole, killed
}

// TestUnfinishedNote: a trace whose process was killed just after a
// generation began converts whole, with exit status 0, and a note says
// that it ends early; the trace whole gets no such note.
func TestUnfinishedNote(t *testing.T) {
	buf, killed := killedTrace(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		note bool
	}{{"whole.trace", buf.Bytes(), false}, {"killed.trace", killed, true}} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"perfetto", "-q", "-o", filepath.Join(dir, "out.pftrace"), path},
			{"chrome", "-q", "-o", filepath.Join(dir, "out.json"), "-"},
		} {
			var stdin []byte
			if args[len(args)-1] == "-" {
				stdin = tc.data
			}
			code, _, errs := runCmd(t, stdin, args...)
			if code != 0 {
				t.Errorf("%s %v: exit %d: %s", tc.name, args[0], code, errs)
			}
			if got := strings.Contains(errs, "stopped inside its last generation"); got != tc.note {
				t.Errorf("%s %v: note %v, want %v: %q", tc.name, args[0], got, tc.note, errs)
			}
		}
	}
	// The note says where the trace ends, from its start, whatever the
	// window.
	path := filepath.Join(dir, "killed.trace")
	_, _, whole := runCmd(t, nil, "stats", path)
	_, ends, _ := strings.Cut(whole, "the trace ends at ")
	ends, _, _ = strings.Cut(ends, ",")
	if ends == "" {
		t.Fatalf("no end in the note: %q", whole)
	}
	for _, from := range []string{"1ms", "5ms"} {
		if _, _, errs := runCmd(t, nil, "stats", "--from", from, path); !strings.Contains(errs, "the trace ends at "+ends+",") {
			t.Errorf("stats --from %s: %q, want the end at %s", from, errs, ends)
		}
	}
}

// TestGrowingFileNote: a trace file that grows while it is read (a
// program still writing it) converts up to where it was when opened, and
// the note says that it is being written, not that its program was
// killed.
func TestGrowingFileNote(t *testing.T) {
	buf, killed := killedTrace(t)
	// Opened as the writer began a generation, which converts, and
	// between two batches of one, which the parser refuses.
	for _, data := range [][]byte{killed, betweenBatches(t, buf.Bytes())} {
		path := filepath.Join(t.TempDir(), "growing.trace")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &stderr}
		in, err := openTrace(e, []string{path}, &inputOpts{})
		if err != nil {
			t.Fatal(err)
		}
		// The writer goes on after the file was opened.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		f.Close()
		sum, err := in.mapTrace(e, &inputOpts{}, in, stats.NewSink())
		in.Close()
		if len(data) == len(killed) && (err != nil || sum == nil || !sum.Unfinished) {
			t.Errorf("mapping what the writer had begun: %v (summary %+v)", err, sum)
		}
		if len(data) != len(killed) && (err == nil || !strings.Contains(err.Error(), "or is still writing the file")) {
			t.Errorf("a generation the writer had not finished: %v; want the error to allow for a writer still at work", err)
		}
		if got := stderr.String(); !strings.Contains(got, "note: the file grew by 4096 bytes while it was read: a program is still writing it") || strings.Contains(got, "killed") {
			t.Errorf("stderr: %q", got)
		}
	}
}

// betweenBatches returns the trace data cut between two batches of its
// last generation, where a writer at work leaves it, at a point where the
// parser refuses the generation for want of its end.
func betweenBatches(t *testing.T, data []byte) []byte {
	t.Helper()
	full, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	last := full.Generations[len(full.Generations)-1]
	for cut := last.Offset + last.Size - 2; cut > last.Offset; cut-- {
		idx, err := tracefile.Read(bytes.NewReader(data[:cut]), cut)
		if err != nil || !idx.Generations[len(idx.Generations)-1].Unfinished {
			continue // not between batches
		}
		if _, err := mapping.MapFile(bytes.NewReader(data[:cut]), cut, mapping.NopSink{}); err != nil {
			return data[:cut]
		}
	}
	t.Fatal("no cut between the last generation's batches that the parser refuses")
	return nil
}
