package mapping

import (
	"errors"
	"io"
	"math"
	"slices"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// PrepassFile runs the filter's first pass (see [Filter.Prepass]) over a
// trace file of size bytes, reading only what the selection needs. With a
// window that ends (To) and no Related goroutines, that is the file from
// its start to the generation after the window's end, then on only until
// the tasks still open there have ended: a task keeps the goroutines that
// take part in it at any time, so one that joins it after the window
// still counts, but nothing that begins after the window changes what the
// window keeps. It reads on too until the tasks selected by ID that it
// has not read, and that began before the trace, end (and a little past,
// for their regions that end just after them): a flight recorder's
// snapshot begins in the middle of the program's work, and such a task,
// with the regions it began before the trace, may show nothing of itself
// until long after the window. Otherwise it reads the whole file. A file that cannot be
// split into generations is read whole.
//
// Like a pass through Prepass, it learns what it can from a broken trace:
// the selection is what it read before the damage, and it returns the
// parser's [*Error]. A main pass that reads only a window may never reach
// the damage, and a selection cut short there would otherwise go
// unnoticed (a task filter that keeps nothing, a goroutine's relations
// lost). It returns a context's error (see [WithContext]) as soon as
// that stops it, and an error for a negative size.
func (f *Filter) PrepassFile(r io.ReaderAt, size int64, opts ...Option) (rerr error) {
	if size < 0 {
		return negativeSize("Filter.PrepassFile", size)
	}
	p := f.Prepass().(*prepass)
	defer func() {
		if isTraceError(rerr) {
			// What it could read before the damage is the selection,
			// even if that was nothing: the pass through Sink reads on.
			p.s.prepassed = true
		}
	}()
	if !f.To.bounded() || (f.Related && len(f.Goroutines) > 0) {
		_, err := MapFile(r, size, p, opts...)
		return prepassErr(opts, err)
	}
	head := &prepassHead{Sink: p, p: p, to: f.To}
	_, err := MapWindow(r, size, Bound{}, f.To, head, opts...)
	broken := prepassErr(opts, err)
	if broken != nil && !isTraceError(broken) {
		return broken
	}
	var found []*Task
	var foundRegions []*Region
	if from, at, ok := tailFrom(r, size, f.To); ok && err == nil {
		// Read on from the last generation read until the tasks open
		// there have ended, and the tasks wanted and not read so far
		// have come: each is delivered again as it ends, with the
		// goroutines that took part in it from that generation on.
		tail := &prepassTail{held: map[TaskID]*Task{}, wanted: head.unseen(), origin: head.origin,
			earlier: head.earlier, known: head.openAt(at), tracked: map[TaskID]bool{}}
		for _, t := range head.held {
			tail.held[t.ID] = t
			if t.Flags.Has(OpenStart) {
				tail.tracked[t.ID] = true
			}
		}
		for id := range tail.wanted {
			tail.tracked[id] = true
		}
		if len(tail.held) > 0 || len(tail.wanted) > 0 {
			_, err = MapWindow(r, size, from, Bound{}, tail, opts...)
			if errors.Is(err, errTailDone) {
				err = nil
			}
			broken = prepassErr(opts, err)
			if broken != nil && !isTraceError(broken) {
				return broken
			}
			found, foundRegions = tail.found, tail.regions
		}
	}
	for _, t := range slices.Concat(head.held, found) {
		if err := p.Task(t); err != nil {
			return err
		}
	}
	for _, r := range foundRegions {
		if err := p.Region(r); err != nil {
			return err
		}
	}
	if head.sum == nil {
		head.sum = &Summary{}
	}
	if err := p.End(head.sum); err != nil {
		return err
	}
	return broken
}

// prepassErr returns the error that ended a first pass: its context's,
// if that ended, else the parser's, if the trace is broken (an [*Error]).
func prepassErr(opts []Option, err error) error {
	if err == nil {
		return nil
	}
	cfg := newConfig(opts)
	if cfg.ctx != nil && cfg.ctx.Err() != nil {
		return cfg.ctx.Err()
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// isTraceError reports whether err is the parser's error of a trace.
func isTraceError(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.stopped
}

// tailFrom returns the window whose pass begins with the last generation
// that a pass over the window ending at to reads, and when that
// generation begins; false if that pass reads the file to its end (the
// window ends in its last generations) or the file cannot be read by
// generations.
func tailFrom(r io.ReaderAt, size int64, to Bound) (Bound, Time, bool) {
	idx, err := tracefile.Read(r, size)
	if err != nil || idx.Size != size || len(idx.Generations) == 0 {
		return Bound{}, 0, false
	}
	_, last, ok, err := windowGenerations(idx, Bound{}, to)
	gens := idx.Generations
	if err != nil || !ok || last == len(gens)-1 {
		return Bound{}, 0, false
	}
	// A window that starts just after that generation's last event
	// begins with it: a pass reads a generation before its window's.
	return Bound{Offset: time.Duration(gens[last].End + 1 - gens[0].Start), Set: true}, Time(gens[last].Start), true
}

// prepassHead passes the first part of a bounded prepass on to the
// prepass, but for the tasks begun by the window's end and still open
// where the part's reading ended, which it holds (with the goroutines
// that took part so far) for prepassTail, and End.
type prepassHead struct {
	Sink
	p    *prepass
	to   Bound
	end  Time // to, resolved
	held []*Task
	sum  *Summary

	origin   Time                // where the pass began: the start of a task begun before the trace
	seen     map[TaskID]struct{} // every task delivered
	minBegun TaskID              // the lowest ID of a task begun in the trace; 0 if none
	// open holds the spans of the regions that ended at or after the
	// window's end, by goroutine, task and type, and earlier the number
	// of regions begun before the trace by goroutine: prepassTail tells
	// from them the regions begun before the trace that this part did
	// not read.
	open    map[regionKind][]span
	earlier map[GoID]int
}

// openAt counts, by goroutine, task and type, the regions this part read
// that were open at t: begun before it and ended at or after it.
func (h *prepassHead) openAt(t Time) map[regionKind]int {
	n := map[regionKind]int{}
	for k, sps := range h.open {
		for _, sp := range sps {
			if sp.start < t && sp.end >= t {
				n[k]++
			}
		}
	}
	return n
}

// regionKind is what tells apart the regions of a goroutine open at
// once, but for their nesting.
type regionKind struct {
	g    GoID
	task TaskID
	typ  string
}

func (h *prepassHead) Region(r *Region) error {
	if r.Flags.Has(OpenStart) {
		if h.earlier == nil {
			h.earlier = map[GoID]int{}
		}
		h.earlier[r.G]++
	}
	if r.End >= h.end {
		if h.open == nil {
			h.open = map[regionKind][]span{}
		}
		k := regionKind{r.G, r.Task, r.Type}
		h.open[k] = append(h.open[k], span{r.Start, r.End})
	}
	return h.Sink.Region(r)
}

func (h *prepassHead) Begin(m *Meta) error {
	h.origin = m.Origin
	h.end = Time(math.MaxInt64)
	if t, err := h.to.resolve(m); err == nil {
		h.end = t
	}
	return h.Sink.Begin(m)
}

func (h *prepassHead) Task(t *Task) error {
	if h.seen == nil {
		h.seen = map[TaskID]struct{}{}
	}
	h.seen[t.ID] = struct{}{}
	if !t.Flags.Has(OpenStart) && (h.minBegun == NoTask || t.ID < h.minBegun) {
		h.minBegun = t.ID
	}
	if t.Flags.Has(OpenEnd) && t.Start <= h.end && h.matters(t) {
		c := *t
		c.Goroutines = slices.Clone(t.Goroutines)
		h.held = append(h.held, &c)
		return nil
	}
	return h.Sink.Task(t)
}

// matters reports whether the goroutines that take part in task t later
// may change what the window keeps: those of a task the selection may
// keep (selected, or one whose parent may be), and with goroutines
// selected, those of any task (one that a selected goroutine takes part
// in is kept).
func (h *prepassHead) matters(t *Task) bool {
	s := h.p.s
	switch {
	case len(h.p.f.Goroutines) > 0:
		return true
	case len(s.taskType) == 0 && len(s.taskID) == 0:
		return false
	case s.taskType[t.Type] || s.taskID[t.ID]:
		return true
	}
	return t.Parent != NoTask && !h.p.left.has(t.Parent)
}

// unseen returns the tasks selected by ID that the first part did not
// read and that may have begun before the trace (a flight recorder's
// snapshot begins in the middle of a program's work) and be open across
// the window with nothing of themselves up to its end, as the whole pass
// would read them where they end: those older than every task begun in
// the trace. The runtime numbers tasks in the order they begin, so a
// newer one began after the part read, after the window.
func (h *prepassHead) unseen() map[TaskID]bool {
	want := map[TaskID]bool{}
	for id := range h.p.s.taskID {
		if _, ok := h.seen[id]; !ok && (h.minBegun == NoTask || id < h.minBegun) {
			want[id] = true
		}
	}
	return want
}

func (h *prepassHead) End(s *Summary) error {
	c := *s
	h.sum = &c
	return nil
}

// errTailDone stops a prepassTail's pass once every task it waits for
// has ended.
var errTailDone = errors.New("mapping: the tasks open at the window's end have ended")

// prepassTail reads on after a bounded prepass's first part until the
// tasks it holds end, adding the goroutines that took part in them, and
// the tasks it wants (see prepassHead.unseen) have come.
type prepassTail struct {
	NopSink
	held   map[TaskID]*Task
	wanted map[TaskID]bool
	origin Time    // the first part's: where a task begun before the trace begins
	found  []*Task // the tasks wanted, as they came

	// tracked holds the tasks, held or wanted, that began before the
	// trace: their regions that began before it too, which the first
	// part may not have read, go in regions. known counts the regions
	// the first part read open where this part begins, which this part
	// gives as begun before it; earlier counts the regions begun before
	// the trace by goroutine (see mapper.regionEnd).
	tracked map[TaskID]bool
	known   map[regionKind]int
	earlier map[GoID]int
	regions []*Region
	// until is, once the tasks it reads on for have ended, how far it
	// reads for the regions begun before the trace in tracked tasks,
	// which often end just after their task (a deferred End).
	until Time
}

// tailGrace is how long after the last task it waits for ends a
// prepassTail reads on for regions begun before the trace in such tasks.
const tailGrace = Time(10 * time.Millisecond)

// tailRegion marks the IDs of the regions a prepassTail found, numbered
// by its own pass, apart from those of the first part's pass.
const tailRegion RegionID = 1 << 61

func (s *prepassTail) Region(r *Region) error {
	if err := s.past(r.End); err != nil || !r.Flags.Has(OpenStart) || !s.tracked[r.Task] {
		return err
	}
	k := regionKind{r.G, r.Task, r.Type}
	if s.known[k] > 0 {
		s.known[k]--
		return nil
	}
	// Begun before the trace: as the whole pass gives it, but for its
	// ID and stacks.
	if s.earlier == nil {
		s.earlier = map[GoID]int{}
	}
	c := *r
	c.ID |= tailRegion
	c.Start = s.origin - Time(s.earlier[r.G])
	c.Stack, c.EndStack = NoStack, NoStack
	s.earlier[r.G]++
	s.regions = append(s.regions, &c)
	return nil
}

// done ends the pass, or sets until, once the tail has the tasks it
// reads on for; t is the time of the last item.
func (s *prepassTail) done(t Time) error {
	switch {
	case len(s.held) > 0 || len(s.wanted) > 0:
		return nil
	case len(s.tracked) == 0:
		return errTailDone
	}
	s.until = t + tailGrace
	return nil
}

// past ends the pass at an item that ends after until, once set.
func (s *prepassTail) past(t Time) error {
	if s.until != 0 && t > s.until {
		return errTailDone
	}
	return nil
}

func (s *prepassTail) GoroutineState(st *GoroutineState) error { return s.past(st.End) }

func (s *prepassTail) Task(t *Task) error {
	if err := s.past(t.End); err != nil {
		return err
	}
	if s.wanted[t.ID] {
		c := *t
		if c.Flags.Has(OpenStart) {
			// Begun before the trace, as the whole pass gives it.
			c.Start = s.origin
		}
		c.Goroutines = slices.Clone(t.Goroutines)
		s.found = append(s.found, &c)
		delete(s.wanted, t.ID)
		return s.done(t.End)
	}
	h := s.held[t.ID]
	if h == nil {
		return nil
	}
	// Its end is this pass's (where it ended, or the trace did); its
	// begin, type and parent are the first part's, which read them.
	h.End, h.EndG, h.EndStack = t.End, t.EndG, t.EndStack
	h.Flags = h.Flags&^OpenEnd | t.Flags&OpenEnd
	// Through a set: a task that every request's goroutine joins would
	// cost a scan of its list per goroutine.
	in := make(map[GoID]struct{}, len(h.Goroutines))
	for _, g := range h.Goroutines {
		in[g] = struct{}{}
	}
	for _, g := range t.Goroutines {
		if _, ok := in[g]; !ok {
			in[g] = struct{}{}
			h.Goroutines = append(h.Goroutines, g)
		}
	}
	delete(s.held, t.ID)
	return s.done(t.End)
}
