// Package mmu measures minimum mutator utilization (MMU) from the timeline
// model: for a window duration w, the lowest share of the CPU that the
// program's own code (the mutator) had in any window of w, and the worst
// windows that do not overlap.
//
// # What takes time from the mutator
//
// The definition is the one behind cmd/trace's MMU view in its default
// ("System") form. The mutator utilization at an instant is 0 during a
// stop-the-world pause of the garbage collector, and otherwise
// 1 - b/GOMAXPROCS, where b is the number of Ps busy with the GC: running a
// background mark worker in dedicated or fractional mode (idle-mode
// workers only use Ps that had nothing else to do), running a goroutine
// while it is in a mark assist, and, with [Sweep], sweeping. A pause
// counts when its reason names the GC ("stop-the-world (GC mark
// termination)"). The function starts at the first GOMAXPROCS sample and
// ends at the trace's last timestamp; a window longer than that is the
// whole trace. The parser of a trace of Go 1.21 or before drops the
// sample at its start, and gives the first at the first GC's
// start-the-world: there the function starts at the trace's start, with
// that first value (GOMAXPROCS changes at a start-the-world only, so it
// held before, unless the program changed it there), and the pause before
// it counts, where cmd/trace starts after it. [DefaultFlags] are the
// kinds cmd/trace counts by default.
//
// Where cmd/trace's implementation (MutatorUtilizationV2 in Go's
// internal/trace) keeps its per-P counts in ways that leak, this package
// follows the definition instead:
//
//   - cmd/trace counts a mark worker both when it starts running and when
//     the label that follows its start arrives, so from a worker's second
//     run on the P it runs on stays busy for the rest of the trace. Here a
//     run of a worker counts once, from its start.
//   - cmd/trace marks a goroutine as a worker for good once it was labelled
//     dedicated or fractional, counting its later idle-mode runs too. Here
//     each run counts according to its own label.
//   - cmd/trace counts a goroutine's state again when a new generation of
//     the trace restates it, leaking a busy P for a worker or an assist
//     running across a generation boundary. The model does not restate
//     states.
//   - cmd/trace ignores a pause that began before the trace, and since its
//     end leaves the count of pauses below zero, every GC pause after it;
//     here it takes the time from the trace's start.
//   - Where several changes share a timestamp, cmd/trace keeps the lowest
//     utilization until the next event of any kind; here the state after
//     all of them holds.
//
// The runtime labels a mark worker with its mode each time it starts it to
// work; the model passes a goroutine's label on only when it changes. A
// run of a worker is taken to be labelled when its label changed during
// the run, or when the run follows the wait where workers idle; see
// [Meter.GoroutineState].
//
// # Streaming
//
// The model delivers intervals when they end, so a change of utilization
// becomes known only after it happens. A [Meter] keeps the changes not
// yet final in a queue ordered by time, and makes them final up to a
// horizon before which nothing can become known any more: the time of the
// event last delivered, the start of the run of every goroutine running,
// and, since a mark assist covers every run of its goroutine from its
// start, the first run kept of each goroutine that stopped running in the
// middle of an assist (the stack where it stopped tells). Each window
// duration then slides over the final changes, keeping only those within
// one window. Memory therefore follows the GC activity during the longest
// run or interrupted assist in progress, plus a few words for each live
// goroutine, not the length of the trace. Where the trace gives no stack
// where a run ends (as old traces often do not), up to 16 runs of each
// goroutine are kept for the assists, and changes wait that much longer.
package mmu

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trace2x/trace2x/internal/gotable"
	"github.com/trace2x/trace2x/mapping"
)

// Flags choose what takes time from the mutator, like the "Include"
// options of cmd/trace's MMU view.
type Flags uint8

const (
	STW        Flags = 1 << iota // stop-the-world pauses of the GC
	Background                   // GC mark workers in dedicated and fractional mode
	Assist                       // GC mark assists
	Sweep                        // incremental sweeping
)

// DefaultFlags are what cmd/trace's MMU view counts unless told
// otherwise: pauses, background workers and assists, not sweeping.
const DefaultFlags = STW | Background | Assist

// Window is one window of the trace and the mean mutator utilization in
// it.
type Window struct {
	Start    mapping.Time  // on the trace's clock
	Duration time.Duration // the window duration asked for, or the whole trace if it is shorter
	Util     float64       // mean mutator utilization, in [0, 1]
}

// Result is the MMU for one window duration.
type Result struct {
	Window time.Duration // the window duration asked for
	// MMU is the lowest mean mutator utilization of any window of that
	// duration in the trace, in [0, 1].
	MMU float64
	// Worst are windows of that duration with the lowest utilization,
	// worst first, none overlapping another; the first has MMU. Of
	// windows that overlap, the one with the lower utilization is kept,
	// or the earlier one if they tie.
	Worst []Window
}

// Option configures a Meter.
type Option interface{ apply(*config) }

type config struct {
	flags Flags
	worst int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithFlags sets what takes time from the mutator. The default is
// DefaultFlags.
func WithFlags(f Flags) Option { return optionFunc(func(c *config) { c.flags = f }) }

// WithWorst sets how many of the worst windows each Result lists. The
// default is 5.
func WithWorst(n int) Option { return optionFunc(func(c *config) { c.worst = max(n, 1) }) }

// keptRuns is how many runs of one goroutine are kept for a mark assist
// that may still be open (the package documentation says 16 too). An
// assist that spans more runs of its goroutine than that (it was
// preempted or parked that often) is counted as an anomaly.
const keptRuns = 16

// Meter is a mapping.Sink that measures the MMU for a few window
// durations in one pass. Results are ready once End has been called. Like
// any sink, it expects its methods to be called one at a time.
type Meter struct {
	mapping.NopSink
	cfg     config
	windows []*window

	// Goroutines: where each runs, and since when.
	gs      gotable.Table[mapping.GoID, goroutine]
	running goSet // known to be running now
	// unknown holds, in order of arrival, the goroutines found in progress
	// at a generation's start whose state is not known yet; entries that
	// became known are skipped.
	unknown    []*goroutine
	nUnknown   int    // entries of unknown still unknown
	runningNow uint64 // the model's count of running goroutines
	haveCount  bool
	free       []*goroutine // forgotten, for reuse
	withRuns   goSet        // goroutines that keep runs
	pending    goSet        // goroutines with assists waiting for their run's P
	// inAssist holds the stacks that show a goroutine in a mark assist,
	// by StackID: the mapping numbers stacks from 1 up. IDs too large for
	// the slice go to inAssistFar.
	inAssist    []bool
	inAssistFar map[mapping.StackID]bool

	// Changes not final yet, and the utilization function's state at the
	// horizon, before which every change is final.
	deltas  deltaHeap
	seq     uint64
	horizon mapping.Time
	nextTry int
	stw     int
	busy    []int32                   // by P: GC activities in progress
	busyFar map[mapping.ProcID]*int32 // those of Ps past maxNearProc
	nbusy   int                       // Ps with GC activity in progress
	procs   int                       // GOMAXPROCS; 0 until the first sample
	started bool
	start   mapping.Time // the first GOMAXPROCS sample
	// A trace of Go 1.21 or before has its GOMAXPROCS at the start dropped
	// by its parser, which gives the first at the first GC's
	// start-the-world: the changes before it (that pause among them) are
	// kept in early, from the trace's start, and measured with that first
	// value once it comes.
	old        bool
	traceStart mapping.Time
	early      []earlyChange
	end        mapping.Time
	ended      bool
	maxQueued  int

	// The final utilization function, from the oldest change a window
	// still needs: pts[i] is the change at index base+i.
	pts  []point
	base int

	anomalies map[string]int
}

var _ mapping.Sink = (*Meter)(nil)

// goroutine is what a Meter keeps of a live goroutine.
type goroutine struct {
	id     mapping.GoID
	since  mapping.Time // start of the interval in progress
	state  gstate
	label  string
	worker bool // label is a dedicated or fractional mark worker's
	// labelled is set when the label changed during the interval in
	// progress; parked when that interval follows a wait where mark
	// workers idle, and woken when it is a run that follows such a wait.
	labelled, woken, parked bool
	runs                    []run          // its runs that a mark assist still open may cover, oldest first
	cut                     mapping.Time   // runs that ended before it were dropped
	assists                 []span         // parts of assists that ended in the run in progress
	queued                  bool           // in Meter.unknown, so not to be reused
	in                      [numSets]int32 // 1 + its index in each goSet it is in, 0 if not
}

// A goSet is a set of goroutines, kept in a slice: the sets change with
// almost every item, which a map would hash and rehash, and are walked
// whole only once in a while. Each goroutine knows its place in each set.
type goSet struct {
	kind setKind
	list []*goroutine
}

type setKind uint8

const (
	setRunning setKind = iota
	setWithRuns
	setPending
	numSets
)

func (s *goSet) add(gr *goroutine) {
	if gr.in[s.kind] == 0 {
		s.list = append(s.list, gr)
		gr.in[s.kind] = int32(len(s.list))
	}
}

func (s *goSet) remove(gr *goroutine) {
	i := gr.in[s.kind]
	if i == 0 {
		return
	}
	last := s.list[len(s.list)-1]
	s.list[i-1] = last
	last.in[s.kind] = i
	s.list[len(s.list)-1] = nil
	s.list = s.list[:len(s.list)-1]
	gr.in[s.kind] = 0
}

type gstate uint8

const (
	gIdle    gstate = iota // not running: runnable, waiting, or in a syscall
	gRunning               // running since since
	gUnknown               // found in progress; running or not
)

// run is an interval a goroutine executed on a P.
type run struct {
	p    mapping.ProcID
	s, e mapping.Time
}

type span struct{ s, e mapping.Time }

// point is a change of the utilization function.
type point struct {
	t    mapping.Time
	util float64 // from t to the next change
	cum  float64 // the integral of utilization from the start to t, in nanoseconds
}

type deltaKind uint8

const (
	dSTW   deltaKind = iota // a GC pause begins (+1) or ends (-1)
	dProc                   // a P's GC activity begins (+1) or ends (-1)
	dProcs                  // GOMAXPROCS becomes v
)

// delta is one change in the state of the utilization function.
type delta struct {
	t    mapping.Time
	seq  uint64
	kind deltaKind
	p    mapping.ProcID
	v    int32
}

type deltaHeap []delta

func (h deltaHeap) Len() int { return len(h) }
func (h deltaHeap) Less(i, j int) bool {
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].seq < h[j].seq
}
func (h deltaHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deltaHeap) Push(x any)   { *h = append(*h, x.(delta)) }
func (h *deltaHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// window is the sliding computation for one window duration.
type window struct {
	w      int64
	ia, ib int // next changes at which a window starts (ia) or ends (ib)
	kl, kr int // changes at or before a window's start and end
	last   mapping.Time
	done   bool // a window was evaluated; last is its start
	min    float64
	worst  []Window // kept windows, in time order
}

// New returns a Meter for the given window durations.
func New(windows []time.Duration, opts ...Option) *Meter {
	m := &Meter{
		cfg:       config{flags: DefaultFlags, worst: 5},
		running:   goSet{kind: setRunning},
		withRuns:  goSet{kind: setWithRuns},
		pending:   goSet{kind: setPending},
		horizon:   math.MinInt64,
		nextTry:   tryEvery,
		anomalies: make(map[string]int),
	}
	for _, o := range opts {
		o.apply(&m.cfg)
	}
	for _, w := range windows {
		m.windows = append(m.windows, &window{w: int64(max(w, 1)), min: math.Inf(1)})
	}
	return m
}

// tryEvery is how many changes may wait before the Meter tries to make
// some final.
const tryEvery = 256

// Results returns the MMU for each window duration, in the order given to
// New. It returns nil before End, and for a trace that holds no
// GOMAXPROCS sample or lasts no time.
func (m *Meter) Results() []Result {
	if !m.ended || !m.started || m.end <= m.start {
		return nil
	}
	out := make([]Result, len(m.windows))
	for i, wd := range m.windows {
		r := Result{Window: time.Duration(wd.w), MMU: wd.min, Worst: slices.Clone(wd.worst)}
		slices.SortStableFunc(r.Worst, func(a, b Window) int { return cmp.Compare(a.Util, b.Util) })
		out[i] = r
	}
	return out
}

// Anomalies counts what the Meter had to repair, by description: a change
// that became known after the time it belongs to was final, or a mark
// assist longer than the runs kept for it. Results are exact when it is
// empty.
func (m *Meter) Anomalies() map[string]int { return m.anomalies }

// MaxQueued is the largest number of changes that waited to become final
// at any time, a measure of the memory used.
func (m *Meter) MaxQueued() int { return m.maxQueued }

func (m *Meter) anomaly(what string) { m.anomalies[what]++ }

// Begin starts the pass.
func (m *Meter) Begin(meta *mapping.Meta) error {
	m.horizon = math.MinInt64
	minor, err := strconv.Atoi(strings.TrimPrefix(meta.FormatVersion, "go1."))
	m.old, m.traceStart = err == nil && minor < 22, meta.Start
	return nil
}

// earlyChange is a change before GOMAXPROCS is known (see Meter.old).
type earlyChange struct {
	t          mapping.Time
	stw, nbusy int
}

func isWorkerLabel(l string) bool {
	return strings.HasPrefix(l, "GC ") && l != "GC (idle)"
}

// Goroutine notes a goroutine and its label.
func (m *Meter) Goroutine(g *mapping.Goroutine) error {
	gr := m.gs.Get(g.ID)
	if gr == nil || !g.Updated {
		if gr != nil {
			m.forget(gr) // a new life of a reused ID
		}
		gr = m.newGoroutine(g.ID, g.Created)
		if g.Flags.Has(mapping.OpenStart) {
			gr.state, gr.queued = gUnknown, true
			m.unknown = append(m.unknown, gr)
			m.nUnknown++
			if len(m.unknown) > 2*m.nUnknown+64 {
				m.unknown = slices.DeleteFunc(m.unknown, func(gr *goroutine) bool { return gr.state != gUnknown })
			}
		}
		m.gs.Set(g.ID, gr)
	}
	if g.Updated && g.Label != gr.label {
		gr.labelled = true
	}
	if !g.Updated && g.Flags.Has(mapping.OpenStart) && isWorkerLabel(g.Label) {
		// A mark worker cut by a window, its label given before it: the
		// run under way at the window's start is most often the one the
		// label was given in, and a worker's runs are long.
		gr.labelled = true
	}
	gr.label = g.Label
	gr.worker = m.cfg.flags&Background != 0 && isWorkerLabel(g.Label)
	return nil
}

// forget drops what the Meter keeps of gr.
func (m *Meter) forget(gr *goroutine) {
	if m.gs.Get(gr.id) == gr {
		m.gs.Delete(gr.id)
	}
	m.running.remove(gr)
	m.withRuns.remove(gr)
	m.pending.remove(gr)
	gr.setState(m, gIdle)
	if !gr.queued {
		m.free = append(m.free, gr)
	}
}

// newGoroutine returns a goroutine in its first interval, from since,
// reusing one forgotten.
func (m *Meter) newGoroutine(id mapping.GoID, since mapping.Time) *goroutine {
	var gr *goroutine
	if n := len(m.free); n > 0 {
		gr = m.free[n-1]
		m.free = m.free[:n-1]
		*gr = goroutine{runs: gr.runs[:0], assists: gr.assists[:0]}
	} else {
		gr = new(goroutine)
	}
	gr.id, gr.since, gr.cut = id, since, math.MinInt64
	return gr
}

// setState changes gr's state, keeping count of the unknown ones.
func (gr *goroutine) setState(m *Meter, s gstate) {
	if gr.state == gUnknown {
		m.nUnknown--
	}
	gr.state = s
}

// GoroutineEvent forgets a goroutine that ended.
func (m *Meter) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		if gr := m.gs.Get(e.G); gr != nil {
			m.forget(gr)
		}
	}
	return nil
}

// GoroutineState follows a goroutine from P to P: its runs as a mark
// worker, and the runs its mark assists cover.
//
// The runtime labels a mark worker each time it wakes it from its idle
// wait (which traces give as a system goroutine's wait, or before Go 1.22
// give no reason) to work. A worker that runs again for another reason (it
// was preempted, or waited on a semaphore at the end of the mark phase)
// runs unlabelled: it does no marking, and only goes back to waiting. As
// the model passes a label on only when it changes, a run counts as a
// worker's when the label changed during it, or when it follows the idle
// wait and the goroutine's label is a dedicated or fractional worker's.
func (m *Meter) GoroutineState(s *mapping.GoroutineState) error {
	gr := m.gs.Get(s.G)
	if gr == nil {
		gr = m.newGoroutine(s.G, s.Start)
		m.gs.Set(s.G, gr)
	}
	if gr.state == gRunning {
		m.running.remove(gr)
	}
	exec := s.State == mapping.GoRunning || s.State == mapping.GoSyscall
	if len(gr.assists) > 0 {
		if exec && s.Start == gr.since {
			for _, a := range gr.assists {
				m.procSegment(s.P, max(a.s, s.Start), min(a.e, s.End))
			}
		} else {
			m.anomaly("mark assist that ended outside a run")
		}
		gr.assists = gr.assists[:0]
		m.pending.remove(gr)
	}
	if s.State == mapping.GoRunning && gr.worker && (gr.labelled || gr.woken) {
		m.procSegment(s.P, s.Start, s.End)
	}
	gr.woken = s.State == mapping.GoRunnable && gr.parked
	gr.parked = s.State == mapping.GoWaiting && (s.Reason == "system goroutine wait" || s.Reason == "")
	gr.labelled = false
	if m.cfg.flags&Assist != 0 {
		switch {
		case exec && s.EndStack != mapping.NoStack && !m.assistStack(s.EndStack),
			s.State == mapping.GoWaiting && outsideAssist(s.Reason),
			strings.HasPrefix(gr.label, "GC "):
			// It stopped (or waited) outside a mark assist, or it is a
			// mark worker, which never assists: no assist still open
			// covers its runs so far.
			gr.clearRuns(m, s.End)
		case exec && s.P != mapping.NoProc:
			m.keepRun(gr, run{s.P, s.Start, s.End})
		}
	}
	gr.since = s.End
	gr.setState(m, gIdle)
	if s.State == mapping.GoRunnable || s.State == mapping.GoSyscall && !s.Blocked {
		// The only way on from runnable, and from a syscall that kept
		// its P, is to run.
		gr.setState(m, gRunning)
		m.running.add(gr)
	}
	return nil
}

// outsideAssist reports whether a goroutine in a mark assist never blocks
// for reason. In an assist it blocks only to wait for work or, in the one
// that ends the mark phase, on the runtime's semaphores ("sync"). Traces
// before Go 1.22 give the runtime's other waits no reason. (A switch: it
// runs for every wait, and costs less than hashing the reason.)
func outsideAssist(reason string) bool {
	switch reason {
	case "",
		"chan send",
		"chan receive",
		"select",
		"network",
		"sleep",
		"sync.(*Cond).Wait",
		"forever",
		"system goroutine wait",
		"GC background sweeper wait",
		"GC weak to strong wait",
		"wait for debug call",
		"synctest":
		return true
	}
	return false
}

// keepRun records r for the mark assists that may cover it.
func (m *Meter) keepRun(gr *goroutine, r run) {
	if len(gr.runs) == keptRuns {
		gr.cut = gr.runs[0].e
		gr.runs = slices.Delete(gr.runs, 0, 1)
	}
	gr.runs = append(gr.runs, r)
	m.withRuns.add(gr)
}

// clearRuns drops all of gr's runs, which ended by t.
func (gr *goroutine) clearRuns(m *Meter, t mapping.Time) {
	gr.cut = t
	gr.runs = gr.runs[:0]
	m.withRuns.remove(gr)
}

// dropRuns drops the runs that ended by t.
func (gr *goroutine) dropRuns(t mapping.Time) {
	i := 0
	for i < len(gr.runs) && gr.runs[i].e <= t {
		i++
	}
	if i > 0 {
		gr.cut = max(gr.cut, gr.runs[i-1].e)
		gr.runs = slices.Delete(gr.runs, 0, i)
	}
}

// Stack notes the stacks that show a goroutine in a mark assist, so
// that the runs of a goroutine that stopped elsewhere need not be kept.
func (m *Meter) Stack(s *mapping.Stack) error {
	for _, f := range s.Frames {
		// Some stacks leave out the runtime's innermost frames, down to
		// the allocation's call of deductAssistCredit.
		if f.Func == "runtime.gcAssistAlloc" || f.Func == "runtime.deductAssistCredit" {
			if s.ID < maxNearStack {
				for int(s.ID) >= len(m.inAssist) {
					m.inAssist = append(m.inAssist, false)
				}
				m.inAssist[s.ID] = true
			} else {
				if m.inAssistFar == nil {
					m.inAssistFar = make(map[mapping.StackID]bool)
				}
				m.inAssistFar[s.ID] = true
			}
			break
		}
	}
	return nil
}

// maxNearStack bounds the StackIDs inAssist holds in its slice.
const maxNearStack = 1 << 20

// maxNearProc bounds the P IDs busy holds in its slice.
const maxNearProc = 1 << 16

// assistStack reports whether the stack id shows a goroutine in a mark
// assist.
func (m *Meter) assistStack(id mapping.StackID) bool {
	if int(id) < len(m.inAssist) {
		return m.inAssist[id]
	}
	return m.inAssistFar[id]
}

// Range counts GC pauses, sweeps and mark assists.
func (m *Meter) Range(r *mapping.Range) error {
	switch {
	case m.cfg.flags&STW != 0 && strings.HasPrefix(r.Name, "stop-the-world") && strings.Contains(r.Name, "GC"):
		if r.End > r.Start {
			m.push(delta{t: r.Start, kind: dSTW, v: 1})
			m.push(delta{t: r.End, kind: dSTW, v: -1})
		}
	case r.Kind == mapping.RangeSweep && m.cfg.flags&Sweep != 0 && r.Scope == mapping.ScopeProc:
		m.procSegment(r.P, r.Start, r.End)
	case r.Kind == mapping.RangeMarkAssist && m.cfg.flags&Assist != 0 && r.Scope == mapping.ScopeGoroutine:
		m.assist(r.G, r.Start, r.End)
	}
	return nil
}

// assist counts the runs of goroutine id between s and e as GC work on
// their Ps. The part in the run in progress waits for that run to end and
// tell its P.
func (m *Meter) assist(id mapping.GoID, s, e mapping.Time) {
	gr := m.gs.Get(id)
	if gr == nil {
		m.anomaly("mark assist of an unknown goroutine")
		return
	}
	if s < gr.cut {
		m.anomaly("mark assist longer than the runs kept")
	}
	for _, r := range gr.runs {
		if r.e > s && r.s < e {
			m.procSegment(r.p, max(s, r.s), min(e, r.e))
		}
	}
	if e > gr.since {
		gr.assists = append(gr.assists, span{max(s, gr.since), e})
		m.pending.add(gr)
	}
	// A later assist begins after this one ended.
	gr.dropRuns(e)
	if len(gr.runs) == 0 {
		m.withRuns.remove(gr)
	}
}

// procSegment counts GC activity on P p from s to e.
func (m *Meter) procSegment(p mapping.ProcID, s, e mapping.Time) {
	if p < 0 || e <= s {
		return
	}
	m.push(delta{t: s, kind: dProc, p: p, v: 1})
	m.push(delta{t: e, kind: dProc, p: p, v: -1})
}

// push queues a change. One that comes after its time was made final is
// moved to the horizon, and counted.
func (m *Meter) push(d delta) {
	if d.t < m.horizon {
		m.anomaly("change known after its time was final")
		d.t = m.horizon
	}
	m.seq++
	d.seq = m.seq
	heap.Push(&m.deltas, d)
	m.maxQueued = max(m.maxQueued, len(m.deltas))
}

// Counter follows GOMAXPROCS and the count of running goroutines; the
// latter comes after each event's intervals, a moment when the Meter's
// view of who runs is consistent, to try to make changes final.
func (m *Meter) Counter(c *mapping.Counter) error {
	switch c.Kind {
	case mapping.CounterGOMAXPROCS:
		m.push(delta{t: c.Time, kind: dProcs, v: int32(min(c.Value, math.MaxInt32))})
	case mapping.CounterGoroutinesRunning:
		m.runningNow, m.haveCount = c.Value, true
	}
	if len(m.deltas) >= m.nextTry {
		before := len(m.deltas)
		if h, ok := m.safeHorizon(c.Time); ok {
			m.finalize(h)
			if m.started {
				m.slide(m.horizon, false)
			}
		}
		if len(m.deltas) > before/2 {
			m.nextTry = 2 * len(m.deltas) // little progress: try less often
		} else {
			m.nextTry = len(m.deltas) + tryEvery
		}
	}
	return nil
}

// safeHorizon returns a time before which no change can become known any
// more, now being the time of the event last delivered, and false if there
// is none yet.
func (m *Meter) safeHorizon(now mapping.Time) (mapping.Time, bool) {
	if !m.haveCount {
		return 0, false
	}
	h := now
	for _, gr := range m.running.list {
		h = min(h, gr.since)
	}
	if m.runningNow > uint64(len(m.running.list)) {
		// Some goroutine runs that the Meter did not see begin to: one
		// found in progress, whose state is not known yet.
		for len(m.unknown) > 0 && m.unknown[0].state != gUnknown {
			m.unknown[0] = nil
			m.unknown = m.unknown[1:]
		}
		if len(m.unknown) == 0 {
			return 0, false
		}
		h = min(h, m.unknown[0].since)
	}
	for _, gr := range m.pending.list {
		h = min(h, gr.assists[0].s)
	}
	for _, gr := range m.withRuns.list {
		h = min(h, gr.runs[0].s)
	}
	return h, true
}

// finalize makes the changes before h final.
func (m *Meter) finalize(h mapping.Time) {
	for len(m.deltas) > 0 && m.deltas[0].t < h {
		t := m.deltas[0].t
		for len(m.deltas) > 0 && m.deltas[0].t == t {
			m.apply(heap.Pop(&m.deltas).(delta))
		}
		m.emit(t)
	}
	m.horizon = max(m.horizon, h)
}

func (m *Meter) apply(d delta) {
	switch d.kind {
	case dSTW:
		m.stw += int(d.v)
	case dProcs:
		m.procs = int(d.v)
	case dProc:
		// P IDs are below GOMAXPROCS; a damaged trace can name any,
		// which must not size a slice.
		var busy *int32
		if d.p < maxNearProc {
			for int(d.p) >= len(m.busy) {
				m.busy = append(m.busy, 0)
			}
			busy = &m.busy[d.p]
		} else {
			if m.busyFar == nil {
				m.busyFar = make(map[mapping.ProcID]*int32)
			}
			if busy = m.busyFar[d.p]; busy == nil {
				busy = new(int32)
				m.busyFar[d.p] = busy
			}
		}
		was := *busy > 0
		*busy += d.v
		if now := *busy > 0; now != was {
			if now {
				m.nbusy++
			} else {
				m.nbusy--
			}
		}
	}
}

// emit records the utilization from t on, once GOMAXPROCS is known.
func (m *Meter) emit(t mapping.Time) {
	if m.procs <= 0 {
		if m.old && !m.started {
			m.early = append(m.early, earlyChange{t, m.stw, m.nbusy})
		}
		return
	}
	if m.old && !m.started {
		// Nothing happened from the trace's start to the first change.
		m.emitUtil(min(m.traceStart, t), 1)
		for _, c := range m.early {
			m.emitUtil(c.t, m.util(c.stw, c.nbusy))
		}
		m.early = nil
	}
	m.emitUtil(t, m.util(m.stw, m.nbusy))
}

// util is the utilization with stw pauses and nbusy Ps busy with GC.
func (m *Meter) util(stw, nbusy int) float64 {
	if stw > 0 {
		return 0
	}
	return 1 - float64(min(nbusy, m.procs))/float64(m.procs)
}

// emitUtil records utilization u from t on.
func (m *Meter) emitUtil(t mapping.Time, u float64) {
	if !m.started {
		m.started, m.start = true, t
		m.pts = append(m.pts, point{t: t, util: u})
		return
	}
	last := m.pts[len(m.pts)-1]
	if u == last.util {
		return
	}
	m.pts = append(m.pts, point{t: t, util: u, cum: last.cum + last.util*float64(t-last.t)})
}

// End makes every change final and computes the results.
func (m *Meter) End(sum *mapping.Summary) error {
	m.end = sum.End
	m.finalize(math.MaxInt64)
	m.ended = true
	if !m.started || m.end <= m.start {
		return nil
	}
	m.slide(m.end, true)
	for _, wd := range m.windows {
		if d := int64(m.end - m.start); wd.w > d {
			// The window is the whole trace.
			u := m.integral(&wd.kl, m.end) / float64(d)
			wd.min = u
			wd.worst = []Window{{Start: m.start, Duration: time.Duration(d), Util: u}}
		}
	}
	return nil
}

// integral returns the integral of utilization from the start to t, moving
// *k, an index into the changes that only goes forward, to the last change
// at or before t.
func (m *Meter) integral(k *int, t mapping.Time) float64 {
	n := m.base + len(m.pts)
	for *k+1 < n && m.pts[*k+1-m.base].t <= t {
		*k++
	}
	p := m.pts[*k-m.base]
	return p.cum + p.util*float64(t-p.t)
}

// slide evaluates, for every window duration, the windows whose end is
// final by f. The windowed utilization is piecewise linear in a window's
// start, with bends where either edge meets a change, so its minimum is
// at a start where an edge meets a change, or at the start or end of the
// trace: those are the windows evaluated. At the end of the trace (final),
// the last window, which ends with the trace, is evaluated too.
func (m *Meter) slide(f mapping.Time, final bool) {
	n := m.base + len(m.pts)
	for _, wd := range m.windows {
		w := mapping.Time(wd.w)
		for {
			t := mapping.Time(math.MaxInt64)
			if wd.ia < n {
				t = m.pts[wd.ia-m.base].t
			}
			if wd.ib < n {
				t = min(t, m.pts[wd.ib-m.base].t-w)
			}
			if t > f-w {
				if final && f-w >= m.start && (!wd.done || wd.last < f-w) {
					m.evaluate(wd, f-w)
				}
				break
			}
			if wd.ia < n && m.pts[wd.ia-m.base].t == t {
				wd.ia++
			}
			if wd.ib < n && m.pts[wd.ib-m.base].t-w == t {
				wd.ib++
			}
			if t < m.start || wd.done && t <= wd.last {
				continue
			}
			m.evaluate(wd, t)
		}
	}
	// Drop the changes no window needs any more.
	keep := n
	for _, wd := range m.windows {
		keep = min(keep, wd.kl, wd.ia, wd.ib)
	}
	if drop := keep - m.base; drop > 0 && drop >= len(m.pts)/2 {
		m.pts = slices.Delete(m.pts, 0, drop)
		m.base = keep
	}
}

// evaluate computes the window of wd starting at t.
func (m *Meter) evaluate(wd *window, t mapping.Time) {
	if wd.kr < wd.kl {
		wd.kr = wd.kl
	}
	lo := m.integral(&wd.kl, t)
	hi := m.integral(&wd.kr, t+mapping.Time(wd.w))
	u := (hi - lo) / float64(wd.w)
	wd.done, wd.last = true, t
	wd.min = min(wd.min, u)
	wd.keep(Window{Start: t, Duration: time.Duration(wd.w), Util: u}, m.cfg.worst)
}

// keep considers w, which starts after every window kept, for the worst
// windows.
func (wd *window) keep(w Window, n int) {
	if k := len(wd.worst); k > 0 {
		// Kept windows do not overlap, so only the last can overlap w.
		if last := wd.worst[k-1]; int64(w.Start-last.Start) < wd.w {
			if last.Util <= w.Util {
				return
			}
			wd.worst = wd.worst[:k-1]
		}
	}
	if len(wd.worst) == n {
		i := 0
		for j, x := range wd.worst {
			if x.Util >= wd.worst[i].Util {
				i = j
			}
		}
		if wd.worst[i].Util <= w.Util {
			return
		}
		wd.worst = slices.Delete(wd.worst, i, i+1)
	}
	wd.worst = append(wd.worst, w)
}
