package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestViewIndexDamaged serves the index page of a trace with a damaged
// generation in its middle: the page says counting stopped and why, and
// shows no counts for the windows past the damage; every part is either a
// valid trace with something in it or an error status with the error,
// never an empty answer, nor a trace of nothing but the mark of the cut
// (of a part whose pass failed in a generation before it), which the UI
// would take for an empty trace.
func TestViewIndexDamaged(t *testing.T) {
	path := recordGenerations(t, 4)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(clean), int64(len(clean)))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Generations) < 5 {
		t.Fatalf("%d generations", len(idx.Generations))
	}
	// In the middle, and in the first generation, where the parts that
	// begin there fail before they give anything.
	failed := 0
	for _, k := range []int{len(idx.Generations) / 2, 0} {
		failed += viewDamaged(t, clean, idx, k)
	}
	if failed == 0 {
		t.Error("no part failed")
	}
}

// viewDamaged serves the index page of the trace data, of index idx, with
// its generation k damaged, and returns the number of parts that failed.
func viewDamaged(t *testing.T, data []byte, idx *tracefile.Index, k int) int {
	t.Helper()
	data = bytes.Clone(data)
	// The first event of the generation's largest batch becomes no event
	// at all.
	g := idx.Generations[k]
	var first, largest int64
	for off := g.Offset; off < g.Offset+g.Size && data[off] == 1; {
		i := off + 1
		var size uint64
		for range 4 {
			v, n := binary.Uvarint(data[i:])
			size, i = v, i+int64(n)
		}
		if int64(size) > largest {
			first, largest = i, int64(size)
		}
		off = i + int64(size)
	}
	data[first] = 0xee
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the damage is in the batches' headers: %v", err)
	}
	path := filepath.Join(t.TempDir(), "damaged.trace")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s := newIndexServer(in, in.ReadCloser.(*os.File), idx, float64(traceBytesPerRow), in.size/8, 0)
	if err := s.count(); err == nil {
		t.Fatal("counting the damaged trace did not fail")
	}
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()
	page := get(t, srv.URL+"/")
	if !strings.Contains(page, "Counting stopped") || !strings.Contains(page, "broken trace") || !strings.Contains(page, "<td>?</td>") {
		t.Errorf("the page does not say that counting stopped, and why:\n%s", page)
	}
	parts := regexp.MustCompile(`url=http://127\.0\.0\.1:9001(/damaged\.g?[0-9]+\.pftrace)"`).FindAllStringSubmatch(page, -1)
	if len(parts) < len(idx.Generations) {
		t.Fatalf("%d parts offered for %d generations", len(parts), len(idx.Generations))
	}
	failed := 0
	for _, p := range parts {
		resp, err := http.Get(srv.URL + p[1])
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			rep, err := perfettocheck.Check(bytes.NewReader(body))
			if err != nil || len(body) == 0 {
				t.Errorf("%s: %d bytes, not a valid trace: %v", p[1], len(body), err)
			} else if len(rep.Slices) == 0 {
				// A part whose pass failed before it (in a generation
				// read to state what was going on at its start): the
				// UI would show an empty trace.
				t.Errorf("%s: %s with no slice in it", p[1], resp.Status)
			}
		case http.StatusInternalServerError:
			failed++
			if !strings.Contains(string(body), "broken trace") {
				t.Errorf("%s: %s, %q does not say what went wrong", p[1], resp.Status, body)
			}
		default:
			t.Errorf("%s: %s", p[1], resp.Status)
		}
	}
	t.Logf("generation %d damaged: %d of %d parts failed", k+1, failed, len(parts))
	return failed
}

// TestViewIndexDamagedInterrupted: view's index page of a trace damaged in
// its middle exits 1 at Ctrl-C once counting met the damage, as view of
// the whole trace does: the trace broke off.
func TestViewIndexDamagedInterrupted(t *testing.T) {
	clean, err := os.ReadFile(recordGenerations(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(clean), int64(len(clean)))
	if err != nil || len(idx.Generations) < 5 {
		t.Fatalf("%v", err)
	}
	path := filepath.Join(t.TempDir(), "damaged.trace")
	if err := os.WriteFile(path, damageGeneration(t, clean, len(idx.Generations)/2), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"view", "--index", "--addr", "127.0.0.1:0", path},
	} {
		ctx, cancel := context.WithCancelCause(t.Context())
		var stdout, stderr syncBuffer
		code := make(chan int, 1)
		go func() {
			code <- runContext(ctx, args, nil, &stdout, &stderr)
		}()
		waitLine(t, &stderr, regexp.MustCompile(`counting GC cycles and goroutines: .*broken trace`))
		cancel(interrupted{syscall.SIGINT})
		select {
		case c := <-code:
			if c != 1 {
				t.Errorf("%v: exit %d after Ctrl-C, want 1 for the broken trace; stderr:\n%s", args, c, stderr.String())
			}
		case <-time.After(time.Minute):
			t.Fatalf("%v: view did not return after Ctrl-C", args)
		}
	}
}

// TestViewWindowAfterEnd: a --from past a file's end, as its batch
// headers tell, is refused before anything is served: no link to a
// trace never made. So is one past its last event that the headers
// cannot tell, which the pass refuses: annotations.go1.26.trace's last
// event is at 5.799 ms, its generation's end at 5.841 ms.
func TestViewWindowAfterEnd(t *testing.T) {
	for _, c := range []struct{ trace, from string }{{"gc.go1.26.trace", "10s"}, {"annotations.go1.26.trace", "5.82ms"}} {
		path := filepath.Join("..", "..", "testdata", c.trace)
		code, out, errs := runCmd(t, nil, "view", "--addr", "127.0.0.1:0", "--from", c.from, path)
		if code != 1 || out != "" || !strings.Contains(errs, "bad window: it starts ("+c.from+") after the trace ends") {
			t.Errorf("%s --from %s: exit %d, stdout %q, stderr %q; want 1, no link, and the window refused", c.trace, c.from, code, out, errs)
		}
	}
}

// TestViewBrokenInterrupted: view of a trace that breaks off serves what
// was converted until Ctrl-C, and then exits 1, the trace's failure, not
// 130: the signal ended the serving, not the conversion, which had
// failed before it.
func TestViewBrokenInterrupted(t *testing.T) {
	data, err := os.ReadFile(recordGenerations(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 3 {
		t.Fatalf("%v", err)
	}
	g := idx.Generations[2]
	path := filepath.Join(t.TempDir(), "cut.trace")
	if err := os.WriteFile(path, data[:g.Offset+g.Size/2], 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- runContext(ctx, []string{"view", "--addr", "127.0.0.1:0", path}, nil, &stdout, &stderr)
	}()
	waitLine(t, &stderr, regexp.MustCompile(`broken trace|cut short`))
	waitLine(t, &stderr, regexp.MustCompile(`serving`))
	cancel(interrupted{syscall.SIGINT})
	select {
	case c := <-code:
		if c != 1 {
			t.Errorf("exit %d after Ctrl-C, want 1 for the broken trace; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("view did not return after Ctrl-C")
	}
}
