package mapping_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestDecodedBatchesOfBrokenTraces maps the fuzzers' corrupted traces with
// one reader whose batches the mapping decodes itself, and again with the
// parser decoding every batch: an event that the parser reads whole but
// whose details make its accessors panic must end the same way in both
// (the parser failing on that event), not as a fault of the mapping.
func TestDecodedBatchesOfBrokenTraces(t *testing.T) {
	withDecode := func(decode bool) mapFunc {
		return func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error) {
			return mapping.Map(r, sink, append(opts, mapping.WithDecode(func(int) bool { return decode }))...)
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			data := corpusBytes(t, file)
			seq, dec := mapBothWith(t, data, withDecode(false), withDecode(true))
			samePass(t, seq, dec, 0)
			if strings.Contains(dec.result, "internal error") || strings.Contains(dec.result, "panicked") {
				t.Errorf("decoded ahead: %s", dec.result)
			}
		})
	}
}

// corpusBytes reads the []byte value of a fuzz corpus file.
func corpusBytes(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, val, ok := strings.Cut(string(raw), "[]byte(")
	if !ok {
		t.Fatalf("%s holds no []byte", file)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(val), ")"))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return []byte(s)
}

// TestBrokenStackWordsStable: the parser names one of a generation's
// broken stacks, met in a map's order; the error is the same every run.
func TestBrokenStackWordsStable(t *testing.T) {
	data := corpusBytes(t, filepath.Join("testdata", "fuzz", "FuzzParallel", "cdbeeae5d99440f5"))
	var first string
	for i := range 30 {
		_, err := mapping.Map(bytes.NewReader(data), mapping.NopSink{})
		if err == nil {
			t.Fatal("a broken trace mapped without an error")
		}
		msg := err.Error()
		if i == 0 {
			first = msg
			if !strings.Contains(msg, "found a stack with an invalid") {
				t.Fatalf("error %q does not say a stack is broken", msg)
			}
			continue
		}
		if msg != first {
			t.Fatalf("run %d: %q\nrun 0: %q", i, msg, first)
		}
	}
}
