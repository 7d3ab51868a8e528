package mapping_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// TestThinCounters thins the counters of a GC-heavy trace and checks that
// each counter keeps, in each period, exactly the samples with its lowest
// and highest values (the first of equals) and its last sample, in time
// order, and nothing else.
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
	// Worked out from the whole stream: the samples each period must keep.
	type kept struct{ low, high, last int }
	periods := map[key]*kept{}
	for i, c := range all.got {
		k := key{c.Kind, c.Name, c.Time / mapping.Time(period)}
		p := periods[k]
		if p == nil {
			periods[k] = &kept{i, i, i}
			continue
		}
		if c.Value < all.got[p.low].Value {
			p.low = i
		}
		if c.Value > all.got[p.high].Value {
			p.high = i
		}
		p.last = i
	}
	want := map[mapping.Counter]int{}
	for _, p := range periods {
		want[all.got[p.low]]++
		if p.high != p.low {
			want[all.got[p.high]]++
		}
		if p.last != p.low && p.last != p.high {
			want[all.got[p.last]]++
		}
	}
	got := map[mapping.Counter]int{}
	for i, c := range thin.got {
		if i > 0 && c.Time < thin.got[i-1].Time {
			t.Fatalf("sample %d at %d comes after one at %d", i, c.Time, thin.got[i-1].Time)
		}
		got[c]++
	}
	for c, n := range want {
		if got[c] != n {
			t.Errorf("%s = %d at %d: kept %d times, want %d", c.Name, c.Value, c.Time, got[c], n)
		}
	}
	for c, n := range got {
		if want[c] == 0 {
			t.Errorf("%s = %d at %d kept %d times: neither an extreme nor the last of its period", c.Name, c.Value, c.Time, n)
		}
	}
	if len(thin.got) >= len(all.got) || len(periods) == len(all.got) {
		t.Errorf("thinning kept %d of %d samples in %d periods: the trace does not exercise it", len(thin.got), len(all.got), len(periods))
	}
	t.Logf("%d of %d samples kept", len(thin.got), len(all.got))
}

// refusingCounters refuses every counter sample, as a writer past its
// row limit does, and notes whether End came.
type refusingCounters struct {
	mapping.NopSink
	ended bool
}

var errRefused = errors.New("refused")

func (r *refusingCounters) Counter(*mapping.Counter) error { return errRefused }

func (r *refusingCounters) End(*mapping.Summary) error {
	r.ended = true
	return errRefused
}

// TestThinEndsRefusingSink checks that the next sink's End runs even
// when it refuses the samples flushed at the end: a writer cut at its row
// limit ends what is open in its output there. With an hour-long period,
// every sample of the trace waits for that flush.
func TestThinEndsRefusingSink(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	r := &refusingCounters{}
	_, err := mapping.Map(bytes.NewReader(data), mapping.ThinCounters(r, time.Hour))
	if !errors.Is(err, errRefused) || !r.ended {
		t.Errorf("Map: %v, End called %v; want the refusal and End", err, r.ended)
	}
}
