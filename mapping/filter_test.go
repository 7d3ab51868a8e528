package mapping_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// counters records the counters it is given.
type counters struct {
	mapping.NopSink
	meta mapping.Meta
	got  []mapping.Counter
}

func (c *counters) Begin(m *mapping.Meta) error      { c.meta = *m; return nil }
func (c *counters) Counter(x *mapping.Counter) error { c.got = append(c.got, *x); return nil }

func readTrace(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFilterWindowCounters checks that a window opens with the value every
// counter had at its start, and keeps the samples inside it.
func TestFilterWindowCounters(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	var all counters
	sum, err := mapping.Map(bytes.NewReader(data), &all)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Duration(sum.End - sum.Start)
	from, to := sum.Start+mapping.Time(d/2), sum.Start+mapping.Time(3*d/4)
	f := &mapping.Filter{From: mapping.Bound{Offset: d / 2, Set: true}, To: mapping.Bound{Offset: 3 * d / 4, Set: true}}
	var win counters
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&win)); err != nil {
		t.Fatal(err)
	}
	if win.meta.Start != from {
		t.Errorf("the window's Meta starts at %d, want %d", win.meta.Start, from)
	}
	// What each counter was at the window start, and what came in it.
	type key struct {
		kind mapping.CounterKind
		name string
	}
	at := map[key]uint64{}
	var inside []mapping.Counter
	for _, c := range all.got {
		switch {
		case c.Time < from:
			at[key{c.Kind, c.Name}] = c.Value
		case c.Time <= to:
			inside = append(inside, c)
		}
	}
	if len(at) == 0 || len(inside) == 0 {
		t.Fatal("the trace has no counters before or inside the window; pick another")
	}
	restated := win.got[:len(at)]
	for _, c := range restated {
		if c.Time != from {
			t.Errorf("%s restated at %d, want the window start %d", c.Name, c.Time, from)
		}
		if v, ok := at[key{c.Kind, c.Name}]; !ok || v != c.Value {
			t.Errorf("%s restated as %d, it was %d (known: %v) at the window start", c.Name, c.Value, v, ok)
		}
	}
	rest := win.got[len(at):]
	if len(rest) != len(inside) {
		t.Fatalf("%d counter samples in the window, the trace has %d", len(rest), len(inside))
	}
	for i := range rest {
		if rest[i] != inside[i] {
			t.Errorf("sample %d: %+v, want %+v", i, rest[i], inside[i])
		}
	}
}

// TestFilterBounds covers the ways a window can be given or be wrong.
func TestFilterBounds(t *testing.T) {
	withClock := readTrace(t, "annotations.go1.26.trace")
	noClock := readTrace(t, "mixed.go1.22.trace")
	var tally mapping.Tally
	sum, err := mapping.Map(bytes.NewReader(withClock), &tally)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Clock == nil {
		t.Fatal("annotations.go1.26.trace has no clock snapshot")
	}
	// The wall-clock time 1ms after the trace start.
	wall := sum.Clock.Wall.Add(time.Duration(sum.Start + mapping.Time(time.Millisecond) - sum.Clock.Trace))

	for _, tc := range []struct {
		name    string
		data    []byte
		f       mapping.Filter
		start   time.Duration // expected start of the output after the trace start
		wantErr string
	}{
		{name: "offset", data: withClock, f: mapping.Filter{From: mapping.Bound{Offset: time.Millisecond, Set: true}}, start: time.Millisecond},
		{name: "wall", data: withClock, f: mapping.Filter{From: mapping.Bound{Wall: wall, Set: true}}, start: time.Millisecond},
		{name: "wall without clock", data: noClock, f: mapping.Filter{From: mapping.Bound{Wall: wall, Set: true}}, wantErr: "no wall clock"},
		{name: "reversed", data: withClock,
			f:       mapping.Filter{From: mapping.Bound{Offset: 2 * time.Millisecond, Set: true}, To: mapping.Bound{Offset: time.Millisecond, Set: true}},
			wantErr: "ends (1ms) before it starts (2ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got mapping.Tally
			fsum, err := mapping.Map(bytes.NewReader(tc.data), tc.f.Sink(&got))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Duration(got.Meta.Start - fsum.Start); d != tc.start {
				t.Errorf("output starts %v after the trace start, want %v", d, tc.start)
			}
			if got.Summary.End != fsum.End {
				t.Errorf("an open window ends at %d, the trace at %d", got.Summary.End, fsum.End)
			}
		})
	}
}
