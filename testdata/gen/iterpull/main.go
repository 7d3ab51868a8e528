//go:build go1.23

// Command iterpull records an execution trace of iter.Pull and iter.Pull2
// coroutines (Go 1.23+). Each step hands control directly between the
// caller and the iterator goroutine, which the trace records as goroutine
// switches; stopping an iterator early destroys its goroutine with a
// switch as well.
//
// Usage:
//
//	iterpull -o FILE
package main

import (
	"context"
	"iter"
	"runtime/trace"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

func main() { tracemain.Run(run) }

// run is the traced workload.
func run() {
	ctx, task := trace.NewTask(context.Background(), "iterpull")
	var total int
	for round := 0; round < 20; round++ {
		trace.WithRegion(ctx, "merge", func() {
			total += merge(countBy(0, 2, 25), countBy(1, 2, 25))
		})
		trace.WithRegion(ctx, "zip", func() {
			total += zip(50)
		})
		trace.WithRegion(ctx, "early-stop", func() {
			total += firstN(countBy(0, 1, 1000), 3)
		})
	}
	trace.Logf(ctx, "iterpull", "total=%d", total)
	task.End()
}

// countBy yields n values starting at start, step apart.
func countBy(start, step, n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(start + i*step) {
				return
			}
		}
	}
}

// merge pulls from two sorted sequences alternately and sums the merged
// output.
func merge(a, b iter.Seq[int]) int {
	nextA, stopA := iter.Pull(a)
	defer stopA()
	nextB, stopB := iter.Pull(b)
	defer stopB()
	va, okA := nextA()
	vb, okB := nextB()
	sum := 0
	for okA || okB {
		if okA && (!okB || va <= vb) {
			sum += va
			va, okA = nextA()
		} else {
			sum += vb
			vb, okB = nextB()
		}
	}
	return sum
}

// zip pulls index/value pairs with iter.Pull2.
func zip(n int) int {
	seq := func(yield func(int, int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i, i*i) {
				return
			}
		}
	}
	next, stop := iter.Pull2(seq)
	defer stop()
	sum := 0
	for {
		k, v, ok := next()
		if !ok {
			return sum
		}
		sum += k + v
	}
}

// firstN pulls n values and then stops the iterator before it is done.
func firstN(seq iter.Seq[int], n int) int {
	next, stop := iter.Pull(seq)
	sum := 0
	for i := 0; i < n; i++ {
		v, ok := next()
		if !ok {
			break
		}
		sum += v
	}
	stop()
	return sum
}
