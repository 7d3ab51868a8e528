package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestFilters converts every trace through a time window and through
// selections of a goroutine, a task type and a region type. The filtered
// model must keep the delivery protocol, keep unchanged what the filter
// does not cut and leave out the rest, and both file formats must stay
// valid and agree with it.
func TestFilters(t *testing.T) {
	files := append(corpus(t), regressionTraces(t)...)
	if !raceEnabled {
		files = append(files, goTraces(t)...)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, data := readOracle(t, file)
			full, sum := mapTrace(t, file, data)
			if sum == nil {
				t.Fatal("no summary")
			}
			dur := time.Duration(sum.End - sum.Start)
			filters := map[string]*mapping.Filter{
				"window": {From: mapping.Bound{Offset: dur / 3, Set: true}, To: mapping.Bound{Offset: 2 * dur / 3, Set: true}},
			}
			if g := busiest(full); g != mapping.NoGoroutine {
				filters["goroutine"] = &mapping.Filter{Goroutines: []mapping.GoID{g}}
				filters["related"] = &mapping.Filter{Goroutines: []mapping.GoID{g}, Related: true}
			}
			if len(full.tasks) > 0 && full.tasks[0].Type != "" {
				filters["task"] = &mapping.Filter{Tasks: []string{full.tasks[0].Type}}
			}
			if len(full.regions) > 0 {
				filters["region"] = &mapping.Filter{Regions: []string{full.regions[0].Type}}
			}
			for _, r := range full.regions {
				// A window from where a nested region ends cuts the
				// regions it nests in just after it.
				if r.Parent != mapping.NoRegion && r.Flags == 0 {
					at := time.Duration(r.End - sum.Start)
					filters["from a region's end"] = &mapping.Filter{From: mapping.Bound{Offset: at, Set: true}, To: mapping.Bound{Offset: at + dur/10, Set: true}}
					break
				}
			}
			for name, f := range filters {
				t.Run(name, func(t *testing.T) {
					rec, fsum, pf, cj := filtered(t, file, data, f)
					for _, p := range rec.problems {
						t.Errorf("protocol: %s", p)
					}
					checkFiltered(t, name, f, full, sum, rec)
					checkNesting(t, rec.regions)
					rep, err := perfettocheck.Check(bytes.NewReader(pf))
					if err != nil {
						t.Fatalf("invalid Perfetto trace: %v", err)
					}
					comparePerfetto(t, rec, fsum, rep)
					crep, err := chromecheck.Check(cj)
					if err != nil {
						t.Fatalf("invalid Chrome JSON: %v", err)
					}
					compareChrome(t, rec, fsum, crep)
					checkNoEmptyLanes(t, f, rep, crep)
				})
			}
		})
	}
}

// busiest is the goroutine with the most state changes, or NoGoroutine
// if the trace has none (some of Go's parser tests have only Ps).
func busiest(rec *recorder) mapping.GoID {
	n := map[mapping.GoID]int{}
	best := mapping.NoGoroutine
	for _, s := range rec.states {
		n[s.G]++
		if best == mapping.NoGoroutine || n[s.G] > n[best] {
			best = s.G
		}
	}
	return best
}

// filtered runs f over data into a recorder, a Perfetto writer and a Chrome
// JSON writer in one pass.
func filtered(t *testing.T, file string, data []byte, f *mapping.Filter) (*recorder, *mapping.Summary, []byte, []byte) {
	t.Helper()
	if f.NeedsPrepass() {
		if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
			t.Fatalf("prepass: %v", err)
		}
	}
	rec := newRecorder()
	var pf, cj bytes.Buffer
	_, err := mapping.Map(bytes.NewReader(data), f.Sink(mapping.FanOut(rec, perfetto.NewWriter(&pf), chromejson.NewWriter(&cj))),
		mapping.WithInputName(filepath.Base(file)))
	if err != nil {
		t.Fatal(err)
	}
	return rec, rec.summary, pf.Bytes(), cj.Bytes()
}

// checkFiltered compares the filtered model with the whole one.
func checkFiltered(t *testing.T, name string, f *mapping.Filter, full *recorder, sum *mapping.Summary, rec *recorder) {
	t.Helper()
	switch name {
	case "window":
		from, to := sum.Start+mapping.Time(f.From.Offset), sum.Start+mapping.Time(f.To.Offset)
		var tol mapping.Time
		if sum.FormatVersion < "go1.22" {
			tol = 2
		}
		if rec.meta.Start != from || rec.summary.Start != from || rec.summary.End != to {
			t.Errorf("window [%d, %d]: meta starts at %d, summary spans [%d, %d]", from, to, rec.meta.Start, rec.summary.Start, rec.summary.End)
		}
		// What lies inside the window is passed on untouched; what
		// crosses it is clipped and marked; nothing else is kept.
		sameInside(t, "goroutine state", tol, full.states, rec.states, from, to,
			func(s mapping.GoroutineState) (mapping.Time, mapping.Time, mapping.Flags) {
				return s.Start, s.End, s.Flags
			},
			func(s mapping.GoroutineState) string {
				return fmt.Sprintf("G%d %v %s", s.G, s.State, s.Reason)
			})
		sameInside(t, "region", tol, full.regions, rec.regions, from, to,
			func(r mapping.Region) (mapping.Time, mapping.Time, mapping.Flags) { return r.Start, r.End, r.Flags },
			func(r mapping.Region) string { return fmt.Sprintf("G%d %s", r.G, r.Type) })
		// A region kept whole keeps its times by state; one the window
		// cut has none.
		type regionAt struct {
			g          mapping.GoID
			typ        string
			start, end mapping.Time
		}
		whole := map[regionAt]mapping.Region{}
		for _, r := range full.regions {
			whole[regionAt{r.G, r.Type, r.Start, r.End}] = r
		}
		for _, r := range rec.regions {
			w, ok := whole[regionAt{r.G, r.Type, r.Start, r.End}]
			switch {
			case r.Timed && (!ok || w.Time != r.Time || !w.Timed):
				t.Errorf("region G%d %s [%d, %d]: times %+v, where the full pass has %+v (found %v)", r.G, r.Type, r.Start, r.End, r.Time, w.Time, ok)
			case !r.Timed && ok && w.Timed && r.Flags == w.Flags:
				t.Errorf("region G%d %s [%d, %d], kept whole, lost its times", r.G, r.Type, r.Start, r.End)
			}
		}
		sameInside(t, "range", tol, full.ranges, rec.ranges, from, to,
			func(r mapping.Range) (mapping.Time, mapping.Time, mapping.Flags) { return r.Start, r.End, r.Flags },
			func(r mapping.Range) string { return fmt.Sprintf("%s G%d P%d", r.Name, r.G, r.P) })
		sameInside(t, "task", tol, full.tasks, rec.tasks, from, to,
			func(k mapping.Task) (mapping.Time, mapping.Time, mapping.Flags) { return k.Start, k.End, k.Flags },
			func(k mapping.Task) string { return fmt.Sprintf("%d %s", k.ID, k.Type) })
		// A kept task's traceparent logged before the window is passed on
		// at its start (see mapping.Filter), beside what the window cuts.
		var logs []mapping.Log
		for _, l := range rec.logs {
			if l.Category != mapping.CategoryTraceparent || l.Time != from || !loggedBefore(full.logs, l, from) {
				logs = append(logs, l)
			}
		}
		sameInside(t, "log", tol, full.logs, logs, from, to,
			func(l mapping.Log) (mapping.Time, mapping.Time, mapping.Flags) { return l.Time, l.Time, 0 },
			func(l mapping.Log) string { return fmt.Sprintf("G%d %s %q", l.G, l.Category, l.Message) })
	case "goroutine":
		g := f.Goroutines[0]
		var want int
		for _, s := range full.states {
			if s.G == g {
				want++
			}
		}
		got := 0
		for _, s := range rec.states {
			if s.G != g {
				t.Errorf("state of G%d kept, only G%d selected", s.G, g)
			}
			got++
		}
		if got != want {
			t.Errorf("G%d: %d states kept, the trace has %d", g, got, want)
		}
		// A selection of goroutines keeps the whole trace's GC.
		sameContext(t, 0, full, rec, sum.Start, sum.End)
	case "related":
		keep := map[mapping.GoID]bool{f.Goroutines[0]: true}
		for _, fl := range full.flows {
			if fl.Kind == mapping.GoCreated || fl.Kind == mapping.GoUnblocked {
				if fl.From.G == f.Goroutines[0] {
					keep[fl.To.G] = true
				}
				if fl.To.G == f.Goroutines[0] && fl.From.G != mapping.NoGoroutine {
					keep[fl.From.G] = true
				}
			}
		}
		got := map[mapping.GoID]bool{}
		for _, s := range rec.states {
			got[s.G] = true
		}
		for g := range keep {
			if !got[g] {
				t.Errorf("G%d interacts with G%d but none of its states was kept", g, f.Goroutines[0])
			}
		}
	case "task":
		typ := f.Tasks[0]
		parent := map[mapping.TaskID]mapping.TaskID{}
		byID := map[mapping.TaskID]string{}
		for _, k := range full.tasks {
			parent[k.ID], byID[k.ID] = k.Parent, k.Type
		}
		in := func(id mapping.TaskID) bool {
			for i := 0; id != mapping.NoTask && i <= len(parent); id, i = parent[id], i+1 {
				if byID[id] == typ {
					return true
				}
			}
			return false
		}
		want := 0
		for _, r := range full.regions {
			if in(r.Task) {
				want++
			}
		}
		for _, r := range rec.regions {
			if !in(r.Task) {
				t.Errorf("region %s of task %d kept, not under a %s task", r.Type, r.Task, typ)
			}
		}
		if len(rec.regions) != want {
			t.Errorf("%d regions kept, the %s tasks have %d", len(rec.regions), typ, want)
		}
		for _, l := range rec.logs {
			if !in(l.Task) {
				t.Errorf("log %q of task %d kept, not under a %s task", l.Message, l.Task, typ)
			}
		}
		// The tasks kept, and their regions and logs, which may come
		// after a task's end.
		var kept []span
		for _, k := range full.tasks {
			if in(k.ID) {
				kept = append(kept, span{k.Start, k.End})
			}
		}
		for _, r := range full.regions {
			if in(r.Task) {
				kept = append(kept, span{r.Start, r.End})
			}
		}
		for _, l := range full.logs {
			if in(l.Task) {
				kept = append(kept, span{l.Time, l.Time})
			}
		}
		checkSelectionWindow(t, full, sum, rec, kept)
	case "region":
		typ := f.Regions[0]
		var outer []mapping.Region
		for _, r := range full.regions {
			if r.Type == typ {
				outer = append(outer, r)
			}
		}
		inside := func(r mapping.Region) bool {
			for _, o := range outer {
				if o.G == r.G && o.Start <= r.Start && r.End <= o.End {
					return true
				}
			}
			return false
		}
		want := 0
		for _, r := range full.regions {
			if inside(r) {
				want++
			}
		}
		for _, r := range rec.regions {
			if !inside(r) {
				t.Errorf("region %s of G%d at %d kept, not in a %s region", r.Type, r.G, r.Start, typ)
			}
		}
		if len(rec.regions) != want {
			t.Errorf("%d regions kept, %d are %s regions or in them", len(rec.regions), want, typ)
		}
		// The matching regions, and their tasks as context, whole.
		var kept []span
		tasks := map[mapping.TaskID]bool{}
		for _, r := range outer {
			kept = append(kept, span{r.Start, r.End})
			tasks[r.Task] = r.Task != mapping.NoTask
		}
		for _, k := range full.tasks {
			if tasks[k.ID] {
				kept = append(kept, span{k.Start, k.End})
			}
		}
		checkSelectionWindow(t, full, sum, rec, kept)
	}
}

type span struct{ start, end mapping.Time }

// sameContext checks that a selection keeps the GC's work as context
// over [from, to]: the ranges of the process (GC cycles, stop-the-world
// pauses) and of Ps and Ms (sweeps), whatever goroutine ran there.
func sameContext(t *testing.T, tol mapping.Time, full, rec *recorder, from, to mapping.Time) {
	t.Helper()
	context := func(rs []mapping.Range) []mapping.Range {
		var out []mapping.Range
		for _, r := range rs {
			if r.Kind == mapping.RangeSTW || r.Scope != mapping.ScopeGoroutine {
				out = append(out, r)
			}
		}
		return out
	}
	sameInside(t, "process, P or M range", tol, context(full.ranges), context(rec.ranges), from, to,
		func(r mapping.Range) (mapping.Time, mapping.Time, mapping.Flags) { return r.Start, r.End, r.Flags },
		func(r mapping.Range) string { return fmt.Sprintf("%s %s P%d M%d", r.Name, r.Reason, r.P, r.M) })
}

// checkSelectionWindow checks that a selection of tasks or regions with
// no window keeps the process-wide context (GC, stop-the-world pauses,
// counters) over the time of what it keeps, from the earliest start to
// the latest end of kept, not over the whole trace: that is its window,
// as if it were given (see mapping.Filter.Window).
func checkSelectionWindow(t *testing.T, full *recorder, sum *mapping.Summary, rec *recorder, kept []span) {
	t.Helper()
	if len(kept) == 0 {
		return
	}
	from, to := kept[0].start, kept[0].end
	for _, k := range kept {
		from, to = min(from, k.start), max(to, k.end)
	}
	var tol mapping.Time
	if sum.FormatVersion < "go1.22" {
		tol = 2
	}
	if want := max(sum.Start, from); rec.meta.Start != want || rec.summary.Start != want || rec.summary.End != min(sum.End, to) {
		t.Errorf("what the selection keeps spans [%d, %d]: meta starts at %d, summary spans [%d, %d]", from, to, rec.meta.Start, rec.summary.Start, rec.summary.End)
	}
	sameContext(t, tol, full, rec, from, to)
	for _, c := range rec.counters {
		if c.Time < from || c.Time > to {
			t.Errorf("counter %s at %d kept, outside what the selection keeps [%d, %d]", c.Name, c.Time, from, to)
			break
		}
	}
	for _, c := range rec.samples {
		if c.Time < from || c.Time > to {
			t.Errorf("CPU sample at %d kept, outside what the selection keeps [%d, %d]", c.Time, from, to)
			break
		}
	}
}

// loggedBefore reports whether the whole trace has log l, of the same
// task, before the window's start from.
func loggedBefore(full []mapping.Log, l mapping.Log, from mapping.Time) bool {
	return slices.ContainsFunc(full, func(f mapping.Log) bool {
		return f.Time < from && f.Task == l.Task && f.Category == l.Category && f.Message == l.Message
	})
}

// sameInside checks a window filter's output for one kind of item: items
// strictly inside the window are the same as in the whole trace (within
// tol nanoseconds: the parser's reading of the old formats is not
// deterministic to the nanosecond), items crossing an edge are clipped to
// it and marked, and there are as many items as the whole trace has in or
// across the window.
func sameInside[T any](t *testing.T, what string, tol mapping.Time, full, got []T, from, to mapping.Time,
	span func(T) (mapping.Time, mapping.Time, mapping.Flags), key func(T) string) {
	t.Helper()
	// Regions cut at the start are put a few nanoseconds after it;
	// "strictly inside" leaves room for that.
	const slack = 64
	type times struct{ s, e mapping.Time }
	want, gotInside := map[string][]times{}, map[string][]times{}
	crossing, gotCrossing := 0, 0
	// Items that end or begin exactly on an edge are kept as they are.
	type item struct {
		key  string
		s, e mapping.Time
	}
	onEdge := map[item]bool{}
	for _, x := range full {
		s, e, _ := span(x)
		switch {
		case e < from || s > to:
		case s > from+slack+tol && e < to-tol:
			want[key(x)] = append(want[key(x)], times{s, e})
		default:
			crossing++
			if s >= from && e <= to {
				onEdge[item{key(x), s, e}] = true
			}
		}
	}
	for _, x := range got {
		s, e, fl := span(x)
		if s < from || e > to {
			t.Errorf("%s %s [%d, %d] lies outside the window [%d, %d]", what, key(x), s, e, from, to)
		}
		if s > from+slack+tol && e < to-tol {
			gotInside[key(x)] = append(gotInside[key(x)], times{s, e})
			continue
		}
		gotCrossing++
		if (s == from || e == to) && fl&(mapping.OpenStart|mapping.OpenEnd) == 0 && s != e && !onEdge[item{key(x), s, e}] {
			t.Errorf("%s %s [%d, %d] touches the window's edge but is not marked open", what, key(x), s, e)
		}
	}
	bad := 0
	for k, w := range want {
		g := gotInside[k]
		cmp := func(a, b times) int { return int(a.s - b.s) }
		slices.SortFunc(w, cmp)
		slices.SortFunc(g, cmp)
		if len(g) != len(w) {
			t.Errorf("%s %s: %d inside the window, the trace has %d", what, k, len(g), len(w))
			bad++
		} else {
			for i := range w {
				if d := w[i].s - g[i].s; d < -tol || d > tol || w[i].e-g[i].e < -tol || w[i].e-g[i].e > tol {
					t.Errorf("%s %s: [%d, %d] inside the window, the trace has [%d, %d]", what, k, g[i].s, g[i].e, w[i].s, w[i].e)
					bad++
					break
				}
			}
		}
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	for k, g := range gotInside {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %s: %d inside the window, the trace has none", what, k, len(g))
		}
	}
	if gotCrossing != crossing {
		t.Errorf("%d %ss at the window's edges, the trace has %d crossing it", gotCrossing, what, crossing)
	}
}

// FuzzFilter runs filters with arbitrary windows and selections over the
// sample traces: the filtered model must keep the delivery protocol and
// stay in its window, whatever the filter, and the Perfetto output made
// of it must be valid and hold it, item for item.
func FuzzFilter(f *testing.F) {
	files := corpus(f)
	f.Add(uint8(0), int64(0), int64(-1), int64(1), false, "", "")
	f.Add(uint8(1), int64(1e6), int64(3e6), int64(-1), false, "http.request", "")
	f.Add(uint8(2), int64(5e5), int64(5e5), int64(7), true, "", "lookup")
	f.Fuzz(func(t *testing.T, which uint8, from, to, g int64, related bool, task, region string) {
		file := files[int(which)%len(files)]
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		flt := &mapping.Filter{Related: related && g >= 0}
		if from >= 0 {
			flt.From = mapping.Bound{Offset: time.Duration(from), Set: true}
		}
		if to >= 0 {
			flt.To = mapping.Bound{Offset: time.Duration(to), Set: true}
		}
		if g >= 0 {
			flt.Goroutines = []mapping.GoID{mapping.GoID(g % 64)}
		}
		if task != "" {
			flt.Tasks = []string{task}
		}
		if region != "" {
			flt.Regions = []string{region}
		}
		if flt.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), flt.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		rec := newRecorder()
		var pf bytes.Buffer
		_, err = mapping.Map(bytes.NewReader(data), flt.Sink(mapping.FanOut(rec, perfetto.NewWriter(&pf))))
		if errors.Is(err, mapping.ErrWindow) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rec.problems {
			t.Errorf("protocol: %s", p)
		}
		rep, err := perfettocheck.Check(bytes.NewReader(pf.Bytes()))
		if err != nil {
			t.Fatalf("invalid Perfetto trace: %v", err)
		}
		comparePerfetto(t, rec, rec.summary, rep)
		lo, hi := rec.summary.Start, rec.summary.End
		for _, s := range rec.states {
			if s.Start < lo || s.End > hi || s.End < s.Start {
				t.Errorf("G%d %v [%d, %d] outside the output's span [%d, %d]", s.G, s.State, s.Start, s.End, lo, hi)
			}
		}
		for _, r := range rec.regions {
			if r.End < r.Start || (flt.From.Set && r.Start < lo) || (flt.To.Set && r.End > hi) {
				t.Errorf("region %s [%d, %d] outside the window [%d, %d]", r.Type, r.Start, r.End, lo, hi)
			}
		}
		checkNesting(t, rec.regions)
	})
}

// checkNesting checks that every region kept lies within the region it
// nests in, where that one is kept too, as viewers that nest slices by
// their times need.
func checkNesting(t *testing.T, regions []mapping.Region) {
	t.Helper()
	byID := map[mapping.RegionID]mapping.Region{}
	for _, r := range regions {
		byID[r.ID] = r
	}
	for _, r := range regions {
		if p, ok := byID[r.Parent]; ok && r.Parent != mapping.NoRegion && (r.Start < p.Start || r.End > p.End) {
			t.Errorf("region %s [%d, %d] is not inside %s [%d, %d], which it nests in", r.Type, r.Start, r.End, p.Type, p.Start, p.End)
		}
	}
}
