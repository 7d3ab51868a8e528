// Command annotations records an execution trace that exercises the
// runtime/trace user annotation API: a task created in one goroutine whose
// context is carried into several others that open regions and emit logs,
// nested parent/child tasks, regions nested three deep, trace.Log and
// trace.Logf with and without categories (including a W3C "traceparent"
// value), a region spanning a blocking channel receive, and trace.WithRegion.
//
// Usage:
//
//	annotations -o FILE
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime/trace"
	"sync"
	"time"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

func main() { tracemain.Run(run) }

func run() {
	// Annotations outside of any task.
	bg := context.Background()
	trace.Log(bg, "", "log without task or category")
	trace.WithRegion(bg, "startup", func() { busy(50) })

	// A few concurrent requests so that tasks overlap in time.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			traceparent := fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e47%02x-00f067aa0ba902b7-01", 0x36+i)
			handleRequest(bg, fmt.Sprintf("/orders/%d", 42+i), traceparent)
		}(i)
	}
	wg.Wait()
	processBatch(bg, 3)
	handoff(bg)
}

// handleRequest creates a task in the calling goroutine, tags it with a W3C
// traceparent log, and hands its context to workers that annotate it from
// their own goroutines. The caller waits for their results inside a region
// that blocks on a channel receive.
func handleRequest(parent context.Context, path, traceparent string) {
	ctx, task := trace.NewTask(parent, "http.request")
	defer task.End()

	trace.Log(ctx, "traceparent", traceparent)
	trace.Logf(ctx, "http", "method=%s path=%s", "GET", path)

	results := make(chan [32]byte)
	const workers = 3
	for i := 0; i < workers; i++ {
		go func(id int) {
			region := trace.StartRegion(ctx, "lookup")
			trace.Logf(ctx, "worker", "shard=%d", id)
			busy(100 + 50*id)
			time.Sleep(time.Duration(id+1) * time.Millisecond)
			region.End()
			trace.WithRegion(ctx, "encode", func() {
				results <- sha256.Sum256([]byte(fmt.Sprint(path, id)))
			})
		}(i)
	}

	region := trace.StartRegion(ctx, "wait-results")
	var acc byte
	for i := 0; i < workers; i++ {
		r := <-results // Blocks inside the region.
		acc ^= r[0]
	}
	region.End()
	trace.Logf(ctx, "http", "status=200 checksum=%02x", acc)
}

// processBatch creates a parent task with one child task per item. Each child
// runs in its own goroutine and opens regions nested three deep.
func processBatch(parent context.Context, items int) {
	ctx, batch := trace.NewTask(parent, "batch")
	trace.Logf(ctx, "batch", "items=%d", items)

	var wg sync.WaitGroup
	for i := 0; i < items; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			childCtx, child := trace.NewTask(ctx, "batch.item")
			defer child.End()
			trace.WithRegion(childCtx, "outer", func() {
				trace.Logf(childCtx, "item", "index=%d", i)
				trace.WithRegion(childCtx, "middle", func() {
					busy(40)
					trace.WithRegion(childCtx, "inner", func() {
						busy(80)
						trace.Log(childCtx, "item", "innermost")
					})
					time.Sleep(500 * time.Microsecond)
				})
			})
			// A grandchild task that ends before its parent.
			gctx, grandchild := trace.NewTask(childCtx, "batch.item.retry")
			trace.Log(gctx, "", "log without category")
			busy(20)
			grandchild.End()
		}(i)
	}
	wg.Wait()
	batch.End()
}

// handoff begins a task in one goroutine and ends it in another.
func handoff(parent context.Context) {
	ctx, task := trace.NewTask(parent, "handoff")
	trace.Log(ctx, "handoff", "created by sender")
	done := make(chan struct{})
	tasks := make(chan *trace.Task)
	go func() {
		t := <-tasks
		trace.WithRegion(ctx, "finish", func() { busy(30) })
		trace.Log(ctx, "handoff", "ended by receiver")
		t.End()
		close(done)
	}()
	tasks <- task
	<-done
}

// sink keeps the result of busy alive.
var sink [32]byte

// busy burns a little CPU, proportional to n.
func busy(n int) {
	sum := sink
	for i := 0; i < n*4; i++ {
		sum = sha256.Sum256(sum[:])
	}
	sink = sum
}
