// Command pprofhttp serves net/http/pprof on a loopback port, keeps
// background goroutines busy with annotated work, and fetches a half-second
// execution trace from its own /debug/pprof/trace endpoint. The trace starts
// in the middle of the run, so tasks begun earlier end inside it, and it
// contains the HTTP server goroutines that serve the request.
//
// Usage:
//
//	pprofhttp -o FILE
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
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

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.DefaultServeMux}
	go func() {
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			worker(i, stop)
		}(i)
	}
	time.Sleep(20 * time.Millisecond) // Tasks are in flight before tracing starts.

	url := fmt.Sprintf("http://%s/debug/pprof/trace?seconds=0.5", ln.Addr())
	resp, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}

	close(stop)
	wg.Wait()
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, body, 0o666); err != nil {
		log.Fatal(err)
	}
}

// worker repeatedly runs short tasks until stop is closed.
func worker(id int, stop <-chan struct{}) {
	for n := 0; ; n++ {
		ctx, task := trace.NewTask(context.Background(), "job")
		trace.Logf(ctx, "job", "worker=%d job=%d", id, n)
		trace.WithRegion(ctx, "hash", func() {
			sum := sha256.Sum256([]byte{byte(id), byte(n)})
			for i := 0; i < 2000; i++ {
				sum = sha256.Sum256(sum[:])
			}
		})
		select {
		case <-stop:
			task.End()
			return
		case <-time.After(15 * time.Millisecond):
		}
		task.End()
	}
}
