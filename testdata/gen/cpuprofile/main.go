// Command cpuprofile records an execution trace while a CPU profile is
// active, so the trace contains CPU samples (stack sample events) taken
// during about 300 ms of CPU-bound work in two goroutines.
//
// Usage:
//
//	cpuprofile -o FILE
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"
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
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}

	ctx, task := trace.NewTask(context.Background(), "cpu")
	var wg sync.WaitGroup
	results := make([]uint64, 2)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			trace.WithRegion(ctx, "compute", func() {
				deadline := time.Now().Add(300 * time.Millisecond)
				for time.Now().Before(deadline) {
					if i == 0 {
						results[i] += collatz(100_000)
					} else {
						results[i] += primes(20_000)
					}
				}
			})
		}(i)
	}
	wg.Wait()
	task.End()

	trace.Stop()
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// collatz returns the total number of Collatz steps for 1..n.
func collatz(n uint64) uint64 {
	var steps uint64
	for i := uint64(1); i <= n; i++ {
		for x := i; x != 1; steps++ {
			if x%2 == 0 {
				x /= 2
			} else {
				x = 3*x + 1
			}
		}
	}
	return steps
}

// primes counts the primes below n by trial division.
func primes(n uint64) uint64 {
	var count uint64
	for i := uint64(2); i < n; i++ {
		prime := true
		for d := uint64(2); d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}
