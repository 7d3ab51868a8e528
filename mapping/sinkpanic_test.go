package mapping_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// panicky panics, as a program's own sink with a bug would, in the method
// named by at.
type panicky struct {
	mapping.NopSink
	at string
	m  map[string]int
}

func (p *panicky) Begin(*mapping.Meta) error {
	if p.at == "Begin" {
		p.m["x"]++ // a nil map
	}
	return nil
}

func (p *panicky) Region(*mapping.Region) error {
	if p.at == "Region" {
		p.m["x"]++
	}
	return nil
}

func (p *panicky) Log(*mapping.Log) error {
	if p.at == "Log" {
		_ = strings.Repeat("x", -1) // the standard library panics for the sink
	}
	return nil
}

func (p *panicky) End(*mapping.Summary) error {
	if p.at == "End" {
		var s *mapping.Summary
		_ = s.Events // a nil pointer
	}
	return nil
}

// TestSinkPanic checks that a panic of a program's own sink, in any method
// and on Async's goroutine too, comes back from Map as a SinkPanicError
// that names the sink's code, not as a broken trace or a bug of trace2x,
// and never crashes the program.
func TestSinkPanic(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	for _, at := range []string{"Begin", "Region", "Log", "End"} {
		for _, async := range []bool{false, true} {
			var sink mapping.Sink = &panicky{at: at}
			if async {
				sink = mapping.Async(sink)
			}
			_, err := mapping.Map(bytes.NewReader(data), sink)
			var pe *mapping.SinkPanicError
			if !errors.As(err, &pe) {
				t.Errorf("%s (async %v): error %v, want a SinkPanicError", at, async, err)
				continue
			}
			if !strings.HasSuffix(pe.Func, "mapping_test.(*panicky)."+at) || !strings.HasSuffix(pe.File, "sinkpanic_test.go") {
				t.Errorf("%s (async %v): the panic is placed in %s (%s:%d)", at, async, pe.Func, pe.File, pe.Line)
			}
			if errors.Is(err, mapping.ErrInternal) || strings.Contains(err.Error(), "broken trace") {
				t.Errorf("%s (async %v): %v blames the trace or trace2x", at, async, err)
			}
		}
	}
}

// errSentinel is what errPanicker panics with.
var errSentinel = errors.New("sentinel")

// errPanicker panics with an error value in Begin.
type errPanicker struct{ mapping.NopSink }

func (errPanicker) Begin(*mapping.Meta) error { panic(errSentinel) }

// TestSinkPanicUnwrap: a sink that panics with an error value gives it to
// errors.Is through the SinkPanicError; a value that is not an error
// gives nothing.
func TestSinkPanicUnwrap(t *testing.T) {
	_, err := mapping.Map(bytes.NewReader(recordedOnce(t)), errPanicker{})
	var pe *mapping.SinkPanicError
	if !errors.As(err, &pe) || !errors.Is(err, errSentinel) {
		t.Errorf("error %v; want a SinkPanicError that is errSentinel", err)
	}
	if (&mapping.SinkPanicError{Value: "text"}).Unwrap() != nil {
		t.Error("a panic with a string unwraps to an error")
	}
}

// TestNilInput: a nil reader is an error, not a panic in the caller's
// goroutine.
func TestNilInput(t *testing.T) {
	if _, err := mapping.Map(nil, mapping.NopSink{}); err == nil {
		t.Error("Map of a nil reader returned no error")
	}
	if _, err := mapping.MapFile(nil, 10, mapping.NopSink{}); err == nil {
		t.Error("MapFile of a nil reader returned no error")
	}
	if _, err := mapping.MapWindow(nil, 10, mapping.Bound{}, mapping.Bound{}, mapping.NopSink{}); err == nil {
		t.Error("MapWindow of a nil reader returned no error")
	}
}
