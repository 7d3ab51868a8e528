package conformance

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestNilWriter maps a trace into each writer given a nil io.Writer, on
// Async's goroutine too: the pass fails with an error that says so,
// instead of a panic on a goroutine no caller can recover.
func TestNilWriter(t *testing.T) {
	data, err := os.ReadFile("../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for name, newSink := range map[string]func() (mapping.Sink, func() error){
		"perfetto": func() (mapping.Sink, func() error) { w := perfetto.NewWriter(nil); return w, w.Close },
		"chrome":   func() (mapping.Sink, func() error) { w := chromejson.NewWriter(nil); return w, w.Close },
		"pprof": func() (mapping.Sink, func() error) {
			return pprof.NewWriter(nil, pprof.Sync), func() error { return nil }
		},
	} {
		for _, async := range []bool{false, true} {
			s, closeSink := newSink()
			if async {
				s = mapping.Async(s)
			}
			_, err := mapping.Map(bytes.NewReader(data), s)
			err = errors.Join(err, closeSink())
			if err == nil || !strings.Contains(err.Error(), "nil io.Writer") {
				t.Errorf("%s (async %v): %v, want an error naming the nil io.Writer", name, async, err)
			}
		}
	}
}
