package mapping_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestIndexMatchesParser indexes every test trace in the Go 1.22+ formats
// from its batch headers and checks the index against what x/exp/trace
// reports reading the whole trace: as many generations, each starting at
// the time of its Sync event, with the same clock snapshot. The times are
// not checked on Go's hand-written parser tests, whose batch timestamps
// need not be when the runtime would have begun the batch.
func TestIndexMatchesParser(t *testing.T) {
	files := testtraces.All(t, "..")
	traces := map[string][]byte{"recorded": recordGenerations(t, 4)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		traces[f] = data
	}
	indexed := 0
	for name, data := range traces {
		idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
		if err == tracefile.ErrOldFormat {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		indexed++
		syncs, spans := syncsOf(t, data)
		// The parser ends with a Sync of its own after the last generation.
		if len(syncs) != len(idx.Generations)+1 {
			t.Errorf("%s: %d generations indexed, the parser delivers %d Syncs", name, len(idx.Generations), len(syncs))
			continue
		}
		if idx.Size != int64(len(data)) {
			t.Errorf("%s: indexed %d bytes of %d", name, idx.Size, len(data))
		}
		end := int64(tracefile.HeaderSize)
		times := !testtraces.IsGoTest(name)
		for i, g := range idx.Generations {
			s := syncs[i]
			// The parser moves a Sync that would come before the last
			// event of the previous generation to just after it.
			if want := int64(s.Time()); times && g.Start != want && (i == 0 || g.Start > want || want != spans[i-1].last+1) {
				t.Errorf("%s: generation %d starts at %d, its Sync is at %d", name, i, g.Start, s.Time())
			}
			if sp := spans[i]; times && sp.n > 0 && (sp.first < g.Start || sp.last > g.End) {
				t.Errorf("%s: generation %d spans %d..%d, its events %d..%d", name, i, g.Start, g.End, sp.first, sp.last)
			}
			if g.Offset != end {
				t.Errorf("%s: generation %d at byte %d, the previous ended at %d", name, i, g.Offset, end)
			}
			end = g.Offset + g.Size
			c := s.Sync().ClockSnapshot
			switch {
			case (c == nil) != (g.Clock == nil):
				t.Errorf("%s: generation %d: clock snapshot %v, the parser's %v", name, i, g.Clock, c)
			case c != nil && (g.Clock.Trace != int64(c.Trace) || !g.Clock.Wall.Equal(c.Wall) || g.Clock.Mono != c.Mono):
				t.Errorf("%s: generation %d: clock snapshot %+v, the parser's %+v", name, i, *g.Clock, *c)
			}
		}
	}
	if indexed < 10 {
		t.Errorf("only %d traces indexed", indexed)
	}
}

// TestIndexTruncated cuts a trace at every few bytes and checks that the
// index keeps the generations that are whole and says where it stopped,
// or, for a cut between batches, marks the last generation unfinished.
func TestIndexTruncated(t *testing.T) {
	data := recordGenerations(t, 3)
	full, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// A cut right after a generation leaves a shorter trace that is
	// whole: that is no error. Such cuts are tried too.
	ends := map[int64]bool{}
	for _, g := range full.Generations {
		ends[g.Offset+g.Size] = true
	}
	var cuts []int64
	for cut := int64(tracefile.HeaderSize); cut < int64(len(data)); cut += 97 {
		cuts = append(cuts, cut)
	}
	for end := range ends {
		if end < int64(len(data)) {
			cuts = append(cuts, end)
		}
	}
	for _, cut := range cuts {
		idx, err := tracefile.Read(bytes.NewReader(data[:cut]), cut)
		var e *tracefile.Error
		switch {
		case ends[cut]:
			if err != nil {
				t.Fatalf("cut at %d, right after a generation: %v", cut, err)
			}
		case err == nil:
			// A cut between two batches of a generation, after the one
			// that gives the frequency, is what a writer stopped inside
			// the generation leaves: its last generation is unfinished.
			if n := len(idx.Generations); n == 0 || !idx.Generations[n-1].Unfinished || idx.Size != cut {
				t.Fatalf("cut at %d: no error", cut)
			}
			idx.Generations = idx.Generations[:len(idx.Generations)-1]
		case !asError(err, &e) || e.Offset > cut:
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := 0
		for _, g := range full.Generations {
			if g.Offset+g.Size <= cut {
				whole++
			}
		}
		if len(idx.Generations) != whole {
			t.Fatalf("cut at %d: %d generations, %d are whole", cut, len(idx.Generations), whole)
		}
	}
}

func asError(err error, e **tracefile.Error) bool {
	x, ok := err.(*tracefile.Error)
	*e = x
	return ok
}

// span is the time of the first and last events of a generation, and
// how many it has.
type span struct {
	first, last int64
	n           int
}

// syncsOf returns the trace's Sync events, in order, and the span of the
// events after each.
func syncsOf(t *testing.T, data []byte) ([]trace.Event, []span) {
	t.Helper()
	r, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var syncs []trace.Event
	var spans []span
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return syncs, spans
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind() == trace.EventSync {
			syncs = append(syncs, ev)
			spans = append(spans, span{})
			continue
		}
		sp := &spans[len(spans)-1]
		tm := int64(ev.Time())
		if sp.n == 0 {
			sp.first = tm
		}
		sp.last = tm
		sp.n++
	}
}

// recordGenerations traces a small workload of this process with a dozen
// generations or so (see synth.RecordGenerations).
func recordGenerations(t testing.TB, rounds int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, rounds); err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	return buf.Bytes()
}

// TestUnfinishedGenerationError cuts a trace between two batches of its
// last generation, as a process killed while it traces leaves it: the
// parser refuses a generation without its string and stack tables, and
// the error says the writer stopped there, not that the file is damaged,
// for a file and for a stream of the same bytes alike.
func TestUnfinishedGenerationError(t *testing.T) {
	data := recordedOnce(t)
	full, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	last := full.Generations[len(full.Generations)-1]
	refused := 0
	for cut := last.Offset + 1; cut < last.Offset+last.Size-1; cut++ {
		idx, err := tracefile.Read(bytes.NewReader(data[:cut]), cut)
		if err != nil || !idx.Generations[len(idx.Generations)-1].Unfinished {
			continue // not between batches
		}
		fsum, err := mapping.MapFile(bytes.NewReader(data[:cut]), cut, mapping.NopSink{})
		if err == nil {
			continue // the parser took what there is
		}
		refused++
		if msg := err.Error(); !strings.Contains(msg, "writer stopped inside this last generation") || !strings.Contains(msg, fmt.Sprintf("in generation %d ", len(full.Generations))) {
			t.Errorf("cut at %d: %v", cut, err)
		}
		ssum, serr := mapping.Map(bytes.NewReader(data[:cut]), mapping.NopSink{})
		if serr == nil || serr.Error() != err.Error() {
			t.Errorf("cut at %d: as a stream %v, as a file %v", cut, serr, err)
		}
		// Both list the generation refused, unfinished.
		for _, sum := range []*mapping.Summary{fsum, ssum} {
			if n := len(sum.Spans); n != len(full.Generations) || !sum.Spans[n-1].Unfinished || !reflect.DeepEqual(sum.Spans, fsum.Spans) {
				t.Errorf("cut at %d: spans %+v", cut, sum.Spans)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no cut between the last generation's batches was refused by the parser")
	}
}
