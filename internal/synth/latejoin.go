package synth

import (
	"context"
	"fmt"
	"io"
	"runtime/trace"
	"sync"
)

// RecordLateJoin traces, into w, gens rounds of short "step" tasks (each
// with a region and a log, on a goroutine of its own) inside a task of
// type "long" open from the first round to the last, with a goroutine
// that waits from the start and takes part in the long task (a log of
// category "join") only after the last round began: a filter of the long
// task keeps that goroutine from its start. Rounds are separated as in
// RecordGenerations, so each is a generation or more.
func RecordLateJoin(w io.Writer, gens int) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	if err := trace.Start(w); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	ctx, long := trace.NewTask(context.Background(), "long")
	join := make(chan struct{})
	joined := make(chan struct{})
	go func() {
		<-join
		trace.Log(ctx, "join", "late")
		close(joined)
	}()
	var err error
	for g := range gens {
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tctx, task := trace.NewTask(ctx, "step")
				trace.WithRegion(tctx, "work", func() {
					s := make([]byte, 1<<12)
					sink.Add(int64(len(s)))
					trace.Logf(tctx, "got", "%d", i)
				})
				task.End()
			}()
		}
		wg.Wait()
		if g == gens-1 {
			close(join)
			<-joined
		} else if err == nil {
			fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
			if err = fr.Start(); err == nil {
				fr.Stop()
			}
		}
	}
	long.End()
	trace.Stop()
	return err
}

// RecordJoins traces, into w, a task of type "request" for each of
// traceparents, each logging its traceparent and holding a region and a
// child task with a region of its own.
func RecordJoins(w io.Writer, traceparents ...string) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	if err := trace.Start(w); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for _, tp := range traceparents {
		ctx, task := trace.NewTask(context.Background(), "request")
		trace.Log(ctx, "traceparent", tp)
		trace.WithRegion(ctx, "handle", func() {
			cctx, child := trace.NewTask(ctx, "lookup")
			trace.WithRegion(cctx, "query", func() { sink.Add(1) })
			child.End()
		})
		task.End()
	}
	trace.Stop()
	return nil
}
