package mapping_test

import (
	"io"
	"os"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkParseOnly is the baseline: reading every event with
// x/exp/trace and nothing else.
func BenchmarkParseOnly(b *testing.B) {
	benchutil.Run(b, "..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r, err := trace.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for {
			_, err := r.ReadEvent()
			if err == io.EOF {
				return n, 0
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
			if n%(1<<16) == 0 {
				h.Observe()
			}
		}
	})
}

// BenchmarkMap is the mapping into a sink that ignores everything: the
// cost the mapping adds to parsing.
func BenchmarkMap(b *testing.B) {
	benchMap(b, func() mapping.Sink { return mapping.NopSink{} })
}

// BenchmarkMapTally maps into the counting sink, which touches every item.
func BenchmarkMapTally(b *testing.B) {
	benchMap(b, func() mapping.Sink { return &mapping.Tally{} })
}

func benchMap(b *testing.B, sink func() mapping.Sink) {
	benchutil.Run(b, "..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sum, err := mapping.Map(f, sink(), mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events, 0
	})
}
