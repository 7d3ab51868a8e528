package gotable

import (
	"maps"
	"math/rand/v2"
	"testing"
)

type goID int64

// TestAgainstMap runs random operations on a Table and a plain map and
// compares every lookup: with few IDs that share slots, and with many
// live at once, which makes the Table grow.
func TestAgainstMap(t *testing.T) {
	for _, c := range []struct {
		name      string
		ids       int // distinct IDs
		spread    int // IDs are multiples of it, and so share slots
		setWeight int // of 4 operations, how many are Set
	}{
		{"colliding", 32, minSlots, 1},
		{"growing", 20 * minSlots, 3, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tab Table[goID, int]
			want := map[goID]*int{}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 300000 {
				id := goID(rng.IntN(c.ids) * c.spread)
				switch op := rng.IntN(4); {
				case op < c.setWeight:
					v := new(int)
					*v = i
					tab.Set(id, v)
					want[id] = v
				case op == 3:
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
			for id, v := range want {
				if got := tab.Get(id); got != v {
					t.Fatalf("at the end: Get(%d) = %p, want %p", id, got, v)
				}
			}
			if all := maps.Collect(tab.All()); !maps.Equal(all, want) {
				t.Errorf("All() yields %d values, want the %d set", len(all), len(want))
			}
			if c.name == "growing" && len(tab.slots) == minSlots {
				t.Errorf("%d values in %d slots: the table did not grow", len(want), len(tab.slots))
			}
		})
	}
}
