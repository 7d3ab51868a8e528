package mapping_test

import (
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// benchInputs returns the largest committed sample and a synthetic trace of
// about 50 MB recorded on first use.
func benchInputs(b *testing.B) map[string]string {
	b.Helper()
	inputs := map[string]string{}
	files, _ := filepath.Glob("../testdata/*.trace")
	var largest string
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size {
			largest, size = f, st.Size()
		}
	}
	if largest != "" {
		inputs["sample"] = largest
	}
	path, err := synth.Cached(50 << 20)
	if err != nil {
		b.Fatalf("recording the synthetic trace: %v", err)
	}
	inputs["synthetic50MB"] = path
	return inputs
}

// heapPeak samples the live heap during a pass, to show that memory follows
// a generation rather than the file.
type heapPeak struct {
	sample []metrics.Sample
	peak   uint64
}

func newHeapPeak() *heapPeak {
	return &heapPeak{sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

func (h *heapPeak) observe() {
	metrics.Read(h.sample)
	h.peak = max(h.peak, h.sample[0].Value.Uint64())
}

func forEachInput(b *testing.B, run func(b *testing.B, path string, h *heapPeak) int64) {
	inputs := benchInputs(b)
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		path := inputs[name]
		b.Run(name, func(b *testing.B) {
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			h := newHeapPeak()
			var events int64
			for b.Loop() {
				events = run(b, path, h)
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(h.peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkParseOnly is the baseline: reading every event with
// x/exp/trace and nothing else.
func BenchmarkParseOnly(b *testing.B) {
	forEachInput(b, func(b *testing.B, path string, h *heapPeak) int64 {
		f, err := os.Open(path)
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
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
			if n%(1<<16) == 0 {
				h.observe()
			}
		}
		return n
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
	forEachInput(b, func(b *testing.B, path string, h *heapPeak) int64 {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sum, err := mapping.Map(f, sink(), mapping.WithProgress(func(mapping.Progress) { h.observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events
	})
}
