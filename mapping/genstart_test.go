package mapping_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
	"golang.org/x/exp/trace"
)

// eventBatchBodies returns where the body of each event batch of a Go
// 1.22+ trace begins: its first byte is its first event's type.
func eventBatchBodies(data []byte, v int) []int64 {
	s := tracefile.NewScanner(v)
	var out []int64
	last := int64(-1)
	for i := range data {
		s.Write(data[i : i+1])
		if size, ok := s.InBody(); ok && size > 0 && s.BatchStart() != last {
			last = s.BatchStart()
			if data[last] == 1 { // an event batch, not an experiment's
				out = append(out, s.Offset())
			}
		}
	}
	return out
}

// TestFailureAtGenerationStart breaks the first event of a batch of a
// later generation, which the parser decodes before it gives that
// generation's Sync: it fails there, after every event of the generation
// before. Every way of reading the trace (a stream in large reads, a
// stream a byte at a time, a file, a file in parallel) must count the
// generations before as complete and name the broken one, however far
// its reads had gone past the fault.
func TestFailureAtGenerationStart(t *testing.T) {
	cases := 0
	for name, data := range withGenerations(t, 2, false, map[string][]byte{"recorded": recordedOnce(t)}) {
		idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		perGen := map[int]int{}
		for _, off := range eventBatchBodies(data, idx.Version) {
			k := 0
			for k < len(idx.Generations) && idx.Generations[k].Offset+idx.Generations[k].Size <= off {
				k++
			}
			if k == 0 || k >= 4 || perGen[k] >= 3 {
				continue
			}
			bad := bytes.Clone(data)
			bad[off] = 0xff
			// Only where the parser fails before the broken
			// generation's Sync.
			syncs, perr := parseAll(bad)
			if perr == nil || syncs != k {
				continue
			}
			perGen[k]++
			cases++
			t.Run(fmt.Sprintf("%s/%d", name, off), func(t *testing.T) {
				for how, read := range readsOf(bad) {
					sum, err := read()
					var e *mapping.Error
					if !errors.As(err, &e) {
						t.Fatalf("%s: %v, want a *mapping.Error", how, err)
					}
					if e.Generation != k || sum == nil || sum.Generations != k || len(sum.Spans) != k {
						spans := -1
						if sum != nil {
							spans = len(sum.Spans)
						}
						t.Errorf("%s: %d complete generations in the error, %d spans, want %d: %v", how, e.Generation, spans, k, err)
					}
				}
			})
		}
	}
	if cases == 0 {
		t.Fatal("no trace broken at a generation's start")
	}
	t.Logf("%d broken traces", cases)
}

// readsOf returns the ways of mapping data that must agree on where it
// broke: a stream in large reads, a stream a byte at a time, a file, and
// a file in parallel.
func readsOf(data []byte) map[string]func() (*mapping.Summary, error) {
	return map[string]func() (*mapping.Summary, error){
		"stream": func() (*mapping.Summary, error) { return mapping.Map(bytes.NewReader(data), &callLog{}) },
		"stream-bytewise": func() (*mapping.Summary, error) {
			return mapping.Map(iotest.OneByteReader(bytes.NewReader(data)), &callLog{})
		},
		"file": func() (*mapping.Summary, error) {
			return mapping.MapFile(bytes.NewReader(data), int64(len(data)), &callLog{}, mapping.WithWorkers(1))
		},
		"parallel": func() (*mapping.Summary, error) {
			return mapping.MapFile(bytes.NewReader(data), int64(len(data)), &callLog{}, mapping.WithWorkers(4), mapping.WithGroupGenerations(1))
		},
	}
}

// parseAll reads data with the parser alone and returns the Syncs it
// gave and its error, if not io.EOF.
func parseAll(data []byte) (syncs int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	r, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return syncs, nil
		}
		if err != nil {
			return syncs, err
		}
		if ev.Kind() == trace.EventSync {
			syncs++
		}
	}
}

// widenAt returns data with the byte at off, inside the body of an event
// batch, written as a two-byte varint of 256 more (its batch's size grown
// by one), or nil if off is not in an event batch's body. A status so
// widened passes the parser's checks, which look at its low byte, and
// makes the event's StateTransition panic.
func widenAt(data []byte, v int, off int64) []byte {
	s := tracefile.NewScanner(v)
	s.Write(data[:off])
	size, ok := s.InBody()
	bs := s.BatchStart()
	if !ok || data[bs] != 1 {
		return nil
	}
	i := bs + 1
	var vals [4]uint64
	for j := range vals {
		x, n := binary.Uvarint(data[i:])
		if n <= 0 {
			return nil
		}
		vals[j], i = x, i+int64(n)
	}
	if int64(vals[3]) != size {
		return nil
	}
	out := append([]byte(nil), data[:bs]...)
	out = append(out, 1)
	out = binary.AppendUvarint(out, vals[0])
	out = binary.AppendUvarint(out, vals[1])
	out = binary.AppendUvarint(out, vals[2])
	out = binary.AppendUvarint(out, vals[3]+1)
	out = append(out, data[i:off]...)
	out = append(out, 0x80|data[off], 0x02)
	return append(out, data[off+1:]...)
}

// panicsIn returns the generation (from 1) whose event's
// StateTransition panics, reading data with the parser alone, or 0.
func panicsIn(data []byte) int {
	r, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	syncs := 0
	for {
		ev, err := r.ReadEvent()
		if err != nil {
			return 0
		}
		if ev.Kind() == trace.EventSync {
			syncs++
		}
		if ev.Kind() == trace.EventStateTransition && func() (p bool) {
			defer func() { p = recover() != nil }()
			ev.StateTransition()
			return false
		}() {
			return syncs
		}
	}
}

// TestMappingFailureWhileParserReadsAhead breaks an event that the parser
// hands on and the mapping fails to decode, in a generation before the
// last: the parser reads on ahead of the mapping meanwhile, maybe into the
// next generation, which must not count the broken one as complete.
func TestMappingFailureWhileParserReadsAhead(t *testing.T) {
	data := recordedOnce(t)
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var bad []byte
	k := 0
	for k = 1; k < len(idx.Generations)-1 && bad == nil; k++ {
		g := idx.Generations[k]
		for off := g.Offset; off < g.Offset+g.Size && bad == nil; off++ {
			if data[off] >= 5 { // a goroutine or P status
				continue
			}
			if b := widenAt(data, idx.Version, off); b != nil && panicsIn(b) == k+1 {
				bad = b
			}
		}
	}
	k-- // the generations complete before the broken one
	if bad == nil {
		t.Fatal("no event found whose StateTransition a widened status breaks")
	}
	for how, read := range readsOf(bad) {
		for range 5 {
			sum, err := read()
			var e *mapping.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %v, want a *mapping.Error", how, err)
			}
			if e.Generation != k || sum == nil || sum.Generations != k {
				t.Errorf("%s: %d complete generations, want %d: %v", how, e.Generation, k, err)
				break
			}
		}
	}
}
