//go:build go1.25

// Command flightrecorder records an execution trace with
// runtime/trace.FlightRecorder (Go 1.25+) and writes a snapshot of its
// window. Long-lived goroutines block on channels inside tasks and regions
// that begin before the window and end after the snapshot, so the snapshot
// starts with tasks and regions already open, goroutines already blocked and
// possibly a GC cycle in progress, and ends with tasks and regions still open.
//
// Usage:
//
//	flightrecorder -o FILE
package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"time"

	"github.com/trace2x/trace2x/testdata/gen/internal/spin"
)

// minAge is the flight recorder's window. Each phase below lasts longer than
// it, so the generations of earlier phases fall out of the window.
const minAge = 40 * time.Millisecond

func main() {
	out := flag.String("o", "", "write the execution trace snapshot to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}

	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{
		MinAge:   minAge,
		MaxBytes: 1 << 20,
	})
	if err := fr.Start(); err != nil {
		log.Fatal(err)
	}

	// Phase 1, outside the window: begin tasks and regions, and park
	// goroutines on channels inside them.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ctx, session := trace.NewTask(context.Background(), "session")
	trace.Log(ctx, "session", "begun before the window")
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			wctx, task := trace.NewTask(ctx, "listener")
			region := trace.StartRegion(wctx, "await-shutdown")
			<-stop // Blocked for the whole window.
			trace.Logf(wctx, "listener", "listener %d shutting down", i)
			region.End()
			task.End()
		}(i)
	}
	ticks := make(chan int)
	wg.Add(1)
	go func() {
		defer wg.Done()
		region := trace.StartRegion(ctx, "consume")
		for v := range ticks {
			trace.WithRegion(ctx, "tick", func() { spin.Busy(v) })
		}
		region.End()
	}()
	early := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		ectx, task := trace.NewTask(ctx, "early")
		region := trace.StartRegion(ectx, "await-early")
		<-early // Woken inside the window.
		region.End()
		trace.WithRegion(ectx, "after-wakeup", func() { spin.Busy(20) })
		task.End()
	}()
	mainRegion := trace.StartRegion(ctx, "main-loop")

	// Keep a pointer-rich live heap so that GC mark phases take a while.
	heap := buildHeap(400_000)

	phase(ticks, 0)
	advance(fr)
	phase(ticks, 1)
	advance(fr)

	// Phase 3, inside the window. Start a GC right before the generation
	// boundary that begins the window, end tasks and regions that began
	// before it, and begin some that outlive the snapshot.
	gcDone := make(chan struct{})
	go func() {
		runtime.GC()
		close(gcDone)
	}()
	time.Sleep(200 * time.Microsecond)
	advance(fr)
	<-gcDone
	close(early)
	lateCtx, late := trace.NewTask(ctx, "late")
	lateRegion := trace.StartRegion(lateCtx, "spans-snapshot-end")
	phase(ticks, 2)
	trace.Log(ctx, "session", "inside the window")

	// Snapshot: earlier generations have aged out of the window.
	var buf bytes.Buffer
	if _, err := fr.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}

	// Everything open in the snapshot ends after it.
	lateRegion.End()
	late.End()
	mainRegion.End()
	close(ticks)
	close(stop)
	wg.Wait()
	session.End()
	fr.Stop()
	runtime.KeepAlive(heap)

	if err := os.WriteFile(*out, buf.Bytes(), 0o666); err != nil {
		log.Fatal(err)
	}
}

// phase keeps the consumer goroutine busy for somewhat longer than minAge.
func phase(ticks chan<- int, n int) {
	deadline := time.Now().Add(minAge + 15*time.Millisecond)
	for time.Now().Before(deadline) {
		ticks <- 50 + n
		time.Sleep(time.Millisecond)
	}
}

// advance ends the current trace generation by taking a throwaway snapshot.
func advance(fr *trace.FlightRecorder) {
	if _, err := fr.WriteTo(io.Discard); err != nil {
		log.Fatal(err)
	}
}

type node struct {
	next  *node
	value [4]*int
}

func buildHeap(n int) *node {
	var head *node
	for i := 0; i < n; i++ {
		v := i
		head = &node{next: head, value: [4]*int{&v, &v, &v, &v}}
	}
	return head
}
