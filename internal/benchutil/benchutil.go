// Package benchutil holds what the benchmarks of every package share: the
// inputs (the largest sample trace and a synthetic 50 MB one) and the
// figures they report beyond ns/op.
package benchutil

import (
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// Input is a trace to benchmark on.
type Input struct {
	Name string
	Path string
	Size int64
}

// Inputs returns the largest trace in testdata (found from the package
// directory through root, the relative path to the repository), a
// synthetic trace of about 50 MB of mixed work, one of 20 MB of mostly
// tasks, regions and logs and one of 8 MB of an HTTP service under load,
// recorded on first use, and the trace
// named by TRACE2X_BENCH_TRACE, if set.
func Inputs(b *testing.B, root string) []Input {
	b.Helper()
	var ins []Input
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "*.trace"))
	var largest Input
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > largest.Size {
			largest = Input{Name: "sample", Path: f, Size: st.Size()}
		}
	}
	if largest.Path != "" {
		ins = append(ins, largest)
	}
	path, err := synth.Cached(50 << 20)
	if err != nil {
		b.Fatalf("recording the synthetic trace: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	ins = append(ins, Input{Name: "synthetic50MB", Path: path, Size: st.Size()})
	if path, err = synth.CachedAnnotated(20 << 20); err != nil {
		b.Fatalf("recording the annotated trace: %v", err)
	}
	if st, err = os.Stat(path); err != nil {
		b.Fatal(err)
	}
	ins = append(ins, Input{Name: "annotated20MB", Path: path, Size: st.Size()})
	if path, err = synth.CachedService(8 << 20); err != nil {
		b.Fatalf("recording the service trace: %v", err)
	}
	if st, err = os.Stat(path); err != nil {
		b.Fatal(err)
	}
	ins = append(ins, Input{Name: "service8MB", Path: path, Size: st.Size()})
	// TRACE2X_BENCH_TRACE adds a trace of the user's own, such as one
	// recorded from a real service, to every benchmark.
	if extra := os.Getenv("TRACE2X_BENCH_TRACE"); extra != "" {
		st, err := os.Stat(extra)
		if err != nil {
			b.Fatalf("TRACE2X_BENCH_TRACE: %v", err)
		}
		ins = append(ins, Input{Name: "own", Path: extra, Size: st.Size()})
	}
	slices.SortFunc(ins, func(a, b Input) int { return int(a.Size - b.Size) })
	return ins
}

// HeapPeak samples the live heap during a pass, to show that memory
// follows a generation rather than the file.
type HeapPeak struct {
	sample []metrics.Sample
	Peak   uint64
}

// NewHeapPeak returns a HeapPeak with nothing observed.
func NewHeapPeak() *HeapPeak {
	return &HeapPeak{sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
}

// Observe takes a sample.
func (h *HeapPeak) Observe() {
	metrics.Read(h.sample)
	h.Peak = max(h.Peak, h.sample[0].Value.Uint64())
}

// Run runs one benchmark per input. pass converts the input once and
// returns how many events it read and how many bytes it wrote; the
// benchmark reports MB/s of input, events/s, output bytes per input byte,
// and the peak live heap.
func Run(b *testing.B, root string, pass func(b *testing.B, in Input, h *HeapPeak) (events, written int64)) {
	for _, in := range Inputs(b, root) {
		b.Run(in.Name, func(b *testing.B) {
			b.SetBytes(in.Size)
			b.ReportAllocs()
			h := NewHeapPeak()
			var events, written int64
			for b.Loop() {
				events, written = pass(b, in, h)
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if written > 0 {
				b.ReportMetric(float64(written)/float64(in.Size), "out/in")
			}
			b.ReportMetric(float64(h.Peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// Discard is an io.Writer that counts what it is given and keeps none of
// it, for benchmarks that report output bytes per input byte.
type Discard struct{ N int64 }

// Write counts p.
func (d *Discard) Write(p []byte) (int, error) { d.N += int64(len(p)); return len(p), nil }

// RunConverter benchmarks a converter: newSink makes the sink that writes
// to w, and each pass maps the input into it, reporting output bytes.
func RunConverter(b *testing.B, root string, newSink func(w io.Writer) mapping.Sink) {
	Run(b, root, func(b *testing.B, in Input, h *HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out := &Discard{}
		// As the command runs it: the converter on a goroutine of its own.
		sum, err := mapping.MapFile(f, in.Size, mapping.Async(newSink(out)), mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events, out.N
	})
}
