package mapping_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// FuzzMap feeds arbitrary bytes through the parser into the mapping. It
// must never panic nor fail as a fault of its own (ErrInternal, or a panic
// blamed on code it called, which it calls none here), and its result must
// be consistent: either a summary or an *Error, and a summary's End never
// before its Start.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("../testdata/*.trace")
	small, _ := filepath.Glob("../conformance/testdata/*.trace")
	for _, name := range append(files, small...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Large traces are large inputs for a fuzzer; their first
		// kilobytes keep the header and first batches it mutates from.
		// Small ones go whole: the parser hands on nothing of a
		// generation cut short, so only whole ones reach the mapping.
		if len(data) > 16<<10 {
			data = data[:4<<10]
		}
		f.Add(data)
	}
	// The inputs that once broke Go's own trace parser.
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
	// Compressed inputs, so that the fuzzer also reaches the decoders.
	if data, err := os.ReadFile("../testdata/annotations.go1.26.trace"); err == nil {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		f.Add(gz.Bytes())
		if enc, err := zstd.NewWriter(nil); err == nil {
			f.Add(enc.EncodeAll(data, nil))
		}
	}
	f.Add([]byte("go 1.26 trace\x00\x00\x00"))
	f.Add([]byte("go 1.11 trace\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tally mapping.Tally
		// The parser decodes every other batch for the mapping, as it
		// does when the mapping falls behind, so that both places meet
		// the corrupted events.
		sum, err := mapping.Map(bytes.NewReader(data), &tally, mapping.WithDecode(func(n int) bool { return n%2 == 0 }))
		if err != nil {
			var me *mapping.Error
			if errors.Is(err, mapping.ErrInternal) {
				t.Fatal(err.(*mapping.Error).Err)
			}
			if sp := new(mapping.SinkPanicError); errors.As(err, &sp) {
				t.Fatal(err)
			}
			if !errors.As(err, &me) {
				t.Fatalf("error of type %T, want *mapping.Error: %v", err, err)
			}
		}
		if sum == nil {
			if err == nil {
				t.Fatal("no summary and no error")
			}
			return
		}
		if sum.End < sum.Start {
			t.Fatalf("summary ends at %d before it starts at %d", sum.End, sum.Start)
		}
		if tally.Summary != sum {
			t.Fatal("the sink's End did not receive the returned summary")
		}
	})
}

// TestParserPanicIsBrokenTrace corrupts the experiment number of the
// experimental batches of a trace: the parser accepts the batch and
// panics later, when the Sync event's accessor looks the number up. The
// mapping must report a broken trace, not crash or blame itself.
func TestParserPanicIsBrokenTrace(t *testing.T) {
	data, err := os.ReadFile("../testdata/allocfree.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	// A batch header starts with EvExperimentalBatch (49) and the
	// experiment (1, AllocFree); other matches of the two bytes are data
	// that the change breaks in some other way.
	const evExperimentalBatch, allocFree = 49, 1
	parserFailures := 0
	for i := 0; i+1 < len(data); i++ {
		if data[i] != evExperimentalBatch || data[i+1] != allocFree {
			continue
		}
		broken := bytes.Clone(data)
		broken[i+1] = 48
		_, err := mapping.Map(bytes.NewReader(broken), mapping.NopSink{})
		if err == nil {
			continue
		}
		if errors.Is(err, mapping.ErrInternal) {
			t.Fatalf("byte %d: %v", i+1, err.(*mapping.Error).Err)
		}
		var me *mapping.Error
		if !errors.As(err, &me) {
			t.Fatalf("byte %d: error of type %T, want *mapping.Error: %v", i+1, err, err)
		}
		if strings.Contains(err.Error(), "the parser failed") {
			parserFailures++
		}
	}
	if parserFailures == 0 {
		t.Fatal("no corruption reached the parser's accessors; the test no longer covers them")
	}
	t.Logf("%d corrupted batches reported as parser failures", parserFailures)
}
