package mapping_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/trace"
	"strings"
	"sync"
	"testing"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestDamageNamesItsGeneration damages the first event of each batch of
// a generation in the middle of a trace, in turn: the parser, which
// decodes the first event of each thread's batches as it begins a
// generation, fails before that generation's Sync, after every event of
// the one before; the error names the damaged generation, from a file
// and from a stream alike, and counts the one before as complete.
func TestDamageNamesItsGeneration(t *testing.T) {
	data := recordBusyGenerations(t, 3)
	_, k, g := largestMiddleGeneration(t, data)
	if g.Size < 16<<10 {
		t.Fatalf("the largest generation is %d bytes: too small to tell from the parser's read-ahead", g.Size)
	}
	want := fmt.Sprintf("in generation %d (bytes %d to %d)", k+1, g.Offset, g.Offset+g.Size)
	damaged := 0
	for off := g.Offset; off < g.Offset+g.Size; {
		if data[off] != 1 { // not an event batch: the generation's end mark
			break
		}
		i := off + 1
		var vals [4]uint64
		for j := range vals {
			v, n := binary.Uvarint(data[i:])
			vals[j], i = v, i+int64(n)
		}
		next := i + int64(vals[3])
		if vals[3] == 0 {
			off = next
			continue
		}
		bad := bytes.Clone(data)
		bad[i] = 0xee // no event type
		for _, how := range []string{"file", "stream"} {
			var err error
			if how == "file" {
				_, err = mapping.MapFile(bytes.NewReader(bad), int64(len(bad)), mapping.NopSink{})
			} else {
				_, err = mapping.Map(bytes.NewReader(bad), mapping.NopSink{})
			}
			var me *mapping.Error
			if !errors.As(err, &me) {
				t.Fatalf("batch at byte %d damaged, from a %s: error %v", off, how, err)
			}
			if !strings.Contains(err.Error(), "found invalid event type") {
				continue // found elsewhere than in the first event of a thread
			}
			damaged++
			if !strings.Contains(err.Error(), want) || me.Generation != k {
				t.Errorf("batch at byte %d damaged, from a %s: %v; want it %s, after %d complete generations", off, how, err, want, k)
			}
		}
		off = next
	}
	if damaged == 0 {
		t.Fatal("no damaged batch failed the parser as it began the generation")
	}
}

// recordBusyGenerations traces gens generations of this process, each
// with a few thousand goroutines that block on a channel: tens of
// kilobytes each, more than the parser reads ahead.
func recordBusyGenerations(t testing.TB, gens int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	for g := range gens {
		var wg sync.WaitGroup
		ch := make(chan int)
		for i := range 2000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch <- i
			}()
		}
		for range 2000 {
			<-ch
		}
		wg.Wait()
		if g < gens-1 {
			// A flight recorder started beside the tracer begins a
			// generation.
			fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
			if err := fr.Start(); err != nil {
				trace.Stop()
				t.Fatalf("starting a flight recorder beside the tracer: %v", err)
			}
			fr.Stop()
		}
	}
	trace.Stop()
	return buf.Bytes()
}

// largestMiddleGeneration indexes the trace data and returns the index,
// and the largest of its generations between the first and the last,
// with its place in the index.
func largestMiddleGeneration(t *testing.T, data []byte) (*tracefile.Index, int, tracefile.Generation) {
	t.Helper()
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Generations) < 3 {
		t.Fatalf("%d generations", len(idx.Generations))
	}
	k := 1
	for i := 1; i < len(idx.Generations)-1; i++ {
		if idx.Generations[i].Size > idx.Generations[k].Size {
			k = i
		}
	}
	return idx, k, idx.Generations[k]
}
