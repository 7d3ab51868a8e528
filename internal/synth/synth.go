// Package synth records synthetic execution traces of a busy workload, for
// benchmarks that need a trace far larger than the committed samples.
package synth

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

// Record traces a mixed workload (goroutines blocking on channels and
// mutexes, allocation and GC, user tasks, regions and logs) and writes the
// trace to w until at least size bytes have been written.
//
// It uses the process-wide runtime tracer, so it fails if tracing is
// already on (as under go test -trace).
func Record(w io.Writer, size int64) error {
	return record(w, size, 4, worker, spin)
}

// RecordAnnotated traces a service-like workload that is mostly user
// annotation: requests as tasks holding nested regions and logs, on a few
// goroutines that rarely block. It is the input on which span throughput,
// not parsing, limits an OTLP conversion.
func RecordAnnotated(w io.Writer, size int64) error {
	return record(w, size, 2, annotatedWorker, spin)
}

// spin waits for the trace to grow by yielding and burning CPU, which
// keeps the main goroutine busy in the trace too.
func spin() {
	runtime.Gosched()
	burn(1000)
}

// record runs workers until size bytes of trace are written, calling wait
// between checks of the size.
func record(w io.Writer, size int64, workers int, work func(int, *atomic.Bool), wait func()) error {
	cw := &countWriter{w: w}
	if err := trace.Start(cw); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(i, &stop)
		}()
	}
	for cw.n.Load() < size && cw.err.Load() == nil {
		wait()
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
// the user's cache directory, recording it with Record on first use.
// Recording 50 MB takes some seconds, which a benchmark should not pay on
// every run.
func Cached(size int64) (string, error) {
	return cached("synthetic", size, Record)
}

// CachedAnnotated is Cached for RecordAnnotated.
func CachedAnnotated(size int64) (string, error) {
	// v2: a traceparent per request.
	return cached("annotated-v2", size, RecordAnnotated)
}

func cached(kind string, size int64, rec func(io.Writer, int64) error) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "trace2x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%dMB.trace", kind, runtime.Version(), size>>20))
	if st, err := os.Stat(path); err == nil && st.Size() >= size {
		return path, nil
	}
	f, err := os.CreateTemp(dir, kind+"-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := rec(f, size); err != nil {
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

// annotatedWorker serves requests until stop is set: each a task with a
// traceparent log of its own request (one traceparent for all would make
// the OTLP conversion one remote trace of every request), three regions
// (one with a nested region) and a log.
func annotatedWorker(id int, stop *atomic.Bool) {
	bg := context.Background()
	for n := 0; !stop.Load(); n++ {
		ctx, task := trace.NewTask(bg, "request")
		trace.Log(ctx, "traceparent", fmt.Sprintf("00-%016x%016x-%016x-01", id+1, n+1, n+1))
		trace.WithRegion(ctx, "decode", func() { burn(50) })
		trace.WithRegion(ctx, "handle", func() {
			trace.WithRegion(ctx, "query", func() { burn(100) })
			trace.Log(ctx, "db", "rows")
		})
		trace.WithRegion(ctx, "encode", func() { burn(50) })
		task.End()
		if n%64 == 0 {
			runtime.Gosched()
		}
	}
}

// RecordService traces an HTTP service and its load in one process: a
// net/http server on the loopback interface whose handler begins a task
// per request, with nested regions, logs and some allocation, and 56
// client goroutines sending requests in a loop. It is the shape of trace
// that real services record: a goroutine per connection and per request,
// most of them short-lived, blocking on the network.
func RecordService(w io.Writer, size int64) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", serveRequest)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/item"
	wait := func() { time.Sleep(time.Millisecond) }
	return record(w, size, 56, func(id int, stop *atomic.Bool) {
		// Each client keeps its own connections, as separate processes would.
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
		defer client.CloseIdleConnections()
		for n := 0; !stop.Load(); n++ {
			resp, err := client.Get(fmt.Sprintf("%s?c=%d&n=%d", url, id, n))
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n%16 == 15 {
				// Now and then a new connection: a new server goroutine.
				client.CloseIdleConnections()
			}
		}
	}, wait)
}

// serveRequest is the handler of RecordService.
func serveRequest(rw http.ResponseWriter, r *http.Request) {
	ctx, task := trace.NewTask(r.Context(), "http.request")
	defer task.End()
	trace.Log(ctx, "url", r.URL.RawQuery)
	var body []byte
	trace.WithRegion(ctx, "handle", func() {
		trace.WithRegion(ctx, "decode", func() { burn(200) })
		trace.WithRegion(ctx, "query", func() {
			// A fan-out to a helper goroutine, as a database client would.
			done := make(chan []byte)
			go func() { burn(300); done <- make([]byte, 2048) }()
			body = <-done
			trace.Log(ctx, "db", "rows")
		})
		trace.WithRegion(ctx, "encode", func() { burn(100) })
	})
	rw.Write(body[:256])
}

// CachedService is Cached for RecordService.
func CachedService(size int64) (string, error) {
	return cached("service", size, RecordService)
}
