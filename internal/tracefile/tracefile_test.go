package tracefile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/testtraces"
)

func index(data []byte) (*Index, error) {
	return Read(bytes.NewReader(data), int64(len(data)))
}

// TestBadInput checks that what is not a Go 1.22+ trace is refused with
// an error that says why and where.
func TestBadInput(t *testing.T) {
	hdr := []byte("go 1.26 trace\x00\x00\x00")
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "reading the header"},
		{"not a trace", []byte("hello, world, this is text"), "not a Go execution trace"},
		{"gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffabcdefgh"), "gzip-compressed file"},
		{"zstd", []byte("\x28\xb5\x2f\xfd\x00\x00\x00\x00\x00\x00abcdefgh"), "zstd-compressed file"},
		{"header only", hdr, "only its header"},
		{"not a batch", append(hdr, 7, 1, 2), "byte 16: a batch was expected, and event 7 came"},
		{"cut header", append(hdr, evEventBatch, 1), "batch header is cut short"},
		{"too big", append(hdr, evEventBatch, 1, 1, 1, 0xff, 0xff, 0x7f), "more than"},
		{"past the end", append(hdr, evEventBatch, 1, 1, 1, 50, 0), "runs past the end"},
		{"generation 0", append(hdr, evEventBatch, 0, 1, 1, 0), "generation 0"},
		{"no frequency", append(hdr, evEventBatch, 1, 1, 1, 0, evEndOfGeneration), "no frequency"},
		{"unterminated", append(hdr, evEventBatch, 1, 1, 1, 0), "ends inside a generation"},
	} {
		_, err := index(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// TestSecondTrace checks that a trace followed by another, as two
// captures written into one file, is indexed up to the second's header,
// which the error names.
func TestSecondTrace(t *testing.T) {
	data, err := os.ReadFile("../../conformance/testdata/generations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index(append(bytes.Clone(data), data...))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrSecondTrace) || e.Offset != int64(len(data)) {
		t.Fatalf("got %v, want ErrSecondTrace at byte %d", err, len(data))
	}
	if idx == nil || len(idx.Generations) != 2 || idx.Size != int64(len(data)) {
		t.Errorf("the first trace's generations are not indexed whole: %+v", idx)
	}
}

// TestUnfinished indexes a trace whose writer stopped before the last
// generation's end mark, as a killed process leaves one: every
// generation is indexed, the last up to the end of the file.
func TestUnfinished(t *testing.T) {
	data, whole := sample(t)
	if data[len(data)-1] != evEndOfGeneration {
		t.Fatal("the sample does not end with an end-of-generation mark")
	}
	cut := data[:len(data)-1]
	idx, err := index(cut)
	if err != nil {
		t.Fatalf("a trace without its last end mark: %v", err)
	}
	n := len(whole.Generations)
	if len(idx.Generations) != n || idx.Size != int64(len(cut)) || idx.Generations[n-1].Size != whole.Generations[n-1].Size-1 {
		t.Fatalf("indexed %d generations up to byte %d, want %d up to %d", len(idx.Generations), idx.Size, n, len(cut))
	}
	for i, g := range idx.Generations {
		if g.Unfinished != (i == n-1) || whole.Generations[i].Unfinished {
			t.Errorf("generation %d: unfinished %v (whole: %v)", i+1, g.Unfinished, whole.Generations[i].Unfinished)
		}
	}
}

// TestOldFormat checks that a trace of Go 1.21 or before is told apart.
func TestOldFormat(t *testing.T) {
	_, err := index([]byte("go 1.21 trace\x00\x00\x00 and more"))
	if !errors.Is(err, ErrOldFormat) {
		t.Errorf("got %v, want ErrOldFormat", err)
	}
}

// TestSample indexes a committed sample and checks what the file itself
// says: the generations tile the file after its header.
func TestSample(t *testing.T) {
	data, idx := sample(t)
	if len(idx.Generations) < 2 {
		t.Fatalf("%d generations, want several", len(idx.Generations))
	}
	off := int64(HeaderSize)
	for i, g := range idx.Generations {
		if g.Offset != off || g.Size <= 0 || g.Batches == 0 || g.Freq <= 0 || g.End < g.Start || g.Clock == nil {
			t.Errorf("generation %d: %+v (expected at byte %d)", i, g, off)
		}
		if data[g.Offset+g.Size-1] != evEndOfGeneration {
			t.Errorf("generation %d does not end with the end-of-generation marker", i)
		}
		if i > 0 && g.Number <= idx.Generations[i-1].Number {
			t.Errorf("generation %d numbered %d after %d", i, g.Number, idx.Generations[i-1].Number)
		}
		off += g.Size
	}
	if off != int64(len(data)) || idx.Size != off {
		t.Errorf("generations end at %d, index size %d, file %d", off, idx.Size, len(data))
	}
}

// FuzzRead indexes corrupted traces: no panic, and what is indexed tiles
// the bytes read after the header.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"../../conformance/testdata/generations.go1.26.trace", "../../testdata/mixed.go1.22.trace"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := index(data)
		if idx == nil {
			if err == nil {
				t.Fatal("no index and no error")
			}
			return
		}
		off := int64(HeaderSize)
		for _, g := range idx.Generations {
			if g.Offset != off || g.Size <= 0 {
				t.Fatalf("generation at %d of %d bytes, expected at %d", g.Offset, g.Size, off)
			}
			off += g.Size
		}
		if idx.Size != off || off > int64(len(data)) {
			t.Fatalf("index size %d, generations end at %d, data %d", idx.Size, off, len(data))
		}
	})
}

// sample returns the committed sample of several generations and its
// index.
func sample(t *testing.T) ([]byte, *Index) {
	t.Helper()
	data, err := os.ReadFile("../../conformance/testdata/generations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, idx
}

// TestFirstGeneration reads the first generation of traces in the formats
// of Go 1.22 to 1.27 from a stream: it ends where the index says, what is
// read is the stream's start, and a stream cut inside it, or a limit
// below it, gives none.
func TestFirstGeneration(t *testing.T) {
	several := 0
	for _, it := range indexedTraces(t) {
		f, data, idx := it.name, it.data, it.idx
		if v, _ := Version(data); v < 26 && len(idx.Generations) > 1 {
			several++
		}
		v, _ := Version(data)
		g := idx.Generations[0]
		want := int(g.Offset + g.Size)
		read, end, err := FirstGeneration(bufio.NewReader(bytes.NewReader(data)), v, 1<<30)
		if len(idx.Generations) == 1 && v < 26 {
			if err != io.EOF {
				t.Errorf("%s: one generation, error %v, want io.EOF", f, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if end != want || !bytes.HasPrefix(data, read) || len(read) < end {
			t.Errorf("%s: first generation ends at %d of %d read, want %d (a prefix of the trace: %v)", f, end, len(read), want, bytes.HasPrefix(data, read))
		}
		if _, end, _ := FirstGeneration(bufio.NewReader(bytes.NewReader(data[:want-1])), v, 1<<30); end != -1 && !(v < 26 && len(idx.Generations) == 1) {
			t.Errorf("%s: cut a byte short, the first generation ends at %d", f, end)
		}
		if _, end, _ := FirstGeneration(bufio.NewReader(bytes.NewReader(data)), v, want/2); end != -1 {
			t.Errorf("%s: limited to half, the first generation ends at %d", f, end)
		}
	}
	if several == 0 {
		t.Error("no trace before Go 1.26 of several generations")
	}
}

// TestHeaderCutShort checks that a trace that ends inside a batch's
// header is said to be cut short there, not to hold a bad number.
func TestHeaderCutShort(t *testing.T) {
	data, err := os.ReadFile("../../conformance/testdata/generations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index(data)
	if err != nil || len(idx.Generations) < 2 {
		t.Fatalf("index: %v, %d generations", err, len(idx.Generations))
	}
	g := idx.Generations[1]
	for cut := g.Offset + 1; cut < g.Offset+4; cut++ {
		_, err := index(data[:cut])
		var e *Error
		if !errors.As(err, &e) || e.Offset != g.Offset || e.Err.Error() != "the batch header is cut short" {
			t.Errorf("cut at %d, in the header at %d: %v", cut, g.Offset, err)
		}
	}
}

// indexed is a trace and its index.
type indexed struct {
	name string
	data []byte
	idx  *Index
}

// indexedTraces returns the sample traces in the formats of Go 1.22 to
// 1.27 and Go's parser tests (in the formats before Go 1.26, some of
// several generations) that index, with their index.
func indexedTraces(t *testing.T) []indexed {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/mixed.go1.*.trace")
	files = append(files, "../../conformance/testdata/generations.go1.26.trace")
	if len(files) < 6 {
		t.Fatalf("only %d sample traces", len(files))
	}
	good, _ := testtraces.GoTests(t, "../..")
	var out []indexed
	for _, f := range append(files, good...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if idx, err := index(data); err == nil { // else a parser test of a broken trace
			out = append(out, indexed{f, data, idx})
		}
	}
	return out
}

// TestNoFrequencyCounted checks that a generation without its frequency
// event is named by its place in the input, as every error counts
// generations, not by the runtime's number, which in a flight recorder's
// snapshot starts past 1.
func TestNoFrequencyCounted(t *testing.T) {
	data, err := os.ReadFile("../../testdata/frsubtasks.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index(data)
	if err != nil || idx.Generations[0].Number == 1 {
		t.Fatalf("%v; want a snapshot whose first generation the runtime numbered past 1", err)
	}
	// The Sync event that makes the first batch the generation's sync
	// batch, which holds its frequency event: without it the generation
	// has none.
	i := bytes.Index(data[HeaderSize:HeaderSize+64], []byte{evSync, evFrequency})
	if i < 0 {
		t.Fatal("no sync batch opens the first generation")
	}
	damaged := bytes.Clone(data)
	damaged[HeaderSize+i] = 0
	_, err = index(damaged)
	if err == nil || !strings.Contains(err.Error(), "generation 1 has no frequency event") {
		t.Errorf("%v; want it to say generation 1 has no frequency event", err)
	}
}
