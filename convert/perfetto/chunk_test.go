package perfetto

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestChunkSizes checks that the output does not depend on how the writer
// hands its packets to the orderer: converted with the packets handed over
// one at a time, or a few kilobytes at a time, every sample trace gives
// the same bytes as with the default chunks, compressed and plain. The
// orderer takes the packets in the order they were made, whenever they
// come, and an event's interned names always come with it.
func TestChunkSizes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*.trace"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample traces: %v", err)
	}
	defer func(n int) { chunkSize = n }(chunkSize)
	convert := func(path string, size int, opts ...Option) []byte {
		t.Helper()
		chunkSize = size
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var buf bytes.Buffer
		w := NewWriter(&buf, opts...)
		if _, err := mapping.Map(f, mapping.ThinCounters(w, mapping.DefaultCounterResolution)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return buf.Bytes()
	}
	handed := 0
	for _, path := range files {
		for _, plain := range []bool{false, true} {
			want := convert(path, 256<<10, WithCompression(!plain))
			for _, size := range []int{1, 4 << 10} {
				if got := convert(path, size, WithCompression(!plain)); !bytes.Equal(got, want) {
					t.Errorf("%s (plain %v): handed over in chunks of %d bytes, the output differs from the default's (%d bytes against %d)",
						filepath.Base(path), plain, size, len(got), len(want))
				}
			}
			if len(want) > 4<<10 {
				handed++
			}
		}
	}
	if handed == 0 {
		t.Fatal("no output was larger than a chunk: nothing was handed over")
	}
}

// FuzzChunks converts arbitrary input, cut or corrupted traces included,
// with the packets handed to the orderer one at a time and in the default
// chunks: the two outputs must be the same bytes, also when the trace
// breaks off and the writer is closed after the error.
func FuzzChunks(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.trace"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 16<<10)])
	}
	defer func(n int) { chunkSize = n }(chunkSize)
	f.Fuzz(func(t *testing.T, data []byte) {
		convert := func(size int) ([]byte, error) {
			chunkSize = size
			var buf bytes.Buffer
			w := NewWriter(&buf)
			_, err := mapping.Map(bytes.NewReader(data), mapping.ThinCounters(w, mapping.DefaultCounterResolution))
			if err != nil {
				// Map ends the sinks it began; one never begun is closed here.
				w.Close()
			}
			return buf.Bytes(), err
		}
		want, werr := convert(256 << 10)
		got, gerr := convert(1)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Errorf("handed over a packet at a time: %d bytes, error %v; in the default chunks: %d bytes, error %v", len(got), gerr, len(want), werr)
		}
	})
}
