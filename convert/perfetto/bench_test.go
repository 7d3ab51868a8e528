package perfetto_test

import (
	"io"
	"os"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// countingDiscard counts what is written to it.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkPerfetto converts a trace to Perfetto, writing to nowhere.
func BenchmarkPerfetto(b *testing.B) {
	benchutil.Run(b, "../..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out := &countingDiscard{}
		w := perfetto.NewWriter(out)
		sum, err := mapping.Map(f, w, mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events, out.n
	})
}

var _ io.Writer = (*countingDiscard)(nil)
