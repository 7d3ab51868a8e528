package mapping_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// stackItems records the items that carry the stacks of their ends.
type stackItems struct {
	mapping.NopSink
	states  map[mapping.GoID][]mapping.GoroutineState
	regions map[mapping.RegionID]mapping.Region
	tasks   map[mapping.TaskID]mapping.Task
	ranges  []mapping.Range
	start   mapping.Time
	end     mapping.Time
}

func newStackItems() *stackItems {
	return &stackItems{
		states:  map[mapping.GoID][]mapping.GoroutineState{},
		regions: map[mapping.RegionID]mapping.Region{},
		tasks:   map[mapping.TaskID]mapping.Task{},
	}
}

func (r *stackItems) Begin(m *mapping.Meta) error { r.start = m.Start; return nil }
func (r *stackItems) End(s *mapping.Summary) error {
	r.end = s.End
	return nil
}

func (r *stackItems) GoroutineState(s *mapping.GoroutineState) error {
	r.states[s.G] = append(r.states[s.G], *s)
	return nil
}
func (r *stackItems) Region(x *mapping.Region) error { r.regions[x.ID] = *x; return nil }
func (r *stackItems) Task(k *mapping.Task) error     { r.tasks[k.ID] = *k; return nil }
func (r *stackItems) Range(x *mapping.Range) error {
	c := *x
	c.Attrs = nil
	r.ranges = append(r.ranges, c)
	return nil
}

// cutCheck counts, for one filtered pass, the ends the filter cut that had
// a stack in the trace, and reports every stack kept from beyond a cut.
type cutCheck struct {
	t    *testing.T
	name string
	cuts int // cut ends whose item had a stack there
}

// end checks one end of an item: cut says whether the filter cut it, had
// is the item's stack there in the trace, got the filtered item's, and
// known the stack the filter may give instead (NoStack if none).
func (c *cutCheck) end(what string, cut bool, had, got, known mapping.StackID) {
	c.t.Helper()
	switch {
	case !cut && got != had:
		c.t.Errorf("%s: %s: stack %d, want the trace's %d: nothing was cut there", c.name, what, got, had)
	case cut && got != mapping.NoStack && got != known:
		c.t.Errorf("%s: %s: cut there, but has the trace's stack %d from beyond the cut", c.name, what, got)
	case cut && had != mapping.NoStack && had != known:
		c.cuts++
	}
}

// TestFilterCutStacks: a run a filter cuts carries no stack from beyond
// the cut: a run cut at its end has no EndStack (the stack of code it ran
// after the cut), or, where a Regions selection cuts it at the end of a
// selected region, that region's end stack; the stack of a goroutine that
// stands still stays, and so do the stacks of ends not cut, and those of
// regions, tasks and ranges, which describe them.
func TestFilterCutStacks(t *testing.T) {
	cuts := 0
	for _, c := range []struct {
		trace   string
		filter  func(all *stackItems) *mapping.Filter
		regions bool // the filter selects regions
	}{
		{trace: "annotations.go1.26.trace", regions: true, filter: func(*stackItems) *mapping.Filter {
			return &mapping.Filter{Regions: []string{"lookup", "inner", "finish"}}
		}},
		{trace: "annotations.go1.26.trace", filter: func(all *stackItems) *mapping.Filter {
			d := all.end - all.start
			return &mapping.Filter{From: mapping.Bound{Offset: time.Duration(d / 3), Set: true}, To: mapping.Bound{Offset: time.Duration(d / 2), Set: true}}
		}},
		{trace: "gc.go1.26.trace", filter: func(all *stackItems) *mapping.Filter {
			d := all.end - all.start
			return &mapping.Filter{From: mapping.Bound{Offset: time.Duration(d / 3), Set: true}, To: mapping.Bound{Offset: time.Duration(2 * d / 3), Set: true}}
		}},
		{trace: "mixed.go1.26.trace", filter: func(all *stackItems) *mapping.Filter {
			d := all.end - all.start
			return &mapping.Filter{From: mapping.Bound{Offset: time.Duration(d / 4), Set: true}, To: mapping.Bound{Offset: time.Duration(d / 2), Set: true}}
		}},
	} {
		data := readTrace(t, c.trace)
		all := newStackItems()
		if _, err := mapping.Map(bytes.NewReader(data), all); err != nil {
			t.Fatal(err)
		}
		f := c.filter(all)
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		got := newStackItems()
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(got)); err != nil {
			t.Fatal(err)
		}
		chk := &cutCheck{t: t, name: c.trace + " " + strings.Join(f.Regions, ",")}
		if !c.regions {
			chk.name = c.trace + " window"
		}
		// Where a selected region of a goroutine ended, with its stack.
		regionEnd := map[mapping.GoID]map[mapping.Time]mapping.StackID{}
		if c.regions {
			for _, r := range all.regions {
				if slices.Contains(f.Regions, r.Type) {
					if regionEnd[r.G] == nil {
						regionEnd[r.G] = map[mapping.Time]mapping.StackID{}
					}
					regionEnd[r.G][r.End] = r.EndStack
				}
			}
		}
		runsAtRegionEnd := 0
		for g, states := range got.states {
			for _, s := range states {
				var orig *mapping.GoroutineState
				for i, o := range all.states[g] {
					if o.State == s.State && o.Start <= s.Start && s.End <= o.End {
						orig = &all.states[g][i]
						break
					}
				}
				if orig == nil {
					t.Fatalf("%s: %+v is in no state of the trace", chk.name, s)
				}
				what := fmt.Sprintf("G%d %s", s.G, s.State)
				startCut, endCut := s.Start > orig.Start, s.End < orig.End
				if s.State == mapping.GoRunning {
					chk.end(what+" start", startCut, orig.Stack, s.Stack, mapping.NoStack)
				} else if s.Stack != orig.Stack {
					t.Errorf("%s: %s: stack %d, want the trace's %d: it stands still", chk.name, what, s.Stack, orig.Stack)
				}
				known := regionEnd[g][s.End]
				chk.end(what+" end", endCut, orig.EndStack, s.EndStack, known)
				if endCut && known != mapping.NoStack && s.EndStack == known {
					runsAtRegionEnd++
				}
			}
		}
		// A region, task or range keeps the stacks that describe it, cut
		// or not.
		same := func(what string, got, want [2]mapping.StackID) {
			if got != want {
				t.Errorf("%s: %s: stacks %v, want the trace's %v", chk.name, what, got, want)
			}
		}
		for id, r := range got.regions {
			o := all.regions[id]
			same("region "+r.Type, [2]mapping.StackID{r.Stack, r.EndStack}, [2]mapping.StackID{o.Stack, o.EndStack})
		}
		for id, k := range got.tasks {
			o := all.tasks[id]
			same("task "+k.Type, [2]mapping.StackID{k.Stack, k.EndStack}, [2]mapping.StackID{o.Stack, o.EndStack})
		}
		for _, r := range got.ranges {
			found := false
			for _, o := range all.ranges {
				if o.Kind == r.Kind && o.Scope == r.Scope && o.G == r.G && o.P == r.P && o.M == r.M && o.Start <= r.Start && r.End <= o.End {
					same("range "+r.Name, [2]mapping.StackID{r.Stack, r.EndStack}, [2]mapping.StackID{o.Stack, o.EndStack})
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("%s: range %+v is in no range of the trace", chk.name, r)
			}
		}
		t.Logf("%s: %d cut ends had a stack; %d runs end where a region did", chk.name, chk.cuts, runsAtRegionEnd)
		cuts += chk.cuts
		if c.regions && runsAtRegionEnd == 0 {
			t.Errorf("%s: no run cut where a selected region ends has its stack", chk.name)
		}
	}
	if cuts < 3 {
		t.Errorf("only %d run ends the filters cut had a stack: the cases test little", cuts)
	}
}
