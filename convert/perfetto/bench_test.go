package perfetto_test

import (
	"os"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkPerfetto converts a trace to Perfetto, writing to nowhere.
func BenchmarkPerfetto(b *testing.B) {
	benchutil.Run(b, "../..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out := &benchutil.Discard{}
		w := perfetto.NewWriter(out)
		sum, err := mapping.Map(f, w, mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events, out.N
	})
}
