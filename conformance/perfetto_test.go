package conformance

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestPerfetto converts every trace to Perfetto in the same pass that
// records the model, decodes the output, checks its consistency, and
// compares its tasks, regions, logs, runtime ranges, goroutine states,
// flows, counters and CPU samples one for one, by name and exact time,
// with the model. The model itself is compared with the oracle by the
// other tests of this package, for the same traces.
func TestPerfetto(t *testing.T) {
	eachConversion(t, func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) },
		func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte) {
			rep, err := perfettocheck.Check(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("invalid Perfetto trace: %v", err)
			}
			comparePerfetto(t, rec, sum, rep)
		})
}

// eachConversion converts every trace with the sink newSink makes, in the
// same pass that records the model, and hands both to check.
func eachConversion(t *testing.T, newSink func(io.Writer) mapping.Sink, check func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte)) {
	files := append(append(corpus(t), regressionTraces(t)...), goTraces(t)...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, data := readOracle(t, file)
			rec := newRecorder()
			var out bytes.Buffer
			sum, err := mapping.Map(bytes.NewReader(data), mapping.FanOut(rec, newSink(&out)), mapping.WithInputName(filepath.Base(file)))
			if err != nil {
				t.Fatal(err)
			}
			check(t, rec, sum, out.Bytes())
		})
	}
}

type pfSlice struct {
	name       string
	start, end int64
}

// snapOpenTasks puts back at the model's start the tasks drawn earlier
// than it: a task's flows to its regions and logs must start before they
// end in the order the trace processor reads them, so a task whose
// regions start no later than it (it began before the trace, and they
// are put at its start) starts a nanosecond before the earliest of those
// its flows go to (perfettocheck refuses a flow that ends first): the
// first of its regions and logs on each goroutine, as the writer gets
// them. Which those are the recorder does not keep, so any of them will do.
func snapOpenTasks(rec *recorder, drawn []mapping.Time, got []pfSlice) {
	type key struct {
		name  string
		end   int64
		start int64
	}
	tasks := map[mapping.TaskID]mapping.Task{}
	for _, k := range rec.tasks {
		tasks[k.ID] = k
	}
	drawnAt := map[key]int64{} // an earlier start a task may be drawn at
	note := func(id mapping.TaskID, at mapping.Time) {
		k, ok := tasks[id]
		if !ok || at > k.Start {
			return
		}
		name := k.Type
		if name == "" {
			name = fmt.Sprintf("task %d", k.ID)
		}
		drawnAt[key{asPerfetto(name), int64(k.End), int64(at) - 1}] = int64(k.Start)
	}
	for i, r := range rec.regions {
		note(r.Task, drawn[i])
	}
	for _, l := range rec.logs {
		note(l.Task, l.Time)
	}
	for i, s := range got {
		if start, ok := drawnAt[key{s.name, s.end, s.start}]; ok {
			got[i].start = start
		}
	}
}

// drawnRegionStarts returns where the Perfetto writer draws each region:
// where it began, or a nanosecond before the earliest drawn start of the
// regions nested in it when that is no later, since the trace processor
// nests slices that begin together in the order of the file, and a
// region is written after those nested in it. Regions past depth 500
// are not drawn.
func drawnRegionStarts(regions []mapping.Region) []mapping.Time {
	nested := map[mapping.RegionID][]int{}
	for i, r := range regions {
		if r.Depth < 500 && r.Parent != mapping.NoRegion {
			nested[r.Parent] = append(nested[r.Parent], i)
		}
	}
	drawn := make([]mapping.Time, len(regions))
	done := make([]bool, len(regions))
	var at func(i int) mapping.Time
	at = func(i int) mapping.Time {
		if done[i] {
			return drawn[i]
		}
		r := regions[i]
		drawn[i] = r.Start
		if r.ID != mapping.NoRegion {
			for _, k := range nested[r.ID] {
				if s := at(k); s <= r.Start {
					drawn[i] = min(drawn[i], s-1)
				}
			}
		}
		done[i] = true
		return drawn[i]
	}
	for i := range regions {
		at(i)
	}
	return drawn
}

func comparePerfetto(t *testing.T, rec *recorder, sum *mapping.Summary, rep *perfettocheck.Report) {
	drawn := drawnRegionStarts(rec.regions)
	// Timestamps are shifted (see perfetto.Writer.Begin).
	off := metadataOffset(t, sum, rep)
	got := map[string][]pfSlice{}
	for _, s := range rep.Slices {
		got[s.Category] = append(got[s.Category], pfSlice{s.Name, int64(s.Start) - off, int64(s.End) - off})
	}
	want := map[string][]pfSlice{}
	add := func(cat, name string, start, end mapping.Time) {
		want[cat] = append(want[cat], pfSlice{asPerfetto(name), int64(start), int64(end)})
	}
	for _, k := range rec.tasks {
		name := k.Type
		if name == "" {
			name = fmt.Sprintf("task %d", k.ID)
		}
		add("task", name, k.Start, k.End)
	}
	for i, r := range rec.regions {
		if r.Depth >= 500 {
			continue // left out, and counted (perfetto.Writer.OmittedDeepRegions)
		}
		add("region", regionName(r.Type), drawn[i], r.End)
	}
	for _, r := range rec.ranges {
		add("gc", rangeSliceName(&r), r.Start, r.End)
	}
	running := 0
	for _, s := range drawnStates(rec.states) {
		add("goroutine", stateSliceName(&s), s.Start, s.End)
		if s.State == mapping.GoRunning {
			running++
		}
	}
	snapOpenTasks(rec, drawn, got["task"])
	for _, cat := range []string{"task", "region", "gc", "goroutine"} {
		diffMultiset(t, "perfetto "+cat+" slices", want[cat], got[cat], func(s pfSlice) string {
			return fmt.Sprintf("%q [%d, %d]", s.name, s.start, s.end)
		})
	}
	if n := len(got["proc"]); n != running {
		t.Errorf("%d slices on P tracks, want one per running interval: %d", n, running)
	}
	compareLanes(t, rec, rep, off)
	var lives []lifeMark
	for _, s := range rep.Slices {
		if s.Category == "lifetime" {
			lives = append(lives, lifeMark{fmt.Sprint(s.Args["goroutine"]), openMark(s.Args)})
		}
	}
	checkLifetimesOpen(t, "perfetto", rec, lives)
	compareRegionTasks(t, rec, drawn, rep, off)
	diffMultiset(t, "perfetto thread slices", threadSlices(t, rec), got["thread"], func(s pfSlice) string {
		return fmt.Sprintf("%q [%d, %d]", s.name, s.start, s.end)
	})

	var logs []logEntry
	for _, i := range rep.Instants {
		if i.Category == "log" {
			logs = append(logs, perfettoLog(int64(i.Time)-off, i.Name, i.Args))
		}
	}
	compareLogs(t, "perfetto logs", rec, logs, asPerfetto)

	if rep.Flows < len(rec.flows) {
		t.Errorf("%d flows with both ends, want at least the model's %d", rep.Flows, len(rec.flows))
	}
	// The goroutine flows start on an instant at their cause and end where
	// their goroutine starts to run.
	type pfFlow struct {
		name     string
		from, to int64
	}
	var wantFlows, gotFlows []pfFlow
	for _, f := range rec.flows {
		wantFlows = append(wantFlows, pfFlow{flowName(f.Kind), int64(f.From.Time), int64(f.To.Time)})
	}
	for _, f := range rep.FlowEnds {
		if f.FromCategory == "goroutine" {
			gotFlows = append(gotFlows, pfFlow{f.FromName, int64(f.From) - off, int64(f.To) - off})
		}
	}
	diffMultiset(t, "perfetto goroutine flows", wantFlows, gotFlows, func(f pfFlow) string {
		return fmt.Sprintf("%s from %d to %d", f.name, f.from, f.to)
	})
	if rep.PerfSamples != len(rec.samples) {
		t.Errorf("%d perf samples, want %d", rep.PerfSamples, len(rec.samples))
	}
	// A sample taken while a goroutine ran is also an instant on its track.
	wantCPU := map[int64]int{}
	for _, s := range rec.samples {
		if s.G != mapping.NoGoroutine {
			wantCPU[int64(s.Time)]++
		}
	}
	gotCPU := map[int64]int{}
	for _, i := range rep.Instants {
		if i.Category == "cpu" {
			gotCPU[int64(i.Time)-off]++
		}
	}
	if !maps.Equal(gotCPU, wantCPU) {
		t.Errorf("CPU sample instants on goroutine tracks at %d times, want %d", len(gotCPU), len(wantCPU))
	}
	if len(rec.stacks) != rep.Callstacks {
		t.Errorf("%d callstacks, want %d", rep.Callstacks, len(rec.stacks))
	}

	// Every counter sample, on the track named after its counter, at its
	// time, with its value: whether it rode on another event or not.
	var wantCtrs, gotCtrs []counterSample
	for _, c := range rec.counters {
		wantCtrs = append(wantCtrs, counterSample{asPerfetto(c.Name), int64(c.Time), int64(c.Value)})
	}
	for uuid, vals := range rep.Counters {
		for i, v := range vals {
			gotCtrs = append(gotCtrs, counterSample{rep.Tracks[uuid].Name, int64(rep.CounterTimes[uuid][i]) - off, v})
		}
	}
	diffMultiset(t, "perfetto counter samples", wantCtrs, gotCtrs, func(c counterSample) string {
		return fmt.Sprintf("%q at %d = %d", c.name, c.time, c.value)
	})
}

// drawnStates returns the goroutine states as the Perfetto output draws
// them: a run, a syscall that kept its P (same P and M, not blocked) and
// the run after it make one running slice with the syscall nested in it.
// The nesting itself is checked by perfettocheck and compareLanes.
func drawnStates(states []mapping.GoroutineState) []mapping.GoroutineState {
	var out []mapping.GoroutineState
	run := map[mapping.GoID]int{}                    // the index in out of each goroutine's last run
	sys := map[mapping.GoID]mapping.GoroutineState{} // a syscall after it, waiting for the next run
	for _, s := range states {
		if i, ok := run[s.G]; ok {
			r := &out[i]
			if y, ok := sys[s.G]; ok {
				delete(sys, s.G)
				if s.State == mapping.GoRunning && s.Start == y.End && s.P == r.P && s.M == r.M {
					r.End = s.End
					out = append(out, y)
					continue
				}
				out = append(out, y)
			} else if s.State == mapping.GoSyscall && !s.Blocked && s.Start == r.End && s.P == r.P && s.M == r.M {
				sys[s.G] = s
				continue
			}
			delete(run, s.G)
		}
		if s.State == mapping.GoRunning {
			run[s.G] = len(out)
		}
		out = append(out, s)
	}
	for _, y := range sys {
		out = append(out, y)
	}
	return out
}

// threadSlices returns the slices both outputs draw for the Ms: which P
// each M held, and the syscalls in which it lost its P. An M holds one P
// at a time; traces before Go 1.22 can give one M several Ps at their
// start, of which the M's track keeps the first to end (the P tracks have
// what each ran).
func threadSlices(t *testing.T, rec *recorder) []pfSlice {
	t.Helper()
	var want []pfSlice
	ranUntil := map[mapping.ThreadID]mapping.Time{}
	for _, r := range rec.procRuns {
		if r.P < 0 || !rec.threads[r.M] {
			continue
		}
		if until, ok := ranUntil[r.M]; ok && r.Start < until {
			if !r.Flags.Has(mapping.OpenStart) {
				t.Errorf("M%d holds P%d from %d, before it released the P it held until %d", r.M, r.P, r.Start, until)
			}
			continue
		}
		ranUntil[r.M] = r.End
		want = append(want, pfSlice{fmt.Sprintf("P%d", r.P), int64(r.Start), int64(r.End)})
	}
	for _, s := range rec.states {
		if s.State == mapping.GoSyscall && s.Blocked && rec.threads[s.M] {
			want = append(want, pfSlice{"syscall (blocked)", int64(s.Start), int64(s.End)})
		}
	}
	return want
}

// compareLanes checks that goroutines share lanes without losing who is
// who: every state slice lies, on a lane shared by the goroutines of its
// start function, within its goroutine's lifetime slice there, which
// carries the goroutine's ID and is named after it with that function,
// or else on a track of the goroutine's own, named after it, which holds
// no lifetime slices, with the ID as its argument; lifetimes on one lane
// never overlap, and there are fewer lanes than goroutines wherever
// goroutines of one function came and went. The states so attributed are
// the model's, goroutine by goroutine.
func compareLanes(t *testing.T, rec *recorder, rep *perfettocheck.Report, off int64) {
	t.Helper()
	type life struct {
		start, end uint64
		g          int64
	}
	lives := map[uint64][]life{} // by track
	for _, s := range rep.Slices {
		if s.Category != "lifetime" {
			continue
		}
		g, ok := s.Args["goroutine"].(int64)
		if !ok {
			t.Errorf("lifetime slice %q has no goroutine argument", s.Name)
			continue
		}
		// Named after its start function where the model knew it when
		// the goroutine was first drawn: always on a shared lane.
		prefix := fmt.Sprintf("G%d", g)
		if fn := rec.startFunc[mapping.GoID(g)]; fn != "" && rep.Tracks[s.Track].Parent != 0 && rep.Tracks[rep.Tracks[s.Track].Parent].Name == fn {
			prefix += " " + asPerfetto(fn)
		}
		if !strings.HasPrefix(s.Name, prefix) {
			t.Errorf("lifetime slice %q of goroutine %d, want it named %q", s.Name, g, prefix)
		}
		lives[s.Track] = append(lives[s.Track], life{s.Start, s.End, g})
	}
	for track, ls := range lives {
		slices.SortFunc(ls, func(a, b life) int { return cmp.Compare(a.start, b.start) })
		for i := 1; i < len(ls); i++ {
			if ls[i].start <= ls[i-1].end {
				t.Errorf("track %q: goroutine %d's lifetime [%d, %d] overlaps goroutine %d's [%d, %d]", rep.Tracks[track].Name,
					ls[i].g, ls[i].start, ls[i].end, ls[i-1].g, ls[i-1].start, ls[i-1].end)
			}
		}
	}
	// A state names its goroutine by its argument on a track of the
	// goroutine's own, by the lifetime slice it nests in on a shared lane.
	bad := 0
	type gState struct {
		g    int64
		name string
		from uint64
	}
	var got []gState
	for _, s := range rep.Slices {
		if s.Category != "goroutine" {
			continue
		}
		g, ok := s.Args["goroutine"].(int64)
		inside := false
		if ls := lives[s.Track]; len(ls) > 0 {
			for _, l := range ls {
				if l.start <= s.Start && s.End <= l.end {
					inside = !ok || l.g == g
					g = l.g
					break
				}
			}
			// Only a track of the goroutine's own carries the ID on
			// every state; a shared lane's lifetime slice already does.
			if ok {
				inside = false
			}
		} else if ok {
			// A track of the goroutine's own: "G42" or "G42 main.f".
			name := rep.Tracks[s.Track].Name
			prefix := fmt.Sprintf("G%d", g)
			inside = name == prefix || strings.HasPrefix(name, prefix+" ")
		}
		if !inside {
			if bad++; bad <= 5 {
				t.Errorf("%q slice [%d, %d] (goroutine %v) on track %q is neither within a goroutine's lifetime there without an ID of its own nor with its ID on a track of the goroutine's own", s.Name, s.Start, s.End, s.Args["goroutine"], rep.Tracks[s.Track].Name)
			}
			continue
		}
		got = append(got, gState{g, s.Name, s.Start - uint64(off)})
	}
	if bad > 5 {
		t.Errorf("and %d more slices outside their goroutine's lifetime", bad-5)
	}
	if bad > 0 {
		return
	}
	var want []gState
	for _, s := range drawnStates(rec.states) {
		want = append(want, gState{int64(s.G), stateSliceName(&s), uint64(s.Start)})
	}
	diffMultiset(t, "perfetto goroutine states by goroutine", want, got, func(s gState) string {
		return fmt.Sprintf("G%d %q at %d", s.g, s.name, s.from)
	})
}

// stateSliceName is the name of a goroutine state's slice.
func stateSliceName(s *mapping.GoroutineState) string {
	switch {
	case s.State == mapping.GoWaiting && s.Reason != "":
		return asPerfetto(s.Reason)
	case s.State == mapping.GoSyscall && s.Blocked:
		return "syscall (blocked)"
	}
	return s.State.String()
}

// compareRegionTasks checks that every region names its task, by its own
// argument or, when it leaves it out, by the innermost region it nests in
// on its track that names one: the model's regions, task by task.
func compareRegionTasks(t *testing.T, rec *recorder, drawn []mapping.Time, rep *perfettocheck.Report, off int64) {
	t.Helper()
	type region struct {
		name       string
		start, end uint64
		task       uint64
		own        bool // the task is its own argument
	}
	byTrack := map[uint64][]region{}
	for _, s := range rep.Slices {
		if s.Category != "region" {
			continue
		}
		r := region{name: s.Name, start: s.Start, end: s.End}
		r.task, r.own = s.Args["task"].(uint64)
		byTrack[s.Track] = append(byTrack[s.Track], r)
	}
	type key struct {
		name  string
		start int64
		task  uint64
	}
	var got []key
	for _, rs := range byTrack {
		// Outer before inner: by start, then the longer first.
		slices.SortFunc(rs, func(a, b region) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end))
		})
		var open []region
		for _, r := range rs {
			for len(open) > 0 && open[len(open)-1].end <= r.start && open[len(open)-1].start < r.start {
				open = open[:len(open)-1]
			}
			if !r.own && len(open) > 0 {
				r.task = open[len(open)-1].task
			}
			open = append(open, r)
			got = append(got, key{r.name, int64(r.start) - off, r.task})
		}
	}
	var want []key
	for i, r := range rec.regions {
		if r.Depth < 500 {
			want = append(want, key{asPerfetto(regionName(r.Type)), int64(drawn[i]), uint64(r.Task)})
		}
	}
	diffMultiset(t, "perfetto regions by task", want, got, func(k key) string {
		return fmt.Sprintf("%q at %d of task %d", k.name, k.start, k.task)
	})
}

// rangeSliceName is the name both converters give a range's slice: short
// names for the runtime's own, the trace's name for any other.
func rangeSliceName(r *mapping.Range) string {
	switch r.Kind {
	case mapping.RangeGCMark:
		if r.Cycle > 0 {
			return fmt.Sprintf("GC %d", r.Cycle)
		}
		return "GC"
	case mapping.RangeSTW:
		return "STW (" + r.Reason + ")"
	case mapping.RangeSweep:
		return "sweep"
	case mapping.RangeMarkAssist:
		return "mark assist"
	}
	return r.Name
}

// TestPerfettoThinnedCounters converts every trace with counters thinned at
// the command's default resolution and checks the output's counters
// against the model's every-change samples: in each period, each counter
// keeps a sample with the period's lowest value and one with its highest,
// at the times the model first reached them, and its last value at its
// time, so that a viewer draws the same extremes and levels; and nothing
// it keeps is made up.
func TestPerfettoThinnedCounters(t *testing.T) {
	period := mapping.DefaultCounterResolution
	eachConversion(t, func(w io.Writer) mapping.Sink { return mapping.ThinCounters(perfetto.NewWriter(w), period) },
		func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte) {
			rep, err := perfettocheck.Check(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("invalid Perfetto trace: %v", err)
			}
			off := metadataOffset(t, sum, rep)
			var got []counterSample
			for uuid, vals := range rep.Counters {
				for i, v := range vals {
					got = append(got, counterSample{rep.Tracks[uuid].Name, int64(rep.CounterTimes[uuid][i]) - off, v})
				}
			}
			checkThinned(t, "perfetto", rec.counters, got, int64(period))
		})
}

// counterSample is a counter's value at a time, as an output holds it.
type counterSample struct {
	name        string
	time, value int64
}

// checkThinned checks counter samples thinned to period against the
// model's samples of every change (see TestPerfettoThinnedCounters).
func checkThinned(t *testing.T, format string, model []mapping.Counter, got []counterSample, period int64) {
	t.Helper()
	type key struct {
		name string
		p    int64
	}
	type extremes struct{ low, high, last counterSample }
	want := map[key]*extremes{}
	for _, c := range model {
		s := counterSample{asPerfetto(c.Name), int64(c.Time), int64(c.Value)}
		k := key{s.name, s.time / period}
		e := want[k]
		if e == nil {
			want[k] = &extremes{s, s, s}
			continue
		}
		if s.value < e.low.value {
			e.low = s
		}
		if s.value > e.high.value {
			e.high = s
		}
		e.last = s
	}
	have := map[counterSample]bool{}
	for _, s := range got {
		k := key{s.name, s.time / period}
		e := want[k]
		if e == nil || s.value < e.low.value || s.value > e.high.value {
			t.Errorf("%s: %q = %d at %d: outside the model's range for its period", format, s.name, s.value, s.time)
		}
		have[s] = true
	}
	for k, e := range want {
		for what, s := range map[string]counterSample{"lowest": e.low, "highest": e.high, "last": e.last} {
			if !have[s] {
				t.Errorf("%s: %q, period %d: the %s value %d at %d is missing", format, k.name, k.p, what, s.value, s.time)
			}
		}
	}
	if len(got) > len(model) {
		t.Errorf("%s: %d counter samples thinned, more than the model's %d", format, len(got), len(model))
	}
}

// metadataOffset returns what the Perfetto writer added to the model's
// timestamps: the metadata instant sits at the trace's start.
func metadataOffset(t *testing.T, sum *mapping.Summary, rep *perfettocheck.Report) int64 {
	t.Helper()
	for _, i := range rep.Instants {
		if i.Name == "trace metadata" {
			return int64(i.Time) - int64(sum.Start)
		}
	}
	t.Fatal("no trace metadata instant")
	return 0
}

// perfettoLog reads a log instant of the Perfetto output as documented:
// named "[category] message" as go tool trace names it, or the message
// alone when the category is empty, with the category as an argument
// where the name does not tell it.
func perfettoLog(time int64, name string, args map[string]any) logEntry {
	if cat, ok := args["category"].(string); ok {
		msg := name
		if cat != "" {
			msg = strings.TrimPrefix(name, "["+cat+"] ")
		}
		return logEntry{time, cat, msg}
	}
	if rest, ok := strings.CutPrefix(name, "["); ok {
		if cat, msg, ok := strings.Cut(rest, "] "); ok {
			return logEntry{time, cat, msg}
		}
	}
	return logEntry{time, "", name}
}

// lifeMark is a goroutine's lifetime slice: its goroutine, and whether it
// is marked open at the end of the trace or the filter's window.
type lifeMark struct {
	g    string
	open bool
}

// openMark reports whether args mark an item open at the end.
func openMark(args map[string]any) bool {
	return args["open at the end of the trace"] == true || args["open at the end of the trace or the filter's window"] == true
}

// checkLifetimesOpen checks that the lifetime slice of a goroutine still
// alive at the end, and only that, is marked open at the end: the last
// life of a goroutine the model saw end is not.
func checkLifetimesOpen(t *testing.T, format string, rec *recorder, lives []lifeMark) {
	t.Helper()
	open, all := map[string]int{}, map[string]int{}
	for _, l := range lives {
		all[l.g]++
		if l.open {
			open[l.g]++
		}
	}
	bad := 0
	for g, n := range all {
		id, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			t.Fatalf("%s: a lifetime slice's goroutine is %q", format, g)
		}
		// A goroutine whose ID a later life reused (a cgo callback's)
		// may have that life drawn or not; a single life is exact.
		ok := open[g] == 0
		if !rec.ended[mapping.GoID(id)] {
			ok = open[g] == 1 || rec.goroutines[mapping.GoID(id)] > 1 && open[g] == 0
		}
		if !ok {
			if bad++; bad <= 3 {
				t.Errorf("%s: G%d (ended: %v) has %d of its %d lifetime slices marked open at the end", format, id, rec.ended[mapping.GoID(id)], open[g], n)
			}
		}
	}
}

// regionName is the name the outputs give a region of type typ.
func regionName(typ string) string {
	if typ == "" {
		return "region"
	}
	return typ
}
