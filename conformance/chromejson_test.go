package conformance

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestChromeJSON converts every trace to Chrome JSON in the same pass that
// records the model, parses and checks the output (nesting, flows, async
// pairs, stack frames), and compares its regions, tasks, runtime ranges,
// goroutine states and logs one for one, by name and exact time, with the
// model. The model itself is compared with the oracle by the other tests
// of this package, for the same traces.
func TestChromeJSON(t *testing.T) {
	eachConversion(t, func(w io.Writer) mapping.Sink { return chromejson.NewWriter(w) },
		func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte) {
			rep, err := chromecheck.Check(out)
			if err != nil {
				t.Fatalf("invalid Chrome JSON: %v", err)
			}
			compareChrome(t, rec, sum, rep)
		})
}

// cjSlice is a slice of the Chrome JSON output: the same as a Perfetto
// output's, so that the two compare with the same expectations.
type cjSlice = pfSlice

func compareChrome(t *testing.T, rec *recorder, sum *mapping.Summary, rep *chromecheck.Report) {
	// Timestamp 0 is a microsecond before the trace's start, as package
	// chromejson documents.
	base := int64(sum.Start) - 1000
	got := map[string][]cjSlice{}
	var lives []lifeMark
	for _, e := range rep.Events {
		if e.Ph == "X" {
			got[e.Cat] = append(got[e.Cat], cjSlice{e.Name, e.TS + base, e.TS + e.Dur + base})
			if e.Cat == "lifetime" {
				lives = append(lives, lifeMark{fmt.Sprint(e.Args["goroutine"]), openMark(e.Args)})
			}
		}
	}
	checkLifetimesOpen(t, "chrome", rec, lives)
	want := map[string][]cjSlice{}
	add := func(cat, name string, start, end mapping.Time) {
		want[cat] = append(want[cat], cjSlice{asUTF8(name), int64(start), int64(end)})
	}
	for _, r := range rec.regions {
		add("region", regionName(r.Type), r.Start, r.End)
	}
	for _, r := range rec.ranges {
		add("gc", rangeSliceName(&r), r.Start, r.End)
	}
	// States as the Perfetto output draws them too: a syscall that kept
	// its P nested in one running slice with the runs around it, which is
	// also one slice on the P's row.
	// A run followed by a syscall that blocked stays on the P's row until
	// the P's run on that M ended, if that was while the syscall was in
	// the kernel.
	var states, runs []cjSlice
	drawn := drawnStates(rec.states)
	h := newHeld(rec, drawn)
	for i, s := range drawn {
		states = append(states, cjSlice{"", int64(s.Start), int64(s.End)})
		if s.State == mapping.GoRunning && s.P != mapping.NoProc {
			runs = append(runs, cjSlice{"", int64(s.Start), int64(max(s.End, h.until(i)))})
		}
	}
	// The Ms' rows show the P each held and the syscalls in which it
	// lost its P, as the Perfetto output's thread tracks do.
	want["thread"] = threadSlices(t, rec)
	for _, cat := range []string{"region", "gc", "thread"} {
		diffMultiset(t, "chrome "+cat+" slices", want[cat], got[cat], func(s cjSlice) string {
			return fmt.Sprintf("%q [%d, %d]", s.name, s.start, s.end)
		})
	}
	// Goroutine states are named for display; compare their times.
	var gotStates []cjSlice
	for _, s := range got["goroutine"] {
		gotStates = append(gotStates, cjSlice{"", s.start, s.end})
	}
	diffMultiset(t, "chrome goroutine states", states, gotStates, func(s cjSlice) string {
		return fmt.Sprintf("[%d, %d]", s.start, s.end)
	})
	var gotRuns []cjSlice
	for _, s := range got["proc"] {
		gotRuns = append(gotRuns, cjSlice{"", s.start, s.end})
	}
	diffMultiset(t, "chrome runs on the Ps' rows", runs, gotRuns, func(s cjSlice) string {
		return fmt.Sprintf("[%d, %d]", s.start, s.end)
	})
	if n, want := rep.AsyncPairs["task"], len(rec.tasks); n != want {
		t.Errorf("%d task async pairs, want %d", n, want)
	}
	// Logs are instants with their category and message, at their time.
	var logs []logEntry
	for _, e := range rep.Events {
		if e.Cat == "log" && (e.Ph == "i" || e.Ph == "I") {
			logs = append(logs, logEntryOf(e.TS+base, e.Args))
		}
	}
	compareLogs(t, "chrome logs", rec, logs, asUTF8)
	if len(rep.Flows) != len(rec.flows) {
		t.Errorf("%d flows, want %d", len(rep.Flows), len(rec.flows))
	}
	// Each flow keeps the model's ID: it starts at its cause and finishes
	// where its goroutine starts to run, or a nanosecond in.
	byID := map[string]chromecheck.Flow{}
	for _, f := range rep.Flows {
		byID[f.Start.ID] = f
	}
	bad := 0
	for _, f := range rec.flows {
		got, ok := byID[strconv.FormatUint(f.ID, 10)]
		name := flowName(f.Kind)
		if ok && got.Start.Name == name && got.Start.TS+base == int64(f.From.Time) {
			if d := got.Finish.TS + base - int64(f.To.Time); d == 0 || d == 1 {
				continue
			}
		}
		if bad++; bad <= 3 {
			t.Errorf("flow %d (%s from %d to %d): found %v, %s", f.ID, name, f.From.Time, f.To.Time, ok, got.Start.Raw)
		}
	}
	// Every CPU sample is an instant; those with a stack on a thread the
	// trace names are also in the samples array, as their own thread's.
	cpu, wantSamples := 0, map[[2]int64]int{}
	for _, e := range rep.Events {
		if e.Cat == "cpu" && e.Ph == "i" {
			cpu++
		}
	}
	// A thread's tid is its row's, named after the M (it is the M's ID
	// but in traces before Go 1.22, and for an M 0).
	tidOf := map[string]int64{}
	for row, name := range rep.ThreadNames {
		if row.PID == 2 {
			tidOf[name] = row.TID
		}
	}
	for _, s := range rec.samples {
		if s.Stack != mapping.NoStack && s.M != mapping.NoThread {
			tid, ok := tidOf[fmt.Sprintf("M%d", s.M)]
			if !ok {
				t.Errorf("no row named M%d for a CPU sample", s.M)
			}
			wantSamples[[2]int64{tid, int64(s.Time)}]++
		}
	}
	if cpu != len(rec.samples) {
		t.Errorf("%d CPU sample instants, want %d", cpu, len(rec.samples))
	}
	gotSamples := map[[2]int64]int{}
	for _, s := range rep.Samples {
		gotSamples[[2]int64{s.TID, s.TS + base}]++
	}
	if !maps.Equal(gotSamples, wantSamples) {
		t.Errorf("samples array: %d entries, want %d (one per CPU sample with a stack and a thread)", len(rep.Samples), sumValues(wantSamples))
	}
	diffMultiset(t, "chrome counter events", chromeCounters(rec.counters), gotChromeCounters(rep, base), func(c cjCounter) string {
		return fmt.Sprintf("%q at %d: %s", c.name, c.time, c.args)
	})
}

// cjCounter is a counter event: its name, time and series values.
type cjCounter struct {
	name string
	time int64
	args string // "series=value" pairs, sorted by series
}

// chromeCounters returns the counter events the model's samples make:
// one per sample, with one series named after its unit, except for the
// goroutines and threads by state, which are a counter each with a series
// per state, written once per time with the values at its end.
func chromeCounters(samples []mapping.Counter) []cjCounter {
	type group struct {
		name    string
		series  []string
		values  []uint64
		time    int64
		pending bool
	}
	gs := &group{name: "Goroutines", series: []string{"running", "runnable", "waiting", "syscall"}, values: make([]uint64, 4)}
	ts := &group{name: "Threads", series: []string{"running", "syscall"}, values: make([]uint64, 2)}
	of := map[mapping.CounterKind]struct {
		g *group
		i int
	}{
		mapping.CounterGoroutinesRunning: {gs, 0}, mapping.CounterGoroutinesRunnable: {gs, 1},
		mapping.CounterGoroutinesWaiting: {gs, 2}, mapping.CounterGoroutinesSyscall: {gs, 3},
		mapping.CounterThreadsRunning: {ts, 0}, mapping.CounterThreadsSyscall: {ts, 1},
	}
	var out []cjCounter
	emit := func(g *group) {
		var pairs []string
		for i, s := range g.series {
			pairs = append(pairs, fmt.Sprintf("%s=%d", s, g.values[i]))
		}
		slices.Sort(pairs)
		out = append(out, cjCounter{g.name, g.time, strings.Join(pairs, " ")})
		g.pending = false
	}
	for _, c := range samples {
		if gi, ok := of[c.Kind]; ok {
			if gi.g.pending && gi.g.time != int64(c.Time) {
				emit(gi.g)
			}
			gi.g.values[gi.i], gi.g.time, gi.g.pending = c.Value, int64(c.Time), true
			continue
		}
		unit := c.Unit
		if unit == "" {
			unit = "value"
		}
		out = append(out, cjCounter{asUTF8(c.Name), int64(c.Time), fmt.Sprintf("%s=%d", asUTF8(unit), c.Value)})
	}
	for _, g := range []*group{gs, ts} {
		if g.pending {
			emit(g)
		}
	}
	return out
}

// gotChromeCounters returns the counter events of a Chrome JSON file.
func gotChromeCounters(rep *chromecheck.Report, base int64) []cjCounter {
	var out []cjCounter
	for _, e := range rep.Events {
		if e.Ph != "C" {
			continue
		}
		var pairs []string
		for k, v := range e.Args {
			pairs = append(pairs, fmt.Sprintf("%s=%v", k, v))
		}
		slices.Sort(pairs)
		out = append(out, cjCounter{e.Name, e.TS + base, strings.Join(pairs, " ")})
	}
	return out
}

func sumValues(m map[[2]int64]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// held finds when the P of a run was taken from the syscall that blocked
// right after it. It indexes the states by goroutine and the Ps' runs by
// the goroutine they were taken from, once: a scan of all that follows
// each run took minutes on a trace of 18 MB.
type held struct {
	drawn []mapping.GoroutineState
	pos   []int                              // drawn[i]'s place in byG[drawn[i].G]
	byG   map[mapping.GoID][]int             // the indices in drawn of each goroutine's states
	taken map[mapping.GoID][]mapping.ProcRun // the Ps' runs, by the goroutine they were taken from
}

func newHeld(rec *recorder, drawn []mapping.GoroutineState) *held {
	h := &held{drawn: drawn, pos: make([]int, len(drawn)), byG: map[mapping.GoID][]int{}, taken: map[mapping.GoID][]mapping.ProcRun{}}
	for i, s := range drawn {
		h.pos[i] = len(h.byG[s.G])
		h.byG[s.G] = append(h.byG[s.G], i)
	}
	for _, pr := range rec.procRuns {
		if pr.TakenFrom != mapping.NoGoroutine {
			h.taken[pr.TakenFrom] = append(h.taken[pr.TakenFrom], pr)
		}
	}
	return h
}

// until returns, for the run drawn[i], when the P it ran on was taken
// from the syscall that blocked right after it, or 0: the end of the P's
// run on the same M that the model says was taken from it, if within the
// 10ms a split output holds a run.
func (h *held) until(i int) mapping.Time {
	r := h.drawn[i]
	for _, j := range h.byG[r.G][h.pos[i]+1:] {
		y := h.drawn[j]
		if y.Start < r.End {
			continue // a syscall nested in the run
		}
		// A trace before Go 1.22 does not tell a blocked syscall's M:
		// it is the run's.
		if y.State != mapping.GoSyscall || !y.Blocked || y.Start != r.End || y.P != r.P || y.M != r.M && y.M != mapping.NoThread {
			return 0
		}
		for _, pr := range h.taken[y.G] {
			if pr.P == y.P && pr.M == r.M && pr.End >= y.Start && pr.End <= y.End {
				if pr.End-r.End > 10_000_000 {
					return 0 // past what a split output holds a run for
				}
				return pr.End
			}
		}
		return 0
	}
	return 0
}
