package synth

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/trace"
	"sync"
	"time"
)

// RecordGenerations traces a small workload of this process into w, in
// gens rounds: goroutines that block on each other, a task, a subtask of
// it and a region open from the first round to the last, short tasks
// with regions and logs, and a GC each round. Between rounds it starts and stops a flight
// recorder beside the tracer, which makes the runtime begin new
// generations (a few each time), so the trace has many generations
// without second-long waits.
//
// It uses the process-wide runtime tracer, so it fails if tracing is
// already on, and calls from several goroutines are serialised.
func RecordGenerations(w io.Writer, gens int) error {
	return RecordGenerationsTraceparent(w, gens, "")
}

// RecordGenerationsTraceparent is RecordGenerations where the long task
// logs traceparent (category "traceparent") as it begins, if not empty,
// as a request's task does to join its distributed trace.
func RecordGenerationsTraceparent(w io.Writer, gens int, traceparent string) error {
	recordMu.Lock()
	defer recordMu.Unlock()
	if err := trace.Start(w); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	ctx, long := trace.NewTask(context.Background(), "long")
	if traceparent != "" {
		trace.Log(ctx, "traceparent", traceparent)
	}
	_, inner := trace.NewTask(ctx, "inner")
	outer := trace.StartRegion(ctx, "outer")
	ch := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case v := <-ch:
					trace.Logf(ctx, "got", "%d from %d", v, w)
				case <-done:
					return
				}
			}
		}()
	}
	var err error
	for g := range gens {
		for i := range 50 {
			tctx, task := trace.NewTask(ctx, "step")
			trace.WithRegion(tctx, "work", func() {
				s := make([]byte, 1<<12)
				sink.Add(int64(len(s)))
				ch <- i
			})
			task.End()
			go func() { time.Sleep(time.Duration(i%3) * time.Microsecond) }()
		}
		runtime.GC()
		if g < gens-1 && err == nil {
			fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
			if err = fr.Start(); err == nil {
				fr.Stop()
			}
		}
	}
	close(done)
	wg.Wait()
	outer.End()
	inner.End()
	long.End()
	trace.Stop()
	return err
}

var recordMu sync.Mutex
