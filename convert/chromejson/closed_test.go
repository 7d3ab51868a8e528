package chromejson_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/mapping"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMapAfterClose checks that a Writer mapped into after Close (a
// second trace into the same Writer) says so, through Map, and writes
// nothing more: the file stays the first trace, valid.
func TestMapAfterClose(t *testing.T) {
	first, second := readSample(t, "annotations.go1.26.trace"), readSample(t, "mixed.go1.26.trace")
	for _, async := range []bool{false, true} {
		var buf bytes.Buffer
		w := chromejson.NewWriter(&buf)
		sink := func() mapping.Sink {
			if async {
				return mapping.Async(w)
			}
			return w
		}
		if _, err := mapping.Map(bytes.NewReader(first), sink()); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		n := buf.Len()
		_, err := mapping.Map(bytes.NewReader(second), sink())
		if !errors.Is(err, chromejson.ErrClosed) {
			t.Errorf("async %v: mapping after Close returned %v, want ErrClosed", async, err)
		} else if strings.Count(err.Error(), "closed Writer") != 1 {
			// Begin's error and End's, joined, say it once.
			t.Errorf("async %v: error %q, want it said once", async, err)
		}
		if buf.Len() != n {
			t.Errorf("async %v: mapping after Close wrote %d more bytes", async, buf.Len()-n)
		}
		if _, err := chromecheck.Check(buf.Bytes()); err != nil {
			t.Errorf("async %v: the first trace is no longer valid: %v", async, err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("async %v: Close again returned %v", async, err)
		}
	}
}

// TestNoTrace checks a Writer given an input that is not a trace, single
// and split: Close writes nothing, creates no part and returns nil, so
// that the mapping's error is the one said, and the output is left for
// the caller to remove (the command leaves no file). A trace mapped into
// it afterwards (one large enough to be flushed as it goes) is refused,
// rather than written without its end.
func TestNoTrace(t *testing.T) {
	for _, split := range []bool{false, true} {
		var buf bytes.Buffer
		created := 0
		w := chromejson.NewWriter(&buf)
		if split {
			w = chromejson.NewSplitWriter(1<<20, func(int) (io.WriteCloser, error) {
				created++
				return nopCloser{&buf}, nil
			})
		}
		if _, err := mapping.Map(strings.NewReader("hello, not a trace"), w); !errors.Is(err, mapping.ErrNotTrace) {
			t.Fatalf("split %v: mapping a text returned %v, want ErrNotTrace", split, err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("split %v: Close returned %v, want nil", split, err)
		}
		if buf.Len() != 0 || created != 0 || w.Parts() != 0 {
			t.Errorf("split %v: %d bytes written, %d parts created, Parts %d; want none", split, buf.Len(), created, w.Parts())
		}
		_, err := mapping.Map(bytes.NewReader(readSample(t, "allocfree.go1.26.trace")), w)
		if !errors.Is(err, chromejson.ErrClosed) {
			t.Errorf("split %v: mapping a trace after Close returned %v, want ErrClosed", split, err)
		}
		if buf.Len() != 0 || created != 0 {
			t.Errorf("split %v: mapping after Close wrote %d bytes in %d parts, want none", split, buf.Len(), created)
		}
	}
}

// TestSinkAfterClose checks every Sink method of a closed Writer: each
// returns ErrClosed and nothing is written.
func TestSinkAfterClose(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	sinkRun(t, w)
	n := buf.Len()
	calls := map[string]func() error{
		"Begin": func() error { return w.Begin(&mapping.Meta{Input: "late", FormatVersion: "go1.26", Start: 1000}) },
		"Stack": func() error {
			return w.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{PC: 1, Func: "main.main"}}})
		},
		"Goroutine": func() error { return w.Goroutine(&mapping.Goroutine{ID: 1, Creator: mapping.NoGoroutine}) },
		"Proc":      func() error { return w.Proc(&mapping.Proc{ID: 0}) },
		"Thread":    func() error { return w.Thread(&mapping.Thread{ID: 1}) },
		"GoroutineState": func() error {
			return w.GoroutineState(&mapping.GoroutineState{G: 1, State: mapping.GoRunnable, Start: 1000, End: 2000, P: mapping.NoProc, M: mapping.NoThread})
		},
		"ProcRun": func() error { return w.ProcRun(&mapping.ProcRun{P: 0, M: 1, Start: 1000, End: 2000}) },
		"Range":   func() error { return w.Range(&mapping.Range{Name: "GC", Start: 1000, End: 2000}) },
		"Task":    func() error { return w.Task(&mapping.Task{ID: 1, Type: "t", Start: 1000, End: 2000}) },
		"Region":  func() error { return w.Region(&mapping.Region{G: 1, Type: "r", Start: 1000, End: 2000}) },
		"Log":     func() error { return w.Log(&mapping.Log{G: 1, Message: "m", Time: 1500}) },
		"GoroutineEvent": func() error {
			return w.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: 1, Time: 2000})
		},
		"Flow": func() error {
			return w.Flow(&mapping.Flow{From: mapping.Endpoint{G: 1, Time: 1000}, To: mapping.Endpoint{G: 2, Time: 1500}})
		},
		"Counter":      func() error { return w.Counter(&mapping.Counter{Name: "c", Time: 1500, Value: 1}) },
		"CPUSample":    func() error { return w.CPUSample(&mapping.CPUSample{Time: 1500, G: 1}) },
		"Experimental": func() error { return w.Experimental(&mapping.Experimental{Name: "x", Time: 1500}) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, chromejson.ErrClosed) {
			t.Errorf("%s after Close returned %v, want ErrClosed", name, err)
		}
	}
	// End, like Close, only says again how the output went.
	if err := w.End(&mapping.Summary{End: 3000}); err != nil {
		t.Errorf("End after Close returned %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close again returned %v", err)
	}
	if buf.Len() != n {
		t.Errorf("%d bytes written after Close, want none", buf.Len()-n)
	}
	if _, err := chromecheck.Check(buf.Bytes()); err != nil {
		t.Errorf("the trace is no longer valid: %v", err)
	}
}

// TestNilOutputs checks that a Writer given a nil io.Writer, or a split
// Writer given a nil create function, fails the pass with an error that
// says so, not a panic.
func TestNilOutputs(t *testing.T) {
	data := readSample(t, "annotations.go1.26.trace")
	for _, c := range []struct {
		w    *chromejson.Writer
		want string
	}{
		{chromejson.NewWriter(nil), "NewWriter was given a nil io.Writer"},
		{chromejson.NewSplitWriter(1<<20, nil), "NewSplitWriter was given a nil create function"},
	} {
		_, err := mapping.Map(bytes.NewReader(data), c.w)
		var pe *mapping.SinkPanicError
		if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
}
