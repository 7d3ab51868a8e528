// Command edges records execution traces of corner cases that the
// project's corpus does not reliably contain, for the conformance tests.
//
// Scenarios:
//
//	generations  a trace of more than one generation (it lasts longer than
//	             the runtime's 1s generation period) in which a task and a
//	             region begun before the trace, and a goroutine blocked
//	             since before it, first show up in the second generation,
//	             and a task and a region cross from the first to the second
//	goexit       goroutines that exit with a region still open
//	nestedopen   two nested regions begun before the trace end inside it,
//	             with a region begun and ended in the trace between them
//	window       a flight recorder snapshot whose first generation is not
//	             the first of the recording, with a goroutine that was
//	             blocked all along and a task and region that began before
//	             the window, all first seen in a later generation of it
//
// Usage (from the conformance directory; -trimpath keeps the machine's
// paths out of the stacks):
//
//	go run -trimpath ./testdata/gen/edges -scenario generations -o testdata/generations.go1.26.trace
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
)

func main() {
	scenario := flag.String("scenario", "", "`name` of the scenario to record")
	out := flag.String("o", "", "write the execution trace to `file`")
	flag.Parse()
	run, ok := map[string]func(start, stop func()){
		"generations": generations,
		"goexit":      goexit,
		"nestedopen":  nestedOpen,
		"window":      window,
	}[*scenario]
	if !ok || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	start := func() {
		if err := trace.Start(f); err != nil {
			log.Fatal(err)
		}
	}
	windowOut = f
	run(start, trace.Stop)
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// windowOut is where the window scenario writes its snapshot.
var windowOut io.Writer

func generations(start, stop func()) {
	bg := context.Background()
	ctx, task := trace.NewTask(bg, "begun-before") // records nothing: tracing is off

	wake := make(chan struct{})
	var wg sync.WaitGroup

	// A region begun in an earlier tracing session, whose output is
	// discarded: its begin is not in the trace.
	if err := trace.Start(io.Discard); err != nil {
		log.Fatal(err)
	}
	began := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := trace.StartRegion(ctx, "begun-in-earlier-session")
		close(began)
		<-wake
		r.End()
		trace.Log(ctx, "late", "logged in the second generation")
	}()
	<-began
	trace.Stop()
	time.Sleep(time.Millisecond) // let it block

	start()
	// A task and a region that cross into the second generation, whose
	// end must find the type and parent of a begin in the first.
	crossCtx, cross := trace.NewTask(ctx, "crosses-generations")
	crossRegion := trace.StartRegion(crossCtx, "crosses-generations")
	// Outlast the first generation (the runtime starts a new one every
	// second); touch nothing that the goroutine above waits for until the
	// second one.
	time.Sleep(1500 * time.Millisecond)
	crossRegion.End()
	cross.End()
	close(wake)
	wg.Wait()
	task.End()
	stop()
}

func goexit(start, stop func()) {
	bg := context.Background()
	start()
	ctx, task := trace.NewTask(bg, "leaky")
	done := make(chan struct{})
	go func() {
		defer close(done)
		trace.StartRegion(ctx, "never-ended-outer")
		r := trace.StartRegion(ctx, "ended")
		r.End()
		trace.StartRegion(ctx, "never-ended-inner")
		// Returning ends the goroutine with two regions open.
	}()
	<-done
	task.End()
	time.Sleep(time.Millisecond)
	stop()
}

func nestedOpen(start, stop func()) {
	ctx := context.Background()
	wake := make(chan struct{})
	done := make(chan struct{})

	// Regions begun in an earlier tracing session, whose output is
	// discarded: their begins are not in the trace.
	if err := trace.Start(io.Discard); err != nil {
		log.Fatal(err)
	}
	began := make(chan struct{})
	go func() {
		defer close(done)
		outer := trace.StartRegion(ctx, "outer-begun-before")
		inner := trace.StartRegion(ctx, "inner-begun-before")
		close(began)
		<-wake
		inner.End()
		trace.WithRegion(ctx, "between", func() { time.Sleep(10 * time.Microsecond) })
		outer.End()
	}()
	<-began
	trace.Stop()
	time.Sleep(time.Millisecond) // let it block

	start()
	close(wake)
	<-done
	stop()
}

func window(_, _ func()) {
	// The scenario records with its own flight recorder; the output file
	// is written below.
	ctx, task := trace.NewTask(context.Background(), "begun-before-window")
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 500 * time.Millisecond})
	if err := fr.Start(); err != nil {
		log.Fatal(err)
	}
	wake := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := trace.StartRegion(ctx, "begun-before-window")
		<-wake // blocked from the first generation on
		r.End()
	}()
	// Generations last about a second; let the first ones drop out of
	// the window, then wake the goroutine late in the one that follows.
	time.Sleep(3200 * time.Millisecond)
	close(wake)
	<-done
	task.End()
	time.Sleep(time.Millisecond)
	if _, err := fr.WriteTo(windowOut); err != nil {
		log.Fatal(err)
	}
	fr.Stop()
}
