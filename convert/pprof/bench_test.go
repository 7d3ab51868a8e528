package pprof_test

import (
	"io"
	"testing"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkPprof profiles a trace by each kind, writing to nowhere.
func BenchmarkPprof(b *testing.B) {
	for _, kind := range pprof.Kinds() {
		b.Run(kind.String(), func(b *testing.B) {
			benchutil.RunConverter(b, "../..", func(w io.Writer) mapping.Sink { return pprof.NewWriter(w, kind) })
		})
	}
}
