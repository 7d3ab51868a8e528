package mmu_test

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/mmu"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

var testWindows = []time.Duration{100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}

// tolerance is how far a utilization may be from the oracle's: both
// integrate the same step function in float64, in a different order.
const tolerance = 1e-6

func measure(tb testing.TB, path string, windows []time.Duration, opts ...mmu.Option) (*mmu.Meter, *mapping.Summary) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m := mmu.New(windows, opts...)
	sum, err := mapping.Map(f, m)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return m, sum
}

// oldFormat reports whether the trace at path is in a format of Go 1.21
// or before.
func oldFormat(tb testing.TB, path string) bool {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(f, hdr); err != nil {
		tb.Fatal(err)
	}
	var minor int
	if _, err := fmt.Sscanf(string(hdr), "go 1.%d trace", &minor); err != nil {
		tb.Fatalf("%s: header %q: %v", path, hdr, err)
	}
	return minor < 22
}

func readEvents(tb testing.TB, path string) []trace.Event {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var evs []trace.Event
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		evs = append(evs, ev)
	}
}

// TestMatchesOracle compares the MMU of every test trace, and the worst
// windows, with the oracle in oracle_test.go, which computes them from the
// whole list of events, for cmd/trace's default view and with sweeping
// counted too.
func TestMatchesOracle(t *testing.T) {
	for _, path := range testtraces.All(t, "../..") {
		evs := readEvents(t, path)
		for _, fl := range []struct {
			name  string
			flags mmu.Flags
		}{
			{"default", mmu.DefaultFlags},
			{"sweep", mmu.DefaultFlags | mmu.Sweep},
		} {
			t.Run(filepath.Base(path)+"/"+fl.name, func(t *testing.T) {
				matchesOracle(t, path, evs, fl.flags)
			})
		}
	}
}

func matchesOracle(t *testing.T, path string, evs []trace.Event, flags mmu.Flags) {
	m, _ := measure(t, path, testWindows, mmu.WithFlags(flags))
	want := oracleUtil(evs, flags, oldFormat(t, path))
	got := m.Results()
	if want == nil {
		if got != nil {
			t.Fatalf("got %v for a trace without utilization", got)
		}
		return
	}
	if len(got) != len(testWindows) {
		t.Fatalf("got %d results, want %d", len(got), len(testWindows))
	}
	if a := m.Anomalies(); len(a) > 0 {
		t.Errorf("anomalies: %v", a)
	}
	first, last := want.start(), want.end()
	t.Logf("utilization function: %d steps over %v", len(want.util), time.Duration(last-first))
	for i, w := range testWindows {
		r := got[i]
		mmuWant, at := want.mmu(w)
		t.Logf("%v: MMU %.6f, oracle %.6f at %d (off by %.1g); %d worst windows", w, r.MMU, mmuWant, at, math.Abs(r.MMU-mmuWant), len(r.Worst))
		if math.Abs(r.MMU-mmuWant) > tolerance {
			t.Errorf("%v: MMU %.9f, want %.9f (a window at %d)", w, r.MMU, mmuWant, at)
		}
		if len(r.Worst) == 0 || r.Worst[0].Util != r.MMU {
			t.Errorf("%v: worst windows %v do not begin with the MMU %v", w, r.Worst, r.MMU)
		}
		for j, x := range r.Worst {
			d := int64(x.Duration)
			if d != min(int64(w), last-first) {
				t.Errorf("%v: window %d lasts %v", w, j, x.Duration)
			}
			if int64(x.Start) < first || int64(x.Start)+d > last {
				t.Errorf("%v: window %d at %d is outside the trace [%d, %d]", w, j, x.Start, first, last)
			}
			if u := want.mean(int64(x.Start), d); math.Abs(u-x.Util) > tolerance {
				t.Errorf("%v: window %d at %d: utilization %.9f, the oracle gives %.9f", w, j, x.Start, x.Util, u)
			}
			if j > 0 && x.Util < r.Worst[j-1].Util {
				t.Errorf("%v: window %d is worse than the one before", w, j)
			}
			for _, y := range r.Worst[:j] {
				if x.Start < y.Start+mapping.Time(d) && y.Start < x.Start+mapping.Time(d) {
					t.Errorf("%v: windows at %d and %d overlap", w, x.Start, y.Start)
				}
			}
		}
	}
	t.Logf("most changes queued: %d", m.MaxQueued())
}

// The tests below feed a Meter by hand, in the order the mapping delivers
// items: intervals when they end, counters after the intervals of their
// event.

func ms(x float64) mapping.Time { return mapping.Time(x * 1e6) }

type feeder struct {
	tb       testing.TB
	m        *mmu.Meter
	endStack mapping.StackID // the stack where runs end
}

func newFeeder(tb testing.TB, windows []time.Duration, procs uint64) *feeder {
	f := &feeder{tb: tb, m: mmu.New(windows)}
	f.check(f.m.Begin(&mapping.Meta{}))
	f.counter(mapping.CounterGOMAXPROCS, 0, procs)
	f.counter(mapping.CounterGoroutinesRunning, 0, 0)
	return f
}

func (f *feeder) check(err error) {
	f.tb.Helper()
	if err != nil {
		f.tb.Fatal(err)
	}
}

func (f *feeder) counter(kind mapping.CounterKind, t mapping.Time, v uint64) {
	f.check(f.m.Counter(&mapping.Counter{Kind: kind, Time: t, Value: v}))
}

func (f *feeder) goroutine(id mapping.GoID, created mapping.Time, label string, updated bool) {
	f.check(f.m.Goroutine(&mapping.Goroutine{ID: id, Created: created, Label: label, Updated: updated}))
}

func (f *feeder) state(id mapping.GoID, st mapping.GoState, s, e mapping.Time, p mapping.ProcID, reason string) {
	f.check(f.m.GoroutineState(&mapping.GoroutineState{G: id, State: st, Start: s, End: e, P: p, Reason: reason, EndStack: f.endStack}))
}

func (f *feeder) stw(reason string, g mapping.GoID, s, e mapping.Time) {
	f.check(f.m.Range(&mapping.Range{Kind: mapping.RangeSTW, Name: "stop-the-world (" + reason + ")", Reason: reason,
		Scope: mapping.ScopeGoroutine, G: g, Start: s, End: e}))
}

func (f *feeder) assist(g mapping.GoID, s, e mapping.Time) {
	f.check(f.m.Range(&mapping.Range{Kind: mapping.RangeMarkAssist, Name: "GC mark assist",
		Scope: mapping.ScopeGoroutine, G: g, Start: s, End: e}))
}

func (f *feeder) end(t mapping.Time) []mmu.Result {
	f.check(f.m.End(&mapping.Summary{End: t}))
	if a := f.m.Anomalies(); len(a) > 0 {
		f.tb.Errorf("anomalies: %v", a)
	}
	return f.m.Results()
}

func checkMMU(t *testing.T, got []mmu.Result, want ...float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i, r := range got {
		if math.Abs(r.MMU-want[i]) > 1e-12 {
			t.Errorf("MMU %v = %v, want %v", r.Window, r.MMU, want[i])
		}
	}
}

func TestPause(t *testing.T) {
	f := newFeeder(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}, 1)
	f.goroutine(1, 0, "", false)
	f.stw("GC mark termination", 1, ms(4), ms(6))
	f.stw("read mem stats", 1, ms(7), ms(8)) // not the GC's
	got := f.end(ms(10))
	checkMMU(t, got, 0, 0, 0.5, 0.8, 0.8)
	want := []mmu.Window{{Start: ms(4), Duration: time.Millisecond}, {Start: ms(5), Duration: time.Millisecond}}
	if w := got[0].Worst; len(w) < 2 || w[0] != want[0] || w[1] != want[1] {
		t.Errorf("worst 1ms windows %v, want %v first", w, want)
	}
	if w := got[4].Worst; len(w) != 1 || w[0] != (mmu.Window{Start: 0, Duration: 10 * time.Millisecond, Util: 0.8}) {
		t.Errorf("a window longer than the trace: %v, want the whole trace", w)
	}
}

func TestPauseBeforeTrace(t *testing.T) {
	f := newFeeder(t, []time.Duration{time.Millisecond, 10 * time.Millisecond}, 4)
	f.goroutine(1, 0, "", false)
	f.stw("GC sweep termination", 1, 0, ms(1)) // begun before the trace
	f.stw("GC mark termination", 1, ms(5), ms(5.5))
	checkMMU(t, f.end(ms(10)), 0, 0.85)
}

func TestMarkWorker(t *testing.T) {
	for _, tt := range []struct {
		label string
		want  []float64
	}{
		{"GC (dedicated)", []float64{0.5, 0.5, 0.8}},
		{"GC (fractional)", []float64{0.5, 0.5, 0.8}},
		{"GC (idle)", []float64{1, 1, 1}},
	} {
		t.Run(tt.label, func(t *testing.T) {
			f := newFeeder(t, []time.Duration{time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond}, 2)
			f.goroutine(5, 0, "", false)
			f.state(5, mapping.GoRunnable, 0, ms(0.5), mapping.NoProc, "")
			f.counter(mapping.CounterGoroutinesRunning, ms(0.5), 1)
			f.state(5, mapping.GoRunning, ms(0.5), ms(0.6), 0, "") // started, unlabelled
			f.counter(mapping.CounterGoroutinesRunning, ms(0.6), 0)
			f.state(5, mapping.GoWaiting, ms(0.6), ms(1.9), mapping.NoProc, "system goroutine wait")
			f.state(5, mapping.GoRunnable, ms(1.9), ms(2), mapping.NoProc, "")
			f.counter(mapping.CounterGoroutinesRunning, ms(2), 1)
			f.goroutine(5, 0, tt.label, true)
			f.state(5, mapping.GoRunning, ms(2), ms(5), 0, "") // counts
			f.counter(mapping.CounterGoroutinesRunning, ms(5), 0)
			f.state(5, mapping.GoWaiting, ms(5), ms(7), mapping.NoProc, "system goroutine wait")
			f.state(5, mapping.GoRunnable, ms(7), ms(7.1), mapping.NoProc, "")
			f.counter(mapping.CounterGoroutinesRunning, ms(7.1), 1)
			f.state(5, mapping.GoRunning, ms(7.1), ms(8.1), 1, "") // the same label again: counts
			f.state(5, mapping.GoRunnable, ms(8.1), ms(8.5), mapping.NoProc, "preempted")
			f.state(5, mapping.GoRunning, ms(8.5), ms(9), 1, "") // resumed unlabelled: does not count
			f.state(5, mapping.GoWaiting, ms(9), ms(10), mapping.NoProc, "system goroutine wait")
			checkMMU(t, f.end(ms(10)), tt.want...)
		})
	}
}

func TestMarkAssist(t *testing.T) {
	f := newFeeder(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond}, 2)
	f.goroutine(7, 0, "", false)
	f.state(7, mapping.GoRunnable, 0, ms(0.5), mapping.NoProc, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(0.5), 1)
	// The assist begins at 1ms on P0, waits for work from 3ms to 5ms,
	// and goes on on P1 from 6ms to 8ms.
	f.state(7, mapping.GoRunning, ms(0.5), ms(3), 0, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(3), 0)
	f.state(7, mapping.GoWaiting, ms(3), ms(5), mapping.NoProc, "GC mark assist wait for work")
	f.state(7, mapping.GoRunnable, ms(5), ms(6), mapping.NoProc, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(6), 1)
	f.assist(7, ms(1), ms(8))
	f.state(7, mapping.GoRunning, ms(6), ms(9), 1, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(9), 0)
	f.state(7, mapping.GoWaiting, ms(9), ms(10), mapping.NoProc, "chan receive")
	checkMMU(t, f.end(ms(10)), 0.5, 0.5, 0.8, 0.8)
}

func TestNoGOMAXPROCS(t *testing.T) {
	m := mmu.New([]time.Duration{time.Millisecond})
	if err := m.Begin(&mapping.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := m.End(&mapping.Summary{End: ms(10)}); err != nil {
		t.Fatal(err)
	}
	if r := m.Results(); r != nil {
		t.Errorf("results %v for a trace without GOMAXPROCS", r)
	}
}

// TestStreaming feeds many pauses, so that changes are made final during
// the pass, and checks the result against a direct computation.
func TestStreaming(t *testing.T) {
	windows := []time.Duration{50 * time.Microsecond, 300 * time.Microsecond, 2 * time.Millisecond}
	f := newFeeder(t, windows, 1)
	// The goroutine never stops in a mark assist: no run need be kept.
	f.check(f.m.Stack(&mapping.Stack{ID: 1, Frames: []mapping.Frame{{Func: "main.main"}}}))
	f.endStack = 1
	f.goroutine(1, 0, "", false)
	type seg struct{ s, e mapping.Time }
	var pauses []seg
	now := mapping.Time(0)
	seed := uint64(1)
	rnd := func(n int64) mapping.Time { // xorshift, for a fixed sequence
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return mapping.Time(int64(seed>>1) % n)
	}
	for i := 0; i < 2000; i++ {
		start := now + 1000 + rnd(100_000) // runnable until start
		f.state(1, mapping.GoRunnable, now, start, mapping.NoProc, "")
		f.counter(mapping.CounterGoroutinesRunning, start, 1)
		end := start + 1000 + rnd(100_000)
		if i%3 != 0 {
			p := seg{start + rnd(int64(end-start)/2), 0}
			p.e = p.s + 1 + rnd(int64(end-p.s-1))
			f.stw("GC mark termination", 1, p.s, p.e)
			pauses = append(pauses, p)
		}
		f.state(1, mapping.GoRunning, start, end, 0, "")
		f.counter(mapping.CounterGoroutinesRunning, end, 0)
		now = end
	}
	got := f.end(now)
	t.Logf("%d pauses, at most %d changes queued", len(pauses), f.m.MaxQueued())
	if q := f.m.MaxQueued(); q > 1000 {
		t.Errorf("%d changes queued at once, want the pass to make them final as it goes", q)
	}
	util := func(a, b mapping.Time) float64 { // mean over [a, b)
		busy := mapping.Time(0)
		for _, p := range pauses {
			busy += max(0, min(b, p.e)-max(a, p.s))
		}
		return 1 - float64(busy)/float64(b-a)
	}
	for i, w := range windows {
		d := mapping.Time(w)
		want := 1.0
		for _, p := range pauses {
			for _, s := range []mapping.Time{p.s, p.e, p.s - d, p.e - d} {
				if s >= 0 && s+d <= now {
					want = min(want, util(s, s+d))
				}
			}
		}
		if math.Abs(got[i].MMU-want) > 1e-9 {
			t.Errorf("MMU %v = %v, want %v", w, got[i].MMU, want)
		}
		for _, x := range got[i].Worst {
			if u := util(x.Start, x.Start+d); math.Abs(u-x.Util) > 1e-9 {
				t.Errorf("%v window at %d: utilization %v, want %v", w, x.Start, x.Util, u)
			}
		}
	}
}

// TestFarProcs is TestMarkAssist on P IDs that only a damaged trace has:
// the same result, and no slice sized by an ID (the Meter once grew one
// to the ID).
func TestFarProcs(t *testing.T) {
	p0, p1 := mapping.ProcID(1<<40), mapping.ProcID(1<<63-1)
	f := newFeeder(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond}, 2)
	f.goroutine(7, 0, "", false)
	f.state(7, mapping.GoRunnable, 0, ms(0.5), mapping.NoProc, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(0.5), 1)
	f.state(7, mapping.GoRunning, ms(0.5), ms(3), p0, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(3), 0)
	f.state(7, mapping.GoWaiting, ms(3), ms(5), mapping.NoProc, "GC mark assist wait for work")
	f.state(7, mapping.GoRunnable, ms(5), ms(6), mapping.NoProc, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(6), 1)
	f.assist(7, ms(1), ms(8))
	f.state(7, mapping.GoRunning, ms(6), ms(9), p1, "")
	f.counter(mapping.CounterGoroutinesRunning, ms(9), 0)
	f.state(7, mapping.GoWaiting, ms(9), ms(10), mapping.NoProc, "chan receive")
	checkMMU(t, f.end(ms(10)), 0.5, 0.5, 0.8, 0.8)
}

// restrict returns f over [lo, hi) alone, as a window of the trace sees
// it.
func (f *utilFunction) restrict(lo, hi int64) *utilFunction {
	r := &utilFunction{}
	for i, u := range f.util {
		a, b := max(f.at[i], lo), min(f.at[i+1], hi)
		if a >= b {
			continue
		}
		if n := len(r.util); n == 0 || r.util[n-1] != u {
			r.at = append(r.at, a)
			r.util = append(r.util, u)
		}
	}
	r.at = append(r.at, hi)
	return r
}

// startOf records the trace's start as the mapping gives it, from which a
// window's bounds count.
type startOf struct {
	*mmu.Meter
	start mapping.Time
}

func (s *startOf) Begin(m *mapping.Meta) error { s.start = m.Start; return s.Meter.Begin(m) }

// TestWindowCutsWorker measures windows that begin while a mark worker
// runs, its label given before them: the worker's time in the window is
// the GC's, as the oracle has it over the whole trace. A window whose
// start cut a worker's run counted that run as the mutator's.
func TestWindowCutsWorker(t *testing.T) {
	const w = time.Millisecond
	checked := 0
	for _, path := range testtraces.All(t, "../..") {
		evs := readEvents(t, path)
		whole := oracleUtil(evs, mmu.DefaultFlags, oldFormat(t, path))
		if whole == nil {
			continue
		}
		act := gatherGC(evs)
		// The longest worker runs, which a window then starts inside of.
		workers := slices.Clone(act.workers)
		slices.SortFunc(workers, func(a, b gcSpan) int { return cmp.Compare(b.end-b.start, a.end-a.start) })
		s := &startOf{Meter: mmu.New([]time.Duration{w})}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			t.Fatal(err)
		}
		for _, x := range workers[:min(3, len(workers))] {
			from := x.start + (x.end-x.start)/2
			to := min(from+int64(2*w), whole.end())
			if x.end-x.start < 2000 || x.start < whole.start() || to-from < int64(w) {
				continue
			}
			checked++
			f := &mapping.Filter{From: mapping.Bound{Offset: time.Duration(from - int64(s.start))}, To: mapping.Bound{Offset: time.Duration(to - int64(s.start))}}
			m := mmu.New([]time.Duration{w})
			if _, err := mapping.Map(bytes.NewReader(data), f.Sink(m)); err != nil {
				t.Fatal(err)
			}
			want, at := whole.restrict(from, to).mmu(w)
			if got := m.Results(); len(got) != 1 || math.Abs(got[0].MMU-want) > tolerance {
				t.Errorf("%s: window [%d, %d] cutting a worker's run [%d, %d]: MMU %+v, want %.6f (a window at %d)", filepath.Base(path), from, to, x.start, x.end, got, want, at)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no window cut a worker's run: the test proves nothing")
	}
	t.Logf("%d windows", checked)
}
