// Package synth records synthetic execution traces of a busy workload, for
// benchmarks that need a trace far larger than the committed samples.
package synth

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
)

// Record traces a mixed workload (goroutines blocking on channels and
// mutexes, allocation and GC, user tasks, regions and logs) and writes the
// trace to w until at least size bytes have been written.
//
// It uses the process-wide runtime tracer, so it fails if tracing is
// already on (as under go test -trace).
func Record(w io.Writer, size int64) error {
	cw := &countWriter{w: w}
	if err := trace.Start(cw); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(i, &stop)
		}()
	}
	for cw.n.Load() < size && cw.err.Load() == nil {
		runtime.Gosched()
		burn(1000)
	}
	stop.Store(true)
	wg.Wait()
	trace.Stop()
	if err, _ := cw.err.Load().(error); err != nil {
		return err
	}
	return nil
}

// Cached returns the path of a synthetic trace of at least size bytes in
// the user's cache directory, recording it on first use. Recording 50 MB
// takes some seconds, which a benchmark should not pay on every run.
func Cached(size int64) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "trace2x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("synthetic-%s-%dMB.trace", runtime.Version(), size>>20))
	if st, err := os.Stat(path); err == nil && st.Size() >= size {
		return path, nil
	}
	f, err := os.CreateTemp(dir, "synthetic-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := Record(f, size); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

type countWriter struct {
	w   io.Writer
	n   atomic.Int64
	err atomic.Value
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	if err != nil {
		c.err.CompareAndSwap(nil, err)
	}
	return n, err
}

var sink atomic.Int64

// burn does some CPU work that the compiler cannot remove.
func burn(n int) {
	x := 0
	for i := range n {
		x += i * i
	}
	sink.Add(int64(x))
}

// worker runs one strand of the workload until stop is set.
func worker(id int, stop *atomic.Bool) {
	ctx, task := trace.NewTask(context.Background(), fmt.Sprintf("worker-%d", id))
	defer task.End()
	var mu sync.Mutex
	ch := make(chan []byte)
	for round := 0; !stop.Load(); round++ {
		ctx, sub := trace.NewTask(ctx, "round")
		trace.WithRegion(ctx, "produce", func() {
			var wg sync.WaitGroup
			for j := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					mu.Lock()
					burn(200)
					mu.Unlock()
					ch <- make([]byte, 1024*(j+1))
				}()
			}
			for range 4 {
				b := <-ch
				trace.Logf(ctx, "recv", "%d bytes", len(b))
			}
			wg.Wait()
		})
		sub.End()
	}
}
