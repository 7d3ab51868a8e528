package mapping_test

import (
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestLanes checks the lane rules: goroutines alive at the start or of an
// unknown function get lanes of their own; the others share their
// function's lanes, taking one again only if its goroutine ended strictly
// before they were created.
func TestLanes(t *testing.T) {
	l := mapping.NewLanes()
	g := func(id mapping.GoID, fn string, created mapping.Time, flags mapping.Flags) *mapping.Goroutine {
		return &mapping.Goroutine{ID: id, StartFunc: fn, Created: created, Flags: flags}
	}
	old, fresh := l.Take(g(1, "main.worker", 0, mapping.OpenStart))
	if old.Shared || !fresh {
		t.Errorf("a goroutine alive at the start got %+v (new %v), want a new lane of its own", old, fresh)
	}
	a, _ := l.Take(g(2, "main.handle", 10, 0))
	b, fresh := l.Take(g(3, "main.handle", 20, 0))
	if !a.Shared || !fresh || a.ID == b.ID || b.Index != 2 {
		t.Errorf("two live goroutines of one function got %+v and %+v, want two shared lanes", a, b)
	}
	l.Release(a, 30)
	if c, fresh := l.Take(g(4, "main.handle", 30, 0)); !fresh || c.ID == a.ID {
		t.Errorf("a goroutine created as another ended got %+v (new %v), want a new lane", c, fresh)
	}
	if d, fresh := l.Take(g(5, "main.handle", 31, 0)); fresh || d.ID != a.ID {
		t.Errorf("a goroutine created after another ended got %+v (new %v), want its lane %+v", d, fresh, a)
	}
	if e, _ := l.Take(g(6, "main.other", 40, 0)); e.ID == a.ID || e.Index != 1 {
		t.Errorf("a goroutine of another function got %+v, want a lane of its function's own", e)
	}
	if u, _ := l.Take(g(7, "", 50, 0)); u.Shared {
		t.Errorf("a goroutine of an unknown function got %+v, want a lane of its own", u)
	}
}

// TestSpanLanes checks that intervals of one key share a lane only when
// they do not overlap.
func TestSpanLanes(t *testing.T) {
	t.Run("made", func(t *testing.T) { testSpanLanes(t, mapping.NewSpanLanes()) })
	// The zero SpanLanes is ready, as the zero Lanes is.
	t.Run("zero", func(t *testing.T) { testSpanLanes(t, new(mapping.SpanLanes)) })
}

func testSpanLanes(t *testing.T, l *mapping.SpanLanes) {
	type span struct{ start, end mapping.Time }
	spans := []span{{0, 10}, {5, 12}, {11, 20}, {13, 25}, {21, 30}, {1, 31}}
	ends := map[int]mapping.Time{}
	for _, s := range spans { // in the order of their ends, as tasks come
		lane, _ := l.Take("req", s.start, s.end)
		if end, ok := ends[lane.ID]; ok && end >= s.start {
			t.Errorf("[%d, %d] on lane %d, whose last interval ended at %d", s.start, s.end, lane.ID, end)
		}
		ends[lane.ID] = s.end
	}
	if len(ends) != 3 {
		t.Errorf("%d lanes for intervals at most three of which overlap, want 3", len(ends))
	}
}
