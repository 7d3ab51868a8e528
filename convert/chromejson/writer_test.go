package chromejson_test

import (
	"bytes"
	"cmp"
	"io"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/mapping"
)

// sinkRun feeds items to a Writer as the mapping would and checks the
// output.
func sinkRun(t *testing.T, w *chromejson.Writer, items ...func(mapping.Sink) error) {
	t.Helper()
	if err := w.Begin(&mapping.Meta{Input: "synthetic", FormatVersion: "go1.26", Start: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, f := range items {
		if err := f(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(&mapping.Summary{End: 9000}); err != nil {
		t.Fatal(err)
	}
}

func goroutine(id mapping.GoID, fn string, updated bool) func(mapping.Sink) error {
	return func(s mapping.Sink) error {
		return s.Goroutine(&mapping.Goroutine{ID: id, StartFunc: fn, Creator: mapping.NoGoroutine, Updated: updated})
	}
}

func state(id mapping.GoID, st mapping.GoState, start, end mapping.Time) func(mapping.Sink) error {
	return func(s mapping.Sink) error {
		return s.GoroutineState(&mapping.GoroutineState{G: id, State: st, Start: start, End: end, P: mapping.NoProc, M: mapping.NoThread})
	}
}

func ended(id mapping.GoID, at mapping.Time) func(mapping.Sink) error {
	return func(s mapping.Sink) error {
		return s.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: id, By: id, Time: at, P: mapping.NoProc, M: mapping.NoThread})
	}
}

// TestReusedGoroutineID checks that a goroutine ID the runtime gives to
// a new goroutine gets a lifetime slice of its own, named after the new
// life, and that a flow out of a goroutine that has ended starts on the
// row of its lane.
func TestReusedGoroutineID(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	sinkRun(t, w,
		goroutine(7, "main.first", false),
		goroutine(8, "main.target", false),
		state(7, mapping.GoRunning, 1000, 2000),
		ended(7, 2000),
		// 8 was unblocked by 7 while it ran, and runs after 7 ended.
		func(s mapping.Sink) error {
			return s.Flow(&mapping.Flow{ID: 1, Kind: mapping.GoUnblocked,
				From: mapping.Endpoint{Time: 1500, G: 7, P: mapping.NoProc, M: mapping.NoThread},
				To:   mapping.Endpoint{Time: 2500, G: 8, P: mapping.NoProc, M: mapping.NoThread}})
		},
		state(8, mapping.GoRunnable, 1500, 2500),
		state(8, mapping.GoRunning, 2500, 3000),
		goroutine(7, "main.second", false),
		state(7, mapping.GoRunning, 4000, 5000),
	)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	lives := lifetimeRows(rep)
	first, ok1 := lives["G7 main.first"]
	_, ok2 := lives["G7 main.second"]
	if !ok1 || !ok2 {
		t.Fatalf("lifetimes %v, want one for each life of G7", lives)
	}
	if len(rep.Flows) != 1 || (rep.Flows[0].Start.TID != first.TID) {
		t.Errorf("flows %+v, want one from the row of G7's first life", rep.Flows)
	}
}

// TestSplitRepeatsNames checks that a row used in two parts is named in
// both, and that a flow is never split between parts.
func TestSplitRepeatsNames(t *testing.T) {
	var parts []*bytes.Buffer
	w := chromejson.NewSplitWriter(1, func(int) (io.WriteCloser, error) {
		parts = append(parts, new(bytes.Buffer))
		return nopCloser{parts[len(parts)-1]}, nil
	})
	sinkRun(t, w,
		goroutine(1, "main.main", false),
		goroutine(2, "main.worker", false),
		state(1, mapping.GoRunning, 1000, 2000),
		func(s mapping.Sink) error {
			return s.Flow(&mapping.Flow{ID: 1, Kind: mapping.GoCreated,
				From: mapping.Endpoint{Time: 1200, G: 1, P: mapping.NoProc, M: mapping.NoThread},
				To:   mapping.Endpoint{Time: 2000, G: 2, P: mapping.NoProc, M: mapping.NoThread}})
		},
		state(1, mapping.GoWaiting, 2000, 3000),
		state(2, mapping.GoRunnable, 1200, 2000),
		state(2, mapping.GoRunning, 2000, 2400),
	)
	if len(parts) < 3 {
		t.Fatalf("%d parts, want one per item", len(parts))
	}
	for i, p := range parts {
		rep, err := chromecheck.Check(p.Bytes())
		if err != nil {
			t.Errorf("part %d: %v\n%s", i+1, err, p.Bytes())
		}
		if rep != nil && rep.Count("X", "") > 0 && len(rep.ThreadNames) == 0 {
			t.Errorf("part %d names no rows", i+1)
		}
	}
}

// TestSamplesBound checks that a part's samples array stops at its bound,
// that the samples past it are counted, and that every sample is still an
// instant.
func TestSamplesBound(t *testing.T) {
	defer chromejson.SetMaxSamples(2)()
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	items := []func(mapping.Sink) error{
		func(s mapping.Sink) error { return s.Thread(&mapping.Thread{ID: 7}) },
		func(s mapping.Sink) error {
			return s.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "main.spin", File: "main.go", Line: 3}}})
		},
	}
	for i := range 5 {
		items = append(items, func(s mapping.Sink) error {
			return s.CPUSample(&mapping.CPUSample{Time: mapping.Time(2000 + i), G: mapping.NoGoroutine, P: mapping.NoProc, M: 7, Stack: 1})
		})
	}
	sinkRun(t, w, items...)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 2 || w.SamplesOmitted() != 3 || rep.Count("i", "cpu") != 5 {
		t.Errorf("%d samples in the array, %d omitted, %d instants; want 2, 3, 5", len(rep.Samples), w.SamplesOmitted(), rep.Count("i", "cpu"))
	}
}

// onPM is a goroutine state on P p and M m.
func onPM(id mapping.GoID, st mapping.GoState, start, end mapping.Time, p mapping.ProcID, m mapping.ThreadID, blocked bool) func(mapping.Sink) error {
	return func(s mapping.Sink) error {
		return s.GoroutineState(&mapping.GoroutineState{G: id, State: st, Start: start, End: end, P: p, M: m, Blocked: blocked})
	}
}

// TestSyscallKeepsP checks that a syscall that kept its P nests in one
// running slice with the runs around it, on the goroutine's row and as
// one slice on the P's, that the flow into the first run finishes in
// that slice, and that a syscall that lost its P still cuts the run.
func TestSyscallKeepsP(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	sinkRun(t, w,
		func(s mapping.Sink) error { return s.Proc(&mapping.Proc{ID: 0}) },
		func(s mapping.Sink) error { return s.Thread(&mapping.Thread{ID: 1}) },
		goroutine(1, "main.main", false),
		goroutine(2, "main.worker", false),
		func(s mapping.Sink) error {
			return s.Flow(&mapping.Flow{ID: 1, Kind: mapping.GoUnblocked,
				From: mapping.Endpoint{Time: 900, G: 1, P: 0, M: 1},
				To:   mapping.Endpoint{Time: 1500, G: 2, P: 0, M: 1}})
		},
		onPM(2, mapping.GoRunnable, 1000, 1500, mapping.NoProc, mapping.NoThread, false),
		onPM(2, mapping.GoRunning, 1500, 2000, 0, 1, false),
		onPM(2, mapping.GoSyscall, 2000, 2100, 0, 1, false),
		onPM(2, mapping.GoRunning, 2100, 3000, 0, 1, false),
		onPM(2, mapping.GoSyscall, 3000, 3200, 0, 1, false),
		onPM(2, mapping.GoRunning, 3200, 4000, 0, 1, false),
		// Lost its P: a state of its own.
		onPM(2, mapping.GoSyscall, 4000, 9000, 0, 1, true),
		onPM(2, mapping.GoRunnable, 9000, 9500, mapping.NoProc, mapping.NoThread, false),
		onPM(2, mapping.GoRunning, 9500, 9800, 0, 1, false),
		ended(2, 9800),
	)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	type span struct {
		cat, name  string
		start, end int64
	}
	var got []span
	for _, e := range rep.Events {
		if e.Ph == "X" && e.Cat != "lifetime" {
			got = append(got, span{e.Cat, e.Name, e.TS, e.TS + e.Dur})
		}
	}
	// The trace starts at 1000 ns, and timestamp 0 is a microsecond
	// before it: the report's times are those of the model.
	at := func(t mapping.Time) int64 { return int64(t) }
	want := []span{
		{"goroutine", "runnable", at(1000), at(1500)},
		{"goroutine", "running", at(1500), at(4000)},
		{"goroutine", "syscall", at(2000), at(2100)},
		{"goroutine", "syscall", at(3000), at(3200)},
		{"proc", "G2 main.worker", at(1500), at(4000)},
		{"goroutine", "syscall (blocked)", at(4000), at(9000)},
		{"thread", "syscall (blocked)", at(4000), at(9000)},
		{"goroutine", "runnable", at(9000), at(9500)},
		{"goroutine", "running", at(9500), at(9800)},
		{"proc", "G2 main.worker", at(9500), at(9800)},
	}
	slices.SortFunc(got, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.cat, b.cat), cmp.Compare(a.name, b.name))
	})
	slices.SortFunc(want, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.cat, b.cat), cmp.Compare(a.name, b.name))
	})
	if !slices.Equal(got, want) {
		t.Errorf("slices:\n got %v\nwant %v", got, want)
	}
	if len(rep.Flows) != 1 || rep.Flows[0].FinishSlice.Name != "running" || rep.Flows[0].FinishSlice.Dur != 2500 {
		t.Errorf("flows %+v, want one that finishes in the running slice of 2.5 µs", rep.Flows)
	}
}

// TestLateRunAfterReuse checks that a run delivered after its goroutine
// ended goes on the row of that life, not of the next goroutine the
// runtime gives its ID.
func TestLateRunAfterReuse(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	sinkRun(t, w,
		goroutine(7, "main.first", false),
		state(7, mapping.GoRunnable, 1000, 1500),
		ended(7, 2000),
		state(7, mapping.GoRunning, 1500, 2000),
		goroutine(7, "main.second", false),
		state(7, mapping.GoRunning, 4000, 5000),
	)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	first, ok := lifetimeRows(rep)["G7 main.first"]
	if !ok {
		t.Fatalf("no lifetime slice for G7's first life\n%s", buf.Bytes())
	}
	found := false
	for row, evs := range rep.Slices {
		for _, e := range evs {
			if e.Name == "running" && e.TS == 1500 {
				found = true
				if row != first {
					t.Errorf("the late run of G7's first life is on row %v, want %v (its first life's)", row, first)
				}
			}
		}
	}
	if !found {
		t.Errorf("the late run of G7's first life is missing\n%s", buf.Bytes())
	}
}

// lifetimeRows returns the row of each goroutine lifetime slice, by name.
func lifetimeRows(rep *chromecheck.Report) map[string]chromecheck.Row {
	rows := map[string]chromecheck.Row{}
	for row, evs := range rep.Slices {
		for _, e := range evs {
			if e.Cat == "lifetime" {
				rows[e.Name] = row
			}
		}
	}
	return rows
}

// TestCutRunMarked checks that a run cut by the trace's start or end is
// marked so on the P's row too, not only on its goroutine's: there it
// would pass for a short run of its own.
func TestCutRunMarked(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	run := func(start, end mapping.Time, fl mapping.Flags) func(mapping.Sink) error {
		return func(s mapping.Sink) error {
			return s.GoroutineState(&mapping.GoroutineState{G: 2, State: mapping.GoRunning, Start: start, End: end, P: 0, M: 1, Flags: fl})
		}
	}
	sinkRun(t, w,
		func(s mapping.Sink) error { return s.Proc(&mapping.Proc{ID: 0}) },
		func(s mapping.Sink) error { return s.Thread(&mapping.Thread{ID: 1}) },
		goroutine(2, "main.worker", false),
		run(1000, 2000, mapping.OpenStart),
		onPM(2, mapping.GoRunnable, 2000, 3000, mapping.NoProc, mapping.NoThread, false),
		run(3000, 4000, 0),
		onPM(2, mapping.GoRunnable, 4000, 5000, mapping.NoProc, mapping.NoThread, false),
		run(5000, 9000, mapping.OpenEnd),
	)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	var got []string
	for _, e := range rep.Events {
		if e.Ph == "X" && e.Cat == "proc" {
			mark := "-"
			if e.Args["began before the trace"] == true {
				mark = "began before"
			}
			if e.Args["open at the end of the trace"] == true {
				mark = "open at the end"
			}
			got = append(got, mark)
		}
	}
	slices.Sort(got)
	if want := []string{"-", "began before", "open at the end"}; !slices.Equal(got, want) {
		t.Errorf("the P's runs are marked %q, want %q", got, want)
	}
}

// TestSplitManySyscalls: a goroutine that makes many syscalls in a row
// without losing its P keeps its P busy through them in a split output,
// as in a whole one, though the split cuts its run every few syscalls.
func TestSplitManySyscalls(t *testing.T) {
	items := []func(mapping.Sink) error{
		func(s mapping.Sink) error { return s.Proc(&mapping.Proc{ID: 0}) },
		func(s mapping.Sink) error { return s.Thread(&mapping.Thread{ID: 5}) },
		goroutine(1, "main.write", false),
	}
	on := func(st mapping.GoState, start, end mapping.Time) func(mapping.Sink) error {
		return func(s mapping.Sink) error {
			return s.GoroutineState(&mapping.GoroutineState{G: 1, State: st, Start: start, End: end, P: 0, M: 5})
		}
	}
	t0 := mapping.Time(1000)
	items = append(items, on(mapping.GoRunning, t0, t0+100))
	for i := range 50 {
		at := t0 + 100 + mapping.Time(i)*100
		items = append(items, on(mapping.GoSyscall, at, at+10), on(mapping.GoRunning, at+10, at+100))
	}
	end := t0 + 100 + 50*100
	items = append(items, state(1, mapping.GoWaiting, end, end+1000))

	pTime := func(data ...[]byte) (total int64) {
		for _, d := range data {
			rep, err := chromecheck.Check(d)
			if err != nil {
				t.Fatalf("%v\n%s", err, d)
			}
			for row, slices := range rep.Slices {
				if rep.ProcessNames[row.PID] != "Procs" {
					continue
				}
				for _, e := range slices {
					if e.Ph == "X" {
						total += e.Dur
					}
				}
			}
		}
		return total
	}
	var whole bytes.Buffer
	sinkRun(t, chromejson.NewWriter(&whole), items...)
	var parts [][]byte
	var bufs []*bytes.Buffer
	sinkRun(t, chromejson.NewSplitWriter(1, func(int) (io.WriteCloser, error) {
		bufs = append(bufs, new(bytes.Buffer))
		return nopCloser{bufs[len(bufs)-1]}, nil
	}), items...)
	for _, b := range bufs {
		parts = append(parts, b.Bytes())
	}
	want := pTime(whole.Bytes())
	if want != int64(end-t0) {
		t.Fatalf("the whole output has its P busy for %d ns, want %d", want, end-t0)
	}
	if got := pTime(parts...); got != want {
		t.Errorf("the parts have the P busy for %d ns, the whole output %d", got, want)
	}
}

// TestRegionGoroutineEnded: a region whose goroutine exited with it open
// says so, not that it was open at the end of the trace.
func TestRegionGoroutineEnded(t *testing.T) {
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	sinkRun(t, w,
		goroutine(2, "main.worker", false),
		func(s mapping.Sink) error {
			return s.Region(&mapping.Region{ID: 1, G: 2, Type: "exited", Start: 1000, End: 2000, Flags: mapping.OpenEnd, GoroutineEnded: true})
		},
		func(s mapping.Sink) error {
			return s.Region(&mapping.Region{ID: 2, G: 2, Type: "open", Start: 3000, End: 9000, Flags: mapping.OpenEnd})
		},
	)
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	want := map[string]string{"exited": "its goroutine exited before it ended", "open": "open at the end of the trace"}
	for _, e := range rep.Events {
		arg, ok := want[e.Name]
		if !ok || e.Ph != "X" {
			continue
		}
		delete(want, e.Name)
		if e.Args[arg] != true || e.Args["open at the end of the trace"] == true && arg != "open at the end of the trace" {
			t.Errorf("region %q: arguments %v, want %q", e.Name, e.Args, arg)
		}
	}
	if len(want) != 0 {
		t.Errorf("regions not written as X events: %v", want)
	}
}
