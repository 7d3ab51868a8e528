package pprof_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestUnknownKind checks that a Writer of a kind that is not one of
// Kinds (a conversion from an int, say) fails at Begin, through Map, and
// at End, naming the kind, and writes no profile: it would be mislabelled.
func TestUnknownKind(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "annotations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []pprof.Kind{pprof.Kind(len(pprof.Kinds())), 99} {
		for _, async := range []bool{false, true} {
			var buf bytes.Buffer
			w := pprof.NewWriter(&buf, kind)
			var sink mapping.Sink = w
			if async {
				sink = mapping.Async(w)
			}
			_, err := mapping.Map(bytes.NewReader(data), sink)
			want := "unknown profile kind " + kind.String()
			if err == nil || strings.Count(err.Error(), want) != 1 {
				t.Errorf("%v, async %v: error %v, want one naming the kind: %q", kind, async, err, want)
			}
			if buf.Len() != 0 || w.Samples() != 0 {
				t.Errorf("%v, async %v: %d bytes written, %d samples; want none", kind, async, buf.Len(), w.Samples())
			}
		}
		// End alone, as a caller that feeds the Writer itself might.
		var buf bytes.Buffer
		if err := pprof.NewWriter(&buf, kind).End(&mapping.Summary{}); err == nil || buf.Len() != 0 {
			t.Errorf("%v: End returned %v and wrote %d bytes, want an error and nothing", kind, err, buf.Len())
		}
	}
}

// TestMapTwice checks that mapping a second trace into a Writer that
// wrote its profile fails with ErrClosed, as the other converters do, and
// writes nothing more.
func TestMapTwice(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "blocking.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := pprof.NewWriter(&buf, pprof.Sync)
	if _, err := mapping.Map(bytes.NewReader(data), w); err != nil {
		t.Fatal(err)
	}
	n, samples := buf.Len(), w.Samples()
	if _, err := mapping.Map(bytes.NewReader(data), w); !errors.Is(err, pprof.ErrClosed) {
		t.Errorf("mapping a second trace returned %v, want an error wrapping ErrClosed", err)
	}
	if buf.Len() != n || w.Samples() != samples {
		t.Errorf("the second mapping wrote %d more bytes, samples %d, was %d", buf.Len()-n, w.Samples(), samples)
	}
	parse(t, buf.Bytes())
}
