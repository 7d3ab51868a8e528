package mapping_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// TestThinCounters thins the counters of a GC-heavy trace and checks that
// at most one sample per counter and period is left, in time order, and
// that each one is the counter's last value of its period, at its time.
func TestThinCounters(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	var all counters
	if _, err := mapping.Map(bytes.NewReader(data), &all); err != nil {
		t.Fatal(err)
	}
	const period = 100 * time.Microsecond
	var thin counters
	if _, err := mapping.Map(bytes.NewReader(data), mapping.ThinCounters(&thin, period)); err != nil {
		t.Fatal(err)
	}
	type key struct {
		kind mapping.CounterKind
		name string
		p    mapping.Time
	}
	// The last sample of each counter in each period, in the whole stream.
	last := map[key]mapping.Counter{}
	for _, c := range all.got {
		last[key{c.Kind, c.Name, c.Time / mapping.Time(period)}] = c
	}
	if len(thin.got) != len(last) {
		t.Errorf("%d samples kept, want one per counter and period: %d", len(thin.got), len(last))
	}
	if len(thin.got) >= len(all.got) {
		t.Errorf("thinning kept %d of %d samples", len(thin.got), len(all.got))
	}
	for i, c := range thin.got {
		if i > 0 && c.Time < thin.got[i-1].Time {
			t.Fatalf("sample %d at %d comes after one at %d", i, c.Time, thin.got[i-1].Time)
		}
		if want := last[key{c.Kind, c.Name, c.Time / mapping.Time(period)}]; c != want {
			t.Errorf("kept %+v, want the period's last sample %+v", c, want)
		}
	}
	t.Logf("%d of %d samples kept", len(thin.got), len(all.got))
}
