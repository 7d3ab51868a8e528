package mapping_test

import (
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
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

// BenchmarkWindowAtEnd converts the last second of a synthetic 100 MB
// trace to nothing: through a filter over the full pass, and with
// MapWindow, which reads only the generations the window needs; and
// indexes the file's generations from the batch headers. Compare the
// three against each other in one run.
func BenchmarkWindowAtEnd(b *testing.B) {
	path, err := synth.Cached(100 << 20)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	idx, err := tracefile.Read(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	gens := idx.Generations
	dur := time.Duration(gens[len(gens)-1].End - gens[0].Start)
	from := mapping.Bound{Offset: dur - time.Second, Set: true}
	b.Run("index", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			if _, err := tracefile.Read(f, st.Size()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			flt := &mapping.Filter{From: from}
			if _, err := mapping.Map(io.NewSectionReader(f, 0, st.Size()), flt.Sink(mapping.NopSink{})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("seek", func(b *testing.B) {
		b.SetBytes(st.Size())
		var read int64
		for b.Loop() {
			flt := &mapping.Filter{From: from}
			sum, err := mapping.MapWindow(f, st.Size(), from, mapping.Bound{}, flt.Sink(mapping.NopSink{}))
			if err != nil {
				b.Fatal(err)
			}
			read = sum.BytesRead
		}
		b.ReportMetric(float64(read)/float64(st.Size()), "share-read")
	})
}
