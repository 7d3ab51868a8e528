package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// chunkReader gives its bytes n at a time, as a pipe can. The command
// reads standard input on a goroutine of its own, which can still be
// reading when it returns: left says how much is left, under its lock.
type chunkReader struct {
	mu   sync.Mutex
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

func (r *chunkReader) left() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data)
}

// TestFilteredBrokenStream: a damaged stream read with a filter that needs
// a first pass is copied for the main pass as far as its file would be
// read, not cut where the first pass stopped, which depends on how its
// bytes came: it gives what the file gives, however they come (it gave a
// trace "cut short" at a varying byte).
func TestFilteredBrokenStream(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	data[285] ^= 0xff // inside an event of the first generation: its batches stay whole
	file := filepath.Join(t.TempDir(), "damaged.trace")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"stats", "--json", "--task", "request"}
	code, want, errs := runCmd(t, nil, append(args, file)...)
	if code != 1 || !strings.Contains(errs, "broken trace") {
		t.Fatalf("the damaged file: exit %d, stderr %q; want 1 and a broken trace", code, errs)
	}
	want = strings.ReplaceAll(want, file, "stdin")
	for _, n := range []int{1, 200, 4096, len(data)} {
		var out, errb bytes.Buffer
		code := run(append(args, "-"), &chunkReader{data: bytes.Clone(data), n: n}, &out, &errb)
		if code != 1 {
			t.Errorf("%d bytes at a time: exit %d, want 1; stderr %q", n, code, errb.String())
		}
		if got := out.String(); got != want {
			t.Errorf("%d bytes at a time: the report differs from the file's:\n%s\nwant:\n%s", n, got, want)
		}
	}
}

// TestFilteredStreamThenZeros: a stream whose trace is followed by bytes
// that are not batches (a pipe of /dev/zero after it) is copied only a
// little past them, and reported as its file is.
func TestFilteredStreamThenZeros(t *testing.T) {
	trace, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	data := append(bytes.Clone(trace), make([]byte, 1<<20)...)
	file := filepath.Join(t.TempDir(), "zeros.trace")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"stats", "--json", "--task", "request"}
	_, want, _ := runCmd(t, nil, append(args, file)...)
	want = strings.ReplaceAll(want, file, "stdin")
	in := &chunkReader{data: bytes.Clone(data), n: 4096}
	var out, errb bytes.Buffer
	run(append(args, "-"), in, &out, &errb)
	// bytes_read counts what the reader took in, which the copy's end
	// bounds (see the README).
	got, wantJSON := statsJSON(t, out.String()), statsJSON(t, want)
	delete(got, "bytes_read")
	delete(wantJSON, "bytes_read")
	if !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("the report differs from the file's:\n%s\nwant:\n%s", out.String(), want)
	}
	if left := in.left(); left < 1<<19 {
		t.Errorf("%d bytes of zeros left unread of %d: the copy went on past the trace", left, 1<<20)
	}
}

// TestPrepassBrokenBeforeWindow: a filter whose first pass meets damage
// that the main pass, reading only the window's generations, never
// reaches says that the trace is broken and that the selection may lack
// what lies past the damage, and exits 1 (writing what it kept, if
// anything): a task or region filter that kept nothing blamed the
// selection, and a related filter kept a few of the goroutines and
// exited 0, without a word of the damage.
func TestPrepassBrokenBeforeWindow(t *testing.T) {
	var last lastStep
	path, data, gens := generationsFile(t, &last)
	if last.long == mapping.NoGoroutine {
		t.Fatal("no long task")
	}
	// The window of the last step task, in the trace's last generations.
	origin := gens[0].Start
	window := []string{"--from", fmt.Sprintf("%dns", int64(last.step.Start)-origin), "--to", fmt.Sprintf("%dns", int64(last.step.End)-origin+1)}
	// Before any damage, the window keeps something of each selection.
	sels := [][]string{{"--task", "step"}, {"--region", "work"}, {"--goroutine", fmt.Sprint(last.long), "--related"}}
	for _, sel := range sels {
		runOK(t, nil, append(append([]string{"stats", "--json"}, sel...), append(window, path)...)...)
	}
	data = damageGeneration(t, data, 1)
	broken := filepath.Join(t.TempDir(), "broken.trace")
	if err := os.WriteFile(broken, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, nil, "stats", broken); code != 1 || !strings.Contains(errs, "broken trace in generation 2") {
		t.Fatalf("the damage is not where the test puts it: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd(t, nil, append(append([]string{"stats"}, window...), broken)...); code != 0 {
		t.Fatalf("the window alone: exit %d, %q; want it read without the damaged generation", code, errs)
	}
	for _, sel := range sels {
		out := filepath.Join(t.TempDir(), "out.pftrace")
		args := append(append([]string{"perfetto", "-q", "-o", out}, sel...), append(window, broken)...)
		code, _, errs := runCmd(t, nil, args...)
		if code != 1 || !strings.Contains(errs, "broken trace in generation 2") || !strings.Contains(errs, "first pass") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and a line that names the damage and the first pass", sel, code, errs)
		}
		if sel[0] == "--goroutine" {
			// What it kept of the window is written.
			if st, err := os.Stat(out); err != nil || st.Size() == 0 {
				t.Errorf("%v: the output is not written: %v", sel, err)
			}
		}
	}
}

// lastStep finds the last "step" task of synth.RecordGenerations, and
// the goroutine that began the long one.
type lastStep struct {
	mapping.NopSink
	step mapping.Task
	long mapping.GoID
}

func (s *lastStep) Task(k *mapping.Task) error {
	switch k.Type {
	case "step":
		s.step = *k
	case "long":
		s.long = k.StartG
	}
	return nil
}

// damageGeneration returns trace with 16 bytes of generation k's events
// overwritten, where the parser fails and the generations still index:
// where depends on the trace's layout, so it tries a few places.
func damageGeneration(t *testing.T, trace []byte, k int) []byte {
	t.Helper()
	idx, err := tracefile.Read(bytes.NewReader(trace), int64(len(trace)))
	if err != nil || len(idx.Generations) <= k {
		t.Fatalf("%v", err)
	}
	g := idx.Generations[k]
	for _, at := range []int64{g.Size / 8, g.Size / 4, g.Size / 3, g.Size / 2, g.Size * 2 / 3} {
		d := bytes.Clone(trace)
		copy(d[g.Offset+at:], bytes.Repeat([]byte{0xff}, 16))
		var e *mapping.Error
		if _, err := mapping.Map(bytes.NewReader(d), mapping.NopSink{}); !errors.As(err, &e) || e.Generation != k {
			continue
		}
		if x, err := tracefile.Read(bytes.NewReader(d), int64(len(d))); err == nil && len(x.Generations) == len(idx.Generations) {
			return d
		}
	}
	t.Fatalf("no damage found that the parser meets in generation %d and the index reads past", k)
	return nil
}
