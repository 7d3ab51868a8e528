package otel

import (
	"bytes"
	"context"
	"fmt"
	"runtime/trace"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
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
	exp, s := recorded(t, data, err)
	// With a span for every goroutine, a last part with nothing in it
	// makes none: here the spans fill the first part exactly.
	data2, err := synth.RecordFunc(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range maxGoroutineTraceSpans / 2 {
				trace.WithRegion(context.Background(), "round", func() {
					trace.WithRegion(context.Background(), "step", func() {})
				})
			}
		}()
		<-done
	})
	exp2, _ := recorded(t, data2, err, WithGoroutineSpans())
	for _, sp := range exp2.GetSpans() {
		if strings.HasPrefix(sp.Name, "goroutine ") && attrOf(sp, keyPart) != "" && !sp.EndTime.After(sp.StartTime) {
			t.Errorf("a part of the goroutine's spans, %s, has no length", attrOf(sp, keyPart))
		}
	}
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
	// The result tells the goroutines from their parts.
	goSpans := int64(0)
	for _, sp := range exp.GetSpans() {
		if strings.HasPrefix(sp.Name, "goroutine ") {
			goSpans++
		}
	}
	if res := s.Result(); res.Goroutines != goSpans || res.GoroutineParts != int64(len(parts)-1) {
		t.Errorf("Result: %d goroutine spans, %d of them later parts; want %d and %d", res.Goroutines, res.GoroutineParts, goSpans, len(parts)-1)
	}
}

// recorded converts a trace recorded in the test (data, or the error of
// its recording) to spans in memory.
func recorded(t *testing.T, data []byte, err error, opts ...Option) (*tracetest.InMemoryExporter, *Sink) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	s := NewSink(context.Background(), exp, append([]Option{WithIDSeed(testSeed), WithStartTime(fixedStart)}, opts...)...)
	if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
		t.Fatal(err)
	}
	return exp, s
}

// TestTaskTraceParts records a worker's task that lasts the program with
// a child task per job, each with a region: past maxTaskTraceSpans in the
// worker's trace, each job is a trace of its own, linked to the worker's
// span, with its region in it.
func TestTaskTraceParts(t *testing.T) {
	for _, joined := range []bool{false, true} {
		for _, late := range []bool{false, true} {
			t.Run(fmt.Sprint("joined=", joined, ",late=", late), func(t *testing.T) { testTaskTraceParts(t, joined, late) })
		}
	}
}

// testTaskTraceParts is TestTaskTraceParts, after a request that joined a
// remote trace if joined: then a task's trace may wait for its parent's,
// until it is full. If late, the worker logs a traceparent after its
// jobs: the links to it must still lead to its span.
func testTaskTraceParts(t *testing.T, joined, late bool) {
	const jobs = 1500
	data, err := synth.RecordFunc(func() {
		if joined {
			ctx, req := trace.NewTask(context.Background(), "req")
			trace.Log(ctx, mapping.CategoryTraceparent, "00-abababababababababababababababab-cdcdcdcdcdcdcdcd-01")
			req.End()
		}
		ctx, worker := trace.NewTask(context.Background(), "worker")
		for range jobs {
			jctx, job := trace.NewTask(ctx, "job")
			trace.WithRegion(jctx, "step", func() {})
			job.End()
		}
		if late {
			trace.Log(ctx, mapping.CategoryTraceparent, "00-efefefefefefefefefefefefefefefef-cdcdcdcdcdcdcdcd-01")
		}
		worker.End()
	})
	exp, _ := recorded(t, data, err)
	spans := exp.GetSpans()
	perTrace := map[string]int{}
	var workerSpan tracetest.SpanStub
	for _, sp := range spans {
		perTrace[sp.SpanContext.TraceID().String()]++
		if sp.Name == "worker" {
			workerSpan = sp
		}
	}
	bySpan := map[string]tracetest.SpanStub{}
	for _, sp := range spans {
		bySpan[sp.SpanContext.SpanID().String()] = sp
	}
	counts, linked := map[string]int{}, 0
	for _, sp := range spans {
		counts[sp.Name]++
		tid := sp.SpanContext.TraceID()
		if n := perTrace[tid.String()]; n > maxTaskTraceSpans+1 {
			t.Errorf("trace %s has %d spans, want at most %d", tid, n, maxTaskTraceSpans+1)
			perTrace[tid.String()] = 0
		}
		switch sp.Name {
		case "job":
			switch {
			case sp.Parent.SpanID() == workerSpan.SpanContext.SpanID() && tid == workerSpan.SpanContext.TraceID():
			case !sp.Parent.IsValid() && len(sp.Links) == 1 && sp.Links[0].SpanContext.SpanID() == workerSpan.SpanContext.SpanID() &&
				sp.Links[0].SpanContext.TraceID() == workerSpan.SpanContext.TraceID():
				linked++
			default:
				t.Errorf("a job has parent %v and links %v, want the worker's span as one or the other", sp.Parent, sp.Links)
			}
		case "step":
			if p, ok := bySpan[sp.Parent.SpanID().String()]; !ok || p.Name != "job" || p.SpanContext.TraceID() != tid {
				t.Errorf("a step's parent is %q (%v), want its job, in its trace", p.Name, ok)
			}
		}
	}
	if counts["job"] != jobs || counts["step"] != jobs || counts["worker"] != 1 {
		t.Errorf("%d workers, %d jobs and %d steps, want 1, %d and %d", counts["worker"], counts["job"], counts["step"], jobs, jobs)
	}
	if linked < jobs-maxTaskTraceSpans/2 {
		t.Errorf("%d jobs in traces of their own, want most of those past the first %d spans", linked, maxTaskTraceSpans)
	}
}

// attrOf returns the value of attribute k of span sp, as text.
func attrOf(sp tracetest.SpanStub, k attribute.Key) string {
	for _, a := range sp.Attributes {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return ""
}
