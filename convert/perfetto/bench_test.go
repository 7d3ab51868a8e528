package perfetto_test

import (
	"io"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkPerfetto converts a trace to Perfetto, writing to nowhere.
func BenchmarkPerfetto(b *testing.B) {
	benchutil.RunConverter(b, "../..", func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) })
}

// BenchmarkPerfettoSink times the writer alone, replaying a recorded model.
func BenchmarkPerfettoSink(b *testing.B) {
	benchutil.RunSink(b, "../..", func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) })
}
