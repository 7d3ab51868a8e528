// Command gomaxprocs records an execution trace in which runtime.GOMAXPROCS
// changes mid-trace (2 -> 1 -> 4 -> 2) while CPU-bound goroutines keep
// running, so processors stop and start and goroutines migrate between them.
//
// Usage:
//
//	gomaxprocs -o FILE
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	out := flag.String("o", "", "write the execution trace to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	runtime.GOMAXPROCS(2)

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}

	ctx, task := trace.NewTask(context.Background(), "gomaxprocs")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				trace.WithRegion(ctx, "work", func() { spin(500 * time.Microsecond) })
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}

	for _, n := range []int{1, 4, 2} {
		prev := runtime.GOMAXPROCS(n)
		trace.Logf(ctx, "gomaxprocs", "%d -> %d", prev, n)
		time.Sleep(15 * time.Millisecond)
	}

	stop.Store(true)
	wg.Wait()
	task.End()
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// spin busy-waits for d without blocking.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
