package gotest

import (
	"context"
	"fmt"
	"runtime/trace"
	"testing"
	"time"
)

func TestFib(t *testing.T) {
	want := []int{0, 1, 1, 2, 3, 5, 8, 13, 21, 34}
	for n, w := range want {
		if got := Fib(n); got != w {
			t.Errorf("Fib(%d) = %d, want %d", n, got, w)
		}
	}
}

func TestParallel(t *testing.T) {
	for i := 0; i < 4; i++ {
		n := 18 + i
		t.Run(fmt.Sprintf("fib%d", n), func(t *testing.T) {
			t.Parallel()
			ctx, task := trace.NewTask(context.Background(), t.Name())
			defer task.End()
			var got int
			trace.WithRegion(ctx, "compute", func() {
				for j := 0; j < 20; j++ {
					got = Fib(n)
				}
			})
			trace.Logf(ctx, "result", "Fib(%d)=%d", n, got)
			trace.WithRegion(ctx, "sleep", func() { time.Sleep(2 * time.Millisecond) })
			if got <= 0 {
				t.Fatalf("Fib(%d) = %d", n, got)
			}
		})
	}
}

func TestSequentialSubtests(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			start := time.Now()
			time.Sleep(d)
			if time.Since(start) < d {
				t.Fatal("woke up early")
			}
		})
	}
}
