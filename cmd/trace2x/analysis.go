package main

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/trace2x/trace2x/internal/mmu"
	"github.com/trace2x/trace2x/mapping"
)

// analysis is the part of stats that looks at time: where goroutines spend
// theirs, how long tasks and regions take, the longest pauses, and the
// minimum mutator utilization. It is a mapping.Sink; what it keeps is
// bounded by the live goroutines, the number of distinct start functions,
// task and region types, and the GC activity not yet final (package mmu
// says how long that is).
type analysis struct {
	// The embedded Meter measures the MMU and takes every item: the
	// methods of analysis that shadow its methods pass their items on.
	*mmu.Meter
	start     mapping.Time
	startFunc map[mapping.GoID]*goInfo // live goroutines
	groups    map[string]*groupTimes
	tasks     map[string]*latency
	regions   map[string]*latency
	pauses    []pause // the longest stop-the-world pauses, longest first
}

// groupTimes is the time the goroutines of one start function spent in
// each state.
type groupTimes struct {
	Goroutines int              `json:"goroutines"`
	RunningNS  int64            `json:"running_ns"`
	RunnableNS int64            `json:"runnable_ns"`
	SyscallNS  int64            `json:"syscall_ns"`
	WaitingNS  map[string]int64 `json:"waiting_ns"` // by reason
}

// goInfo is what the analysis keeps of a live goroutine.
type goInfo struct {
	name    string // start function
	counted bool   // counted in its group
}

type pause struct {
	Reason  string `json:"reason"`
	StartNS int64  `json:"start_ns"` // from the trace's start
	DurNS   int64  `json:"duration_ns"`
}

const maxPauses = 10

// mmuWindows are the window durations of the MMU that stats reports.
var mmuWindows = []time.Duration{time.Millisecond, 10 * time.Millisecond}

func newAnalysis() *analysis {
	return &analysis{
		Meter:     mmu.New(mmuWindows),
		startFunc: make(map[mapping.GoID]*goInfo),
		groups:    make(map[string]*groupTimes),
		tasks:     make(map[string]*latency),
		regions:   make(map[string]*latency),
	}
}

func (a *analysis) Begin(m *mapping.Meta) error {
	a.start = m.Start
	return a.Meter.Begin(m)
}

// Goroutine notes the goroutine's start function; it is counted in that
// group with its first state, when the name is as known as it gets.
func (a *analysis) Goroutine(g *mapping.Goroutine) error {
	name := g.StartFunc
	if name == "" {
		name = "(unknown)"
	}
	if info := a.startFunc[g.ID]; info != nil && g.Updated {
		info.name = name
	} else {
		a.startFunc[g.ID] = &goInfo{name: name}
	}
	return a.Meter.Goroutine(g)
}

func (a *analysis) group(name string) *groupTimes {
	gt := a.groups[name]
	if gt == nil {
		gt = &groupTimes{WaitingNS: make(map[string]int64)}
		a.groups[name] = gt
	}
	return gt
}

func (a *analysis) GoroutineState(s *mapping.GoroutineState) error {
	info := a.startFunc[s.G]
	if info == nil {
		return a.Meter.GoroutineState(s)
	}
	gt := a.group(info.name)
	if !info.counted {
		info.counted = true
		gt.Goroutines++
	}
	d := int64(s.End - s.Start)
	switch s.State {
	case mapping.GoRunning:
		gt.RunningNS += d
	case mapping.GoRunnable:
		gt.RunnableNS += d
	case mapping.GoSyscall:
		gt.SyscallNS += d
	case mapping.GoWaiting:
		reason := s.Reason
		if reason == "" {
			reason = "(unknown)"
		}
		gt.WaitingNS[reason] += d
	}
	return a.Meter.GoroutineState(s)
}

func (a *analysis) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		delete(a.startFunc, e.G)
	}
	return a.Meter.GoroutineEvent(e)
}

func (a *analysis) Task(t *mapping.Task) error {
	if t.Flags == 0 { // a task clipped by the trace has no true latency
		latencyOf(a.tasks, t.Type).add(time.Duration(t.End - t.Start))
	}
	return nil
}

func (a *analysis) Region(r *mapping.Region) error {
	if r.Flags == 0 {
		latencyOf(a.regions, r.Type).add(time.Duration(r.End - r.Start))
	}
	return nil
}

func (a *analysis) Range(r *mapping.Range) error {
	if err := a.Meter.Range(r); err != nil || r.Kind != mapping.RangeSTW {
		return err
	}
	p := pause{Reason: r.Reason, StartNS: int64(r.Start - a.start), DurNS: int64(r.End - r.Start)}
	i, _ := slices.BinarySearchFunc(a.pauses, p, func(a, b pause) int { return cmp.Compare(b.DurNS, a.DurNS) })
	if i < maxPauses {
		a.pauses = slices.Insert(a.pauses, i, p)
		a.pauses = a.pauses[:min(len(a.pauses), maxPauses)]
	}
	return nil
}

func latencyOf(m map[string]*latency, name string) *latency {
	l := m[name]
	if l == nil {
		l = &latency{}
		m[name] = l
	}
	return l
}

// latency summarises durations in a histogram of logarithmic buckets, 16
// to each power of two, so that percentiles are within about 4% and
// memory does not grow with the number of durations.
type latency struct {
	count   int
	max     time.Duration
	buckets [64 * 16]uint32
}

func bucketOf(d time.Duration) int {
	if d <= 1 {
		return 0
	}
	return min(int(math.Log2(float64(d))*16), 64*16-1)
}

func (l *latency) add(d time.Duration) {
	l.count++
	l.max = max(l.max, d)
	l.buckets[bucketOf(d)]++
}

// quantile returns the upper bound of the bucket holding the q-quantile,
// capped by the largest duration seen.
func (l *latency) quantile(q float64) time.Duration {
	rank := uint32(math.Ceil(q * float64(l.count)))
	var seen uint32
	for i, n := range l.buckets {
		seen += n
		if seen >= rank && n > 0 {
			return min(time.Duration(math.Exp2(float64(i+1)/16)), l.max)
		}
	}
	return l.max
}

// latencyReport is a latency in the stats JSON.
type latencyReport struct {
	Count int   `json:"count"`
	P50NS int64 `json:"p50_ns"`
	P90NS int64 `json:"p90_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
}

func latencies(m map[string]*latency) map[string]latencyReport {
	out := make(map[string]latencyReport, len(m))
	for name, l := range m {
		out[name] = latencyReport{Count: l.count, P50NS: int64(l.quantile(0.5)), P90NS: int64(l.quantile(0.9)),
			P99NS: int64(l.quantile(0.99)), MaxNS: int64(l.max)}
	}
	return out
}

// topGroups returns the start functions by total time, most first.
func (a *analysis) topGroups() []string {
	total := func(g *groupTimes) int64 {
		t := g.RunningNS + g.RunnableNS + g.SyscallNS
		for _, w := range g.WaitingNS {
			t += w
		}
		return t
	}
	names := slices.Collect(maps.Keys(a.groups))
	slices.SortFunc(names, func(x, y string) int {
		return cmp.Or(cmp.Compare(total(a.groups[y]), total(a.groups[x])), cmp.Compare(x, y))
	})
	return names
}

// mmuReport is the MMU for one window duration in the stats JSON.
type mmuReport struct {
	WindowNS int64       `json:"window_ns"`
	MMU      float64     `json:"mmu"`           // in [0, 1]
	Worst    []mmuWindow `json:"worst_windows"` // worst first, none overlapping; none the GC took no time from
}

// mmuWindow is a window and its mean mutator utilization.
type mmuWindow struct {
	StartNS int64   `json:"start_ns"`    // from the trace's start
	DurNS   int64   `json:"duration_ns"` // the window, or the whole trace if shorter
	Util    float64 `json:"utilization"`
}

// mmuReports returns the MMU for the stats report, nil if the trace has
// no GOMAXPROCS to measure it by.
func (a *analysis) mmuReports() []mmuReport {
	var out []mmuReport
	for _, r := range a.Meter.Results() {
		x := mmuReport{WindowNS: int64(r.Window), MMU: r.MMU, Worst: []mmuWindow{}}
		for _, w := range r.Worst {
			if w.Util >= 1 {
				break // the GC took no time from it: not worth listing
			}
			x.Worst = append(x.Worst, mmuWindow{StartNS: int64(w.Start - a.start), DurNS: int64(w.Duration), Util: w.Util})
		}
		out = append(out, x)
	}
	return out
}
