package otel

import (
	"bytes"
	"context"
	"runtime/trace"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// TestGoroutineTraceParts records a goroutine that marks 1,600 rounds of
// a loop with a region outside any task, each with a region nested in
// it: its spans are cut into traces of about maxGoroutineTraceSpans,
// each under a span of the goroutine that names its part, and no region
// is parted from the region it nests in.
func TestGoroutineTraceParts(t *testing.T) {
	const rounds = 1600
	data, err := synth.RecordFunc(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range rounds {
				trace.WithRegion(context.Background(), "round", func() {
					trace.WithRegion(context.Background(), "step", func() {})
				})
			}
		}()
		<-done
	})
	exp, _ := recorded(t, data, err)
	type where struct{ trace, span string }
	spans := map[where]string{}
	perTrace := map[string]int{}
	parts := map[int64]bool{}
	for _, sp := range exp.GetSpans() {
		tid := sp.SpanContext.TraceID().String()
		spans[where{tid, sp.SpanContext.SpanID().String()}] = sp.Name
		perTrace[tid]++
		for _, a := range sp.Attributes {
			if a.Key == keyPart {
				parts[a.Value.AsInt64()] = true
			}
		}
	}
	counts := map[string]int{}
	for _, sp := range exp.GetSpans() {
		counts[sp.Name]++
		tid := sp.SpanContext.TraceID().String()
		if perTrace[tid] > maxGoroutineTraceSpans+1 {
			t.Errorf("trace %s has %d spans, want at most %d", tid, perTrace[tid], maxGoroutineTraceSpans+1)
			delete(perTrace, tid)
		}
		parent, ok := spans[where{tid, sp.Parent.SpanID().String()}]
		switch {
		case sp.Name == "step" && parent != "round":
			t.Errorf("a step's parent in its trace is %q (%v), want its round", parent, ok)
		case sp.Name == "round" && !bytes.HasPrefix([]byte(parent), []byte("goroutine ")):
			t.Errorf("a round's parent in its trace is %q (%v), want its goroutine's span", parent, ok)
		}
	}
	if counts["round"] != rounds || counts["step"] != rounds {
		t.Errorf("%d rounds and %d steps, want %d of each", counts["round"], counts["step"], rounds)
	}
	if want := 2 * rounds / maxGoroutineTraceSpans; len(parts) < want+1 || !parts[0] || !parts[int64(want)] {
		t.Errorf("goroutine spans of parts %v, want parts 0 to at least %d", parts, want)
	}
}

// recorded converts a trace recorded in the test (data, or the error of
// its recording) to spans in memory.
func recorded(t *testing.T, data []byte, err error) (*tracetest.InMemoryExporter, *Sink) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	s := NewSink(context.Background(), exp, WithIDSeed(testSeed), WithStartTime(fixedStart))
	if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
		t.Fatal(err)
	}
	return exp, s
}
