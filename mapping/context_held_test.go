package mapping

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/testtraces"
)

// TestContextHeld: a pass whose context has ended stops holding the
// events of a trace before Go 1.22 (see hold) at the first batch, as the
// mapping stops at the next batch it maps, rather than parsing and
// holding the whole trace, up to a million events, first.
func TestContextHeld(t *testing.T) {
	var path string
	for _, p := range testtraces.OldFormat(t) {
		if filepath.Base(p) == "stress_1_21_good" {
			path = p
		}
	}
	if path == "" {
		t.Skip("no stress_1_21_good among Go's test traces")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The input read whole, as the parser reads a trace of these
	// formats before its first event; the context ends before the pass.
	cfg := newConfig([]Option{WithContext(ctx)})
	m := newMapper(NopSink{}, &cfg)
	m.counter = &countingReader{r: bytes.NewReader(data)}
	br, _, err := openInput(m.counter)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trace.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.run(tr); !errors.Is(err, context.Canceled) {
		t.Errorf("the pass returned %v, want context.Canceled", err)
	}
	// Holding ends with the first generation, or the trace.
	if f := &m.first; f.done || f.n > batchSize {
		t.Errorf("held to the end of the first generation (%v), %d events, after the context ended", f.done, f.n)
	}
}
