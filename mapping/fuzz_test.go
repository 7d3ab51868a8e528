package mapping_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// FuzzMap feeds arbitrary bytes through the parser into the mapping. It
// must never panic, and its result must be consistent: either a summary or
// an *Error, and a summary's End never before its Start.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("../testdata/*.trace")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Whole traces are large inputs for a fuzzer; their first
		// kilobytes keep the header and first batches it mutates from.
		f.Add(data[:min(len(data), 4<<10)])
	}
	f.Add([]byte("go 1.26 trace\x00\x00\x00"))
	f.Add([]byte("go 1.11 trace\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tally mapping.Tally
		sum, err := mapping.Map(bytes.NewReader(data), &tally)
		if err != nil {
			var me *mapping.Error
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
