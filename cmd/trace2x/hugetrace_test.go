package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"
)

// TestHugeTraceWarning records a task with hugeTrace-1 regions, which
// with the task's own span make a trace of hugeTrace spans, and one with
// a region fewer: otlp warns of the first, naming its size, and not of
// the second.
func TestHugeTraceWarning(t *testing.T) {
	for _, regions := range []int{hugeTrace - 1, hugeTrace - 2} {
		in := recordFile(t, func() {
			ctx, task := trace.NewTask(context.Background(), "batch")
			for range regions {
				trace.WithRegion(ctx, "item", func() {})
			}
			task.End()
		})
		code, _, errs := runOTLP(t, "--json", "-o", filepath.Join(filepath.Dir(in), "spans.json"), in)
		want := fmt.Sprintf(", holds %d spans: a backend shows a trace that large slowly if at all", regions+1)
		if code != 0 || strings.Contains(errs, "the largest trace") != (regions+1 >= hugeTrace) || regions+1 >= hugeTrace && !strings.Contains(errs, want) {
			t.Errorf("%d regions: exit %d, stderr %q", regions, code, errs)
		}
	}
}
