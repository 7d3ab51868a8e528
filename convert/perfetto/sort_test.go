package perfetto

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortFresh checks that the stage's sort puts packets in time order,
// then in the order they were made, whatever the span of their times:
// the radix sort packs the time above the packet's index in one integer,
// which must not lose the time's top bits.
func TestSortFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, span := range []uint{1, 10, 33, 40, 42, 43, 44, 45, 60, 63} {
		o := newOrderer(nil, true, nil)
		base := uint64(1) << 40
		for i := range 5000 {
			ts := base + r.Uint64N(uint64(1)<<span)
			if i%7 == 0 && i > 0 {
				ts = o.fresh[i-1].ts // equal times keep the order made
			}
			o.fresh = append(o.fresh, stagedPacket{ts: ts, off: i, end: i + 1})
		}
		want := slices.Clone(o.fresh)
		slices.SortStableFunc(want, func(a, b stagedPacket) int { return cmp.Compare(a.ts, b.ts) })
		o.sortFresh()
		if !slices.Equal(o.fresh, want) {
			t.Errorf("times spanning 2^%d ns: the packets are not in time order, then in the order made", span)
		}
	}
}
