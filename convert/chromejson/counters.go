package chromejson

import (
	"github.com/trace2x/trace2x/internal/jsonstr"
	"github.com/trace2x/trace2x/mapping"
)

// A counter group is one counter of several series: the goroutines by
// state, the threads by state. Catapult stacks the series of a counter,
// so their sum is the total. It takes the series from a counter's first
// event and reads a series missing from a later one as 0, so every event
// of a group carries all its series.
type counterGroup struct {
	pid     int
	name    string    // JSON-quoted
	series  []string  // JSON-quoted
	values  [4]uint64 // by series
	pending bool      // values changed at time and are not written yet
	written bool      // an event of the group was written
	time    mapping.Time
}

// singleCounter is the last value written of a counter of one series.
type singleCounter struct {
	pid        int
	name, unit string
	value      uint64
	time       mapping.Time
}

// counterState coalesces the changes of one group at one time (the
// mapping delivers each series that changed, one after the other) into
// one event.
//
// It also keeps the last value of every counter, which each part of a
// split output after the first restates: catapult draws a counter only
// from its first event in a file, so without it a part opened alone would
// lack the counters that did not change within it (GOMAXPROCS often never
// does).
type counterState struct {
	goroutines, threads counterGroup
	single              []singleCounter // in the order first written
}

func newCounterState() counterState {
	return counterState{
		goroutines: counterGroup{pid: pidGoroutines, name: `"Goroutines"`,
			series: []string{`"running"`, `"runnable"`, `"waiting"`, `"syscall"`}},
		threads: counterGroup{pid: pidThreads, name: `"Threads"`,
			series: []string{`"running"`, `"syscall"`}},
	}
}

// group returns the group and series of a derived counter.
func (c *counterState) group(k mapping.CounterKind) (*counterGroup, int) {
	switch k {
	case mapping.CounterGoroutinesRunning:
		return &c.goroutines, 0
	case mapping.CounterGoroutinesRunnable:
		return &c.goroutines, 1
	case mapping.CounterGoroutinesWaiting:
		return &c.goroutines, 2
	case mapping.CounterGoroutinesSyscall:
		return &c.goroutines, 3
	case mapping.CounterThreadsRunning:
		return &c.threads, 0
	case mapping.CounterThreadsSyscall:
		return &c.threads, 1
	}
	return nil, 0
}

// restate writes, at the start of a part, the last value of every counter
// written before it. A group with a change
// pending is left out: the change is written in this part.
//
// The values are restated at the time at, where the part's items begin,
// or at their own time if later: at an earlier time a part opened alone
// would stretch back to it (GOMAXPROCS's is the trace's start).
func (c *counterState) restate(w *Writer, at mapping.Time) {
	for _, g := range []*counterGroup{&c.goroutines, &c.threads} {
		if g.written && !g.pending {
			g.pending, g.time = true, max(g.time, at)
			g.write(w)
		}
	}
	for i := range c.single {
		s := &c.single[i]
		w.singleCounter(s.pid, max(s.time, at), s.name, s.unit, s.value)
	}
}

// remember notes the value written of a counter of one series.
func (c *counterState) remember(pid int, t mapping.Time, name, unit string, v uint64) {
	for i := range c.single {
		if s := &c.single[i]; s.pid == pid && s.name == name && s.unit == unit {
			s.value, s.time = v, t
			return
		}
	}
	c.single = append(c.single, singleCounter{pid, name, unit, v, t})
}

// flush writes the groups' pending events.
func (c *counterState) flush(w *Writer) {
	c.goroutines.write(w)
	c.threads.write(w)
}

func (g *counterGroup) write(w *Writer) {
	if !g.pending {
		return
	}
	g.pending, g.written = false, true
	w.counterEvent(g.pid, g.time)
	w.nameRaw(g.name)
	w.buf = append(w.buf, `,"args":{`...)
	for i, s := range g.series {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = append(append(w.buf, s...), ':')
		w.buf = appendUint(w.buf, g.values[i])
	}
	w.buf = append(w.buf, '}')
	w.end()
}

// counterEvent starts a "C" event. Counters belong to a process, not a
// row.
func (w *Writer) counterEvent(pid int, t mapping.Time) {
	w.begin('C', pid)
	w.buf = appendMicros(append(w.buf, `,"ts":`...), int64(t-w.base))
}

// Counter writes a counter sample: goroutines and threads by state in
// one counter each, GOMAXPROCS in Procs, heap live, heap goal and any
// other runtime metric in GC, each a counter of one series named after
// its unit.
func (w *Writer) Counter(c *mapping.Counter) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	if g, i := w.counters.group(c.Kind); g != nil {
		if g.pending && g.time != c.Time {
			g.write(w)
		}
		w.checkSplit()
		g.values[i], g.pending, g.time = c.Value, true, c.Time
		return w.err
	}
	w.checkSplit()
	pid := pidGC
	if c.Kind == mapping.CounterGOMAXPROCS {
		pid = pidProcs
	}
	unit := c.Unit
	if unit == "" {
		unit = "value"
	}
	w.singleCounter(pid, c.Time, c.Name, unit, c.Value)
	if w.limit > 0 {
		w.counters.remember(pid, c.Time, c.Name, unit, c.Value)
	}
	return w.err
}

// singleCounter writes an event of a counter of one series, named after
// its unit.
func (w *Writer) singleCounter(pid int, t mapping.Time, name, unit string, v uint64) {
	w.counterEvent(pid, t)
	w.nameStr(name)
	w.buf = append(w.buf, `,"args":{`...)
	w.buf = jsonstr.Append(w.buf, unit)
	w.buf = appendUint(append(w.buf, ':'), v)
	w.buf = append(w.buf, '}')
	w.end()
}
