// Command openstartend records an execution trace with trace.Start and
// trace.Stop in which tasks and regions cross the trace boundaries: some
// begin before trace.Start and end after trace.Stop, some begin before
// trace.Start and end inside the trace, some begin inside and end after
// trace.Stop, and some begin inside and never end. Goroutines are already
// blocked when tracing starts.
//
// A region begun while tracing is off is a no-op and records nothing, so the
// region that ends inside the trace without a begin event is begun during an
// earlier tracing session whose output is discarded, as happens when traces
// are captured repeatedly from a long-running process.
//
// Usage:
//
//	openstartend -o FILE
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"runtime/trace"
	"sync"
	"time"

	"github.com/trace2x/trace2x/testdata/gen/internal/spin"
)

func main() {
	out := flag.String("o", "", "write the execution trace to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}

	bg := context.Background()
	var wg sync.WaitGroup

	// Before trace.Start.
	ctx, spanning := trace.NewTask(bg, "spans-whole-trace")
	spanningRegion := trace.StartRegion(ctx, "main-spans-whole-trace")
	earlyCtx, early := trace.NewTask(ctx, "ends-inside")

	wake := make(chan struct{}) // closed inside the trace
	stop := make(chan struct{}) // closed after trace.Stop
	wg.Add(2)
	go func() {
		defer wg.Done()
		region := trace.StartRegion(earlyCtx, "blocked-until-inside")
		<-wake
		region.End()
		trace.Log(earlyCtx, "early", "woken inside the trace")
		trace.WithRegion(earlyCtx, "inside", func() { spin.Busy(50) })
		early.End()
	}()
	go func() {
		defer wg.Done()
		region := trace.StartRegion(ctx, "blocked-whole-trace")
		<-stop
		region.End()
	}()

	// An earlier tracing session, discarded.
	if err := trace.Start(io.Discard); err != nil {
		log.Fatal(err)
	}
	began := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		region := trace.StartRegion(earlyCtx, "begun-in-earlier-session")
		close(began)
		<-wake
		region.End()
	}()
	<-began
	trace.Stop()

	time.Sleep(time.Millisecond) // Let the goroutines block.

	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}

	trace.Log(ctx, "spanning", "log in a task begun before the trace")
	spin.Busy(100)
	close(wake)

	// Begun inside, ended after trace.Stop.
	lateCtx, late := trace.NewTask(ctx, "ends-after")
	lateRegion := trace.StartRegion(lateCtx, "main-ends-after")

	// Begun inside, never ended.
	orphanCtx, _ := trace.NewTask(bg, "never-ends")
	trace.Log(orphanCtx, "orphan", "this task is never ended")
	leaked := make(chan struct{})
	go func() {
		trace.StartRegion(orphanCtx, "never-ends")
		<-leaked // Still blocked when the program exits.
	}()
	trace.StartRegion(orphanCtx, "main-never-ends")

	// A task and region entirely inside the trace, for contrast.
	trace.WithRegion(ctx, "complete", func() {
		innerCtx, inner := trace.NewTask(ctx, "complete")
		trace.Log(innerCtx, "complete", "begun and ended inside")
		spin.Busy(50)
		inner.End()
	})
	time.Sleep(2 * time.Millisecond)

	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	// After trace.Stop.
	lateRegion.End()
	late.End()
	close(stop)
	wg.Wait()
	spanningRegion.End()
	spanning.End()
}
