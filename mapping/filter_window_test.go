package mapping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	rtrace "runtime/trace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestSelectionWindow checks that a task or region selection given no
// window takes the time of what it keeps as its window: the pass gives
// what the same selection gives with that window, so the process-wide
// context (GC, pauses, counters) lies within it. A goroutine selection,
// and a selection that keeps nothing, keep the whole trace.
func TestSelectionWindow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "annotations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	whole := newLifeRecorder()
	sum, err := mapping.Map(bytes.NewReader(data), whole)
	if err != nil {
		t.Fatal(err)
	}
	firstTask := &taskRecorder{}
	if _, err := mapping.Map(bytes.NewReader(data), firstTask); err != nil {
		t.Fatal(err)
	}
	if len(firstTask.ids) == 0 || len(whole.regs) == 0 {
		t.Fatal("the sample has no tasks or no regions")
	}
	pass := func(f *mapping.Filter) []string {
		t.Helper()
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		log := &callLog{}
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(log)); err != nil {
			t.Fatal(err)
		}
		return log.lines
	}
	var selections []*mapping.Filter
	selections = append(selections, &mapping.Filter{Tasks: []string{fmt.Sprint(firstTask.ids[0])}})
	for typ := range whole.tasks {
		selections = append(selections, &mapping.Filter{Tasks: []string{typ}})
	}
	for typ := range whole.regs {
		selections = append(selections, &mapping.Filter{Regions: []string{typ}})
	}
	narrower := 0
	for _, f := range selections {
		name := fmt.Sprintf("tasks %q regions %q", f.Tasks, f.Regions)
		got := pass(f)
		from, to := f.Window()
		if !from.Set || !to.Set || to.Offset < from.Offset {
			t.Errorf("%s: window %v to %v, want one that holds what it keeps", name, from, to)
			continue
		}
		if from.Offset > 0 || sum.Start+mapping.Time(to.Offset) < sum.End {
			narrower++
		}
		// The same as with that window given, but for a region that
		// begins at its start: a window given cuts it there, one taken
		// begins with it (see TestSelectionWindowKeepsWhatItKeeps).
		explicit := &mapping.Filter{Tasks: f.Tasks, Regions: f.Regions, From: from, To: to}
		noRegions := func(lines []string) []string {
			return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasPrefix(l, "Region ") })
		}
		sameLines(t, name+": sink calls, against the window given", noRegions(pass(explicit)), noRegions(got))
		lo, hi := sum.Start+mapping.Time(from.Offset), sum.Start+mapping.Time(to.Offset)
		for _, l := range got {
			call, item, _ := strings.Cut(l, " ")
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(item), &fields); err != nil {
				t.Fatal(err)
			}
			var at struct{ Start, End, Time mapping.Time }
			for name, v := range map[string]*mapping.Time{"Start": &at.Start, "End": &at.End, "Time": &at.Time} {
				_ = json.Unmarshal(fields[name], v) // a Region's Time is its times by state
			}
			switch call {
			case "Range", "GoroutineState", "Task", "Region":
				if at.Start < lo || at.End > hi {
					t.Errorf("%s: %s outside the window [%d, %d]", name, l, lo, hi)
				}
			case "Counter", "Log", "CPUSample":
				if at.Time < lo || at.Time > hi {
					t.Errorf("%s: %s outside the window [%d, %d]", name, l, lo, hi)
				}
			}
		}
	}
	if narrower == 0 {
		t.Error("no selection of the sample keeps less than the whole trace's time: the test checks nothing")
	}
	for _, f := range []*mapping.Filter{
		{Goroutines: []mapping.GoID{1}},
		{Goroutines: []mapping.GoID{1}, Related: true},
		{Goroutines: []mapping.GoID{1}, Tasks: []string{fmt.Sprint(firstTask.ids[0])}},
		{Tasks: []string{"no such task type"}},
		{Regions: []string{"no such region type"}},
	} {
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		if from, to := f.Window(); from.Set || to.Set {
			t.Errorf("goroutines %v tasks %q regions %q: window %v to %v, want the whole trace", f.Goroutines, f.Tasks, f.Regions, from, to)
		}
	}
}

// recordTrace records body with the runtime's tracer.
func recordTrace(t *testing.T, body func()) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Skipf("cannot trace: %v", err)
	}
	body()
	rtrace.Stop()
	return buf.Bytes()
}

// newGeneration makes the runtime's tracer begin a new generation, as a
// flight recorder's start and stop do.
func newGeneration(t *testing.T) {
	t.Helper()
	fr := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{})
	if err := fr.Start(); err != nil {
		t.Fatal(err)
	}
	fr.Stop()
	time.Sleep(time.Millisecond)
}

// keptItems runs a selection's prepass and its pass over data as the
// command does: of a file, the prepass reads what it needs, and the pass
// the generations of the window given, not of the one it takes.
func keptItems(t *testing.T, f *mapping.Filter, data []byte) (*zzItems, error) {
	t.Helper()
	// A broken trace's error is the main pass's to give here: it reads
	// the whole file.
	var broken *mapping.Error
	if err := f.PrepassFile(bytes.NewReader(data), int64(len(data))); err != nil && !errors.As(err, &broken) {
		t.Fatal(err)
	}
	out := &zzItems{}
	_, err := mapping.MapWindow(bytes.NewReader(data), int64(len(data)), f.From, f.To, f.Sink(out))
	return out, err
}

type zzItems struct {
	mapping.NopSink
	regions []mapping.Region
	tasks   []mapping.Task
	logs    []mapping.Log
}

func (r *zzItems) Region(x *mapping.Region) error { r.regions = append(r.regions, *x); return nil }
func (r *zzItems) Task(x *mapping.Task) error     { r.tasks = append(r.tasks, *x); return nil }
func (r *zzItems) Log(x *mapping.Log) error       { r.logs = append(r.logs, *x); return nil }

// TestSelectionWindowKeepsWhatItKeeps checks, on every sample and every
// task and region type, that the window a selection takes cuts nothing
// of what it keeps: a region kept is delivered as the whole trace has
// it, in place, with its times by state.
func TestSelectionWindowKeepsWhatItKeeps(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	checked := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		whole := &zzItems{}
		if _, err := mapping.Map(bytes.NewReader(data), whole); err != nil {
			continue // a broken sample
		}
		byID := map[mapping.RegionID]mapping.Region{}
		types := map[string]bool{}
		for _, r := range whole.regions {
			byID[r.ID] = r
			types[r.Type] = true
		}
		var filters []*mapping.Filter
		for typ := range types {
			filters = append(filters, &mapping.Filter{Regions: []string{typ}})
		}
		for _, k := range whole.tasks {
			if k.Type != "" {
				filters = append(filters, &mapping.Filter{Tasks: []string{k.Type}})
			}
		}
		for _, f := range filters {
			got, err := keptItems(t, f, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got.regions {
				w, ok := byID[r.ID]
				if !ok || w.Start != r.Start || w.End != r.End || w.Flags != r.Flags || w.Timed != r.Timed {
					t.Errorf("%s, tasks %q regions %q: region %s G%d [%d, %d] flags %v timed %v; the whole trace has [%d, %d] flags %v timed %v",
						filepath.Base(p), f.Tasks, f.Regions, r.Type, r.G, r.Start, r.End, r.Flags, r.Timed, w.Start, w.End, w.Flags, w.Timed)
					break
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no region kept: the test checks nothing")
	}
}

// TestSelectionWindowLateItems selects a task whose region and log
// outlive it, and that region: the window the selection takes holds the
// task, the region and the log whole.
func TestSelectionWindowLateItems(t *testing.T) {
	data := recordTrace(t, func() {
		time.Sleep(time.Millisecond)
		ctx, task := rtrace.NewTask(context.Background(), "early-end")
		time.Sleep(time.Millisecond)
		r := rtrace.StartRegion(ctx, "outlives")
		time.Sleep(time.Millisecond)
		task.End()
		time.Sleep(time.Millisecond)
		rtrace.Log(ctx, "late", "after the task")
		r.End()
		time.Sleep(time.Millisecond)
	})
	for _, f := range []*mapping.Filter{{Tasks: []string{"early-end"}}, {Regions: []string{"outlives"}}} {
		got, err := keptItems(t, f, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.tasks) != 1 || got.tasks[0].Flags != 0 {
			t.Errorf("tasks %q regions %q: tasks %+v, want the task whole", f.Tasks, f.Regions, got.tasks)
		}
		if len(got.regions) != 1 || got.regions[0].Flags != 0 || !got.regions[0].Timed {
			t.Errorf("tasks %q regions %q: regions %+v, want the region that outlives the task whole", f.Tasks, f.Regions, got.regions)
		}
		if len(got.logs) != 1 {
			t.Errorf("tasks %q regions %q: logs %+v, want the one logged after the task ended, in the region", f.Tasks, f.Regions, got.logs)
		}
	}
}

// TestSelectionWindowReadsWholeTrace checks a task selection of a file of
// several generations: a traceparent its parent logged generations
// before the window still joins it, and a break after the window is
// still reported.
func TestSelectionWindowReadsWholeTrace(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	data := recordTrace(t, func() {
		ctx, req := rtrace.NewTask(context.Background(), "request")
		rtrace.Log(ctx, mapping.CategoryTraceparent, tp)
		for range 3 {
			newGeneration(t)
		}
		_, db := rtrace.NewTask(ctx, "db")
		time.Sleep(time.Millisecond)
		db.End()
		req.End()
		for range 3 {
			newGeneration(t)
		}
		_, late := rtrace.NewTask(context.Background(), "late")
		late.End()
	})
	f := &mapping.Filter{Tasks: []string{"db"}}
	got, err := keptItems(t, f, data)
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := f.Window(); !from.Set || from.Offset == 0 {
		t.Fatalf("window from %v: the test needs one that begins after the traceparent", from)
	}
	if !slices.ContainsFunc(got.logs, func(l mapping.Log) bool { return l.Message == tp }) {
		t.Errorf("logs %+v: the request's traceparent, logged before the window, is lost", got.logs)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	last := idx.Generations[len(idx.Generations)-2]
	cut := data[:last.Offset+last.Size/2]
	if _, err := keptItems(t, &mapping.Filter{Tasks: []string{"db"}}, cut); err == nil {
		t.Errorf("a trace cut in generation %d of %d, after the window: no error", len(idx.Generations)-1, len(idx.Generations))
	}
}

// TestSelectionWindowTaskOpenAcross: a task selection over a window's
// generations keeps the tasks open across all of them with nothing of
// their own in them, which only the first pass, reading from the trace's
// start, sees: a task never ended, one ended after the window, and their
// subtask, as a pass over the whole trace keeps them (type, parent,
// times cut to the window). The pass over the window alone left them
// out: fewer than half of the open tasks of a trace that leaks them.
func TestSelectionWindowTaskOpenAcross(t *testing.T) {
	var marks []int64
	data := recordTrace(t, func() {
		ctx, _ := rtrace.NewTask(context.Background(), "leak") // never ended
		sub, subTask := rtrace.NewTask(ctx, "sub")
		_, late := rtrace.NewTask(context.Background(), "late")
		rtrace.Log(sub, "x", "before")
		for range 6 {
			newGeneration(t)
		}
		subTask.End()
		late.End()
		newGeneration(t)
	})
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 7 {
		t.Fatalf("%d generations, error %v", len(idx.Generations), err)
	}
	gens := idx.Generations
	for _, g := range gens {
		marks = append(marks, g.Start-gens[0].Start)
	}
	at := func(k int) mapping.Bound { return mapping.Bound{Offset: time.Duration(marks[k]), Set: true} }
	for _, sel := range [][]string{{"leak"}, {"late"}, {"sub"}} {
		f := &mapping.Filter{Tasks: sel, From: at(3), To: at(4)}
		got, err := keptItems(t, f, data)
		if err != nil {
			t.Fatal(err)
		}
		whole := &mapping.Filter{Tasks: sel, From: at(3), To: at(4)}
		if _, err := mapping.Map(bytes.NewReader(data), whole.Prepass()); err != nil {
			t.Fatal(err)
		}
		want := &zzItems{}
		if _, err := mapping.Map(bytes.NewReader(data), whole.Sink(want)); err != nil {
			t.Fatal(err)
		}
		if len(want.tasks) == 0 {
			t.Fatalf("%v: the whole trace's pass keeps no task", sel)
		}
		key := func(k mapping.Task) string {
			return fmt.Sprintf("%d %q parent %d root %d %d-%d flags %v", k.ID, k.Type, k.Parent, k.Root, k.Start, k.End, k.Flags)
		}
		var g, w []string
		for _, k := range got.tasks {
			g = append(g, key(k))
		}
		for _, k := range want.tasks {
			w = append(w, key(k))
		}
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%v: tasks over the window's generations\n%s\nwant, as over the whole trace,\n%s", sel, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
}

// TestSelectionWindowTraceparentTask: a region selection over a window's
// generations keeps, as context, the task that logged its request's
// traceparent before the window, as the pass over the whole trace does,
// named by its type, where it became a task the trace names but never
// shows (a placeholder span in OTLP).
func TestSelectionWindowTraceparentTask(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	data := recordTrace(t, func() {
		ctx, req := rtrace.NewTask(context.Background(), "request")
		rtrace.Log(ctx, mapping.CategoryTraceparent, tp)
		for range 4 {
			newGeneration(t)
		}
		sub, db := rtrace.NewTask(ctx, "db")
		rtrace.WithRegion(sub, "query", func() { time.Sleep(time.Millisecond) })
		db.End()
		for range 2 {
			newGeneration(t)
		}
		req.End()
	})
	rs := queryRegions(t, data)
	from, to := aroundRegion(t, data, rs[len(rs)-1])
	got, err := keptItems(t, &mapping.Filter{Regions: []string{"query"}, From: from, To: to}, data)
	if err != nil {
		t.Fatal(err)
	}
	if g := taskTypes(got.tasks); !slices.Equal(g, []string{"db", "request"}) {
		t.Errorf("tasks kept %q, want the region's task and the one that logged the traceparent, by type", g)
	}
	if !slices.ContainsFunc(got.logs, func(l mapping.Log) bool { return l.Message == tp }) {
		t.Errorf("logs %+v: the traceparent is lost", got.logs)
	}
}

// TestSelectionWindowRegionTaskType: a region selection over a window's
// generations names the task of a region kept by its type, which only the
// first pass, reading from the trace's start, saw: the task began
// generations before the window, and ends in it or after its region.
func TestSelectionWindowRegionTaskType(t *testing.T) {
	data := recordTrace(t, func() {
		for _, endFirst := range []bool{false, true} {
			ctx, task := rtrace.NewTask(context.Background(), fmt.Sprintf("job-%v", endFirst))
			for range 4 {
				newGeneration(t)
			}
			r := rtrace.StartRegion(ctx, "query")
			time.Sleep(time.Millisecond)
			if endFirst {
				task.End()
				r.End()
			} else {
				r.End()
				task.End()
			}
		}
	})
	for _, r := range queryRegions(t, data) {
		from, to := aroundRegion(t, data, r)
		got, err := keptItems(t, &mapping.Filter{Regions: []string{"query"}, From: from, To: to}, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.tasks) != 1 || !strings.HasPrefix(got.tasks[0].Type, "job-") {
			t.Errorf("region in task %d: tasks kept %+v, want its task, by type", r.Task, got.tasks)
		}
	}
}

// queryRegions returns the regions of type "query" in data, at least one.
func queryRegions(t *testing.T, data []byte) []mapping.Region {
	t.Helper()
	var rs regionsIn
	if _, err := mapping.Map(bytes.NewReader(data), &rs); err != nil || len(rs.rs) == 0 {
		t.Fatalf("no query region: %v", err)
	}
	return rs.rs
}

// aroundRegion returns the bounds of a window a microsecond around r.
func aroundRegion(t *testing.T, data []byte, r mapping.Region) (from, to mapping.Bound) {
	t.Helper()
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	origin := mapping.Time(idx.Generations[0].Start)
	return mapping.Bound{Offset: time.Duration(r.Start - origin - 1000), Set: true},
		mapping.Bound{Offset: time.Duration(r.End - origin + 1000), Set: true}
}

// regionsIn keeps the regions of type "query".
type regionsIn struct {
	mapping.NopSink
	rs []mapping.Region
}

func (s *regionsIn) Region(r *mapping.Region) error {
	if r.Type == "query" {
		s.rs = append(s.rs, *r)
	}
	return nil
}

// TestSelectionWindowContextTaskType: a task open at the window's start
// that a filter keeps as context (here the parent of the task selected,
// kept for its traceparent, which ends in the generations the pass
// reads) is named by its type,
// which the first pass saw it begin with: the pass over the window's
// generations named it "task 1" where the whole trace's names it.
func TestSelectionWindowContextTaskType(t *testing.T) {
	data := recordTrace(t, func() {
		ctx, server := rtrace.NewTask(context.Background(), "server")
		rtrace.Log(ctx, mapping.CategoryTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		for range 4 {
			newGeneration(t)
		}
		sub, req := rtrace.NewTask(ctx, "req")
		rtrace.WithRegion(sub, "query", func() { time.Sleep(time.Millisecond) })
		req.End()
		server.End()
		newGeneration(t)
	})
	rs := queryRegions(t, data)
	from, to := aroundRegion(t, data, rs[0])
	got, err := keptItems(t, &mapping.Filter{Tasks: []string{"req"}, From: from, To: to}, data)
	if err != nil {
		t.Fatal(err)
	}
	types := taskTypes(got.tasks)
	if !slices.Equal(types, []string{"req", "server"}) {
		t.Errorf("tasks kept %q, want the one selected and its parent, by type", types)
	}
}

// TestSelectionWindowOpenParentKept: a task selected whose parent logged
// its request's traceparent keeps the parent, for the join, also where
// both are still open where a pass over the window's generations ends
// (the mapping gives the parent first there): the parent was left out,
// a placeholder in OTLP, where the whole trace's pass keeps it.
func TestSelectionWindowOpenParentKept(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	data := recordTrace(t, func() {
		for range 2 {
			newGeneration(t)
		}
		ctx, parent := rtrace.NewTask(context.Background(), "parent")
		rtrace.Log(ctx, mapping.CategoryTraceparent, tp)
		_, child := rtrace.NewTask(ctx, "child")
		// The window: nothing of the child's own is in it, for a
		// region or log kept would make the parent context at once.
		rtrace.WithRegion(context.Background(), "query", func() { time.Sleep(time.Millisecond) })
		for range 4 {
			newGeneration(t)
		}
		child.End()
		parent.End()
	})
	from, to := aroundRegion(t, data, queryRegions(t, data)[0])
	got, err := keptItems(t, &mapping.Filter{Tasks: []string{"child"}, From: from, To: to}, data)
	if err != nil {
		t.Fatal(err)
	}
	types := taskTypes(got.tasks)
	if !slices.Equal(types, []string{"child", "parent"}) {
		t.Errorf("tasks kept %q, want the one selected and its parent, which logged the traceparent", types)
	}
	if !slices.ContainsFunc(got.logs, func(l mapping.Log) bool { return l.Message == tp }) {
		t.Errorf("logs %+v: the traceparent is lost", got.logs)
	}
}

// taskTypes returns the types of tasks, sorted.
func taskTypes(tasks []mapping.Task) []string {
	var out []string
	for _, k := range tasks {
		out = append(out, k.Type)
	}
	slices.Sort(out)
	return out
}

// TestSelectionWindowParentBeforeGenerations: a task selected that began
// generations before the window, under a parent that logged a
// traceparent, keeps its parent and its tree's root, which the first pass
// saw, so that it stays in the request's trace: the pass over the
// window's generations knows neither, and the parent and its traceparent
// were left out (the selected task a trace of its own in OTLP).
func TestSelectionWindowParentBeforeGenerations(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	data := recordTrace(t, func() {
		newGeneration(t)
		ctx, parent := rtrace.NewTask(context.Background(), "parent")
		rtrace.Log(ctx, mapping.CategoryTraceparent, tp)
		cctx, child := rtrace.NewTask(ctx, "child")
		for range 3 {
			newGeneration(t)
		}
		rtrace.WithRegion(context.Background(), "query", func() {
			rtrace.WithRegion(cctx, "step", func() { time.Sleep(time.Millisecond) })
		})
		for range 2 {
			newGeneration(t)
		}
		child.End()
		parent.End()
	})
	from, to := aroundRegion(t, data, queryRegions(t, data)[0])
	got, err := keptItems(t, &mapping.Filter{Tasks: []string{"child"}, From: from, To: to}, data)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]mapping.TaskID{}
	for _, k := range got.tasks {
		ids[k.Type] = k.ID
	}
	if types := taskTypes(got.tasks); !slices.Equal(types, []string{"child", "parent"}) {
		t.Fatalf("tasks kept %q, want the one selected and its parent, which logged the traceparent", types)
	}
	for _, k := range got.tasks {
		if k.Type == "child" && (k.Parent != ids["parent"] || k.Root != ids["parent"]) {
			t.Errorf("child's parent %d and root %d, want %d for both", k.Parent, k.Root, ids["parent"])
		}
	}
	if i := slices.IndexFunc(got.regions, func(r mapping.Region) bool { return r.Type == "step" }); i < 0 {
		t.Errorf("regions %+v: the child's region is lost", got.regions)
	} else if r := got.regions[i]; r.Task != ids["child"] || r.Root != ids["parent"] {
		t.Errorf("the child's region has task %d and root %d, want %d and %d", r.Task, r.Root, ids["child"], ids["parent"])
	}
	if !slices.ContainsFunc(got.logs, func(l mapping.Log) bool { return l.Message == tp && l.Task == ids["parent"] }) {
		t.Errorf("logs %+v: the parent's traceparent is lost", got.logs)
	}
}
