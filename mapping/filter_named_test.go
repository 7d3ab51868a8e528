package mapping_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// namedLives records which goroutines a pass declared, which it ended, and
// which goroutine unblocked others most.
type namedLives struct {
	mapping.NopSink
	declared map[mapping.GoID]bool
	ended    map[mapping.GoID]mapping.Time
	woke     map[mapping.GoID]int
}

func newLives() *namedLives {
	return &namedLives{declared: map[mapping.GoID]bool{}, ended: map[mapping.GoID]mapping.Time{}, woke: map[mapping.GoID]int{}}
}

func (l *namedLives) Goroutine(g *mapping.Goroutine) error {
	l.declared[g.ID] = true
	return nil
}

func (l *namedLives) GoroutineEvent(e *mapping.GoroutineEvent) error {
	switch e.Kind {
	case mapping.GoEnded:
		l.ended[e.G] = e.Time
	case mapping.GoUnblocked:
		l.woke[e.G]++
	}
	return nil
}

// TestFilterEndsNamedGoroutines checks that a goroutine a selection
// declares only because a kept item names it (the goroutines that woke
// a selected one) ends where it ends: it was held alive to the end of
// the trace, in every output, and in their memory.
func TestFilterEndsNamedGoroutines(t *testing.T) {
	checked := 0
	for _, name := range []string{"annotations.go1.26.trace", "blocking.go1.26.trace", "mixed.go1.26.trace", "mixed.go1.22.trace"} {
		data := readTrace(t, name)
		all := newLives()
		if _, err := mapping.Map(bytes.NewReader(data), all); err != nil {
			t.Fatal(err)
		}
		// The goroutine woken most often: many others name it.
		var sel mapping.GoID
		for g, n := range all.woke {
			if n > all.woke[sel] {
				sel = g
			}
		}
		f := &mapping.Filter{Goroutines: []mapping.GoID{sel}}
		got := newLives()
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(got)); err != nil {
			t.Fatal(err)
		}
		for g := range got.declared {
			end, ends := all.ended[g]
			if !ends || g == sel {
				continue
			}
			checked++
			if e, ok := got.ended[g]; !ok || e != end {
				t.Errorf("%s, goroutine %d selected: goroutine %d, declared, ends at %d in the trace, and not in the output (%v)", name, sel, g, end, ok)
			}
		}
	}
	if checked == 0 {
		t.Error("no goroutine declared beside the selected one ended: the check checks nothing")
	}
}

// drawn records which goroutines have states kept, and the logs.
type drawn struct {
	mapping.NopSink
	states map[mapping.GoID]bool
	logs   []mapping.Log
}

func (d *drawn) GoroutineState(s *mapping.GoroutineState) error {
	d.states[s.G] = true
	return nil
}

func (d *drawn) Log(l *mapping.Log) error {
	d.logs = append(d.logs, *l)
	return nil
}

// TestFilterTraceparentNotDrawn checks that the traceparent a region
// selection keeps for the task of a region it keeps does not bring the
// goroutine that logged it, which the selection does not keep: the
// Chrome JSON drew that goroutine alive over the whole selection, with a
// lane of its own, where stats and otlp counted it out.
func TestFilterTraceparentNotDrawn(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	f := &mapping.Filter{Regions: []string{"encode"}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	got := &drawn{states: map[mapping.GoID]bool{}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(got)); err != nil {
		t.Fatal(err)
	}
	tps := 0
	for _, l := range got.logs {
		if l.Category == mapping.CategoryTraceparent {
			tps++
		}
		if l.G != mapping.NoGoroutine && !got.states[l.G] {
			t.Errorf("a %q log on G%d, whose states the selection does not keep", l.Category, l.G)
		}
	}
	if tps == 0 {
		t.Error("no traceparent kept: the test does not reach the case")
	}
}
