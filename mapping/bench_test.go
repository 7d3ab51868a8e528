package mapping_test

import (
	"fmt"
	"io"
	"os"
	"runtime"
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
		cpu := processCPU()
		r, err := trace.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for {
			_, err := r.ReadEvent()
			if err == io.EOF {
				b.ReportMetric((processCPU() - cpu).Seconds(), "cpu-s")
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

// BenchmarkParallel is BenchmarkMap through MapFile, at GOMAXPROCS 1 and
// 2, and at the machine's core count if that is more; and with two
// parsing goroutines forced at GOMAXPROCS 2, where by default one parser
// runs beside the mapping (see WithWorkers). (The testing package sets
// GOMAXPROCS, from -cpu, for every benchmark function it runs, so each
// pass sets it itself.) Compare it with BenchmarkParseOnly in the same
// run. Per pass it reports the CPU time of the process (cpu-s), the time
// spent parsing summed over the parsing goroutines (parse-s), the part
// of it spent on lead-ins (lead-in-s), the time the mapping goroutine
// spent mapping (map-s) and waiting for parsed events (wait-s), and the
// groups; the last five only for a parallel pass.
func BenchmarkParallel(b *testing.B) {
	type setup struct{ cores, workers int }
	setups := []setup{{1, 0}, {2, 0}, {2, 2}}
	if n := runtime.NumCPU(); n > 2 {
		setups = append(setups, setup{n, 0})
	}
	for _, s := range setups {
		name := fmt.Sprintf("cores=%d", s.cores)
		if s.workers > 0 {
			name += fmt.Sprintf(",workers=%d", s.workers)
		}
		b.Run(name, func(b *testing.B) {
			benchutil.Run(b, "..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
				// The benchmark sets GOMAXPROCS for every run of the
				// function it is given.
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(s.cores))
				f, err := os.Open(in.Path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				var st mapping.PassStats
				opts := []mapping.Option{mapping.WithStats(&st), mapping.WithProgress(func(mapping.Progress) { h.Observe() })}
				if s.workers > 0 {
					opts = append(opts, mapping.WithWorkers(s.workers))
				}
				cpu := processCPU()
				sum, err := mapping.MapFile(f, in.Size, mapping.NopSink{}, opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric((processCPU() - cpu).Seconds(), "cpu-s")
				b.ReportMetric(st.Parse().Seconds(), "parse-s")
				b.ReportMetric(st.LeadIn().Seconds(), "lead-in-s")
				b.ReportMetric(st.Mapping().Seconds(), "map-s")
				b.ReportMetric(st.Wait().Seconds(), "wait-s")
				b.ReportMetric(float64(st.Groups()), "groups")
				if st.Fallbacks() > 0 {
					b.Fatalf("%s: the parallel pass fell back to one reader", in.Name)
				}
				return sum.Events, 0
			})
		})
	}
}

// BenchmarkWindowAtEnd converts the last second of a recorded HTTP
// service trace of 115 MB (generations of a second, 10 to 20 of them as
// fast as the machine that records it on first use is) to nothing: through a filter over the full pass, and with
// MapWindow, which reads only the generations the window needs; and
// indexes the file's generations from the batch headers. Compare the
// three against each other in one run. A trace that spans only a few
// seconds would say little: its last second is a large part of it.
// The seek pass reports the share of the file it read (share-read) and
// the shares of the trace's time and goroutine states that the window
// holds (share-time, share-states).
func BenchmarkWindowAtEnd(b *testing.B) {
	path, err := synth.CachedService(115 << 20)
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
	states := func(t *mapping.Tally) (n int) {
		for _, c := range t.GoStates {
			n += c
		}
		return n
	}
	var whole mapping.Tally
	if _, err := mapping.Map(io.NewSectionReader(f, 0, st.Size()), &whole); err != nil {
		b.Fatal(err)
	}
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
		var tally mapping.Tally
		for b.Loop() {
			flt := &mapping.Filter{From: from}
			tally = mapping.Tally{}
			sum, err := mapping.MapWindow(f, st.Size(), from, mapping.Bound{}, flt.Sink(&tally))
			if err != nil {
				b.Fatal(err)
			}
			read = sum.BytesRead
		}
		b.ReportMetric(float64(read)/float64(st.Size()), "share-read")
		b.ReportMetric(float64(time.Second)/float64(dur), "share-time")
		b.ReportMetric(float64(states(&tally))/float64(states(&whole)), "share-states")
	})
}
