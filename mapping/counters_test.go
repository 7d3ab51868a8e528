package mapping_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// stateCounts records the goroutine states and the derived counters of
// goroutines by state.
type stateCounts struct {
	mapping.NopSink
	states   []mapping.GoroutineState
	counters []mapping.Counter
}

func (s *stateCounts) GoroutineState(g *mapping.GoroutineState) error {
	s.states = append(s.states, *g)
	return nil
}

func (s *stateCounts) Counter(c *mapping.Counter) error {
	switch c.Kind {
	case mapping.CounterGoroutinesRunning, mapping.CounterGoroutinesRunnable,
		mapping.CounterGoroutinesWaiting, mapping.CounterGoroutinesSyscall:
		s.counters = append(s.counters, *c)
	}
	return nil
}

// counted is the goroutine state a derived counter counts.
var counted = map[mapping.CounterKind]mapping.GoState{
	mapping.CounterGoroutinesRunning:  mapping.GoRunning,
	mapping.CounterGoroutinesRunnable: mapping.GoRunnable,
	mapping.CounterGoroutinesWaiting:  mapping.GoWaiting,
	mapping.CounterGoroutinesSyscall:  mapping.GoSyscall,
}

// TestCountersFollowStates requires every value of the goroutine counters
// to be the number of goroutine state intervals of that state the outputs
// draw at that time: a goroutine blocked since before the trace began is
// drawn waiting from the trace's start, though Go's tracer states it only
// when it next moves or at its generation's end, and the counter must
// count it from there too.
func TestCountersFollowStates(t *testing.T) {
	for _, f := range testtraces.All(t, "..") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		passes := map[string]func(mapping.Sink) error{
			"Map": func(s mapping.Sink) error {
				_, err := mapping.Map(bytes.NewReader(data), s)
				return err
			},
			"MapFile, one parser": func(s mapping.Sink) error {
				_, err := mapping.MapFile(bytes.NewReader(data), int64(len(data)), s, mapping.WithWorkers(1))
				return err
			},
			// Two parsers, a generation each at a time.
			"MapFile": func(s mapping.Sink) error {
				_, err := mapping.MapFile(bytes.NewReader(data), int64(len(data)), s,
					mapping.WithWorkers(2), mapping.WithGroupGenerations(1))
				return err
			},
		}
		for name, pass := range passes {
			var s stateCounts
			if err := pass(&s); err != nil && testtraces.IsGoTest(f) {
				continue
			} else if err != nil {
				t.Fatalf("%s: %s: %v", f, name, err)
			}
			if msg := checkCounts(&s); msg != "" {
				t.Errorf("%s: %s: %s", filepath.Base(f), name, msg)
			}
		}
	}
}

// TestHoldChangesOnlyCounters requires the passes that hold the first
// generation, whole or in part, or read it twice, to deliver every item
// but the counters as a pass that does neither.
//
// Traces before Go 1.22 are left out: x/exp/trace orders their events of
// equal time differently from one pass to the next.
func TestHoldChangesOnlyCounters(t *testing.T) {
	old := testtraces.OldFormat(t)
	for _, f := range testtraces.All(t, "..") {
		if slices.Contains(old, f) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pass := func(mapFile bool, opts ...mapping.Option) []string {
			var l callLog
			var err error
			if mapFile {
				opts = append(opts, mapping.WithWorkers(2), mapping.WithGroupGenerations(1))
				_, err = mapping.MapFile(bytes.NewReader(data), int64(len(data)), &l, opts...)
			} else {
				_, err = mapping.Map(bytes.NewReader(data), &l, opts...)
			}
			lines := slices.DeleteFunc(l.lines, func(s string) bool { return strings.HasPrefix(s, "Counter ") })
			return append(lines, "error: "+errText(err))
		}
		want := pass(false, mapping.WithoutBackdatedCounts())
		for _, mapFile := range []bool{false, true} {
			for _, held := range []int{0, 300} {
				got := pass(mapFile, mapping.WithMaxHeldEvents(held))
				if !slices.Equal(got, want) {
					t.Errorf("%s: MapFile %v, holding at most %d events: %d items but counters, against %d without holding",
						filepath.Base(f), mapFile, held, len(got), len(want))
				}
			}
		}
	}
}

// checkCounts says where a counter of s differs from the states of s, or
// "".
func checkCounts(s *stateCounts) string {
	type edge struct {
		t     mapping.Time
		state mapping.GoState
		d     int
	}
	var edges []edge
	for _, g := range s.states {
		if g.End > g.Start {
			edges = append(edges, edge{g.Start, g.State, 1}, edge{g.End, g.State, -1})
		}
	}
	slices.SortStableFunc(edges, func(a, b edge) int { return int(a.t - b.t) })
	var n [8]int
	bad, first := 0, ""
	i := 0
	for _, c := range s.counters {
		// Each event has a time of its own, and a counter is delivered
		// after the event's transitions: the intervals that begin then
		// count, those that end then do not.
		for ; i < len(edges) && edges[i].t <= c.Time; i++ {
			n[edges[i].state] += edges[i].d
		}
		if want := n[counted[c.Kind]]; uint64(want) != c.Value {
			if bad++; first == "" {
				first = fmt.Sprintf("%s is %d at %d, where %d goroutines are drawn %v", c.Name, c.Value, c.Time, want, counted[c.Kind])
			}
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d of %d counter values differ from the states; the first: %s", bad, len(s.counters), first)
	}
	return ""
}
