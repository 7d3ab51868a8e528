package conformance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// TestZeroValueSinks: a converter not made by its constructor is refused
// with an error that says so, not a panic that blames trace2x.
func TestZeroValueSinks(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]mapping.Sink{
		"perfetto":   &perfetto.Writer{},
		"chromejson": &chromejson.Writer{},
		"pprof":      &pprof.Writer{},
		"stats":      &stats.Sink{},
		"otel":       &otel.Sink{},
	} {
		_, err := mapping.Map(bytes.NewReader(data), s)
		var pe *mapping.SinkPanicError
		if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "New") {
			t.Errorf("%s: Map into a zero value: %v; want an error naming its constructor", name, err)
		}
	}
}

// TestNilOptions: an option a program left unset (nil) is ignored, as
// conditional option lists make them.
func TestNilOptions(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	for name, s := range map[string]mapping.Sink{
		"perfetto":   perfetto.NewWriter(io.Discard, nil),
		"chromejson": chromejson.NewWriter(io.Discard, nil),
		"pprof":      pprof.NewWriter(io.Discard, pprof.Wall, nil),
		"otel":       otel.NewSink(context.Background(), exp, nil),
	} {
		if _, err := mapping.Map(bytes.NewReader(data), s, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(exp.GetSpans()) == 0 {
		t.Error("no span exported")
	}
}

// refusedPass begins a second pass on other inside its own Begin and ends
// it as Map ends a pass whose Begin failed: a Writer given to two passes
// at once.
type refusedPass struct {
	mapping.Sink
	other mapping.Sink
}

func (r refusedPass) Begin(m *mapping.Meta) error {
	if err := r.Sink.Begin(m); err != nil {
		return err
	}
	err := r.other.Begin(m)
	if err == nil {
		return errors.New("a second Begin was taken")
	}
	return r.other.End(&mapping.Summary{Meta: *m, Err: err})
}

// TestRefusedPassEnd: the End of a pass whose Begin a converter refused
// (it is writing another) does not end the pass under way: its output is
// what it is without the refused pass.
func TestRefusedPassEnd(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range map[string]func(io.Writer) mapping.Sink{
		"perfetto":   func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) },
		"chromejson": func(w io.Writer) mapping.Sink { return chromejson.NewWriter(w) },
		"pprof":      func(w io.Writer) mapping.Sink { return pprof.NewWriter(w, pprof.Wall) },
	} {
		var alone, shared bytes.Buffer
		if _, err := mapping.Map(bytes.NewReader(data), mk(&alone)); err != nil {
			t.Fatal(err)
		}
		s := mk(&shared)
		if _, err := mapping.Map(bytes.NewReader(data), refusedPass{s, s}); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(alone.Bytes(), shared.Bytes()) {
			t.Errorf("%s: %d bytes written beside a refused pass, %d alone", name, shared.Len(), alone.Len())
		}
	}
}

// withoutSummary passes a pass on, but ends it without its Summary, as a
// program that drives a converter by hand may.
type withoutSummary struct{ mapping.Sink }

func (w withoutSummary) End(*mapping.Summary) error { return w.Sink.End(nil) }

// TestEndWithoutSummary: a converter ended without the pass's Summary
// (End(nil)) finishes what it was given, as with the Summary, where its
// format does not need the Summary's words, instead of panicking.
func TestEndWithoutSummary(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	run := func(s mapping.Sink) {
		t.Helper()
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			t.Fatal(err)
		}
	}

	var with, without bytes.Buffer
	run(perfetto.NewWriter(&with))
	run(withoutSummary{perfetto.NewWriter(&without)})
	want, err := perfettocheck.Check(&with)
	if err != nil {
		t.Fatal(err)
	}
	got, err := perfettocheck.Check(&without)
	if err != nil || len(got.Slices) != len(want.Slices) || got.Flows != want.Flows {
		t.Errorf("perfetto without the Summary: %v, %d slices and %d flows; want %d and %d", err, len(got.Slices), got.Flows, len(want.Slices), want.Flows)
	}

	st, st2 := stats.NewSink(), stats.NewSink()
	run(st)
	run(withoutSummary{st2})
	if r, r2 := st.Report(), st2.Report(); r2 == nil || r2.Tasks.Begun != r.Tasks.Begun || r2.Regions.Total != r.Regions.Total {
		t.Errorf("stats without the Summary: %+v; want the tasks and regions of %+v", r2, r)
	}

	exp, exp2 := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	run(otel.NewSink(context.Background(), exp))
	run(withoutSummary{otel.NewSink(context.Background(), exp2)})
	spans := exp2.GetSpans()
	if len(spans) != len(exp.GetSpans()) || len(spans) == 0 {
		t.Errorf("otel without the Summary: %d spans, want %d", len(spans), len(exp.GetSpans()))
	}
	for _, s := range spans {
		if s.EndTime.Before(s.StartTime) {
			t.Errorf("otel without the Summary: span %q ends at %v, before it starts at %v", s.Name, s.EndTime, s.StartTime)
		}
	}

	// These two never needed it.
	run(withoutSummary{chromejson.NewWriter(io.Discard)})
	run(withoutSummary{pprof.NewWriter(io.Discard, pprof.Wall)})
}

// TestBeginWithoutMeta: a Sink begun by hand without the trace's Meta
// refuses it, instead of panicking, and the error says what is missing.
func TestBeginWithoutMeta(t *testing.T) {
	for name, s := range map[string]mapping.Sink{
		"perfetto":   perfetto.NewWriter(io.Discard),
		"chromejson": chromejson.NewWriter(io.Discard),
		"pprof":      pprof.NewWriter(io.Discard, pprof.Wall),
		"stats":      stats.NewSink(),
		"otel":       otel.NewSink(context.Background(), tracetest.NewInMemoryExporter()),
		"tally":      &mapping.Tally{},
		"async":      mapping.Async(mapping.NopSink{}),
		"thinned":    mapping.ThinCounters(stats.NewSink(), 0),
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: Begin(nil) panicked: %v", name, p)
				}
			}()
			if err := s.Begin(nil); err == nil || !strings.Contains(err.Error(), "Meta") {
				t.Errorf("%s: Begin(nil) = %v; want an error naming the Meta", name, err)
			}
		}()
	}
}

// TestItemsBeforeBegin: items given to a converter before its Begin (or
// after a Begin it refused) are refused or ignored, never a panic, and
// the converter still takes the pass that follows.
func TestItemsBeforeBegin(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	items := func(s mapping.Sink) {
		s.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "main.main", File: "main.go", Line: 1}}})
		s.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main"})
		s.GoroutineState(&mapping.GoroutineState{G: 1, State: mapping.GoRunning, Start: 10, End: 20, Stack: 1, EndStack: mapping.NoStack, P: 0, M: 0})
		s.Task(&mapping.Task{ID: 1, Root: 1, Type: "t", Start: 10, End: 20, Parent: mapping.NoTask, StartG: 1, EndG: 1, Stack: mapping.NoStack, EndStack: mapping.NoStack})
		s.Region(&mapping.Region{ID: 1, G: 1, Task: 1, Root: 1, Type: "r", Start: 10, End: 20, Stack: mapping.NoStack, EndStack: mapping.NoStack})
		s.Log(&mapping.Log{G: 1, Task: 1, Category: "c", Message: "m", Time: 15, Stack: mapping.NoStack})
		s.Range(&mapping.Range{Kind: mapping.RangeSTW, Name: "stop-the-world", G: 1, Start: 10, End: 20, Stack: mapping.NoStack, EndStack: mapping.NoStack})
	}
	exp := tracetest.NewInMemoryExporter()
	for name, s := range map[string]mapping.Sink{
		"perfetto":   perfetto.NewWriter(io.Discard),
		"chromejson": chromejson.NewWriter(io.Discard),
		"pprof":      pprof.NewWriter(io.Discard, pprof.Wall),
		"stats":      stats.NewSink(),
		"otel":       otel.NewSink(context.Background(), exp),
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: an item before Begin panicked: %v", name, p)
				}
			}()
			items(s)
			s.Begin(nil) // refused
			items(s)
		}()
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			t.Errorf("%s: the pass after items before Begin: %v", name, err)
		}
	}
	if len(exp.GetSpans()) == 0 {
		t.Error("otel: no span from the pass after items before Begin")
	}
}
