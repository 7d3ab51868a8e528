// Command mixed records a small execution trace that touches the common
// event kinds and builds with every supported Go toolchain (1.22 and
// later), so the same workload can be traced in each trace format version:
// tasks, nested regions and logs, unbuffered channel blocking, a mutex, a
// few GC cycles and file system calls.
//
// Usage:
//
//	mixed -o FILE
package main

import (
	"context"
	"log"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"time"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

func main() { tracemain.Run(run) }

func run() {
	ctx, task := trace.NewTask(context.Background(), "mixed")
	defer task.End()
	trace.Logf(ctx, "runtime", "version=%s", runtime.Version())

	// Producer/consumer over an unbuffered channel, with child tasks.
	jobs := make(chan int)
	results := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for j := range jobs {
				jctx, job := trace.NewTask(ctx, "job")
				trace.WithRegion(jctx, "allocate", func() {
					trace.WithRegion(jctx, "build", func() {
						results <- len(garbage(j))
					})
				})
				mu.Lock()
				total += j
				mu.Unlock()
				trace.Logf(jctx, "job", "worker=%d job=%d", w, j)
				job.End()
			}
		}(w)
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	go func() {
		for j := 0; j < 24; j++ {
			jobs <- j
		}
		close(jobs)
	}()
	sum := 0
	trace.WithRegion(ctx, "collect", func() {
		for n := range results {
			sum += n
		}
	})
	trace.Logf(ctx, "result", "sum=%d total=%d", sum, total)

	trace.WithRegion(ctx, "file", writeFile)
	trace.WithRegion(ctx, "sleep", func() { time.Sleep(time.Millisecond) })
}

// garbage allocates about 1 MiB in small, short-lived pieces.
func garbage(seed int) [][]byte {
	var keep [][]byte
	for i := 0; i < 1024; i++ {
		b := make([]byte, 1024)
		b[0] = byte(seed + i)
		if i%64 == 0 {
			keep = append(keep, b)
		}
	}
	return keep
}

// writeFile writes, fsyncs and removes a temporary file.
func writeFile() {
	f, err := os.CreateTemp(os.TempDir(), "trace2x-mixed-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		log.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
