package tracefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// scan writes data to a new Scanner in pieces of n bytes.
func scan(data []byte, n int) *Scanner {
	v, _ := Version(data)
	s := NewScanner(v)
	for len(data) > 0 {
		k := min(n, len(data))
		s.Write(data[:k])
		data = data[k:]
	}
	return s
}

// TestScanner follows traces in the formats of Go 1.22 to 1.27 (and Go's
// own test traces) written in pieces of many sizes: the generations it
// finds are those the index finds, where the index finds them, it
// indexes them as the index does, times and clock included, and it ends
// outside a batch.
func TestScanner(t *testing.T) {
	several := 0
	for _, it := range indexedTraces(t) {
		f, data, idx := it.name, it.data, it.idx
		if len(idx.Generations) > 1 {
			several++
		}
		for _, n := range []int{1, 7, 4096, len(data)} {
			s := scan(data, n)
			if s.Err() != nil || s.InBatch() || s.Offset() != int64(len(data)) {
				t.Fatalf("%s in pieces of %d: error %v, in a batch %v, offset %d of %d", f, n, s.Err(), s.InBatch(), s.Offset(), len(data))
			}
			gens := s.Generations()
			if len(gens) != len(idx.Generations) {
				t.Fatalf("%s in pieces of %d: %d generations, the index has %d", f, n, len(gens), len(idx.Generations))
			}
			for i, g := range gens {
				want := idx.Generations[i]
				end := want.Offset + want.Size
				if i == len(gens)-1 && g.End == 0 {
					end = 0 // the last one, unmarked, may go on
				}
				if g.Number != want.Number || g.Offset != want.Offset || g.End != end {
					t.Errorf("%s in pieces of %d: generation %d at %+v, the index says number %d, bytes %d to %d", f, n, i+1, g, want.Number, want.Offset, end)
				}
			}
			if got := s.Index(true); !reflect.DeepEqual(got, idx.Generations) {
				t.Errorf("%s in pieces of %d: indexed\n%s\nthe index has\n%s", f, n, gensString(got), gensString(idx.Generations))
			}
			// Before its end is known, the last generation of a trace
			// that does not mark it is not in the index yet.
			want := idx.Generations
			if gens[len(gens)-1].End == 0 {
				want = want[:len(want)-1]
			}
			if got := s.Index(false); len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Errorf("%s in pieces of %d: indexed before the end\n%s\nwant\n%s", f, n, gensString(got), gensString(want))
			}
		}
		// Cut inside its last batch: the index holds what a file's
		// index holds, the generations before the cut one.
		s := scan(data[:len(data)-2], 4096)
		if !s.InBatch() && s.Err() == nil {
			t.Errorf("%s cut two bytes short: not inside a batch", f)
		}
		if cut, _ := index(data[:len(data)-2]); cut == nil || !reflect.DeepEqual(s.Index(true), cut.Generations) {
			t.Errorf("%s cut two bytes short: indexed\n%s", f, gensString(s.Index(true)))
		}
	}
	if several == 0 {
		t.Error("no trace of several generations")
	}
}

// TestScannerErrors: bytes that are not batches stop the Scanner where
// the index stops, with the same words.
func TestScannerErrors(t *testing.T) {
	hdr := []byte("go 1.26 trace\x00\x00\x00")
	data, _ := sample(t)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"not a batch", append(bytes.Clone(hdr), 7, 1, 2)},
		{"too big", append(bytes.Clone(hdr), evEventBatch, 1, 1, 1, 0xff, 0xff, 0x7f)},
		{"generation 0", append(bytes.Clone(hdr), evEventBatch, 0, 1, 1, 0)},
		{"a second trace", append(bytes.Clone(data), data...)},
		{"a g that begins no header", append(bytes.Clone(data), "gxxxxxxxxxxxxxxx"...)},
		{"most of a header", append(bytes.Clone(data), "go 1x trace\x00\x00\x00\x00\x00"...)},
		{"a generation twice", append(bytes.Clone(data), data[HeaderSize:]...)},
	} {
		s := scan(c.data, 3)
		_, ierr := index(c.data)
		var se, ie *Error
		if !errors.As(s.Err(), &se) || !errors.As(ierr, &ie) || se.Offset != ie.Offset || se.Err.Error() != ie.Err.Error() {
			t.Errorf("%s: scanner %v, index %v", c.name, s.Err(), ierr)
		}
	}
}

// FuzzScanner follows corrupted traces: no panic, and the generations it
// finds tile the bytes from the first batch on, in the order of their
// numbers.
func FuzzScanner(f *testing.F) {
	for _, name := range []string{"../../conformance/testdata/generations.go1.26.trace", "../../testdata/mixed.go1.22.trace"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint16) {
		if v, err := Version(data); err != nil || v < 22 {
			return
		}
		s := scan(data, int(n)+1)
		off, num := int64(HeaderSize), uint64(0)
		for i, g := range s.Generations() {
			if g.Offset < off || g.Number <= num || g.End != 0 && g.End <= g.Offset || g.End == 0 && i < len(s.Generations())-1 {
				t.Fatalf("generation %d at %+v, after byte %d and number %d", i+1, g, off, num)
			}
			off, num = g.End, g.Number
		}
		if s.Offset() != int64(len(data)) {
			t.Fatalf("offset %d of %d bytes", s.Offset(), len(data))
		}
		// What the Scanner indexes, the index of the same bytes as a
		// file holds, up to where either stopped.
		got := s.Index(true)
		if idx, err := index(data); idx != nil {
			want := idx.Generations
			if err != nil || s.Err() != nil {
				k := min(len(got), len(want))
				got, want = got[:k], want[:k]
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("indexed\n%s\nthe index has (error %v)\n%s", gensString(got), err, gensString(want))
			}
		}
	})
}

// gensString lists gens one a line, for a test's failure.
func gensString(gens []Generation) string {
	var b strings.Builder
	for _, g := range gens {
		fmt.Fprintf(&b, "  %+v", g)
		if g.Clock != nil {
			fmt.Fprintf(&b, " clock %+v", *g.Clock)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTooManyBatches: a generation of more batches than the runtime
// writes, tiny ones as a few kilobytes of compressed input can hold by
// the million, is refused by the index and by the Scanner at the batch
// past the limit, before a parser would hold them.
func TestTooManyBatches(t *testing.T) {
	data := []byte("go 1.26 trace\x00\x00\x00")
	empty := []byte{evEventBatch, 1, 0, 0, 0} // generation 1, M 0, time 0, no bytes
	for range MaxBatches + 10 {
		data = append(data, empty...)
	}
	at := int64(HeaderSize + MaxBatches*len(empty))
	_, err := index(data)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrTooManyBatches) || e.Offset != at {
		t.Errorf("index: %v, want ErrTooManyBatches at byte %d", err, at)
	}
	s := scan(data, 4096)
	if !errors.As(s.Err(), &e) || !errors.Is(s.Err(), ErrTooManyBatches) || e.Offset != at {
		t.Errorf("scanner: %v, want ErrTooManyBatches at byte %d", s.Err(), at)
	}
	if gens := s.Generations(); len(gens) != 1 || gens[0].Batches != MaxBatches+1 {
		t.Errorf("scanner: generations %+v", gens)
	}
}

// TestGenerationTooLarge: a generation of more bytes than a runtime
// writes in one (a few hundred kilobytes of compressed input can declare
// gigabytes) is refused by the index and by the Scanner at the batch
// that goes past the limit, before a parser would hold it.
func TestGenerationTooLarge(t *testing.T) {
	old := genBytesLimit
	genBytesLimit = 1 << 20
	defer func() { genBytesLimit = old }()
	data := []byte("go 1.26 trace\x00\x00\x00")
	const size = 60 << 10
	hdr := binary.AppendUvarint([]byte{evEventBatch, 1, 0, 0}, size) // generation 1, M 0, time 0
	var at int64
	for i := 0; i < 30; i++ {
		if at == 0 && int64(len(data)+len(hdr)+size-HeaderSize) > genBytesLimit {
			at = int64(len(data))
		}
		data = append(data, hdr...)
		data = append(data, make([]byte, size)...)
	}
	_, err := index(data)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrGenerationTooLarge) || e.Offset != at {
		t.Errorf("index: %v, want ErrGenerationTooLarge at byte %d", err, at)
	}
	s := scan(data, 4096)
	if !errors.As(s.Err(), &e) || !errors.Is(s.Err(), ErrGenerationTooLarge) || e.Offset != at || !TooLarge(s.Err()) {
		t.Errorf("scanner: %v, want ErrGenerationTooLarge at byte %d", s.Err(), at)
	}
}

// TestDamagedBatchTime: a batch whose header says it began before the
// generation before its own (its timestamp zeroed) does not stretch its
// generation back: the index gives the generation the times it has
// undamaged.
func TestDamagedBatchTime(t *testing.T) {
	for k := range 2 {
		damagedBatchTime(t, k)
	}
}

// damagedBatchTime zeroes the time of the first batch of generation k:
// the first has no generation before it to check against, but its sync
// batch's time.
func damagedBatchTime(t *testing.T, k int) {
	data, want := sample(t)
	if len(want.Generations) < 2 {
		t.Fatalf("%d generations", len(want.Generations))
	}
	g := want.Generations[k]
	damaged := 0
	for off := g.Offset; off < g.Offset+g.Size && data[off] == evEventBatch; {
		i := off + 1
		var vals [4]uint64
		var at [4]int64
		for k := range vals {
			v, n := binary.Uvarint(data[i:])
			vals[k], at[k] = v, i
			i += int64(n)
		}
		if damaged == 0 {
			// Zero, written in as many bytes as the time took.
			for j := at[2]; j < at[3]-1; j++ {
				data[j] = 0x80
			}
			data[at[3]-1] = 0
			damaged++
		}
		off = i + int64(vals[3])
	}
	got, err := index(data)
	if err != nil {
		t.Fatal(err)
	}
	a, b := got.Generations[k], want.Generations[k]
	// A later generation's batches may lose the earliest time to the
	// damage, no more.
	earliest := b.Start
	if k > 0 {
		earliest = want.Generations[k-1].Start
	}
	if a.Start < earliest || a.Start > b.End || a.End != b.End {
		t.Errorf("generation %d with a batch's time zeroed: %v to %v; undamaged %v to %v", k+1, a.Start, a.End, b.Start, b.End)
	}
}
