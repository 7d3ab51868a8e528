package mmu_test

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/mmu"
)

// This file computes mutator utilization and MMU a second way, for the
// tests to compare a Meter with: straight from the whole list of a trace's
// events, without the mapping, and without streaming.
//
// The definition is the one in the package documentation, which is that
// of cmd/trace's MMU view (MutatorUtilizationV2 in Go's internal/trace)
// where that view is right. It is not right in three ways, so the oracle
// does not reproduce its numbers:
//
//   - A mark worker's P is counted busy when the label that follows the
//     worker's start arrives and, once the goroutine has had a worker's
//     label, also each time it starts running; stopping undoes only one
//     of the two, so from the worker's second run on its P stays busy for
//     good, and later runs in idle mode count too. Here each run is
//     counted once, by its own label.
//   - At each new generation the trace restates the state of every
//     goroutine, and each restated "running" is taken as a new start, so a
//     worker or an assisting goroutine running across a generation boundary
//     leaves a P busy for good. Here a restated state changes nothing.
//   - A pause that began before the trace is ignored, and its end takes the
//     count of pauses in progress below zero, so no later GC pause counts
//     either. Here such a pause takes the time from the start of the
//     utilization function to its end.
//
// Where several changes share a timestamp, the utilization from then on is
// the one after all of them.

// Bounds of spans that began before the trace or had not ended when it
// ended; spans are clipped to the utilization function's domain.
const (
	sinceBefore = math.MinInt64
	untilAfter  = math.MaxInt64
)

// allPs marks a span of GC work that takes every P: a pause.
const allPs = trace.ProcID(-2)

// gcSpan is a time a P, or every P, did GC work.
type gcSpan struct {
	p          trace.ProcID
	start, end int64
}

// execSpan is a time a goroutine executed, and the last label it was given
// during that time.
type execSpan struct {
	p          trace.ProcID
	start, end int64
	label      string
}

// interval is a half-open interval of time.
type interval struct{ start, end int64 }

// goHistory is what the oracle gathers about one goroutine ID.
type goHistory struct {
	seen      bool // its state is known
	executing bool
	runs      []execSpan // in time order; the last is in progress if executing
	assists   []interval // in time order
	inAssist  bool
	assistBeg int64
}

// procsSample is a GOMAXPROCS value and when it took effect.
type procsSample struct {
	t int64
	n int
}

// gcActivity is everything in a trace that can take time from the
// mutator, before flags choose among it.
type gcActivity struct {
	procs   []procsSample
	pauses  []interval
	sweeps  []gcSpan
	workers []gcSpan
	assists []gcSpan
	last    int64 // the time of the trace's last event
}

const gomaxprocsMetric = "/sched/gomaxprocs:threads"

func isGCPause(name string) bool {
	return strings.HasPrefix(name, "stop-the-world") && strings.Contains(name, "GC")
}

func isWorkerMode(label string) bool {
	return strings.HasPrefix(label, "GC ") && label != "GC (idle)"
}

// gatherGC walks the events once and records the GC activity in them.
func gatherGC(evs []trace.Event) *gcActivity {
	act := &gcActivity{}
	generation := 0
	gs := map[trace.GoID]*goHistory{}
	history := func(id trace.GoID) *goHistory {
		h := gs[id]
		if h == nil {
			h = &goHistory{}
			gs[id] = h
		}
		return h
	}
	var openPauses []int64
	openSweeps := map[trace.ProcID]int64{}

	for i := range evs {
		ev := &evs[i]
		now := int64(ev.Time())
		act.last = now
		// Ranges in progress at the start of the first generation began
		// before the trace; later generations only restate them.
		first := generation <= 1

		switch ev.Kind() {
		case trace.EventSync:
			generation = ev.Sync().N

		case trace.EventMetric:
			if m := ev.Metric(); m.Name == gomaxprocsMetric {
				act.procs = append(act.procs, procsSample{now, int(m.Value.Uint64())})
			}

		case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
			r := ev.Range()
			begin := now
			if ev.Kind() == trace.EventRangeActive {
				if !first {
					break
				}
				begin = sinceBefore
			}
			isEnd := ev.Kind() == trace.EventRangeEnd
			switch {
			case isGCPause(r.Name):
				switch {
				case !isEnd:
					openPauses = append(openPauses, begin)
				case len(openPauses) > 0:
					act.pauses = append(act.pauses, interval{openPauses[len(openPauses)-1], now})
					openPauses = openPauses[:len(openPauses)-1]
				case first:
					act.pauses = append(act.pauses, interval{sinceBefore, now})
				}
			case r.Name == "GC incremental sweep":
				p := ev.Proc()
				if r.Scope.Kind == trace.ResourceProc {
					p = r.Scope.Proc()
				}
				s, open := openSweeps[p]
				switch {
				case !isEnd:
					if !open {
						openSweeps[p] = begin
					}
				case open:
					act.sweeps = append(act.sweeps, gcSpan{p, s, now})
					delete(openSweeps, p)
				case first:
					act.sweeps = append(act.sweeps, gcSpan{p, sinceBefore, now})
				}
			case r.Name == "GC mark assist" && r.Scope.Kind == trace.ResourceGoroutine:
				h := history(r.Scope.Goroutine())
				switch {
				case !isEnd:
					if !h.inAssist {
						h.inAssist, h.assistBeg = true, begin
					}
				case h.inAssist:
					h.assists = append(h.assists, interval{h.assistBeg, now})
					h.inAssist = false
				case first:
					h.assists = append(h.assists, interval{sinceBefore, now})
				}
			}

		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				break
			}
			from, to := st.Goroutine()
			h := history(st.Resource.Goroutine())
			if from == trace.GoUndetermined && h.seen && h.executing == to.Executing() {
				break // a new generation restating what is known
			}
			was := from.Executing()
			if h.seen {
				was = h.executing
			}
			restated := from == trace.GoUndetermined && !h.seen
			h.seen, h.executing = true, to.Executing()
			switch {
			case restated && first && to.Executing():
				// The first generation states a goroutine when it
				// first does something, and one it states running
				// has been running since before the trace.
				h.runs = append(h.runs, execSpan{p: ev.Proc(), start: sinceBefore, end: untilAfter})
			case !was && to.Executing():
				h.runs = append(h.runs, execSpan{p: ev.Proc(), start: now, end: untilAfter})
			case was && !to.Executing():
				if n := len(h.runs); n > 0 && h.runs[n-1].end == untilAfter {
					h.runs[n-1].end = now
				}
			}

		case trace.EventLabel:
			l := ev.Label()
			if l.Resource.Kind != trace.ResourceGoroutine {
				break
			}
			// A label names what the goroutine runs for in the run in
			// progress.
			if h := gs[l.Resource.Goroutine()]; h != nil && h.executing && len(h.runs) > 0 {
				h.runs[len(h.runs)-1].label = l.Label
			}
		}
	}

	// What is still in progress lasts to the end.
	for _, s := range openPauses {
		act.pauses = append(act.pauses, interval{s, untilAfter})
	}
	for p, s := range openSweeps {
		act.sweeps = append(act.sweeps, gcSpan{p, s, untilAfter})
	}
	for _, h := range gs {
		if h.inAssist {
			h.assists = append(h.assists, interval{h.assistBeg, untilAfter})
		}
		for _, r := range h.runs {
			if r.p < 0 {
				continue
			}
			if isWorkerMode(r.label) {
				act.workers = append(act.workers, gcSpan{r.p, r.start, r.end})
			}
			// An assist takes its goroutine's P only while it runs.
			for _, a := range h.assists {
				if s, e := max(a.start, r.start), min(a.end, r.end); s < e {
					act.assists = append(act.assists, gcSpan{r.p, s, e})
				}
			}
		}
	}
	return act
}

// utilFunction is mutator utilization as a step function of time: util[i]
// holds from at[i] to at[i+1]. The last entry of at is the end of the
// function's domain, and util has one entry fewer. Neighbouring steps
// differ.
type utilFunction struct {
	at   []int64
	util []float64
}

func (f *utilFunction) start() int64 { return f.at[0] }
func (f *utilFunction) end() int64   { return f.at[len(f.at)-1] }

// oracleUtil returns the mutator utilization function of a trace with the
// given events, counting what flags choose. It returns nil for a trace
// without a GOMAXPROCS sample or that lasts no time after the first one.
//
// In a trace of Go 1.21 or before (old), whose parser drops the sample at
// the trace's start, the first sample's value holds from the first event.
func oracleUtil(evs []trace.Event, flags mmu.Flags, old bool) *utilFunction {
	act := gatherGC(evs)
	if old && len(act.procs) > 0 && len(evs) > 0 {
		act.procs = append([]procsSample{{int64(evs[0].Time()), act.procs[0].n}}, act.procs...)
	}
	if len(act.procs) == 0 || act.last <= act.procs[0].t {
		return nil
	}
	lo, hi := act.procs[0].t, act.last

	// Each span of GC work becomes a +1 where it starts and a -1 where it
	// ends, within [lo, hi).
	type edge struct {
		t     int64
		p     trace.ProcID
		delta int
	}
	var edges []edge
	add := func(p trace.ProcID, s, e int64) {
		s, e = max(s, lo), min(e, hi)
		if s < e {
			edges = append(edges, edge{s, p, +1}, edge{e, p, -1})
		}
	}
	if flags&mmu.STW != 0 {
		for _, x := range act.pauses {
			add(allPs, x.start, x.end)
		}
	}
	var spans []gcSpan
	if flags&mmu.Sweep != 0 {
		spans = append(spans, act.sweeps...)
	}
	if flags&mmu.Background != 0 {
		spans = append(spans, act.workers...)
	}
	if flags&mmu.Assist != 0 {
		spans = append(spans, act.assists...)
	}
	for _, x := range spans {
		add(x.p, x.start, x.end)
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.t, b.t) })

	f := &utilFunction{}
	pauses, busyPs := 0, 0
	work := map[trace.ProcID]int{} // GC activities in progress on each P
	procs := 0
	ie, ip := 0, 0
	for t := lo; t < hi; {
		// Apply every change at t, then note the state after them.
		for ip < len(act.procs) && act.procs[ip].t <= t {
			procs = act.procs[ip].n
			ip++
		}
		for ; ie < len(edges) && edges[ie].t == t; ie++ {
			e := edges[ie]
			if e.p == allPs {
				pauses += e.delta
				continue
			}
			before := work[e.p] > 0
			work[e.p] += e.delta
			if after := work[e.p] > 0; after != before {
				if after {
					busyPs++
				} else {
					busyPs--
				}
			}
		}
		u := 0.0
		if pauses == 0 && procs > 0 {
			u = 1 - float64(min(busyPs, procs))/float64(procs)
		}
		if n := len(f.util); n == 0 || f.util[n-1] != u {
			f.at = append(f.at, t)
			f.util = append(f.util, u)
		}
		next := hi
		if ie < len(edges) {
			next = min(next, edges[ie].t)
		}
		if ip < len(act.procs) {
			next = min(next, act.procs[ip].t)
		}
		t = next
	}
	f.at = append(f.at, hi)
	return f
}

// mean returns the mean utilization over [s, s+d), summing the steps that
// overlap it one by one.
func (f *utilFunction) mean(s, d int64) float64 {
	e := s + d
	// The first step that ends after s.
	i := sort.Search(len(f.util), func(i int) bool { return f.at[i+1] > s })
	var sum float64
	for ; i < len(f.util) && f.at[i] < e; i++ {
		a, b := max(f.at[i], s), min(f.at[i+1], e)
		sum += f.util[i] * float64(b-a)
	}
	return sum / float64(d)
}

// mmu returns the lowest mean utilization of any window of duration w in
// the function's domain, and the start of the earliest window that has
// it; a window longer than the domain is the whole domain. The mean over a
// window is linear in its start between positions where one of its edges
// meets a change of utilization, so the windows looked at are those, and
// the first and last window.
func (f *utilFunction) mmu(w time.Duration) (float64, int64) {
	lo, hi := f.start(), f.end()
	d := int64(w)
	if d >= hi-lo {
		return f.mean(lo, hi-lo), lo
	}
	// integral[i] is the integral of utilization from lo to at[i].
	integral := make([]float64, len(f.at))
	for i, u := range f.util {
		integral[i+1] = integral[i] + u*float64(f.at[i+1]-f.at[i])
	}
	upTo := func(t int64) float64 { // the integral from lo to t
		i := sort.Search(len(f.at), func(i int) bool { return f.at[i] > t }) - 1
		if i == len(f.util) {
			return integral[i]
		}
		return integral[i] + f.util[i]*float64(t-f.at[i])
	}
	starts := []int64{lo, hi - d}
	for _, t := range f.at {
		for _, s := range []int64{t, t - d} {
			if s >= lo && s <= hi-d {
				starts = append(starts, s)
			}
		}
	}
	slices.Sort(starts)
	best, at := math.Inf(1), lo
	for _, s := range starts {
		if u := (upTo(s+d) - upTo(s)) / float64(d); u < best {
			best, at = u, s
		}
	}
	return best, at
}
