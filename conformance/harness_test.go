package conformance

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// collector is a reporter that keeps what it is told.
type collector struct{ msgs []string }

func (c *collector) Helper() {}
func (c *collector) Errorf(format string, args ...any) {
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
}

// clone copies the recorder deeply enough that a fault injected into the
// copy leaves the original alone.
func (r *recorder) clone() *recorder {
	c := *r
	c.goroutines = maps.Clone(r.goroutines)
	c.firstG = maps.Clone(r.firstG)
	c.states = slices.Clone(r.states)
	c.procRuns = slices.Clone(r.procRuns)
	c.ranges = slices.Clone(r.ranges)
	c.tasks = slices.Clone(r.tasks)
	c.regions = slices.Clone(r.regions)
	c.logs = slices.Clone(r.logs)
	c.flows = slices.Clone(r.flows)
	c.samples = slices.Clone(r.samples)
	c.problems = slices.Clone(r.problems)
	return &c
}

// fault changes a mapping's output in one way the comparison must
// notice. It reports false if the trace has nothing to change.
type fault struct {
	name   string
	inject func(rec *recorder, sum *mapping.Summary) bool
}

// find returns the index of the first element of s that ok accepts, or -1.
func find[T any](s []T, ok func(*T) bool) int {
	for i := range s {
		if ok(&s[i]) {
			return i
		}
	}
	return -1
}

var faults = []fault{
	{"drop a log", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.logs) == 0 {
			return false
		}
		rec.logs = rec.logs[1:]
		return true
	}},
	{"change a log's message", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.logs) == 0 {
			return false
		}
		rec.logs[0].Message += "!"
		return true
	}},
	{"end a region 1ns late", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.regions) == 0 {
			return false
		}
		rec.regions[0].End++
		return true
	}},
	{"deliver a region twice", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.regions) == 0 {
			return false
		}
		rec.regions = append(rec.regions, rec.regions[0])
		return true
	}},
	{"give a region a parent never delivered", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.regions) == 0 {
			return false
		}
		rec.regions[0].Parent = 1 << 40
		return true
	}},
	{"mark a complete task open at the end", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.tasks, func(k *mapping.Task) bool { return k.Flags == 0 })
		if i < 0 {
			return false
		}
		rec.tasks[i].Flags |= mapping.OpenEnd
		return true
	}},
	{"rename a task", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.tasks, func(k *mapping.Task) bool { return !k.Flags.Has(mapping.OpenStart) })
		if i < 0 {
			return false
		}
		rec.tasks[i].Type += "!"
		return true
	}},
	{"deliver a goroutine twice", func(rec *recorder, _ *mapping.Summary) bool {
		for _, g := range slices.Sorted(maps.Keys(rec.goroutines)) {
			rec.goroutines[g]++
			return true
		}
		return false
	}},
	{"never deliver a goroutine", func(rec *recorder, _ *mapping.Summary) bool {
		for _, g := range slices.Sorted(maps.Keys(rec.goroutines)) {
			delete(rec.goroutines, g)
			return true
		}
		return false
	}},
	{"say a goroutine created in the trace existed before it", func(rec *recorder, _ *mapping.Summary) bool {
		for _, g := range slices.Sorted(maps.Keys(rec.firstG)) {
			if info := rec.firstG[g]; info.Flags == 0 {
				info.Flags = mapping.OpenStart
				rec.firstG[g] = info
				return true
			}
		}
		return false
	}},
	{"change the bytes a sweep swept", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.ranges, func(r *mapping.Range) bool { return len(r.Attrs) > 0 })
		if i < 0 {
			return false
		}
		rec.ranges[i].Attrs = slices.Clone(rec.ranges[i].Attrs)
		rec.ranges[i].Attrs[0].Value++
		return true
	}},
	{"change a stop-the-world reason", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.ranges, func(r *mapping.Range) bool { return r.Kind == mapping.RangeSTW })
		if i < 0 {
			return false
		}
		rec.ranges[i].Reason += "!"
		return true
	}},
	{"drop a GC cycle", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.ranges, func(r *mapping.Range) bool { return r.Kind == mapping.RangeGCMark })
		if i < 0 {
			return false
		}
		rec.ranges = slices.Delete(rec.ranges, i, i+1)
		return true
	}},
	{"drop a CPU sample", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.samples) == 0 {
			return false
		}
		rec.samples = rec.samples[1:]
		return true
	}},
	{"overlap two goroutine states", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.states, func(s *mapping.GoroutineState) bool { return s.End > s.Start })
		if i < 0 {
			return false
		}
		rec.states = append(rec.states, rec.states[i])
		return true
	}},
	{"overlap two runs of a P", func(rec *recorder, _ *mapping.Summary) bool {
		i := find(rec.procRuns, func(p *mapping.ProcRun) bool { return p.End > p.Start })
		if i < 0 {
			return false
		}
		rec.procRuns = append(rec.procRuns, rec.procRuns[i])
		return true
	}},
	{"send a flow back in time", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.flows) == 0 {
			return false
		}
		rec.flows[0].From.Time = rec.flows[0].To.Time + 1
		return true
	}},
	{"aim a flow off its target's run", func(rec *recorder, _ *mapping.Summary) bool {
		if len(rec.flows) == 0 {
			return false
		}
		rec.flows[0].To.Time++
		return true
	}},
	{"count one event too many", func(_ *recorder, sum *mapping.Summary) bool {
		sum.Events++
		return true
	}},
	{"end the trace 1ns late", func(_ *recorder, sum *mapping.Summary) bool {
		sum.End++
		return true
	}},
}

// TestHarnessCatchesFaults injects faults into a real mapping's output
// and checks that the comparison reports each one: a harness that
// compares nothing would otherwise pass everything.
func TestHarnessCatchesFaults(t *testing.T) {
	files := corpus(t)
	// Small traces first: any trace with the item a fault needs will do.
	size := func(f string) int64 {
		st, err := os.Stat(f)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	slices.SortFunc(files, func(a, b string) int { return cmp.Compare(size(a), size(b)) })

	type mapped struct {
		o        *Oracle
		rec      *recorder
		sum      *mapping.Summary
		baseline map[string]bool
	}
	cache := make(map[string]*mapped)
	load := func(f string) *mapped {
		if m, ok := cache[f]; ok {
			return m
		}
		o, data := readOracle(t, f)
		rec, sum := mapTrace(t, f, data)
		m := &mapped{o: o, rec: rec, sum: sum, baseline: make(map[string]bool)}
		if sum != nil {
			// What the unchanged output already reports (a genuine
			// mapping bug) does not count as catching a fault.
			var base collector
			compare(&base, o, rec, sum)
			for _, msg := range base.msgs {
				m.baseline[msg] = true
			}
		}
		cache[f] = m
		return m
	}

	for _, ft := range faults {
		t.Run(ft.name, func(t *testing.T) {
			for _, f := range files {
				m := load(f)
				if m.sum == nil {
					continue
				}
				rec, sum := m.rec.clone(), *m.sum
				if !ft.inject(rec, &sum) {
					continue
				}
				var got collector
				compare(&got, m.o, rec, &sum)
				for _, msg := range got.msgs {
					if !m.baseline[msg] {
						return // caught
					}
				}
				t.Errorf("injected into %s, the fault went unreported", f)
				return
			}
			t.Errorf("no trace in the corpus has an item to inject the fault into")
		})
	}
}

// TestRecorderProtocol checks that the recorder notices a mapping that
// breaks the Sink protocol, which only shows in the order of the calls.
func TestRecorderProtocol(t *testing.T) {
	begin := func(r *recorder) { r.Begin(&mapping.Meta{}) }
	g := func(id mapping.GoID) func(*recorder) {
		return func(r *recorder) { r.Goroutine(&mapping.Goroutine{ID: id, Creator: mapping.NoGoroutine}) }
	}
	for _, tc := range []struct {
		name  string
		calls []func(*recorder)
		bad   bool
	}{
		{"in order", []func(*recorder){begin, g(1),
			func(r *recorder) { r.Proc(&mapping.Proc{ID: 0}) },
			func(r *recorder) { r.Thread(&mapping.Thread{ID: 7}) },
			func(r *recorder) { r.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "main.main"}}}) },
			func(r *recorder) { r.Log(&mapping.Log{G: 1, P: 0, M: 7, Stack: 1}) },
			func(r *recorder) { r.End(&mapping.Summary{}) },
		}, false},
		{"item before Begin", []func(*recorder){g(1), begin}, true},
		{"item after End", []func(*recorder){begin, func(r *recorder) { r.End(&mapping.Summary{}) }, g(1)}, true},
		{"Begin twice", []func(*recorder){begin, begin}, true},
		{"goroutine not delivered", []func(*recorder){begin, func(r *recorder) { r.Log(&mapping.Log{G: 3, P: mapping.NoProc, M: mapping.NoThread}) }}, true},
		{"P not delivered", []func(*recorder){begin, g(1), func(r *recorder) { r.Log(&mapping.Log{G: 1, P: 2, M: mapping.NoThread}) }}, true},
		{"M not delivered", []func(*recorder){begin, func(r *recorder) { r.CPUSample(&mapping.CPUSample{G: mapping.NoGoroutine, P: mapping.NoProc, M: 9}) }}, true},
		{"stack not delivered", []func(*recorder){begin, g(1), func(r *recorder) {
			r.Region(&mapping.Region{G: 1, EndStack: 4})
		}}, true},
		{"stack delivered twice", []func(*recorder){begin,
			func(r *recorder) { r.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "f"}}}) },
			func(r *recorder) { r.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "f"}}}) },
		}, true},
		{"update before first delivery", []func(*recorder){begin, func(r *recorder) {
			r.Goroutine(&mapping.Goroutine{ID: 1, Creator: mapping.NoGoroutine, Updated: true})
		}}, true},
		{"item about a goroutine after its end", []func(*recorder){begin, g(1),
			func(r *recorder) {
				r.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: 1, By: 1, P: mapping.NoProc, M: mapping.NoThread})
			},
			func(r *recorder) { r.Log(&mapping.Log{G: 1, P: mapping.NoProc, M: mapping.NoThread}) },
		}, true},
		{"goroutine ID reused after its end", []func(*recorder){begin, g(1),
			func(r *recorder) {
				r.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: 1, By: 1, P: mapping.NoProc, M: mapping.NoThread})
			},
			g(1),
			func(r *recorder) { r.Log(&mapping.Log{G: 1, P: mapping.NoProc, M: mapping.NoThread}) },
		}, false},
		{"creator not delivered", []func(*recorder){begin, func(r *recorder) {
			r.Goroutine(&mapping.Goroutine{ID: 2, Creator: 1})
		}}, true},
	} {
		r := newRecorder()
		for _, call := range tc.calls {
			call(r)
		}
		if bad := len(r.problems) > 0; bad != tc.bad {
			t.Errorf("%s: problems %q, want some: %v", tc.name, r.problems, tc.bad)
		}
	}
}
