package mapping

import "time"

// Tally is a Sink that counts everything it is given: a sink that touches
// every item, for tests, benchmarks and a first look at a trace. The zero
// value is ready to use, and a Tally can be used again: Begin clears what
// an earlier pass counted.
type Tally struct {
	Meta    Meta
	Summary *Summary

	Stacks     int
	Goroutines int // distinct goroutines
	Procs      int
	Threads    int

	GoStates    [numGoStates]int           // intervals by state
	GoStateTime [numGoStates]time.Duration // total time by state, all goroutines
	ProcRuns    int
	Ranges      map[RangeKind]int
	GCCycles    int // RangeGCMark ranges, including one open at either end
	STW         DurationStats
	GoEvents    map[GoEventKind]int // filled in by End, as Flows and Counters
	Flows       map[GoEventKind]int
	Counters    map[CounterKind]int
	CPUSamples  int
	Experiments map[string]int // experimental events, by experiment

	Tasks                             int // every task delivered
	TasksBegun, TasksEnded, TasksOpen int // TasksOpen: began or ended outside the trace
	Regions, RegionsOpen              int
	Logs                              int

	// Incomplete counts items marked OpenStart or OpenEnd, by kind of
	// item ("goroutine state", "region", ...).
	Incomplete map[string]int

	// Counted here as they come: a counter sample or an instant is
	// nearly as frequent as an event, and an array costs no hashing.
	goEvents, flows [len(goEventNames)]int
	counters        [numCounterKinds]int
}

// DurationStats summarises a set of durations.
type DurationStats struct {
	Count int
	Total time.Duration
	Max   time.Duration
}

func (d *DurationStats) add(x time.Duration) {
	d.Count++
	d.Total += x
	d.Max = max(d.Max, x)
}

var _ Sink = (*Tally)(nil)

func (t *Tally) init() {
	if t.Ranges == nil {
		t.Ranges = make(map[RangeKind]int)
		t.GoEvents = make(map[GoEventKind]int)
		t.Flows = make(map[GoEventKind]int)
		t.Counters = make(map[CounterKind]int)
		t.Experiments = make(map[string]int)
		t.Incomplete = make(map[string]int)
	}
}

func (t *Tally) open(what string, f Flags) {
	if f != 0 {
		t.Incomplete[what]++
	}
}

// Begin clears the counts and records the trace's metadata.
func (t *Tally) Begin(m *Meta) error {
	if m == nil {
		return errNoMeta
	}
	*t = Tally{Meta: *m}
	t.init()
	return nil
}

// Stack counts a stack.
func (t *Tally) Stack(*Stack) error { t.Stacks++; return nil }

// Goroutine counts a goroutine the first time it is delivered.
func (t *Tally) Goroutine(g *Goroutine) error {
	if !g.Updated {
		t.Goroutines++
	}
	return nil
}

// Proc counts a P.
func (t *Tally) Proc(*Proc) error { t.Procs++; return nil }

// Thread counts an M.
func (t *Tally) Thread(*Thread) error { t.Threads++; return nil }

// GoroutineState counts a state interval and adds up its time.
func (t *Tally) GoroutineState(s *GoroutineState) error {
	t.GoStates[s.State]++
	t.GoStateTime[s.State] += s.End.Sub(s.Start)
	t.open("goroutine state", s.Flags)
	return nil
}

// ProcRun counts a P's running interval.
func (t *Tally) ProcRun(p *ProcRun) error { t.ProcRuns++; t.open("proc run", p.Flags); return nil }

// Range counts a range, GC cycles and stop-the-world pauses.
func (t *Tally) Range(r *Range) error {
	t.Ranges[r.Kind]++
	switch r.Kind {
	case RangeGCMark:
		t.GCCycles++
	case RangeSTW:
		t.STW.add(r.End.Sub(r.Start))
	}
	t.open("range", r.Flags)
	return nil
}

// Task counts a task.
func (t *Tally) Task(k *Task) error {
	t.Tasks++
	if !k.Flags.Has(OpenStart) {
		t.TasksBegun++
	}
	if !k.Flags.Has(OpenEnd) {
		t.TasksEnded++
	}
	if k.Flags != 0 {
		t.TasksOpen++
	}
	t.open("task", k.Flags)
	return nil
}

// Region counts a region.
func (t *Tally) Region(r *Region) error {
	t.Regions++
	if r.Flags != 0 {
		t.RegionsOpen++
	}
	t.open("region", r.Flags)
	return nil
}

// Log counts a log.
func (t *Tally) Log(*Log) error { t.Logs++; return nil }

// GoroutineEvent counts an instant by kind.
func (t *Tally) GoroutineEvent(e *GoroutineEvent) error {
	count(t.goEvents[:], t.GoEvents, e.Kind)
	return nil
}

// Flow counts a flow by kind.
func (t *Tally) Flow(f *Flow) error { count(t.flows[:], t.Flows, f.Kind); return nil }

// Counter counts a counter sample by kind.
func (t *Tally) Counter(c *Counter) error { count(t.counters[:], t.Counters, c.Kind); return nil }

// count counts one of kind k in n, or in m for a kind n has no room for
// (one this version does not know).
func count[K ~uint8](n []int, m map[K]int, k K) {
	if int(k) < len(n) {
		n[k]++
	} else {
		m[k]++
	}
}

// CPUSample counts a sample.
func (t *Tally) CPUSample(*CPUSample) error { t.CPUSamples++; return nil }

// Experimental counts an experimental event.
func (t *Tally) Experimental(e *Experimental) error { t.Experiments[e.Experiment]++; return nil }

// End records the summary and fills in the counts kept by kind.
func (t *Tally) End(s *Summary) error {
	t.init()
	t.Summary = s
	fillCounts(t.GoEvents, t.goEvents[:])
	fillCounts(t.Flows, t.flows[:])
	fillCounts(t.Counters, t.counters[:])
	return nil
}

// fillCounts sets m[k] to each count n[k] that is not zero.
func fillCounts[K ~uint8](m map[K]int, n []int) {
	for k, c := range n {
		if c > 0 {
			m[K(k)] = c
		}
	}
}
