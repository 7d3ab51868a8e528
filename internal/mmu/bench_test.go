package mmu_test

import (
	"os"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/internal/mmu"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkMMU maps a trace into a Meter for the windows trace2x stats
// reports, and reports the most changes of utilization that waited to
// become final at once.
func BenchmarkMMU(b *testing.B) {
	benchutil.Run(b, "../..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		m := mmu.New([]time.Duration{time.Millisecond, 10 * time.Millisecond})
		sum, err := mapping.Map(f, m, mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.MaxQueued()), "max-queued")
		return sum.Events, 0
	})
}
