package gotable

import (
	"math/rand/v2"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestAgainstMap runs random operations on a Table and a plain map, with
// IDs that collide in the cache, and compares every lookup.
func TestAgainstMap(t *testing.T) {
	var tab Table[int]
	want := map[mapping.GoID]*int{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		// IDs a multiple of the number of slots apart share one.
		id := mapping.GoID(rng.IntN(8))*slots + mapping.GoID(rng.IntN(4))
		switch rng.IntN(3) {
		case 0:
			v := new(int)
			*v = i
			tab.Set(id, v)
			want[id] = v
		case 1:
			tab.Delete(id)
			delete(want, id)
		}
		if got := tab.Get(id); got != want[id] {
			t.Fatalf("operation %d: Get(%d) = %p, want %p", i, id, got, want[id])
		}
		if tab.Len() != len(want) {
			t.Fatalf("operation %d: Len() = %d, want %d", i, tab.Len(), len(want))
		}
	}
}
