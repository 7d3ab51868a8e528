package otel

import (
	"context"
	"os"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// nopExporter takes every span and does nothing with it: the cost of the
// conversion and the SDK alone.
type nopExporter struct{}

func (nopExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (nopExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkOTLP converts traces to spans for an exporter that does
// nothing with them: the cost of the conversion, parsing included.
func BenchmarkOTLP(b *testing.B) {
	benchOTLP(b, func() sdktrace.SpanExporter { return nopExporter{} })
}

// BenchmarkOTLPMemory converts traces to spans for the SDK's in-memory
// exporter, which keeps them all.
func BenchmarkOTLPMemory(b *testing.B) {
	benchOTLP(b, func() sdktrace.SpanExporter { return tracetest.NewInMemoryExporter() })
}

func benchOTLP(b *testing.B, exp func() sdktrace.SpanExporter) {
	spans := map[string]int64{} // by input, over the passes so far
	benchutil.Run(b, "../..", func(b *testing.B, in benchutil.Input, h *benchutil.HeapPeak) (int64, int64) {
		f, err := os.Open(in.Path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		s := NewSink(context.Background(), exp(), WithRuntimeSpans())
		// As the command runs it.
		sum, err := mapping.MapFile(f, in.Size, mapping.Async(s),
			mapping.WithProgress(func(mapping.Progress) { h.Observe() }), mapping.WithoutBackdatedCounts())
		if err != nil {
			b.Fatal(err)
		}
		res := s.Result()
		if res.Exported != res.Spans() {
			b.Fatalf("%d of %d spans exported", res.Exported, res.Spans())
		}
		// The last report stands: the spans of all passes so far over the
		// time they took.
		spans[in.Name] += res.Spans()
		b.ReportMetric(float64(spans[in.Name])/b.Elapsed().Seconds(), "spans/s")
		b.ReportMetric(float64(res.Spans()), "spans/op")
		return sum.Events, 0
	})
}

// BenchmarkOTLPSink times the conversion alone, to the no-op exporter: the
// model of each input is recorded once and replayed into a new Sink.
func BenchmarkOTLPSink(b *testing.B) {
	for _, in := range benchutil.Inputs(b, "../..") {
		b.Run(in.Name, func(b *testing.B) {
			rec := benchutil.Record(b, in)
			b.ReportAllocs()
			var spans int64
			for b.Loop() {
				s := NewSink(context.Background(), nopExporter{}, WithRuntimeSpans())
				if err := rec.Replay(s); err != nil {
					b.Fatal(err)
				}
				res := s.Result()
				spans += res.Spans()
			}
			b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
