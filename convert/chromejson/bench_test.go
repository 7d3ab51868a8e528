package chromejson_test

import (
	"os"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkChromeJSON converts a trace to Chrome JSON, writing to
// nowhere. Compare its MB/s with mapping's BenchmarkParseOnly.
func BenchmarkChromeJSON(b *testing.B) {
	benchutil.Run(b, "../..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out := &benchutil.Discard{}
		w := chromejson.NewWriter(out)
		sum, err := mapping.Map(f, w, mapping.WithProgress(func(mapping.Progress) { h.Observe() }))
		if err != nil {
			b.Fatal(err)
		}
		return sum.Events, out.N
	})
}
