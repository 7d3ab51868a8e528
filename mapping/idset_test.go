package mapping

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIDSet checks the set against a map, on IDs as the runtime gives
// them (dense from 1), far apart, at page edges and at the ends of the
// type's range, which a damaged trace can hold.
func TestIDSet(t *testing.T) {
	var s idSet[GoID]
	want := map[GoID]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	var ids []GoID
	for i := range GoID(5000) {
		ids = append(ids, i+1)
	}
	for range 2000 {
		ids = append(ids, GoID(r.Int64()), -GoID(r.Int64N(1<<40)))
	}
	ids = append(ids, 0, 1023, 1024, 1025, -1024, -1025, math.MaxInt64, math.MinInt64)
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for i, id := range ids {
		if i%3 == 0 {
			continue // some left out, to be found absent
		}
		s.add(id)
		s.add(id) // twice counts once
		want[id] = true
	}
	for _, id := range append(ids, 5001, -2, math.MaxInt64-1) {
		if got := s.has(id); got != want[id] {
			t.Fatalf("has(%d) = %v, want %v", id, got, want[id])
		}
	}
	if s.len() != len(want) {
		t.Errorf("len %d, want %d", s.len(), len(want))
	}
	var empty idSet[GoID]
	if empty.has(1) || empty.len() != 0 {
		t.Error("the zero set is not empty")
	}
}

// TestIDSetUnsigned checks the set of an unsigned type (task IDs) at the
// ends of its range.
func TestIDSetUnsigned(t *testing.T) {
	var s idSet[TaskID]
	ids := []TaskID{1, 2, 1023, 1024, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
	for _, id := range ids {
		s.add(id)
	}
	for _, id := range ids {
		if !s.has(id) {
			t.Errorf("%d added, not found", id)
		}
	}
	for _, id := range []TaskID{0, 3, 1025, math.MaxUint64 - 2, 1<<63 + 1} {
		if s.has(id) {
			t.Errorf("%d found, never added", id)
		}
	}
	if s.len() != len(ids) {
		t.Errorf("len %d, want %d", s.len(), len(ids))
	}
}
