package otel

import (
	"context"
	"runtime/trace"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/internal/synth"
)

// TestSDKTasks records a program instrumented with the OpenTelemetry Go
// SDK, which begins a runtime task for each span while the runtime
// traces, and joined as the README says: a request task that logs the
// traceparent of the SDK's server span. The SDK's tasks are copies of the
// application's spans and are left out, but for one that a region of the
// program names as its task: it holds that region.
func TestSDKTasks(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("test")
	var server oteltrace.SpanContext
	data, err := synth.RecordFunc(func() {
		ctx, span := tracer.Start(context.Background(), "GET")
		server = span.SpanContext()
		rctx, task := trace.NewTask(ctx, "http.request")
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(rctx, carrier)
		trace.Log(rctx, "traceparent", carrier["traceparent"])
		trace.WithRegion(rctx, "db.query", func() {
			_, db := tracer.Start(rctx, "db.call")
			db.End()
		})
		task.End()
		span.End()

		cctx, client := tracer.Start(context.Background(), "client.call")
		_, transport := tracer.Start(cctx, "HTTP GET") // as otelhttp's transport begins one
		transport.End()
		client.End()

		hctx, holder := tracer.Start(context.Background(), "holder")
		trace.WithRegion(hctx, "work", func() {})
		holder.End()
	})
	exp, s := recorded(t, data, err)
	byName := map[string]tracetest.SpanStub{}
	for _, sp := range exp.GetSpans() {
		byName[sp.Name] = sp
	}
	for _, name := range []string{"GET", "db.call", "client.call", "HTTP GET"} {
		if _, ok := byName[name]; ok {
			t.Errorf("the SDK's task %q was sent: it copies the application's span", name)
		}
	}
	if res := s.Result(); res.SDKTasks != 4 || res.SDKTasksAlone != 1 {
		t.Errorf("%d SDK tasks left out and %d sent alone, want 4 and 1 (the holder)", res.SDKTasks, res.SDKTasksAlone)
	}
	req, ok := byName["http.request"]
	if !ok || req.Parent.SpanID() != server.SpanID() || req.SpanContext.TraceID() != server.TraceID() {
		t.Errorf("http.request (sent %v) has parent %v, want the server span %v", ok, req.Parent, server)
	}
	holder, ok := byName["holder"]
	work := byName["work"]
	if !ok || work.Parent.SpanID() != holder.SpanContext.SpanID() {
		t.Errorf("the SDK's task holding a region was left out (%v), or is not the region's parent", !ok)
	}
	for _, sp := range exp.GetSpans() {
		if sp.Parent.IsValid() && !sp.Parent.IsRemote() {
			found := false
			for _, p := range exp.GetSpans() {
				found = found || p.SpanContext.SpanID() == sp.Parent.SpanID()
			}
			if !found && !strings.HasPrefix(sp.Name, "goroutine") {
				t.Errorf("span %q names a parent that was not sent", sp.Name)
			}
		}
	}
}

// TestSDKTaskOpenAtEnd records a request still under way when tracing
// stops, as in a periodic capture or a flight recorder's snapshot: the
// SDK's task for the server span and the request's task that joined it
// are both open at the end. No span links to the SDK's task's span
// unless that span is sent.
func TestSDKTaskOpenAtEnd(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("test")
	logged, done, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer func() {
		// The request ends before the test does, so that no other
		// test's recording holds its end.
		close(done)
		<-finished
	}()
	data, err := synth.RecordFunc(func() {
		go func() {
			defer close(finished)
			ctx, span := tracer.Start(context.Background(), "GET")
			defer span.End()
			rctx, task := trace.NewTask(ctx, "http.request")
			defer task.End()
			carrier := propagation.MapCarrier{}
			propagation.TraceContext{}.Inject(rctx, carrier)
			trace.Log(rctx, "traceparent", carrier["traceparent"])
			trace.WithRegion(rctx, "db.query", func() {
				close(logged)
				<-done
			})
		}()
		<-logged
	})
	exp, _ := recorded(t, data, err)
	sent := map[oteltrace.SpanID]bool{}
	for _, sp := range exp.GetSpans() {
		sent[sp.SpanContext.SpanID()] = true
	}
	req := false
	for _, sp := range exp.GetSpans() {
		req = req || sp.Name == "http.request"
		for _, l := range sp.Links {
			if !l.SpanContext.IsRemote() && !sent[l.SpanContext.SpanID()] {
				t.Errorf("span %q links to span %v, which was not sent", sp.Name, l.SpanContext.SpanID())
			}
		}
	}
	if !req {
		t.Error("no span of the request's task")
	}
}

// TestTraceparentSpace: a traceparent logged with a newline after it (by
// fmt.Sprintln) or a space before it joins all the same.
func TestTraceparentSpace(t *testing.T) {
	const tp = "00-abababababababababababababababab-cdcdcdcdcdcdcdcd-01"
	data, err := synth.RecordFunc(func() {
		for _, v := range []string{tp + "\n", " " + tp} {
			ctx, task := trace.NewTask(context.Background(), "req")
			trace.Log(ctx, "traceparent", v)
			task.End()
		}
	})
	exp, s := recorded(t, data, err)
	if res := s.Result(); res.Joined != 2 || res.BadTraceparents != 0 {
		t.Errorf("%d joined, %d did not parse; want 2 and 0", res.Joined, res.BadTraceparents)
	}
	for _, sp := range exp.GetSpans() {
		if sp.SpanContext.TraceID().String() != "abababababababababababababababab" {
			t.Errorf("span %q in trace %s, want the traceparent's", sp.Name, sp.SpanContext.TraceID())
		}
	}
}

// TestWithoutStacktraces: the spans keep the innermost frame of user code
// of their begin and end, and lose the whole stacks.
func TestWithoutStacktraces(t *testing.T) {
	count := func(opts ...Option) (frames, stacks, endStacks int) {
		_, spans, _ := convert(t, "../../testdata/annotations.go1.26.trace", opts...)
		for _, sp := range spans {
			for _, a := range sp.Attributes {
				switch a.Key {
				case keyFunction, keyEndFunction:
					frames++
				case keyStacktrace:
					stacks++
				case keyEndStacktrace:
					endStacks++
				}
			}
		}
		return frames, stacks, endStacks
	}
	// An end's whole stack is there where it differs from the begin's
	// (TestEndStacktraceOnlyWhereItDiffers): some do in this trace.
	frames, stacks, endStacks := count()
	if frames == 0 || stacks == 0 || endStacks == 0 || stacks+endStacks > frames {
		t.Fatalf("by default: %d frames, %d begin and %d end stacks; want some of each, and a frame for each stack", frames, stacks, endStacks)
	}
	if f, s, e := count(WithoutStacktraces()); f != frames || s+e != 0 {
		t.Errorf("without stack traces: %d frames and %d stacks, want %d and none", f, s+e, frames)
	}
}
