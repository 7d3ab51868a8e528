package mapping_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
		{name: "ends before the trace", data: withClock, f: mapping.Filter{To: mapping.Bound{Wall: wall.Add(-time.Hour), Set: true}},
			wantErr: "before the trace starts"},
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

// TestBoundWithoutSet: a bound with a non-zero offset or wall-clock time
// bounds the window without Set, as it does with it; Set still makes the
// zero offset, the trace's start, a bound.
func TestBoundWithoutSet(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	var all mapping.Tally
	sum, err := mapping.Map(bytes.NewReader(data), &all)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Duration(sum.End - sum.Start)
	wall := sum.Clock.Wall.Add(time.Duration(sum.Start + mapping.Time(d/2) - sum.Clock.Trace))
	for _, tc := range []struct {
		name      string
		with, not mapping.Filter // the window with Set, and without
		str       string         // what the bound without Set prints
	}{
		{"from an offset", mapping.Filter{From: mapping.Bound{Offset: d / 2, Set: true}}, mapping.Filter{From: mapping.Bound{Offset: d / 2}}, (d / 2).String()},
		{"to an offset", mapping.Filter{To: mapping.Bound{Offset: d / 2, Set: true}}, mapping.Filter{To: mapping.Bound{Offset: d / 2}}, (d / 2).String()},
		{"from a wall time", mapping.Filter{From: mapping.Bound{Wall: wall, Set: true}}, mapping.Filter{From: mapping.Bound{Wall: wall}}, wall.Format(time.RFC3339Nano)},
		{"to a wall time", mapping.Filter{To: mapping.Bound{Wall: wall, Set: true}}, mapping.Filter{To: mapping.Bound{Wall: wall}}, wall.Format(time.RFC3339Nano)},
	} {
		b := tc.not.From
		if b == (mapping.Bound{}) {
			b = tc.not.To
		}
		if b.String() != tc.str {
			t.Errorf("%s: the bound prints as %q, want %q", tc.name, b, tc.str)
		}
		if tc.not.Empty() {
			t.Errorf("%s: the filter is empty", tc.name)
		}
		var with, not mapping.Tally
		if _, err := mapping.Map(bytes.NewReader(data), tc.with.Sink(&with)); err != nil {
			t.Fatal(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), tc.not.Sink(&not)); err != nil {
			t.Fatal(err)
		}
		if not.GoStates != with.GoStates || not.Meta.Start != with.Meta.Start || not.Summary.End != with.Summary.End {
			t.Errorf("%s: without Set, %v states from %d to %d; with it, %v from %d to %d", tc.name,
				not.GoStates, not.Meta.Start, not.Summary.End, with.GoStates, with.Meta.Start, with.Summary.End)
		}
		if with.GoStates == all.GoStates {
			t.Errorf("%s: the window keeps every state", tc.name)
		}
	}
	// Set alone: the window starts, or ends, at the trace's start.
	start := mapping.Bound{Set: true}
	if start.String() != "0s" || (mapping.Bound{}).String() != "unbounded" {
		t.Errorf("bounds print as %q and %q", start, mapping.Bound{})
	}
	if (&mapping.Filter{From: start}).Empty() || !(&mapping.Filter{}).Empty() {
		t.Error("Set does not bound the window at the trace's start")
	}
	var upToStart mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), (&mapping.Filter{To: start}).Sink(&upToStart)); err != nil {
		t.Fatal(err)
	}
	if upToStart.Summary.End != sum.Start {
		t.Errorf("a window up to the start ends %v after it", time.Duration(upToStart.Summary.End-sum.Start))
	}
}

// tpRecorder records what a filter passes on of tasks and logs, and checks
// that logs keep the protocol: their goroutine delivered and not ended,
// and in time order.
type tpRecorder struct {
	mapping.NopSink
	stacks   map[mapping.StackID]string // their frames' functions
	tasks    map[mapping.TaskID]mapping.Task
	logs     []mapping.Log
	regions  []string // the types of region, once each
	declared map[mapping.GoID]bool
	ended    map[mapping.GoID]bool
	problems []string
}

func newTPRecorder() *tpRecorder {
	return &tpRecorder{stacks: map[mapping.StackID]string{}, tasks: map[mapping.TaskID]mapping.Task{}, declared: map[mapping.GoID]bool{}, ended: map[mapping.GoID]bool{}}
}

func (r *tpRecorder) Stack(s *mapping.Stack) error {
	var fns []string
	for _, f := range s.Frames {
		fns = append(fns, f.Func)
	}
	r.stacks[s.ID] = strings.Join(fns, "<")
	return nil
}

func (r *tpRecorder) Goroutine(g *mapping.Goroutine) error {
	r.declared[g.ID] = true
	if !g.Updated {
		delete(r.ended, g.ID)
	}
	return nil
}

func (r *tpRecorder) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		r.ended[e.G] = true
	}
	return nil
}

func (r *tpRecorder) Task(k *mapping.Task) error {
	c := *k
	c.Goroutines = slices.Clone(k.Goroutines)
	r.tasks[k.ID] = c
	return nil
}

func (r *tpRecorder) Region(x *mapping.Region) error {
	if !slices.Contains(r.regions, x.Type) {
		r.regions = append(r.regions, x.Type)
	}
	return nil
}

func (r *tpRecorder) Log(l *mapping.Log) error {
	if l.G != mapping.NoGoroutine && (!r.declared[l.G] || r.ended[l.G]) {
		r.problems = append(r.problems, fmt.Sprintf("log %q names G%d, not delivered or ended", l.Message, l.G))
	}
	if _, ok := r.stacks[l.Stack]; l.Stack != mapping.NoStack && !ok {
		r.problems = append(r.problems, fmt.Sprintf("log %q names stack %d, not delivered", l.Message, l.Stack))
	}
	if n := len(r.logs); n > 0 && l.Time < r.logs[n-1].Time {
		r.problems = append(r.problems, fmt.Sprintf("log %q at %d after one at %d", l.Message, l.Time, r.logs[n-1].Time))
	}
	r.logs = append(r.logs, *l)
	return nil
}

// traceparents returns the first traceparent log of each task.
func (r *tpRecorder) traceparents() map[mapping.TaskID]mapping.Log {
	tps := map[mapping.TaskID]mapping.Log{}
	for _, l := range r.logs {
		if _, ok := tps[l.Task]; l.Category == mapping.CategoryTraceparent && l.Task != mapping.NoTask && !ok {
			tps[l.Task] = l
		}
	}
	return tps
}

// TestFilterKeepsTraceparents runs, over the sample traces with
// traceparent logs, windows that begin after a task logged its
// traceparent, and selections of regions, tasks and goroutines that leave
// the log out: every task kept must have its traceparent, within the span
// the filter gave it, and no task left out may have one.
func TestFilterKeepsTraceparents(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	more, _ := filepath.Glob(filepath.Join("..", "conformance", "testdata", "*.trace"))
	withTP := 0
	for _, path := range append(paths, more...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		full := newTPRecorder()
		sum, err := mapping.Map(bytes.NewReader(data), full)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		tps := full.traceparents()
		if len(tps) == 0 {
			if filepath.Base(path) == "annotations.go1.26.trace" {
				t.Fatal("annotations.go1.26.trace has no traceparent logs")
			}
			continue
		}
		withTP++
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, p := range full.problems {
				t.Fatalf("unfiltered: %s", p)
			}
			filters := map[string]*mapping.Filter{}
			offset := func(at mapping.Time) mapping.Bound {
				return mapping.Bound{Offset: time.Duration(at - sum.Start), Set: true}
			}
			// cut names the windows that cut each task after its
			// traceparent, and the task they must keep.
			cut := map[string]mapping.TaskID{}
			var firstFrom mapping.Bound
			for id, l := range tps {
				k := full.tasks[id]
				if l.Time >= k.End {
					continue
				}
				from := l.Time + (k.End-l.Time)/2
				name := fmt.Sprintf("from %v", time.Duration(from-sum.Start))
				filters[name] = &mapping.Filter{From: offset(from)}
				cut[name] = id
				to := from + (k.End-from)/2
				name = fmt.Sprintf("from %v to %v", time.Duration(from-sum.Start), time.Duration(to-sum.Start))
				filters[name] = &mapping.Filter{From: offset(from), To: offset(to)}
				cut[name] = id
				if !firstFrom.Set || from < sum.Start+mapping.Time(firstFrom.Offset) {
					firstFrom = offset(from)
				}
				for _, g := range k.Goroutines {
					filters[fmt.Sprintf("goroutine %d", g)] = &mapping.Filter{Goroutines: []mapping.GoID{g}}
					filters[fmt.Sprintf("goroutine %d related", g)] = &mapping.Filter{Goroutines: []mapping.GoID{g}, Related: true}
					filters[fmt.Sprintf("goroutine %d from", g)] = &mapping.Filter{Goroutines: []mapping.GoID{g}, From: offset(from)}
				}
			}
			for _, r := range full.regions {
				filters["region "+r] = &mapping.Filter{Regions: []string{r}}
				if firstFrom.Set {
					filters["region "+r+" from"] = &mapping.Filter{Regions: []string{r}, From: firstFrom}
				}
			}
			for _, k := range full.tasks {
				if k.Type != "" {
					filters["task "+k.Type] = &mapping.Filter{Tasks: []string{k.Type}}
				}
			}
			if len(cut) == 0 {
				t.Fatal("no task logs its traceparent before it ends: no window cuts one after it")
			}
			for name, f := range filters {
				t.Run(name, func(t *testing.T) {
					if f.NeedsPrepass() {
						if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
							t.Fatal(err)
						}
					}
					got := newTPRecorder()
					if _, err := mapping.Map(bytes.NewReader(data), f.Sink(got)); err != nil {
						t.Fatal(err)
					}
					if id, ok := cut[name]; ok {
						if _, kept := got.tasks[id]; !kept {
							t.Fatalf("task %d, which the window cuts, was not kept", id)
						}
					}
					for _, p := range got.problems {
						t.Error(p)
					}
					gotTPs := map[mapping.TaskID][]mapping.Log{}
					for _, l := range got.logs {
						if l.Category != mapping.CategoryTraceparent {
							continue
						}
						if _, kept := got.tasks[l.Task]; !kept {
							t.Errorf("traceparent %q of task %d, which was not kept", l.Message, l.Task)
						}
						gotTPs[l.Task] = append(gotTPs[l.Task], l)
					}
					for id, k := range got.tasks {
						want, ok := tps[id]
						if !ok {
							continue
						}
						g := gotTPs[id]
						if len(g) != 1 || g[0].Message != want.Message {
							t.Errorf("task %d [%d, %d]: traceparents %v, want %q", id, k.Start, k.End, g, want.Message)
							continue
						}
						if g[0].Time < k.Start || g[0].Time > k.End {
							t.Errorf("task %d: traceparent at %d, outside the task [%d, %d]", id, g[0].Time, k.Start, k.End)
						}
						// After a prepass, which tells the tasks kept, a
						// traceparent inside the window keeps its time: it
						// is not held until something names its task. One
						// before the window of a selection that sets its
						// own (see Filter.Window) comes at its start.
						from, _ := f.Window()
						start := sum.Start + mapping.Time(from.Offset)
						switch {
						case !f.NeedsPrepass() || f.From.Set || f.To.Set:
						case want.Time >= start && g[0].Time != want.Time:
							t.Errorf("task %d: traceparent at %d, logged at %d", id, g[0].Time, want.Time)
						case want.Time < start && g[0].Time != start:
							t.Errorf("task %d: traceparent at %d, logged at %d, before the selection's window at %d", id, g[0].Time, want.Time, start)
						}
					}
				})
			}
		})
	}
	if withTP == 0 {
		t.Fatal("no sample trace has traceparent logs")
	}
}

// orderRecorder is a tpRecorder that also notes the order of what it is
// given.
type orderRecorder struct {
	*tpRecorder
	order []string
}

func (r *orderRecorder) Task(k *mapping.Task) error {
	r.order = append(r.order, fmt.Sprintf("task %d", k.ID))
	return r.tpRecorder.Task(k)
}

func (r *orderRecorder) Region(x *mapping.Region) error {
	r.order = append(r.order, fmt.Sprintf("region %d", x.ID))
	return nil
}

func (r *orderRecorder) Log(l *mapping.Log) error {
	r.order = append(r.order, fmt.Sprintf("log %s %d", l.Message, l.Task))
	return r.tpRecorder.Log(l)
}

// TestFilterTraceparentCases drives a filter with model items for what
// the sample traces do not show: a traceparent whose goroutine is gone
// when the window begins, a task that ends before it, a traceparent after
// the window, a second traceparent in a task, and a goroutine selection
// that learns late that the task is kept.
func TestFilterTraceparentCases(t *testing.T) {
	const start = 1000
	at := func(ns mapping.Time) mapping.Bound {
		return mapping.Bound{Offset: time.Duration(ns - start), Set: true}
	}
	tp := func(ns mapping.Time, g mapping.GoID, task mapping.TaskID, msg string) *mapping.Log {
		return &mapping.Log{Time: ns, G: g, P: mapping.NoProc, M: mapping.NoThread, Task: task, Root: task, Category: mapping.CategoryTraceparent, Message: msg}
	}
	task := func(id mapping.TaskID, from, to mapping.Time, gs ...mapping.GoID) *mapping.Task {
		return &mapping.Task{ID: id, Root: id, Type: "request", Start: from, End: to, StartG: gs[0], EndG: gs[0], Goroutines: gs}
	}
	running := func(g mapping.GoID, from, to mapping.Time) *mapping.GoroutineState {
		return &mapping.GoroutineState{G: g, State: mapping.GoRunning, Start: from, End: to, P: mapping.NoProc, M: mapping.NoThread}
	}
	for _, tc := range []struct {
		name  string
		f     mapping.Filter
		items func(s mapping.Sink) error
		want  []string // the order of tasks, regions and logs passed on
		check func(t *testing.T, r *orderRecorder)
	}{
		{
			name: "goroutine gone before the window",
			f:    mapping.Filter{From: at(1500)},
			items: func(s mapping.Sink) error {
				return errors.Join(
					s.Log(tp(1100, 2, 5, "a")),
					s.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, Time: 1200, G: 2, By: mapping.NoGoroutine, P: mapping.NoProc, M: mapping.NoThread}),
					s.GoroutineState(running(1, 1400, 1600)),
					s.Task(task(5, 1050, 2000, 2, 1)))
			},
			want: []string{"log a 5", "task 5"},
			check: func(t *testing.T, r *orderRecorder) {
				if l := r.logs[0]; l.G != mapping.NoGoroutine || l.Time != 1500 {
					t.Errorf("log on G%d at %d, want on no goroutine at the window's start 1500", l.G, l.Time)
				}
			},
		},
		{
			name: "task ends before the window",
			f:    mapping.Filter{From: at(1500)},
			items: func(s mapping.Sink) error {
				return errors.Join(
					s.Log(tp(1100, 1, 6, "a")),
					s.Task(task(6, 1050, 1300, 1)),
					s.Log(tp(1400, 1, 7, "b")),
					s.Log(tp(1450, 1, 7, "second")),
					s.GoroutineState(running(1, 1400, 1600)),
					s.Task(task(7, 1350, 2000, 1)))
			},
			want: []string{"log b 7", "task 7"},
		},
		{
			name: "traceparent after the window",
			f:    mapping.Filter{To: at(1500)},
			items: func(s mapping.Sink) error {
				return errors.Join(
					s.Log(tp(1600, 1, 8, "a")),
					s.Region(&mapping.Region{ID: 1, G: 1, Task: 8, Root: 8, Type: "work", Start: 1400, End: 1700}),
					s.Task(task(8, 1300, 1800, 1)),
					s.Log(tp(1900, 1, 9, "b")),
					s.Task(task(9, 1850, 1950, 1)))
			},
			want: []string{"log a 8", "region 1", "task 8"},
			check: func(t *testing.T, r *orderRecorder) {
				if l := r.logs[0]; l.Time != 1500 {
					t.Errorf("log at %d, want at the window's end 1500", l.Time)
				}
			},
		},
		{
			name: "goroutine selected",
			f:    mapping.Filter{Goroutines: []mapping.GoID{1}},
			items: func(s mapping.Sink) error {
				return errors.Join(
					s.Log(tp(1100, 2, 10, "a")),
					s.Log(tp(1150, 2, 11, "b")),
					s.Log(&mapping.Log{Time: 1200, G: 1, P: mapping.NoProc, M: mapping.NoThread, Task: 10, Root: 10, Message: "work"}),
					s.Task(task(11, 1050, 1250, 2)),
					s.Task(task(10, 1050, 1300, 2, 1)),
					s.Log(tp(1400, 2, 12, "c")),
					s.Task(task(12, 1350, 1500, 1, 2)))
			},
			want: []string{"log a 10", "log work 10", "task 10", "log c 12", "task 12"},
			check: func(t *testing.T, r *orderRecorder) {
				// G2, which logged it, is not kept: the log is its
				// task's alone, with no lane made for it.
				if l := r.logs[0]; l.Time != 1200 || l.G != mapping.NoGoroutine {
					t.Errorf("log on G%d at %d, want on no goroutine when its task was known to be kept, 1200", l.G, l.Time)
				}
				if l := r.logs[2]; l.Time != 1500 {
					t.Errorf("log at %d, want when its task, kept, ended: 1500", l.Time)
				}
			},
		},
		{
			// G2 is named by a kept event before it logs the traceparent:
			// declared, but not drawn, it gets no lane for the log either
			// (a pass from a window's start, where the event is not, did
			// not declare it, and the log had no goroutine there).
			name: "goroutine named before",
			f:    mapping.Filter{Goroutines: []mapping.GoID{1}},
			items: func(s mapping.Sink) error {
				return errors.Join(
					s.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoUnblocked, Time: 1090, G: 1, By: 2, P: mapping.NoProc, M: mapping.NoThread}),
					s.Log(tp(1100, 2, 10, "a")),
					s.Log(&mapping.Log{Time: 1200, G: 1, P: mapping.NoProc, M: mapping.NoThread, Task: 10, Root: 10, Message: "work"}),
					s.Task(task(10, 1050, 1300, 2, 1)))
			},
			want: []string{"log a 10", "log work 10", "task 10"},
			check: func(t *testing.T, r *orderRecorder) {
				if l := r.logs[0]; l.G != mapping.NoGoroutine {
					t.Errorf("the traceparent on G%d, want on no goroutine: G2 is not kept", l.G)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &orderRecorder{tpRecorder: newTPRecorder()}
			s := tc.f.Sink(r)
			err := errors.Join(
				s.Begin(&mapping.Meta{Start: start}),
				s.Goroutine(&mapping.Goroutine{ID: 1, Creator: mapping.NoGoroutine, Created: start}),
				s.Goroutine(&mapping.Goroutine{ID: 2, Creator: mapping.NoGoroutine, Created: start}),
				tc.items(s),
				s.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 3000}))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.problems {
				t.Error(p)
			}
			if !slices.Equal(r.order, tc.want) {
				t.Fatalf("passed on %q, want %q", r.order, tc.want)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// goRecorder keeps the first delivery of each goroutine.
type goRecorder struct {
	mapping.NopSink
	gs map[mapping.GoID]mapping.Goroutine
}

func (r *goRecorder) Goroutine(g *mapping.Goroutine) error {
	if _, ok := r.gs[g.ID]; !ok {
		r.gs[g.ID] = *g
	}
	return nil
}

// TestFilterWindowGoroutines checks that a goroutine created before a
// window is declared as one that began before it, from the window's
// start, as its states are cut there: a lifetime drawn from its
// declaration would otherwise show it created at the window's start.
func TestFilterWindowGoroutines(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	whole := &goRecorder{gs: map[mapping.GoID]mapping.Goroutine{}}
	sum, err := mapping.Map(bytes.NewReader(data), whole)
	if err != nil {
		t.Fatal(err)
	}
	from := (sum.End - sum.Start) / 3
	cut := &goRecorder{gs: map[mapping.GoID]mapping.Goroutine{}}
	f := mapping.Filter{From: mapping.Bound{Offset: time.Duration(from), Set: true}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(cut)); err != nil {
		t.Fatal(err)
	}
	start := sum.Start + from
	var before, inside int
	for id, g := range cut.gs {
		w := whole.gs[id]
		switch {
		case w.Created < start:
			before++
			if g.Created != start || !g.Flags.Has(mapping.OpenStart) {
				t.Errorf("G%d, created at %d before the window at %d, declared created at %d with flags %v", id, w.Created, start, g.Created, g.Flags)
			}
		default:
			inside++
			if g.Created != w.Created || g.Flags != w.Flags {
				t.Errorf("G%d, created at %d in the window, declared created at %d with flags %v", id, w.Created, g.Created, g.Flags)
			}
		}
	}
	if before == 0 || inside == 0 {
		t.Fatalf("%d goroutines created before the window and %d in it: the case is not covered", before, inside)
	}
}

// TestTaskZero checks that selecting task 0, which is no task (the
// background's, which no trace shows), keeps no task, where it had kept
// every task without a parent as its subtasks.
func TestTaskZero(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	for _, tasks := range [][]string{{"0"}, {"00"}} {
		f := &mapping.Filter{Tasks: tasks}
		if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
			t.Fatal(err)
		}
		var tally mapping.Tally
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&tally)); err != nil {
			t.Fatal(err)
		}
		if tally.Tasks != 0 || f.Kept() != 0 {
			t.Errorf("--task %s: %d tasks kept, %d items; want none", tasks[0], tally.Tasks, f.Kept())
		}
	}
}

// allGoroutines records every Goroutine item, updates too.
type allGoroutines struct {
	mapping.NopSink
	gs []mapping.Goroutine
}

func (r *allGoroutines) Goroutine(g *mapping.Goroutine) error {
	r.gs = append(r.gs, *g)
	return nil
}

// TestFilterWindowGoroutineUpdate: an update of a goroutine created before
// a window (a label the runtime gives a GC mark worker) is cut as its
// declaration is, so that the output, which keeps the last, does not show
// the goroutine begun inside the window.
func TestFilterWindowGoroutineUpdate(t *testing.T) {
	const start, from = 1000, 2000
	r := &allGoroutines{}
	f := &mapping.Filter{From: mapping.Bound{Offset: from - start, Set: true}}
	s := f.Sink(r)
	g := mapping.Goroutine{ID: 7, Creator: 1, Created: 1500}
	labelled := g
	labelled.Updated, labelled.Label = true, "GC (idle)"
	err := errors.Join(
		s.Begin(&mapping.Meta{Start: start}),
		s.Goroutine(&mapping.Goroutine{ID: 1, Creator: mapping.NoGoroutine, Created: start}),
		s.Goroutine(&g),
		s.GoroutineState(&mapping.GoroutineState{G: 7, State: mapping.GoWaiting, Start: 1600, End: 2500, Stack: mapping.NoStack, EndStack: mapping.NoStack}),
		s.Goroutine(&labelled),
		s.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 3000}))
	if err != nil {
		t.Fatal(err)
	}
	var items []mapping.Goroutine
	for _, x := range r.gs {
		if x.ID == 7 {
			items = append(items, x)
		}
	}
	if len(items) != 2 || items[1].Label != "GC (idle)" {
		t.Fatalf("G7 passed on as %+v, want its declaration and its update", items)
	}
	for _, x := range items {
		if x.Created != from || !x.Flags.Has(mapping.OpenStart) || x.Creator != mapping.NoGoroutine {
			t.Errorf("G7 (updated: %v) created at %d by G%d with flags %v, want at the window's start %d, begun before it, by no goroutine the output has", x.Updated, x.Created, x.Creator, x.Flags, from)
		}
	}
}
