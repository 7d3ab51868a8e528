package stats

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trace2x/trace2x/internal/gotable"
	"github.com/trace2x/trace2x/internal/mmu"
	"github.com/trace2x/trace2x/internal/utf8fix"
	"github.com/trace2x/trace2x/mapping"
)

// MMUWindows are the window durations of the minimum mutator utilization
// a Report gives.
var MMUWindows = []time.Duration{time.Millisecond, 10 * time.Millisecond}

// maxPauses is how many of the longest stop-the-world pauses a Report
// lists.
const maxPauses = 10

// ErrClosed is wrapped by the error that Begin returns on a Sink that has
// begun a trace already: a Sink collects the figures of one trace, so
// mapping a second trace into it fails at Begin, and its Report stays
// that of the first.
var ErrClosed = errors.New("use of a used Sink")

var errClosed = fmt.Errorf("stats: %w: a Sink collects one trace, which it has begun already", ErrClosed)

// Sink is a mapping.Sink that collects the figures of a Report. Like any
// sink, it expects its methods to be called one at a time, but Report may
// be called at any time, from any goroutine: it is ready once End has
// been called.
type Sink struct {
	meter *mmu.Meter
	// origin is the trace's start, from which the report's times count.
	origin mapping.Time
	// sum is set by End, after which nothing else of the Sink changes: a
	// Report read from another goroutine loads it, and so sees the rest.
	sum      atomic.Pointer[mapping.Summary]
	begun    bool
	ended    bool
	filtered bool // the pass is through a mapping.Filter
	windowed bool // with a window that ends before the trace may
	selected bool // goroutines, tasks or regions were selected: no MMU
	// kept counts the goroutines that had a state delivered: under a
	// filter, the goroutines it kept, where Summary counts those it named.
	kept int

	gs      gotable.Table[mapping.GoID, goInfo] // live goroutines
	free    []*goInfo                           // ended, for reuse
	groups  map[string]*group                   // by start function
	tasks   map[string]*latency                 // by type
	regions map[string]*latency                 // by type
	pauses  []Pause                             // the longest stop-the-world pauses, longest first
	// The group found last, and its name.
	lastGroup     *group
	lastGroupName string

	// The counts of items; Summary has the rest.
	stacks, logs, cpuSamples, flows, gcCycles, sweeps, assists  int
	tasksBegun, tasksEnded, tasksOpen, regionCount, regionsOpen int
	regionsExited                                               int // of regionsOpen, left open by a goroutine that exited
	stw                                                         STWStats
	gcTime                                                      GCTimes
	incomplete                                                  [numItemKinds]int
}

var _ mapping.Sink = (*Sink)(nil)

// itemKind names the kinds of item a trace's ends can cut, in
// Report.Incomplete.
type itemKind uint8

const (
	kindGoroutineState itemKind = iota
	kindProcRun
	kindRange
	kindTask
	kindRegion
	numItemKinds
)

var itemKindNames = [numItemKinds]string{"goroutine state", "proc run", "range", "task", "region"}

// unknownFunc groups the goroutines whose start function the trace does
// not tell.
const unknownFunc = "(unknown)"

// goInfo is what the Sink keeps of a live goroutine.
type goInfo struct {
	name    string // start function
	g       *group // name's group, once it has time
	counted bool   // counted in its group
	// own is the goroutine's time while its start function is unknown,
	// which moves with it to its function's group once a stack tells it.
	own *group
}

// group is the time the goroutines of one start function spent in each
// state.
type group struct {
	goroutines                 int
	alive                      int // of them, alive at the end (see End)
	running, runnable, syscall int64
	waiting                    []reasonTime // in the order first seen
	lastWait                   int          // index into waiting of the reason last added to
}

type reasonTime struct {
	reason string
	ns     int64
}

// errNotMade refuses a Sink that NewSink did not make.
var errNotMade = errors.New("stats: the Sink was not made by NewSink")

// NewSink returns a Sink with nothing collected.
func NewSink() *Sink {
	return &Sink{
		meter:   mmu.New(MMUWindows),
		groups:  make(map[string]*group),
		tasks:   make(map[string]*latency),
		regions: make(map[string]*latency),
	}
}

// Begin notes where the trace starts. It returns an error wrapping
// ErrClosed if the Sink has begun a trace before.
func (s *Sink) Begin(m *mapping.Meta) error {
	if s.groups == nil {
		return errNotMade
	}
	if s.begun || s.ended {
		return errClosed
	}
	if m == nil {
		return errors.New("stats: Begin given no Meta")
	}
	s.begun = true
	s.filtered, s.selected, s.windowed = m.Filtered, m.Selected, m.WindowEnd != 0
	// The times the report gives count from the trace's start, as a
	// window's bounds do, not from the window's.
	s.origin = m.Origin
	if s.origin == 0 || s.origin > m.Start {
		s.origin = m.Start // a Meta made by hand
	}
	return s.meter.Begin(m)
}

// Stack counts a stack.
func (s *Sink) Stack(st *mapping.Stack) error {
	s.stacks++
	return s.meter.Stack(st)
}

// Goroutine notes the goroutine's start function; it is counted in that
// group with its first state, when the name is as known as it gets.
func (s *Sink) Goroutine(g *mapping.Goroutine) error {
	name := utf8fix.String(g.StartFunc)
	if name == "" {
		name = unknownFunc
	}
	if info := s.gs.Get(g.ID); info != nil && g.Updated {
		if info.name != name {
			s.rename(info, name)
		}
	} else {
		info = s.newGoInfo()
		info.name = name
		s.gs.Set(g.ID, info)
	}
	return s.meter.Goroutine(g)
}

// rename moves a goroutine to the group of its start function, now known:
// its count, and the time it spent while the function was unknown. A
// goroutine alive when the trace began is named by the first stack of its
// own, which can come late: the runtime's background sweeper waits
// unnamed until it next runs.
func (s *Sink) rename(info *goInfo, name string) {
	from, to := info.g, s.group(name)
	if info.counted && from != nil {
		from.goroutines--
		to.goroutines++
		to.absorb(from, info.own)
	}
	info.name, info.g, info.own = name, to, nil
}

// absorb moves time from group from to g: the time of own, the share of
// one goroutine.
func (g *group) absorb(from, own *group) {
	if own == nil {
		return
	}
	from.running -= own.running
	from.runnable -= own.runnable
	from.syscall -= own.syscall
	g.running += own.running
	g.runnable += own.runnable
	g.syscall += own.syscall
	for _, w := range own.waiting {
		from.wait(w.reason, -w.ns)
		g.wait(w.reason, w.ns)
	}
}

func (s *Sink) newGoInfo() *goInfo {
	if n := len(s.free); n > 0 {
		info := s.free[n-1]
		s.free = s.free[:n-1]
		*info = goInfo{}
		return info
	}
	return new(goInfo)
}

// Proc ignores a P: Summary counts them.
func (s *Sink) Proc(*mapping.Proc) error { return nil }

// Thread ignores an M: Summary counts them.
func (s *Sink) Thread(*mapping.Thread) error { return nil }

// GoroutineState adds the interval's time to its goroutine's group.
func (s *Sink) GoroutineState(st *mapping.GoroutineState) error {
	if st.Flags != 0 {
		s.incomplete[kindGoroutineState]++
	}
	if info := s.gs.Get(st.G); info != nil {
		g := info.g
		if g == nil {
			g = s.group(info.name)
			info.g = g
		}
		if !info.counted {
			info.counted = true
			g.goroutines++
			s.kept++
		}
		d := int64(st.End - st.Start)
		g.add(st, d)
		if info.name == unknownFunc {
			if info.own == nil {
				info.own = &group{}
			}
			info.own.add(st, d)
		}
	}
	return s.meter.GoroutineState(st)
}

// add adds a state's time d to the group.
func (g *group) add(st *mapping.GoroutineState, d int64) {
	switch st.State {
	case mapping.GoRunning:
		g.running += d
	case mapping.GoRunnable:
		g.runnable += d
	case mapping.GoSyscall:
		g.syscall += d
	case mapping.GoWaiting:
		g.wait(st.Reason, d)
	}
}

// group returns the group of a start function. Goroutines come in
// crowds of one start function: the last group found is tried first.
func (s *Sink) group(name string) *group {
	if s.lastGroup != nil && s.lastGroupName == name {
		return s.lastGroup
	}
	g := s.groups[name]
	if g == nil {
		g = &group{}
		s.groups[name] = g
	}
	s.lastGroupName, s.lastGroup = name, g
	return g
}

// wait adds d to the time waiting for reason. A group has a few reasons,
// and a goroutine often waits for the same one again: a look at the last
// one and a short scan are cheaper than hashing the reason.
func (g *group) wait(reason string, d int64) {
	if reason == "" {
		reason = "(unknown)"
	}
	if i := g.lastWait; i < len(g.waiting) && g.waiting[i].reason == reason {
		g.waiting[i].ns += d
		return
	}
	for i := range g.waiting {
		if g.waiting[i].reason == reason {
			g.waiting[i].ns += d
			g.lastWait = i
			return
		}
	}
	g.lastWait = len(g.waiting)
	g.waiting = append(g.waiting, reasonTime{reason, d})
}

// ProcRun counts a P's run cut by the trace.
func (s *Sink) ProcRun(p *mapping.ProcRun) error {
	if p.Flags != 0 {
		s.incomplete[kindProcRun]++
	}
	return nil
}

// Range counts GC cycles, sweeps, mark assists and pauses, and keeps the
// longest pauses.
func (s *Sink) Range(r *mapping.Range) error {
	if r.Flags != 0 {
		s.incomplete[kindRange]++
	}
	switch r.Kind {
	case mapping.RangeGCMark:
		s.gcCycles++
		s.gcTime.Mark += int64(r.End - r.Start)
	case mapping.RangeSweep:
		s.sweeps++
		s.gcTime.Sweep += int64(r.End - r.Start)
	case mapping.RangeMarkAssist:
		s.assists++
		s.gcTime.MarkAssist += int64(r.End - r.Start)
	case mapping.RangeSTW:
		d := int64(r.End - r.Start)
		s.stw.Count++
		s.stw.TotalNS += d
		s.stw.MaxNS = max(s.stw.MaxNS, d)
		p := Pause{Reason: r.Reason, StartNS: int64(r.Start - s.origin), DurNS: d}
		i, _ := slices.BinarySearchFunc(s.pauses, p, func(a, b Pause) int { return cmp.Compare(b.DurNS, a.DurNS) })
		if i < maxPauses {
			s.pauses = slices.Insert(s.pauses, i, p)
			s.pauses = s.pauses[:min(len(s.pauses), maxPauses)]
		}
	}
	return s.meter.Range(r)
}

// Task counts a task, and takes the latency of one the trace holds whole.
func (s *Sink) Task(t *mapping.Task) error {
	if !t.Flags.Has(mapping.OpenStart) {
		s.tasksBegun++
	}
	if !t.Flags.Has(mapping.OpenEnd) {
		s.tasksEnded++
	}
	if t.Flags != 0 {
		s.tasksOpen++
		s.incomplete[kindTask]++
	} else { // a task clipped by the trace has no true latency
		l := latencyOf(s.tasks, t.Type)
		l.add(time.Duration(t.End - t.Start))
		l.keepSlow(Instance{Task: uint64(t.ID), Goroutine: int64(t.StartG), StartNS: int64(t.Start - s.origin), DurNS: int64(t.End - t.Start)})
	}
	return nil
}

// Region counts a region, and takes the latency of one the trace holds
// whole.
func (s *Sink) Region(r *mapping.Region) error {
	s.regionCount++
	if r.Flags != 0 {
		s.regionsOpen++
		if r.GoroutineEnded {
			s.regionsExited++
		}
		s.incomplete[kindRegion]++
	} else {
		l := latencyOf(s.regions, r.Type)
		l.add(time.Duration(r.End - r.Start))
		l.keepSlow(Instance{Task: uint64(r.Task), Goroutine: int64(r.G), StartNS: int64(r.Start - s.origin), DurNS: int64(r.End - r.Start)})
		if r.Timed {
			if l.times == nil {
				l.times = new(mapping.StateTimes)
			}
			l.times.Add(r.Time)
		}
	}
	return nil
}

// Log counts a log.
func (s *Sink) Log(*mapping.Log) error { s.logs++; return nil }

// GoroutineEvent forgets a goroutine that ended.
func (s *Sink) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		if info := s.gs.Get(e.G); info != nil {
			s.gs.Delete(e.G)
			s.free = append(s.free, info)
		}
	}
	return s.meter.GoroutineEvent(e)
}

// Flow counts a flow.
func (s *Sink) Flow(*mapping.Flow) error { s.flows++; return nil }

// Counter passes GOMAXPROCS and the running goroutines on to the MMU.
func (s *Sink) Counter(c *mapping.Counter) error { return s.meter.Counter(c) }

// CPUSample counts a CPU sample.
func (s *Sink) CPUSample(*mapping.CPUSample) error { s.cpuSamples++; return nil }

// Experimental does nothing: the mapping counts experimental events by
// experiment in its Summary, without decoding them.
func (s *Sink) Experimental(*mapping.Experimental) error { return nil }

// End takes the summary and computes the MMU. The End of a pass whose
// Begin was refused (see ErrClosed) leaves the Report as it was.
func (s *Sink) End(sum *mapping.Summary) error {
	if s.groups == nil {
		return errNotMade
	}
	if s.ended {
		return errClosed
	}
	s.ended = true
	if sum == nil {
		// Ended by hand, without the pass's summary: the report has
		// what the items told.
		sum = &mapping.Summary{}
	}
	// The goroutines still alive: a group of many that barely run, which
	// the tables by time put last, is where a leak shows.
	for _, info := range s.gs.All() {
		if info.counted && info.g != nil {
			info.g.alive++
		}
	}
	err := s.meter.End(sum)
	for _, l := range s.tasks {
		l.finish()
	}
	for _, l := range s.regions {
		l.finish()
	}
	cp := *sum
	s.sum.Store(&cp) // last: the Report is ready
	return err
}

// expEvents is the Report's form of Summary.ExpEvents.
func expEvents(m map[string]int64) map[string]int {
	if len(m) == 0 {
		return nil
	}
	r := make(map[string]int, len(m))
	for k, n := range m {
		r[k] = int(n)
	}
	return r
}

// latencyOf returns the latency of a task or region type. A type is
// user text that need not be UTF-8: it is made so as every output of
// trace2x makes it (utf8fix), so that the JSON, which can hold only
// UTF-8, has one entry per name it shows and the text the same.
func latencyOf(m map[string]*latency, name string) *latency {
	name = utf8fix.String(name)
	l := m[name]
	if l == nil {
		l = &latency{}
		m[name] = l
	}
	return l
}

// Report returns the figures collected, nil before End. It is safe to
// call while the pass runs; each call returns a Report of its own.
func (s *Sink) Report() *Report {
	sum := s.sum.Load()
	if sum == nil {
		return nil
	}
	goroutines := sum.Goroutines
	if s.filtered {
		// A filter declares, besides the goroutines it keeps, those that
		// what it keeps names (a goroutine that unblocked a kept one, a
		// task's other goroutines): count those it kept time of, as the
		// goroutine groups do.
		goroutines = s.kept
	}
	r := &Report{
		Input:           sum.Input,
		FormatVersion:   sum.FormatVersion,
		DurationNS:      int64(sum.End - sum.Start),
		StartNS:         int64(sum.Start - s.origin),
		Filtered:        s.filtered,
		Window:          s.windowed || sum.Start > s.origin,
		Generations:     sum.Generations,
		GenerationSpans: generations(sum.Spans),
		BytesRead:       sum.BytesRead,
		Compressed:      sum.Compressed,
		Events:          sum.Events,
		EventsByKind:    maps.Clone(sum.EventsByKind),
		Goroutines:      goroutines,
		Procs:           sum.Procs,
		Threads:         sum.Threads,
		Stacks:          s.stacks,
		Tasks:           TaskCounts{Begun: s.tasksBegun, Ended: s.tasksEnded, Open: s.tasksOpen},
		Regions:         RegionCounts{Total: s.regionCount, Open: s.regionsOpen, GoroutineExited: s.regionsExited},
		Logs:            s.logs,
		GCCycles:        s.gcCycles,
		STW:             s.stw,
		Sweeps:          s.sweeps,
		MarkAssists:     s.assists,
		GCTime:          s.gcTime,
		CPUSamples:      s.cpuSamples,
		Flows:           s.flows,
		Experimental:    expEvents(sum.ExpEvents),
		ExpBatches:      maps.Clone(sum.ExpBatches),
		Incomplete:      make(map[string]int),
		UnmatchedFlows:  sum.UnmatchedFlows,
		Anomalies:       make(map[string]int, len(sum.Anomalies)),

		GoroutineGroups: make(map[string]*GroupTimes, len(s.groups)),
		TaskLatency:     latencies(s.tasks),
		RegionLatency:   latencies(s.regions),
		SlowestTasks:    slowest(s.tasks),
		SlowestRegions:  slowest(s.regions),
		LongestPauses:   append([]Pause{}, s.pauses...),
		MMU:             []MMU{},
	}
	// Every list and map of the report is there, if empty, for the
	// scripts that read it.
	maps.Copy(r.Anomalies, sum.Anomalies)
	if s.selected {
		// A selection leaves out the GC's own goroutines (its mark
		// workers), whose time the MMU takes from the mutator: what is
		// left would be the pauses alone, shown as if it were the MMU.
		r.MMUOmitted = true
		r.MMUNote = "not measured of a goroutine, task or region selection (it leaves out the GC's workers)"
	} else if mmu := s.mmu(); mmu != nil {
		r.MMU = mmu
	} else {
		r.MMUOmitted = true
		r.MMUNote = "not measured: the trace records no GOMAXPROCS, which says how many Ps the mutator had, or lasts no time"
		if v, ok := strings.CutPrefix(sum.FormatVersion, "go1."); ok && len(v) == 2 && v < "22" {
			// x/exp/trace drops the value these formats record at their
			// start; only a change later in the trace gives one.
			r.MMUNote = "not measured: in traces before Go 1.22, the GOMAXPROCS recorded at the start is not read (x/exp/trace drops it), and this trace records no later change"
		}
	}
	if c := sum.Clock; c != nil {
		// The trace's start, from which the report's times count, a
		// window's too.
		w := c.WallTime(s.origin).UTC()
		r.WallStart = &w
	}
	for k, n := range s.incomplete {
		if n > 0 {
			r.Incomplete[itemKindNames[k]] = n
		}
	}
	if sum.Err != nil {
		r.Error = sum.Err.Error()
	}
	for name, g := range s.groups {
		if g.goroutines == 0 {
			// Its goroutines were all named later (see rename).
			continue
		}
		gt := &GroupTimes{Goroutines: g.goroutines, AliveAtEnd: g.alive, RunningNS: g.running, RunnableNS: g.runnable,
			SyscallNS: g.syscall, WaitingNS: make(map[string]int64, len(g.waiting))}
		for _, w := range g.waiting {
			if w.ns != 0 {
				gt.WaitingNS[w.reason] = w.ns
			}
		}
		r.GoroutineGroups[name] = gt
	}
	return r
}

func latencies(m map[string]*latency) map[string]Latency {
	out := make(map[string]Latency, len(m))
	for name, l := range m {
		p50, exact := l.quantile(0.5)
		p90, _ := l.quantile(0.9)
		p99, _ := l.quantile(0.99)
		out[name] = Latency{Count: l.count, P50NS: int64(p50), P90NS: int64(p90), P99NS: int64(p99),
			MaxNS: int64(l.max), Approximate: !exact}
		if t := l.times; t != nil {
			x := out[name]
			x.Time = &StateTimes{Running: int64(t.Running), Runnable: int64(t.Runnable), Syscall: int64(t.Syscall),
				Waiting: int64(t.Waiting), Network: int64(t.Network), Sync: int64(t.Sync),
				STW: int64(t.STW), MarkAssist: int64(t.MarkAssist), Sweep: int64(t.Sweep)}
			out[name] = x
		}
	}
	return out
}

// slowest lists the slowest tasks or regions of each type.
func slowest(m map[string]*latency) map[string][]Instance {
	out := make(map[string][]Instance, len(m))
	for name, l := range m {
		out[name] = slices.Clone(l.slowest)
	}
	return out
}

// mmu returns the MMU for the report, nil if the trace has no GOMAXPROCS
// to measure it by.
func (s *Sink) mmu() []MMU {
	var out []MMU
	for _, r := range s.meter.Results() {
		x := MMU{WindowNS: int64(r.Window), MMU: r.MMU, Worst: []MMUWindow{}}
		for _, w := range r.Worst {
			if w.Util >= 1 {
				break // the GC took no time from it: not worth listing
			}
			x.Worst = append(x.Worst, MMUWindow{StartNS: int64(w.Start - s.origin), DurNS: int64(w.Duration), Util: w.Util})
		}
		out = append(out, x)
	}
	return out
}
