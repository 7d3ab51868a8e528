package mapping_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// failing fails at its n-th GoroutineState and counts what it is given
// after that. With sticky set, End returns the error again, as a writer
// whose output failed does.
type failing struct {
	mapping.NopSink
	n, states, after, ends int
	failed, sticky         bool
}

var errFull = errors.New("disk full")

func (f *failing) GoroutineState(*mapping.GoroutineState) error {
	if f.failed {
		f.after++
		return nil
	}
	f.states++
	if f.states == f.n {
		f.failed = true
		return errFull
	}
	return nil
}

func (f *failing) End(*mapping.Summary) error {
	f.ends++
	if f.sticky && f.failed {
		return errFull
	}
	return nil
}

// TestAsyncSinkError: an error of the sink behind Async stops the mapping
// with that error; the sink gets nothing more but its End, once.
func TestAsyncSinkError(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	f := &failing{n: 100}
	_, err := mapping.Map(bytes.NewReader(data), mapping.Async(f))
	if !errors.Is(err, errFull) {
		t.Fatalf("Map returned %v, want the sink's error", err)
	}
	if f.after != 0 || f.ends != 1 {
		t.Errorf("after its error the sink got %d states and %d Ends; want 0 and 1", f.after, f.ends)
	}
}

// TestAsyncSinkErrorOnce: a sink that fails and returns the same error
// from End, as a writer whose disk is full does, makes an error that says
// it once, whether the mapping sees the failure before its End or only
// there. Failing at the last state makes the second likely.
func TestAsyncSinkErrorOnce(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	var count mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), &count); err != nil {
		t.Fatal(err)
	}
	states := 0
	for _, n := range count.GoStates {
		states += n
	}
	for _, n := range []int{1, states / 2, states} {
		for range 10 {
			f := &failing{n: n, sticky: true}
			_, err := mapping.Map(bytes.NewReader(data), mapping.Async(f))
			if !errors.Is(err, errFull) || strings.Count(err.Error(), errFull.Error()) != 1 {
				t.Fatalf("failing at state %d of %d: Map returned %q, want the sink's error once", n, states, err)
			}
		}
	}
}

// TestAsyncNotATrace: an input that never begins leaves no goroutine
// behind.
func TestAsyncNotATrace(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 10 {
		if _, err := mapping.Map(bytes.NewReader([]byte("not a trace at all")), mapping.Async(mapping.NopSink{})); err == nil {
			t.Fatal("no error for a text")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after, %d before", n, before)
	}
}

// TestSinkErrorSummary: a pass a sink stops returns a summary of what was
// mapped: the time of the last event mapped, within the trace, the
// generations completed and the sink's error.
func TestSinkErrorSummary(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	whole, err := mapping.Map(bytes.NewReader(data), mapping.NopSink{})
	if err != nil {
		t.Fatal(err)
	}
	f := &failing{n: 100}
	sum, err := mapping.Map(bytes.NewReader(data), f)
	if !errors.Is(err, errFull) || sum == nil {
		t.Fatalf("Map returned %v, %v; want a summary and the sink's error", sum, err)
	}
	if sum.End <= sum.Start || sum.End >= whole.End {
		t.Errorf("stopped at %d, in a trace from %d to %d", sum.End, whole.Start, whole.End)
	}
	if sum.Generations > whole.Generations || !errors.Is(sum.Err, errFull) {
		t.Errorf("summary of the stopped pass: %d generations of %d, error %v", sum.Generations, whole.Generations, sum.Err)
	}
}

// TestAsyncNil: Async(nil) fails the pass on the caller's side, with an
// error that says why, instead of panicking on Async's goroutine, where
// nothing can recover and the program dies.
func TestAsyncNil(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	for name, sink := range map[string]mapping.Sink{
		"nil": mapping.Async(nil),
		// Async takes the thinning over, and with it the sink behind.
		"thinned nil": mapping.Async(mapping.ThinCounters(nil, time.Millisecond)),
	} {
		_, err := mapping.Map(bytes.NewReader(data), sink)
		if !errors.Is(err, mapping.ErrNilSink) {
			t.Errorf("%s: Map returned %v, want ErrNilSink", name, err)
		}
	}
}

// counting counts what it is given, and its Ends.
type counting struct {
	mapping.NopSink
	stacks, ends int
}

func (c *counting) Stack(*mapping.Stack) error { c.stacks++; return nil }
func (c *counting) End(*mapping.Summary) error { c.ends++; return nil }

// TestAsyncOutsidePass: Async refuses items outside Begin and End and a
// second Begin, as the converters do, instead of panicking or queueing
// what its sink will never get, whatever the number of items; End again
// is the sink's to answer, and the End of a pass whose Begin was refused
// ends nothing.
func TestAsyncOutsidePass(t *testing.T) {
	// Batches hold 1024 items: a pass that fills its last one exactly
	// ends otherwise than one that does not.
	for _, n := range []int{0, 1022, 1023, 1024, 2048} {
		c := &counting{}
		a := mapping.Async(c)
		if err := a.Stack(&mapping.Stack{}); err == nil || !strings.Contains(err.Error(), "before its Begin") {
			t.Errorf("%d items: a Stack before Begin gave %v, want it refused", n, err)
		}
		if err := a.Begin(&mapping.Meta{}); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := a.Stack(&mapping.Stack{}); err != nil {
				t.Fatal(err)
			}
		}
		err := a.Begin(&mapping.Meta{})
		if err == nil {
			t.Errorf("%d items: a second Begin was taken", n)
		}
		// The mapping ends a pass whose Begin failed with its error.
		if err := a.End(&mapping.Summary{Err: err}); err != nil || c.ends != 0 {
			t.Errorf("%d items: the End of the refused pass gave %v and ended the sink %d times", n, err, c.ends)
		}
		if err := a.End(&mapping.Summary{}); err != nil {
			t.Fatal(err)
		}
		if c.stacks != n || c.ends != 1 {
			t.Errorf("%d items: the sink got %d and %d Ends, want %d and 1", n, c.stacks, c.ends, n)
		}
		if err := a.Stack(&mapping.Stack{}); err == nil || !strings.Contains(err.Error(), "after its End") {
			t.Errorf("%d items: a Stack after End gave %v, want it refused", n, err)
		}
		if err := a.End(&mapping.Summary{}); err != nil || c.ends != 2 || c.stacks != n {
			t.Errorf("%d items: End again gave %v; the sink got %d items and %d Ends, want %d and 2 (End again is the sink's to answer)", n, err, c.stacks, c.ends, n)
		}
	}
}

// TestAsyncThinnedOutsidePass: through ThinCounters, which Async takes
// over, a counter outside the pass is refused too, not held for the
// next; and an End that no Begin came before ends Async for good.
func TestAsyncThinnedOutsidePass(t *testing.T) {
	c := &countingCounters{}
	a := mapping.Async(mapping.ThinCounters(c, time.Millisecond))
	if err := a.Counter(&mapping.Counter{Name: "before", Time: 1}); err == nil {
		t.Error("a counter before Begin was taken")
	}
	if err := a.Begin(&mapping.Meta{}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := a.Counter(&mapping.Counter{Name: "in", Time: mapping.Time(i) * mapping.Time(time.Millisecond), Value: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.End(&mapping.Summary{}); err != nil {
		t.Fatal(err)
	}
	if c.before != 0 || c.in != 10 {
		t.Errorf("the sink got %d counters from before the pass and %d of the 10 in it", c.before, c.in)
	}
	if err := a.Counter(&mapping.Counter{Name: "after", Time: 20 * mapping.Time(time.Millisecond)}); err == nil {
		t.Error("a counter after End was taken")
	}
	if err := a.End(&mapping.Summary{}); err != nil || c.ends != 2 {
		t.Errorf("End again gave %v and the sink %d Ends; want the sink's answer, and 2", err, c.ends)
	}

	b := mapping.Async(&counting{})
	b.End(&mapping.Summary{})
	if err := b.Begin(&mapping.Meta{}); err == nil {
		t.Error("a Begin after End was taken")
	}
}

// countingCounters counts the counters it is given, by name, and its Ends.
type countingCounters struct {
	mapping.NopSink
	before, in, ends int
}

func (c *countingCounters) Counter(k *mapping.Counter) error {
	switch k.Name {
	case "before":
		c.before++
	case "in":
		c.in++
	}
	return nil
}

func (c *countingCounters) End(*mapping.Summary) error { c.ends++; return nil }
