package mapping_test

import (
	"bytes"
	"context"
	"runtime/trace"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// TestFilterTraceparentOfAncestorsOnly: a region selected in a task that
// logged no traceparent keeps its request's traceparent (its
// grandparent's), as context, but not those of the other tasks of the
// tree open when it ends: a sibling's and a subtask's are other requests,
// other distributed traces, and which were open then would depend on
// where the pass ended (a window's pass ends with them all open).
func TestFilterTraceparentOfAncestorsOnly(t *testing.T) {
	const (
		tpRequest = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		tpSibling = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"
		tpSubtask = "00-2af7651916cd43dd8448eb211c80319c-d7ad6b7169203331-01"
	)
	data, err := synth.RecordFunc(func() {
		ctx, request := trace.NewTask(context.Background(), "request")
		trace.Log(ctx, mapping.CategoryTraceparent, tpRequest)
		mctx, middle := trace.NewTask(ctx, "middle")
		sctx, sibling := trace.NewTask(ctx, "sibling")
		trace.Log(sctx, mapping.CategoryTraceparent, tpSibling)
		kctx, step := trace.NewTask(mctx, "step")
		dctx, subtask := trace.NewTask(kctx, "subtask")
		trace.Log(dctx, mapping.CategoryTraceparent, tpSubtask)
		trace.WithRegion(kctx, "selected", func() {})
		subtask.End()
		step.End()
		sibling.End()
		middle.End()
		request.End()
	})
	if err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	f := &mapping.Filter{Regions: []string{"selected"}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	got := newTPRecorder()
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(got)); err != nil {
		t.Fatal(err)
	}
	for _, p := range got.problems {
		t.Error(p)
	}
	var tps []string
	for _, l := range got.traceparents() {
		tps = append(tps, l.Message)
		// Passed on for the request, which the selection leaves out but
		// for it: the task's alone, on no goroutine, though the
		// goroutine that logged it is drawn (the region's).
		if l.G != mapping.NoGoroutine {
			t.Errorf("traceparent %q of a task kept only for it on G%d, want no goroutine", l.Message, l.G)
		}
	}
	if !slices.Equal(tps, []string{tpRequest}) {
		t.Errorf("traceparents passed on: %q, want only the request's", tps)
	}
	types := map[string]bool{}
	for _, k := range got.tasks {
		types[k.Type] = true
	}
	// The step, the region's task, is context; the request is kept for
	// its traceparent; the middle task, with none, is not.
	if !types["step"] || !types["request"] || types["sibling"] || types["subtask"] || types["middle"] {
		t.Errorf("tasks kept: %v, want the step and the request only", types)
	}
}
