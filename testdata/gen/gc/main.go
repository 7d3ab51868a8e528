// Command gc records an execution trace of allocation-heavy work in several
// goroutines, producing many garbage collection cycles with mark assists and
// background and incremental sweeping. It also forces stop-the-world
// collections with runtime.GC and changes the GC target with
// debug.SetGCPercent mid-trace.
//
// Usage:
//
//	gc -o FILE
package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"sync"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

func main() { tracemain.Run(run) }

// run is the traced workload.
func run() {
	ctx, task := trace.NewTask(context.Background(), "gc")
	for i, percent := range []int{100, 25, 400, 50} {
		old := debug.SetGCPercent(percent)
		trace.Logf(ctx, "gc", "GOGC %d -> %d", old, percent)
		trace.WithRegion(ctx, "churn", func() { churn(4, 200) })
		if i%2 == 1 {
			// runtime.GC and the background sweeper can yield to each
			// other thousands of times while the sweep finishes (seen
			// with Go 1.25 and 1.26), each yield adding events, so only
			// two forced collections keep the trace's size in bounds.
			trace.WithRegion(ctx, "runtime.GC", runtime.GC)
		}
	}
	debug.SetGCPercent(100)
	task.End()
}

type node struct {
	left, right *node
	payload     []byte
}

// tree builds a binary tree of the given depth.
func tree(depth int) *node {
	if depth == 0 {
		return &node{payload: make([]byte, 64)}
	}
	return &node{left: tree(depth - 1), right: tree(depth - 1)}
}

var retained [64]*node

// churn runs goroutines that each build rounds short-lived trees, keeping
// a few of them alive for a while so the live heap is not trivial.
func churn(goroutines, rounds int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				t := tree(6)
				if i%50 == 0 {
					mu.Lock()
					retained[(g*rounds+i)%len(retained)] = t
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
}
