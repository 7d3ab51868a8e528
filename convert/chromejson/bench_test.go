package chromejson_test

import (
	"io"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkChromeJSON converts a trace to Chrome JSON as the command
// does by default (counters thinned), writing to nowhere. Compare its
// MB/s with mapping's BenchmarkParseOnly.
func BenchmarkChromeJSON(b *testing.B) {
	benchutil.RunConverter(b, "../..", func(w io.Writer) mapping.Sink {
		return mapping.ThinCounters(chromejson.NewWriter(w), mapping.DefaultCounterResolution)
	})
}

// BenchmarkChromeJSONSink times the writer alone, replaying a recorded
// model.
func BenchmarkChromeJSONSink(b *testing.B) {
	benchutil.RunSink(b, "../..", func(w io.Writer) mapping.Sink { return chromejson.NewWriter(w) })
}
