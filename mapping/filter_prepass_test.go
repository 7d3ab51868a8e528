package mapping_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestFilterSinkWithoutPrepass: a selection that needs a prepass, used
// without one, fails the pass with an error that names the mistake
// instead of panicking inside Map; after the prepass the same filter
// works.
func TestFilterSinkWithoutPrepass(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	for name, f := range map[string]*mapping.Filter{
		"tasks":   {Tasks: []string{"batch"}},
		"regions": {Regions: []string{"inner"}},
		"related": {Goroutines: []mapping.GoID{1}, Related: true},
	} {
		var next mapping.Tally
		_, err := mapping.Map(bytes.NewReader(data), f.Sink(&next))
		if !errors.Is(err, mapping.ErrNoPrepass) {
			t.Errorf("%s: Map returned %v, want ErrNoPrepass", name, err)
		} else {
			t.Log(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
			t.Fatal(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&next)); err != nil {
			t.Errorf("%s: after the prepass: %v", name, err)
		}
		if f.Kept() == 0 {
			t.Errorf("%s: after the prepass, nothing kept", name)
		}
	}
}

// seenOracle collects, from a pass without a filter, what Filter.Seen
// should report of the whole trace.
type seenOracle struct {
	mapping.NopSink
	tasks, regions map[string]bool
	gs             int
	first, last    mapping.GoID
}

func (o *seenOracle) Task(t *mapping.Task) error     { o.tasks[t.Type] = true; return nil }
func (o *seenOracle) Region(r *mapping.Region) error { o.regions[r.Type] = true; return nil }
func (o *seenOracle) Goroutine(g *mapping.Goroutine) error {
	if !g.Updated {
		if o.gs == 0 || g.ID < o.first {
			o.first = g.ID
		}
		o.last = max(o.last, g.ID)
		o.gs++
	}
	return nil
}

// TestFilterSeen checks that a filter that keeps nothing reports what the
// pass read: the task and region types and the goroutines of the trace,
// as a pass without a filter sees them.
func TestFilterSeen(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	o := &seenOracle{tasks: map[string]bool{}, regions: map[string]bool{}}
	if _, err := mapping.Map(bytes.NewReader(data), o); err != nil {
		t.Fatal(err)
	}
	f := &mapping.Filter{Tasks: []string{"no-such-task"}, Regions: []string{"no-such-region"}, Goroutines: []mapping.GoID{1 << 40}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	var next mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&next)); err != nil {
		t.Fatal(err)
	}
	seen := f.Seen()
	if f.Kept() != 0 {
		t.Fatalf("the filter kept %d items", f.Kept())
	}
	if !slices.Equal(seen.TaskTypes, slices.Sorted(maps.Keys(o.tasks))) || !slices.Equal(seen.RegionTypes, slices.Sorted(maps.Keys(o.regions))) || seen.MoreTypes {
		t.Errorf("seen task types %q, region types %q (more: %v); the trace has %q and %q", seen.TaskTypes, seen.RegionTypes, seen.MoreTypes, slices.Sorted(maps.Keys(o.tasks)), slices.Sorted(maps.Keys(o.regions)))
	}
	if len(o.tasks) < 2 || len(o.regions) < 2 || o.gs < 2 {
		t.Fatalf("the trace has %d task types, %d region types and %d goroutines: the check checks little", len(o.tasks), len(o.regions), o.gs)
	}
	if seen.Goroutines != o.gs || seen.FirstG != o.first || seen.LastG != o.last {
		t.Errorf("seen %d goroutines, IDs %d to %d; the trace has %d, IDs %d to %d", seen.Goroutines, seen.FirstG, seen.LastG, o.gs, o.first, o.last)
	}
}
