package perfetto_test

import (
	"io"
	"os"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/benchutil"
	"github.com/trace2x/trace2x/mapping"
)

// BenchmarkPerfetto converts a trace to Perfetto as the command does by
// default (counters thinned), writing to nowhere.
func BenchmarkPerfetto(b *testing.B) {
	benchutil.RunConverter(b, "../..", newSink)
}

// newSink is the command's default pipeline into a Perfetto writer.
func newSink(w io.Writer) mapping.Sink {
	return mapping.ThinCounters(perfetto.NewWriter(w), mapping.DefaultCounterResolution)
}

// BenchmarkPerfettoSink times the writer alone, replaying a recorded model.
func BenchmarkPerfettoSink(b *testing.B) {
	benchutil.RunSink(b, "../..", func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) })
}

// BenchmarkPerfettoRows converts each input as the command does and counts, with perfettocheck,
// the rows Perfetto's trace processor would build from the output: its
// import time and memory follow them. It reports them per input event and
// per MB of input, and the output's bytes per input byte; its speed is that of the check, which
// decodes every packet (about a minute for 8 MB of trace), so inputs over
// 16 MB are left out.
func BenchmarkPerfettoRows(b *testing.B) {
	for _, in := range benchutil.Inputs(b, "../..") {
		if in.Size > 16<<20 {
			continue
		}
		b.Run(in.Name, func(b *testing.B) {
			var rows perfettocheck.Rows
			var events int64
			for b.Loop() {
				rows, events = countRows(b, in.Path)
			}
			per := func(n int64) float64 { return float64(n) / float64(events) }
			b.ReportMetric(per(rows.Total()), "rows/event")
			b.ReportMetric(float64(rows.Total())/(float64(in.Size)/(1<<20)), "rows/MB")
			b.ReportMetric(per(rows.Slices), "slices/event")
			b.ReportMetric(per(rows.CounterValues), "counters/event")
			b.ReportMetric(per(rows.Args), "args/event")
			b.ReportMetric(per(rows.Flows), "flows/event")
			b.ReportMetric(float64(rows.Tracks), "tracks")
			b.ReportMetric(float64(rows.Bytes)/float64(in.Size), "out/in")
		})
	}
}

// countRows converts the trace at path and counts the output's rows as it
// streams out, so that no output is held.
func countRows(b *testing.B, path string) (perfettocheck.Rows, int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var rows perfettocheck.Rows
	var cerr error
	go func() {
		defer close(done)
		rows, cerr = perfettocheck.Count(pr)
		pr.CloseWithError(cerr)
		io.Copy(io.Discard, pr)
	}()
	sum, err := mapping.Map(f, newSink(pw))
	pw.CloseWithError(err)
	<-done
	if err != nil {
		b.Fatal(err)
	}
	if cerr != nil {
		b.Fatal(cerr)
	}
	return rows, sum.Events
}
