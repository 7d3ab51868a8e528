package mapping

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGoSet checks the set against a map, on IDs as the runtime gives
// them (dense from 1), far apart, at page edges and at the ends of the
// type's range, which a damaged trace can hold.
func TestGoSet(t *testing.T) {
	var s goSet
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
	var empty goSet
	if empty.has(1) || empty.len() != 0 {
		t.Error("the zero set is not empty")
	}
}
