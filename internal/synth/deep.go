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
// of depth frames (up to the tracer's 128), several kilobytes of text.
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
	trace.WithRegion(ctx, "handle", func() {
		trace.Log(ctx, "db", "query")
	})
}
