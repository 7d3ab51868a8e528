package mapping_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// FuzzParallel feeds mutated traces of several generations to the
// parallel pass, split at every generation, and requires what one reader
// gives.
func FuzzParallel(f *testing.F) {
	for _, name := range []string{"../conformance/testdata/generations.go1.26.trace", "../conformance/testdata/window.go1.26.trace", "../testdata/frsubtasks.go1.26.trace"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data))); err != nil || len(idx.Generations) < 2 {
			return // read with one reader anyway
		}
		seq, par := mapBoth(t, data, 1, 3)
		samePass(t, seq, par, -1)
	})
}
