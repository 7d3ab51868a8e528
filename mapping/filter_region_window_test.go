package mapping_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// regionCounter counts the regions of each type a sink receives, and
// records the type of each task.
type regionCounter struct {
	mapping.NopSink
	regions map[string]int
	types   map[mapping.TaskID]string
}

func newRegionCounter() *regionCounter {
	return &regionCounter{regions: map[string]int{}, types: map[mapping.TaskID]string{}}
}

func (r *regionCounter) Region(g *mapping.Region) error {
	r.regions[g.Type]++
	return nil
}

func (r *regionCounter) Task(t *mapping.Task) error {
	r.types[t.ID] = t.Type
	return nil
}

// lastGeneration records a trace of 5 generations and returns it with
// the window of its last generation, which a seeking pass reads with the
// one before, not all.
func lastGeneration(t *testing.T) ([]byte, int, mapping.Bound) {
	t.Helper()
	data := recordGenerations(t, 5)
	gens, from := lastGenerationOf(t, data)
	return data, gens, from
}

// lastGenerationOf returns how many generations the trace in data has,
// and the window of its last, which a seeking pass reads with the one
// before, not all.
func lastGenerationOf(t *testing.T, data []byte) (int, mapping.Bound) {
	t.Helper()
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	if len(gens) < 4 {
		t.Fatalf("%d generations: the window would need them all", len(gens))
	}
	return len(gens), mapping.Bound{Offset: time.Duration(gens[len(gens)-1].Start - gens[0].Start + 1), Set: true}
}

// TestRegionFilterSeek selects a region that spans every generation of a
// trace and a window at its end: the pass that reads only the window's
// generations keeps the region, as the full pass does, though it did not
// read where the region began.
func TestRegionFilterSeek(t *testing.T) {
	data, gens, from := lastGeneration(t)
	for _, seek := range []bool{false, true} {
		f := &mapping.Filter{Regions: []string{"outer"}, From: from}
		if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
			t.Fatal(err)
		}
		got := newRegionCounter()
		var sum *mapping.Summary
		var err error
		if seek {
			sum, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, mapping.Bound{}, f.Sink(got))
		} else {
			sum, err = mapping.Map(bytes.NewReader(data), f.Sink(got))
		}
		if err != nil {
			t.Fatal(err)
		}
		if seek && sum.Generations >= gens {
			t.Fatalf("the window's pass read %d generations of %d", sum.Generations, gens)
		}
		if got.regions["outer"] != 1 {
			t.Errorf("seek %v: %d regions outer kept, want the 1 selected", seek, got.regions["outer"])
		}
	}
}

// TestRegionFilterWindowNone selects a region type whose only region lies
// before the window: its task, which lasts into the window, is not kept
// as the region's context, and the filter keeps nothing.
func TestRegionFilterWindowNone(t *testing.T) {
	meta := &mapping.Meta{Start: 0, FormatVersion: "go1.26"}
	region := &mapping.Region{ID: 1, G: 1, Task: 5, Type: "r", Start: 100, End: 200}
	task := &mapping.Task{ID: 5, Type: "job", Start: 50, End: 1000, StartG: 1, EndG: 1, Goroutines: []mapping.GoID{1}}
	f := &mapping.Filter{Regions: []string{"r"}, From: mapping.Bound{Offset: 500, Set: true}, To: mapping.Bound{Offset: 800, Set: true}}
	p := f.Prepass()
	for _, err := range []error{p.Begin(meta), p.Region(region), p.Task(task), p.End(&mapping.Summary{End: 1000})} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := newRegionCounter()
	s := f.Sink(got)
	for _, err := range []error{s.Begin(meta), s.Region(region), s.Task(task)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got.types) != 0 || f.Kept() != 0 {
		t.Errorf("%d tasks passed on, %d items kept; want none: the region selected lies before the window", len(got.types), f.Kept())
	}
}

// TestTaskFilterSeekType selects by type a task that spans every
// generation, with a window at the end: the pass that reads only the
// window's generations does not see the task begin, which tells its
// type, but the filter's prepass did, and the task keeps it.
func TestTaskFilterSeekType(t *testing.T) {
	data, _, from := lastGeneration(t)
	f := &mapping.Filter{Tasks: []string{"long"}, From: from}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	got := newRegionCounter()
	if _, err := mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, mapping.Bound{}, f.Sink(got)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for id, typ := range got.types {
		if typ == "" {
			t.Errorf("task %d kept without its type", id)
		}
		if typ == "long" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d tasks of type long kept, want 1: %v", n, got.types)
	}
}

// regionSpans records where each region a sink receives begins and ends.
type regionSpans struct {
	mapping.NopSink
	spans map[string][2]mapping.Time
}

func (r *regionSpans) Region(g *mapping.Region) error {
	r.spans[g.Type] = [2]mapping.Time{g.Start, g.End}
	return nil
}

// windowFrom1000 passes regions through a filter whose window begins at
// 1000 and returns where each is put, by type.
func windowFrom1000(t *testing.T, regions []*mapping.Region) map[string][2]mapping.Time {
	t.Helper()
	f := &mapping.Filter{From: mapping.Bound{Offset: 1000, Set: true}}
	got := &regionSpans{spans: map[string][2]mapping.Time{}}
	s := f.Sink(got)
	if err := s.Begin(&mapping.Meta{Start: 0, FormatVersion: "go1.26"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if err := s.Region(r); err != nil {
			t.Fatal(err)
		}
	}
	return got.spans
}

// TestWindowRegionsStayApart cuts a region with the window's start: it is
// put a few nanoseconds into the window, and the regions nested in it
// after it; one that began later than that keeps its start, so that two
// regions one after the other stay apart and nested ones stay inside.
func TestWindowRegionsStayApart(t *testing.T) {
	got := windowFrom1000(t, []*mapping.Region{ // as the mapping delivers them: by end
		{ID: 2, Parent: 1, G: 1, Type: "a", Depth: 1, Start: 1010, End: 1040},
		{ID: 3, Parent: 1, G: 1, Type: "b", Depth: 1, Start: 1041, End: 1100},
		{ID: 1, G: 1, Type: "cut", Depth: 0, Start: 500, End: 2000},
	})
	cut, a, b := got["cut"], got["a"], got["b"]
	if !(1000 < cut[0] && cut[0] < a[0] && a[0] < a[1] && a[1] <= b[0] && b[1] <= cut[1]) {
		t.Errorf("cut %v, a %v, b %v: want a then b, both inside cut, which begins after the window's start", cut, a, b)
	}
	if b[0] != 1041 {
		t.Errorf("b begins at %d, want its own start, 1041", b[0])
	}
}

// TestWindowRegionsEndedEarly cuts two nested regions with the window's
// start, the inner one ending before the place a cut region gets: it is
// put at its end, and the outer no later, so that it still holds it.
func TestWindowRegionsEndedEarly(t *testing.T) {
	for _, innerEnd := range []mapping.Time{1000, 1010} {
		got := windowFrom1000(t, []*mapping.Region{
			{ID: 3, Parent: 2, G: 1, Type: "inner", Depth: 2, Start: 700, End: innerEnd},
			{ID: 2, Parent: 1, G: 1, Type: "middle", Depth: 1, Start: 600, End: 1500},
			{ID: 1, G: 1, Type: "outer", Depth: 0, Start: 500, End: 2000},
		})
		outer, middle, inner := got["outer"], got["middle"], got["inner"]
		if !(1000 <= outer[0] && outer[0] <= middle[0] && middle[0] <= inner[0] && inner == [2]mapping.Time{innerEnd, innerEnd}) {
			t.Errorf("inner ending at %d: outer %v, middle %v, inner %v: want each inside the one before, inner at its end", innerEnd, outer, middle, inner)
		}
	}
}
