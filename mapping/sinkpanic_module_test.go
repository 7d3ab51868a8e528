package mapping

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// zeroSink is a sink of this module used wrongly, as a converter's zero
// value is: it panics, in the method named by at, in trace2x's own code.
type zeroSink struct {
	NopSink
	at     string
	m      map[string]int // nil
	failAt string         // a method that returns an error first
	ended  bool
}

var errZeroSink = errors.New("the sink failed")

func (z *zeroSink) Begin(*Meta) error {
	if z.at == "Begin" {
		z.m["x"]++
	}
	return nil
}

func (z *zeroSink) GoroutineState(*GoroutineState) error {
	if z.failAt == "GoroutineState" {
		return errZeroSink
	}
	if z.at == "GoroutineState" {
		z.m["x"]++
	}
	return nil
}

func (z *zeroSink) End(*Summary) error {
	z.ended = true
	if z.at == "End" {
		z.m["x"]++
	}
	return nil
}

func readTestTrace(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSinkPanicInModule: a sink of trace2x's own that panics, such as a
// converter's zero value, is a sink that panicked, in any method, alone
// or behind this package's sinks, and on Async's goroutine: a
// *SinkPanicError that names the method, never a bug of the mapping to
// report with a goroutine dump.
func TestSinkPanicInModule(t *testing.T) {
	data := readTestTrace(t, "gc.go1.26.trace")
	wraps := map[string]func(Sink) Sink{
		"alone":             func(s Sink) Sink { return s },
		"Async":             Async,
		"FanOut":            func(s Sink) Sink { return FanOut(NopSink{}, s) },
		"FanOutIndependent": func(s Sink) Sink { return FanOutIndependent(s) },
		"ThinCounters":      func(s Sink) Sink { return ThinCounters(s, time.Millisecond) },
		"Filter":            func(s Sink) Sink { return (&Filter{}).Sink(s) },
		"Async(ThinCounters)": func(s Sink) Sink {
			return Async(ThinCounters(s, time.Millisecond))
		},
	}
	for _, at := range []string{"Begin", "GoroutineState", "End"} {
		for name, wrap := range wraps {
			_, err := Map(bytes.NewReader(data), wrap(&zeroSink{at: at}))
			var pe *SinkPanicError
			if !errors.As(err, &pe) {
				t.Errorf("%s, %s: error %v, want a SinkPanicError", at, name, err)
				continue
			}
			if !strings.HasSuffix(pe.Method, "mapping.(*zeroSink)."+at) || !strings.Contains(err.Error(), pe.Method) {
				t.Errorf("%s, %s: the panic is placed in method %q: %v", at, name, pe.Method, err)
			}
			// A sink of the module may have been misused, as a
			// converter's zero value is: the mapping is not to blame,
			// and trace2x only if the sink was made as documented.
			if errors.Is(err, ErrInternal) || strings.Contains(err.Error(), "goroutine ") || !strings.Contains(err.Error(), "if the sink was made as its package says") {
				t.Errorf("%s, %s: %v blames the mapping, or not the sink's misuse", at, name, err)
			}
		}
	}
}

// TestSinkPanicAfterError: a sink that fails and then panics in End
// stops the pass with its error, without a crash.
func TestSinkPanicAfterError(t *testing.T) {
	data := readTestTrace(t, "gc.go1.26.trace")
	z := &zeroSink{at: "End", failAt: "GoroutineState"}
	sum, err := Map(bytes.NewReader(data), z)
	if !errors.Is(err, errZeroSink) || sum == nil || !z.ended {
		t.Errorf("Map returned %v, %v, End called %v; want the sink's error, a summary and End called", sum, err, z.ended)
	}
}

// TestFanOutIndependentPanic: a sink that panics is left out of
// FanOutIndependent as one that returns an error is: the others see the
// whole pass, and the panic comes back at the end as a SinkPanicError.
func TestFanOutIndependentPanic(t *testing.T) {
	data := readTestTrace(t, "gc.go1.26.trace")
	var alone Tally
	whole, err := Map(bytes.NewReader(data), &alone)
	if err != nil {
		t.Fatal(err)
	}
	var a, b Tally
	z := &zeroSink{at: "GoroutineState"}
	sum, err := Map(bytes.NewReader(data), FanOutIndependent(&a, z, &b))
	var pe *SinkPanicError
	if !errors.As(err, &pe) || !strings.HasSuffix(pe.Method, "(*zeroSink).GoroutineState") || errors.Is(err, ErrInternal) {
		t.Fatalf("Map returned %v; want the panic as a SinkPanicError", err)
	}
	if sum == nil || sum.Events != whole.Events {
		t.Errorf("the pass stopped: %v", sum)
	}
	for i, s := range []*Tally{&a, &b} {
		if s.GoStates != alone.GoStates || s.Summary == nil || s.Summary.Events != whole.Events {
			t.Errorf("sink %d: %v goroutine states, %v; alone it gets %v", i, s.GoStates, s.Summary, alone.GoStates)
		}
	}
	if !z.ended {
		t.Error("End not called on the sink that panicked")
	}

	// Two that panic at once, before and after one that does not.
	var c Tally
	z1, z2 := &zeroSink{at: "Begin"}, &zeroSink{at: "Begin"}
	if _, err := Map(bytes.NewReader(data), FanOutIndependent(z1, &c, z2)); !errors.As(err, &pe) || strings.Count(err.Error(), "panicked") != 1 {
		t.Errorf("Map returned %v; want the panic, once", err)
	}
	if c.GoStates != alone.GoStates || !z1.ended || !z2.ended {
		t.Errorf("between two sinks that panic, %v goroutine states where alone %v; End called %v and %v", c.GoStates, alone.GoStates, z1.ended, z2.ended)
	}
}

// TestStandardIn: a package is the standard library's only if its path's
// first element has no dot and no module the program was built from
// holds it; a module may be named without a dot.
func TestStandardIn(t *testing.T) {
	mods := []string{"myservice", "tools/lint"}
	for pkg, want := range map[string]bool{
		"net/http":                         true,
		"runtime":                          true,
		"myservice":                        false,
		"myservice/internal/sink":          false,
		"myservicex/sink":                  true, // another path, the same start
		"tools/lint/x":                     false,
		"tools/other":                      true,
		"main":                             false,
		"github.com/trace2x/trace2x/stats": false,
	} {
		if got := standardIn(pkg, mods); got != want {
			t.Errorf("standardIn(%q) = %v, want %v", pkg, got, want)
		}
	}
}
