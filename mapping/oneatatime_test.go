package mapping

import "testing"

func TestOneAtATime(t *testing.T) {
	var o OneAtATime
	for _, c := range []struct {
		start, end Time
		row        int
	}{
		{10, 20, 0},
		{30, 40, 0}, // after
		{25, 45, 0}, // encloses the last
		{5, 50, 0},  // encloses all
		{40, 60, 1}, // overlaps [5, 50]
		{45, 70, 2}, // overlaps both rows' last
		{55, 65, 0}, // after [5, 50], out of the order of ends
		{100, 110, 0},
		{101, 105, 0}, // nested in the last, out of order
		{102, 120, 1}, // overlaps [100, 110]
		{60, 130, 1},  // overlaps [55, 65], encloses [102, 120], follows [40, 60]
	} {
		if got := o.Place(c.start, c.end); got != c.row {
			t.Errorf("Place(%d, %d) = %d, want %d", c.start, c.end, got, c.row)
		}
	}
}

// TestOneAtATimeBounded: disjoint slices do not pile up.
func TestOneAtATimeBounded(t *testing.T) {
	var o OneAtATime
	for i := range Time(10_000) {
		if got := o.Place(10*i, 10*i+5); got != 0 {
			t.Fatalf("Place(%d, %d) = %d, want 0", 10*i, 10*i+5, got)
		}
	}
	if len(o.spans) > maxSpans {
		t.Errorf("%d slices kept", len(o.spans))
	}
}
