package synth

import (
	"context"
	"fmt"
	"io"
	"runtime/trace"
)

// RecordDeepStacks traces tasks requests, each beginning a region and
// logging at the bottom of a call stack depth frames deep, as services
// with long middleware chains do: every span made of them carries stacks
// of depth frames (up to the tracer's 128), several kilobytes of text,
// and a region's span two of them.
//
// It uses the process-wide runtime tracer, so it fails if tracing is
// already on, and calls from several goroutines are serialised.
func RecordDeepStacks(w io.Writer, tasks, depth int) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	if err := trace.Start(w); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for range tasks {
		ctx, task := trace.NewTask(context.Background(), "request")
		throughTheMiddlewareChainOfAServiceHandler(ctx, depth)
		task.End()
	}
	trace.Stop()
	return nil
}

//go:noinline
func throughTheMiddlewareChainOfAServiceHandler(ctx context.Context, depth int) {
	if depth > 1 {
		throughTheMiddlewareChainOfAServiceHandler(ctx, depth-1)
		return
	}
	// Begun and ended on lines of their own, the region's two stacks
	// differ, and a span carries both whole.
	r := trace.StartRegion(ctx, "handle")
	trace.Log(ctx, "db", "query")
	r.End()
}
