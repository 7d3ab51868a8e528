// Pprofserver is a small program that serves net/http/pprof on 127.0.0.1
// while it works, as a service under investigation would: requests handled
// as user tasks with regions and logs, goroutines that block on channels
// and timers, allocation that keeps the GC busy, and CPU work for the
// profiler. It listens on the address given as its argument, or on a free
// port of 127.0.0.1, prints that address, then serves until killed.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

var sink []byte

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	for w := range 3 {
		go work(w)
	}
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// work handles one "request" after another.
func work(id int) {
	for n := 0; ; n++ {
		ctx, task := trace.NewTask(context.Background(), "request")
		trace.Logf(ctx, "request", "worker %d request %d", id, n)
		results := make(chan int)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				trace.WithRegion(ctx, "compute", func() { results <- burn(20000 * (i + 1)) })
			}()
		}
		trace.WithRegion(ctx, "collect", func() {
			for range 3 {
				<-results
			}
		})
		wg.Wait()
		sink = make([]byte, 64<<10)
		time.Sleep(time.Millisecond)
		task.End()
	}
}

func burn(n int) int {
	x := 0
	for i := range n {
		x ^= i * i
	}
	return x
}
