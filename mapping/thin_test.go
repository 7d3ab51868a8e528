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

// TestThinCounterGroups thins a GC-heavy trace's goroutine and thread
// counters by state as groups, directly and behind Async, and checks that
// each time kept carries, for every series of its group, the value the
// series had then (a stacked total that was), that each series reaches
// in each period the same lowest and highest values at the times kept as
// at every time, and that the other counters are thinned as ThinCounters
// thins them.
func TestThinCounterGroups(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	var all counters
	if _, err := mapping.Map(bytes.NewReader(data), &all); err != nil {
		t.Fatal(err)
	}
	const period = 100 * time.Microsecond
	var alone counters
	if _, err := mapping.Map(bytes.NewReader(data), mapping.ThinCounters(&alone, period)); err != nil {
		t.Fatal(err)
	}
	grouped := map[mapping.CounterKind]int{ // kind: its group
		mapping.CounterGoroutinesRunning: 1, mapping.CounterGoroutinesRunnable: 1, mapping.CounterGoroutinesWaiting: 1, mapping.CounterGoroutinesSyscall: 1,
		mapping.CounterThreadsRunning: 2, mapping.CounterThreadsSyscall: 2,
	}
	// The value of each grouped series at each time any series of its
	// group changed, from the whole stream.
	type at struct {
		kind mapping.CounterKind
		time mapping.Time
	}
	value := map[at]uint64{}
	cur := map[mapping.CounterKind]uint64{}
	for _, c := range all.got {
		g := grouped[c.Kind]
		if g == 0 {
			continue
		}
		cur[c.Kind] = c.Value
		for k, kg := range grouped {
			if v, ok := cur[k]; ok && kg == g {
				value[at{k, c.Time}] = v
			}
		}
	}
	// extremes gives each series' lowest and highest value in each period.
	type ext struct {
		kind mapping.CounterKind
		p    mapping.Time
	}
	extremes := func(vs map[at]uint64) map[ext][2]uint64 {
		m := map[ext][2]uint64{}
		for a, v := range vs {
			e := ext{a.kind, a.time / mapping.Time(period)}
			lh, ok := m[e]
			if !ok {
				lh = [2]uint64{v, v}
			}
			m[e] = [2]uint64{min(lh[0], v), max(lh[1], v)}
		}
		return m
	}
	want := extremes(value)
	for _, async := range []bool{false, true} {
		var thin counters
		var s mapping.Sink = mapping.ThinCounterGroups(&thin, period)
		if async {
			s = mapping.Async(s)
		}
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			t.Fatal(err)
		}
		kept := map[at]uint64{}
		var others []mapping.Counter
		for _, c := range thin.got {
			if grouped[c.Kind] == 0 {
				others = append(others, c)
				continue
			}
			if v, ok := value[at{c.Kind, c.Time}]; !ok || c.Value != v {
				t.Errorf("async %v: kind %d = %d at %d; the series was %d then (known %v)", async, c.Kind, c.Value, c.Time, v, ok)
			}
			kept[at{c.Kind, c.Time}] = c.Value
		}
		// Every series of the group at every time kept.
		for a := range kept {
			for k, g := range grouped {
				if _, known := value[at{k, a.time}]; known && g == grouped[a.kind] {
					if _, ok := kept[at{k, a.time}]; !ok {
						t.Errorf("async %v: at %d, kind %d kept without kind %d", async, a.time, a.kind, k)
					}
				}
			}
		}
		got := extremes(kept)
		for e, lh := range want {
			if got[e] != lh {
				t.Errorf("async %v: kind %d in period %d ranges over %v at the times kept, %v in all", async, e.kind, e.p, got[e], lh)
			}
		}
		var alsoAlone []mapping.Counter
		for _, c := range alone.got {
			if grouped[c.Kind] == 0 {
				alsoAlone = append(alsoAlone, c)
			}
		}
		if len(others) != len(alsoAlone) {
			t.Errorf("async %v: %d other samples, ThinCounters keeps %d", async, len(others), len(alsoAlone))
		}
		if len(kept) >= len(value) {
			t.Errorf("async %v: %d grouped samples kept of %d: nothing thinned", async, len(kept), len(value))
		}
	}
}
