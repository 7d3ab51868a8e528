package stats_test

import (
	"io"
	"os"
	"testing"

	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// BenchmarkStats maps a trace into a stats Sink in the mapping's
// goroutine and renders its report, as `trace2x stats` does. Compare its
// MB/s with mapping's BenchmarkParseOnly and BenchmarkMap.
func BenchmarkStats(b *testing.B) {
	benchStats(b, func(s mapping.Sink) mapping.Sink { return s })
}

// BenchmarkStatsAsync runs the Sink on a goroutine of its own, through
// mapping.Async, which costs more than the Sink itself: the reason the
// command does not.
func BenchmarkStatsAsync(b *testing.B) {
	benchStats(b, mapping.Async)
}

func benchStats(b *testing.B, wrap func(mapping.Sink) mapping.Sink) {
	benchutil.Run(b, "..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		s := stats.NewSink()
		// As the command runs it.
		sum, err := mapping.MapFile(f, in.Size, wrap(s),
			mapping.WithProgress(func(mapping.Progress) { h.Observe() }), mapping.WithoutBackdatedCounts())
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Report().WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
		return sum.Events, 0
	})
}

// BenchmarkStatsSink times the Sink alone, replaying a recorded model:
// the CPU the analysis adds to the mapping's.
func BenchmarkStatsSink(b *testing.B) {
	benchutil.RunSink(b, "..", func(io.Writer) mapping.Sink { return stats.NewSink() })
}
