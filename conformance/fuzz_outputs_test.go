package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// nopWriteCloser is a part of a split output held in memory.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// FuzzOutputs feeds arbitrary bytes through the reader into every output
// at once: nothing may panic, the pass must end with a summary or an
// *mapping.Error, and what each output wrote, even of a trace that broke
// off, must be a well-formed file of its format (Perfetto that the
// validator reads, JSON whole and in parts, a pprof profile), with spans
// only when the mapping delivered something.
func FuzzOutputs(f *testing.F) {
	files, _ := filepath.Glob("../testdata/*.trace")
	small, _ := filepath.Glob("testdata/*.trace")
	for _, name := range append(files, small...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Small traces go whole, the first kilobytes of the others:
		// the parser hands on nothing of a generation cut short.
		if len(data) > 16<<10 {
			data = data[:8<<10]
		}
		f.Add(data)
	}
	// Go's own parser tests, good and broken, and the inputs that once
	// broke its parser.
	good, broken := testtraces.GoTests(f, "..")
	for _, b := range broken {
		good = append(good, b.Path)
	}
	for _, name := range good {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, data := range testtraces.GoFuzzInputs(f) {
		f.Add(data)
	}
	// Go's small traces of the formats before Go 1.22, whole: those are
	// parsed whole, so a cut one maps nothing.
	for _, name := range testtraces.OldFormat(f) {
		if data, err := os.ReadFile(name); err == nil && len(data) <= 32<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pf, cj, pp bytes.Buffer
		pw := perfetto.NewWriter(&pf)
		cw := chromejson.NewWriter(&cj)
		// Parts of 64 KB, to end parts among held runs.
		var parts []*bytes.Buffer
		sw := chromejson.NewSplitWriter(64<<10, func(int) (io.WriteCloser, error) {
			parts = append(parts, new(bytes.Buffer))
			return nopWriteCloser{parts[len(parts)-1]}, nil
		})
		exp := tracetest.NewInMemoryExporter()
		ow := otel.NewSink(context.Background(), exp)
		st := stats.NewSink()
		sink := mapping.FanOut(mapping.ThinCounters(pw, mapping.DefaultCounterResolution), cw, sw, ow,
			pprof.NewWriter(&pp, pprof.Wall), st)
		sum, err := mapping.Map(bytes.NewReader(data), sink)
		var merr *mapping.Error
		if err != nil && !errors.As(err, &merr) {
			t.Fatalf("Map failed with %T, not a *mapping.Error: %v", err, err)
		}
		if sum == nil {
			if len(exp.GetSpans()) > 0 {
				t.Errorf("%d spans exported from an input that is not a trace", len(exp.GetSpans()))
			}
			return // not a trace: the outputs were never begun
		}
		if sum.End < sum.Start {
			t.Errorf("the summary ends at %d, before its start %d", sum.End, sum.Start)
		}
		if cerr := errors.Join(pw.Close(), cw.Close(), sw.Close()); cerr != nil {
			t.Fatalf("closing the writers: %v", cerr)
		}
		if _, err := perfettocheck.Check(bytes.NewReader(pf.Bytes())); err != nil {
			t.Errorf("invalid Perfetto output: %v", err)
		}
		if !json.Valid(cj.Bytes()) {
			t.Errorf("the Chrome JSON output is not valid JSON (%d bytes)", cj.Len())
		}
		for i, p := range parts {
			if !json.Valid(p.Bytes()) {
				t.Errorf("part %d of the split Chrome JSON output is not valid JSON (%d bytes)", i+1, p.Len())
			}
		}
		if _, err := profile.Parse(bytes.NewReader(pp.Bytes())); err != nil {
			t.Errorf("invalid pprof output: %v", err)
		}
		if st.Report() == nil {
			t.Error("no stats report after End")
		}
	})
}
