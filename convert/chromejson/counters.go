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
	// What the current part restates when it closes: the values before
	// it (see snapshot).
	restated []restatedCounter
}

// restatedCounter is a counter's last value before a part: a group's
// values, or a single series'.
type restatedCounter struct {
	group  *counterGroup // nil for a single series
	values [4]uint64
	single singleCounter
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

// snapshot keeps, at the start of a part, the last value of every
// counter written before it, for restate. A group with a change pending
// is left out: the change is written in this part.
func (c *counterState) snapshot() {
	c.restated = c.restated[:0]
	for _, g := range []*counterGroup{&c.goroutines, &c.threads} {
		if g.written && !g.pending {
			c.restated = append(c.restated, restatedCounter{group: g, values: g.values, single: singleCounter{time: g.time}})
		}
	}
	for _, s := range c.single {
		c.restated = append(c.restated, restatedCounter{single: s})
	}
}

// restate writes, as a part closes, the values snapshot kept at its
// start that no value of the part's own came after (restateBefore wrote
// the others), at the part's earliest time at, or at their own time if later.
// At an earlier time a part opened alone would stretch back to it
// (GOMAXPROCS's is the trace's start); at a later one, where the part's
// items begin (what the part started after), it would hide the part's
// own earlier values, which come later in the file than its first items
// (a state is delivered at its end, a thinned counter a period late).
// A nanosecond before at, it precedes every value of the part's own.
func (c *counterState) restate(w *Writer, at mapping.Time) {
	w.restating = true
	for _, r := range c.restated {
		t := max(r.single.time, at-1)
		if g := r.group; g != nil {
			w.groupEvent(g, t, r.values)
			continue
		}
		s := r.single
		w.singleCounter(s.pid, t, s.name, s.unit, s.value)
	}
	w.restating = false
	c.restated = c.restated[:0]
}

// restateBefore writes, before the part's first own value of a counter
// (group g, or the single series pid, name and unit) at t, the value
// snapshot kept of it, so that its samples stay in time order in the
// file: catapult keeps a counter's samples in file order and finds the
// ones in view by binary search. It is written at the part's earliest
// time so far, or its own time if later, and never after t.
func (c *counterState) restateBefore(w *Writer, g *counterGroup, pid int, name, unit string, t mapping.Time) {
	for i, r := range c.restated {
		if r.group != g || g == nil && (r.single.pid != pid || r.single.name != name || r.single.unit != unit) {
			continue
		}
		at := t
		if w.partMinSet {
			at = min(at, w.partMin)
		}
		rt := min(max(r.single.time, at-1), t)
		c.restated = append(c.restated[:i], c.restated[i+1:]...)
		w.restating = true
		if g != nil {
			w.groupEvent(g, rt, r.values)
		} else {
			w.singleCounter(pid, rt, name, unit, r.single.value)
		}
		w.restating = false
		return
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
	w.groupEvent(g, g.time, g.values)
}

// groupEvent writes an event of group g at time t with the values given.
func (w *Writer) groupEvent(g *counterGroup, t mapping.Time, values [4]uint64) {
	if !w.restating && len(w.counters.restated) > 0 {
		w.counters.restateBefore(w, g, 0, "", "", t)
	}
	w.counterEvent(g.pid, t)
	w.nameRaw(g.name)
	w.buf = append(w.buf, `,"args":{`...)
	for i, s := range g.series {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = append(append(w.buf, s...), ':')
		w.buf = appendUint(w.buf, values[i])
	}
	w.buf = append(w.buf, '}')
	w.end()
}

// counterEvent starts a "C" event. Counters belong to a process, not a
// row.
func (w *Writer) counterEvent(pid int, t mapping.Time) {
	w.notePartTime(t)
	w.begin('C', pid)
	w.buf = appendMicros(append(w.buf, `,"ts":`...), int64(t-w.base))
	if w.restating {
		// Told apart from the part's own values, for tools that join
		// the parts, by a field the viewers ignore: catapult keys a
		// counter by its category and name, so a category would draw
		// the restated value as a counter of its own.
		w.buf = append(w.buf, `,"restated":true`...)
	}
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
	if !w.restating && len(w.counters.restated) > 0 {
		w.counters.restateBefore(w, nil, pid, name, unit, t)
	}
	w.counterEvent(pid, t)
	w.nameStr(name)
	w.buf = append(w.buf, `,"args":{`...)
	w.buf = jsonstr.Append(w.buf, unit)
	w.buf = appendUint(append(w.buf, ':'), v)
	w.buf = append(w.buf, '}')
	w.end()
}

// notePartTime notes the time of an event of the current part.
func (w *Writer) notePartTime(t mapping.Time) {
	if !w.partMinSet || t < w.partMin {
		w.partMin, w.partMinSet = t, true
	}
}
