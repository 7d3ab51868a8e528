package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trace2x/trace2x/internal/errjoin"
)

// Filter selects part of a trace: a time window, some goroutines, some
// tasks, some regions. Its output is a valid model of that part: items
// cut by the window or by a selection are clipped to it and marked
// OpenStart or OpenEnd, never left open, and a goroutine is declared only
// if something kept names it.
//
// Conditions combine: an item is kept if it lies in the window and in
// any of the selections given (goroutines, tasks, regions), which add up:
// Goroutines 42 and Tasks "job" keep goroutine 42 and every "job" task.
// Process-wide items (GC, stop-the-world, counters) and the GC's work on
// Ps and threads (sweeps, per-P and per-thread ranges) are kept whenever
// they fall in the window, as context; P occupancy is left out when
// goroutines, tasks or regions are selected, since it is about other
// goroutines. A
// selection of tasks or regions given no window takes the time of what
// it keeps as its window (see [Filter.Window]).
//
// A time window needs one pass. A selection by task or region, or of the
// goroutines that interact with the selected ones, needs to know before
// the pass what the pass will show: run [Filter.Prepass] over the trace
// first, then the pass through [Filter.Sink].
//
// A run cut keeps no stack from beyond the cut: one cut at its start has
// no Stack, and one cut at its end no EndStack, as a run the trace itself
// cut has none, since those stacks name code it ran outside what is kept
// (a wall-clock profile of a region would blame the code after it). But a
// run that a Regions selection cuts where a selected region ends gets
// that region's EndStack, and one a Tasks selection cuts where the
// goroutine ended a selected task the task's: where the goroutine was at
// that moment. A
// goroutine that is not running stands still, so the Stack of its
// waiting, runnable or syscall state is where it is throughout, and
// stays; and a region, task or range keeps the stacks where it began and
// ended, which describe it, not the part kept.
//
// A goroutine that a task or region selection keeps for part of its life
// still ends where it ends, if that is in the window: its GoEnded is
// passed on, so that an output draws it gone, not alive to the end. So
// does one declared only because a kept item names it (the goroutine
// that woke a selected one): else every output would hold it, and its
// memory, to the end.
//
// A task's traceparent log (category [CategoryTraceparent]) is its
// identity in the application's distributed trace, so the filter passes it
// on for every task it keeps, even where it would drop the log: outside
// the window, outside the regions kept, or on a goroutine not selected.
// Where the filter knows when the log comes that the task is kept (a
// window alone, or a selection after its prepass), a log inside the window
// is passed on in its place. Otherwise it is held, one per open task,
// until the window has begun and the task is known to be kept (a kept item
// names it, or it ends), and passed on then, its Time moved to that moment
// within the window: the window's start for a log that came before it.
// That lies inside the task as the filter clipped it, so every output
// shows the log in its task, and logs stay in time order. A held log whose
// task ends before the window, or is left out, is dropped.
//
// A Filter serves one pass at a time: Sink resets what Kept counts, and
// the sinks it returns share the filter's selection.
type Filter struct {
	// From and To bound the window; the zero Bound is unbounded.
	From, To Bound
	// Goroutines selects these goroutines for the whole trace.
	Goroutines []GoID
	// Related adds the goroutines that created, were created by, unblocked
	// or were unblocked by a selected goroutine.
	Related bool
	// Tasks selects tasks by type or by decimal ID (a decimal value selects
	// the task of that ID and the tasks of that type), with their
	// subtasks, regions and logs, and the goroutines involved in them
	// while the task lasts.
	Tasks []string
	// Regions selects regions by type, with the regions nested in them,
	// their logs and tasks, and their goroutines while they last.
	Regions []string

	sel  *selection // made by Prepass
	kept int64      // items the last pass through Sink kept
	seen Seen       // what the last pass through Sink saw
}

// Seen is what a pass through a Filter's Sink saw of the trace (of its
// window, when it has one), whether kept or not: what a selection that
// kept nothing could have named.
type Seen struct {
	// TaskTypes and RegionTypes are the types of the tasks and regions
	// that ended in the pass, the first MaxSeenTypes of each, sorted.
	TaskTypes, RegionTypes []string
	// MoreTypes is set when there were more types than listed.
	MoreTypes bool
	// Goroutines counts the goroutines declared; FirstG and LastG are
	// the lowest and highest of their IDs.
	Goroutines    int
	FirstG, LastG GoID

	taskTypes, regionTypes map[string]bool
}

// MaxSeenTypes is how many task and region types Seen lists of each.
const MaxSeenTypes = 32

// Seen returns what the last pass through Sink saw. Like Kept, call it
// once the pass has returned.
func (f *Filter) Seen() Seen {
	s := f.seen
	s.TaskTypes = slices.Sorted(maps.Keys(s.taskTypes))
	s.RegionTypes = slices.Sorted(maps.Keys(s.regionTypes))
	s.taskTypes, s.regionTypes = nil, nil
	return s
}

func (s *Seen) addType(m *map[string]bool, typ string) {
	if (*m)[typ] {
		return
	}
	if len(*m) >= MaxSeenTypes {
		s.MoreTypes = true
		return
	}
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[typ] = true
}

// errPrepassTwice refuses a second pass through one Prepass sink.
var errPrepassTwice = errors.New("mapping.Filter: a Prepass sink takes one pass; call Prepass again for another")

// errSinkTwice refuses a second pass through one Filter.Sink.
var errSinkTwice = errors.New("mapping.Filter: a Sink takes one pass; call Sink again for another")

// ErrNoPrepass is wrapped by the error a pass through [Filter.Sink]
// returns when the filter needs a prepass (see [Filter.NeedsPrepass]) and
// had none.
var ErrNoPrepass = errors.New("mapping.Filter: Sink used before Prepass")

// Kept returns how many items (states, runs, ranges, tasks, regions, logs,
// events, flows, samples) the last pass through Sink kept for the
// selection, so that a filter that matched nothing can be told apart from
// a quiet trace. Under a selection of goroutines, tasks or regions, what
// it keeps as context (process-wide GC cycles, stop-the-world pauses,
// sweeps and counters, the goroutines and stacks that kept items name) is not
// counted. It is not safe to call while a pass runs through the Filter
// on another goroutine: call it once the pass has returned.
func (f *Filter) Kept() int64 { return f.kept }

// ErrWindow is wrapped by the error for a window the trace cannot place.
var ErrWindow = errors.New("bad window")

// ErrNoWallClock is wrapped by the error for a wall-clock Bound of a
// trace that records no wall clock, where the Bound gives no Start.
var ErrNoWallClock = errors.New("the trace has no wall clock")

// endsBeforeStart is the error of a window that ends at to, before the
// trace starts.
func endsBeforeStart(to Bound) error {
	return fmt.Errorf("%w: it ends (%s) before the trace starts", ErrWindow, to)
}

// startsAfterEnd is the error of a window that starts at from, after the
// trace ends, d after its start.
func startsAfterEnd(from Bound, d time.Duration) error {
	return fmt.Errorf("%w: it starts (%s) after the trace ends (%v after its start)", ErrWindow, from, d)
}

// Bound is one end of a time window: an offset from the trace start, or,
// for a trace that carries a wall clock, a wall-clock time. The zero
// Bound is no bound at all.
type Bound struct {
	Offset time.Duration
	Wall   time.Time // used when not zero
	// Start is the wall-clock time of the trace's start, for a trace that
	// records no wall clock (before Go 1.25): Wall counts from it there.
	// A trace's own clock is used where it has one.
	Start time.Time
	// Set makes the bound count when both Offset and Wall are zero: the
	// trace's start, as where a window "from the start" is given. A
	// non-zero Offset or Wall counts without it.
	Set bool
}

// bounded reports whether b bounds a window (see Set).
func (b Bound) bounded() bool {
	return b.Set || b.Offset != 0 || !b.Wall.IsZero()
}

// String returns the bound as it was given.
func (b Bound) String() string {
	switch {
	case !b.bounded():
		return "unbounded"
	case !b.Wall.IsZero():
		return b.Wall.Format(time.RFC3339Nano)
	}
	return b.Offset.String()
}

// resolve turns the bound into a trace time.
func (b Bound) resolve(m *Meta) (Time, error) {
	if b.Wall.IsZero() {
		return m.Start + Time(b.Offset), nil
	}
	if m.Clock == nil && !b.Start.IsZero() {
		return m.Start + Time(b.Wall.Sub(b.Start)), nil
	}
	if m.Clock == nil {
		why := "(Go 1.25+ traces do)"
		if minor, err := strconv.Atoi(strings.TrimPrefix(m.FormatVersion, "go1.")); err == nil && minor >= 25 {
			// Its format has one: it is damaged (a wall time out of
			// any plausible range).
			why = "(its first clock snapshot is damaged)"
		}
		return 0, fmt.Errorf("%w %s to place %s: give an offset from its start instead, e.g. 1.5s, or the wall-clock time of its start", ErrNoWallClock, why, b)
	}
	return m.Clock.Trace + Time(b.Wall.Sub(m.Clock.Wall)), nil
}

// Window returns the time window a pass through Sink keeps: From and To.
// A selection of tasks or regions with neither, which keeps no goroutine
// for the whole trace (Goroutines, Related), is given one by its prepass:
// from the earliest start to the latest end of the tasks it keeps, or of
// the regions it keeps and their tasks. The pass keeps its context (GC,
// pauses, counters) over that time, as a window would, not over the
// whole trace: one request of a long trace then opens at the request,
// not as a sliver of the trace's whole time. A selection that keeps
// nothing has no window.
//
// The pass still reads the whole trace, as the Filter's From and To
// bound it (give those to MapWindow, not these): what lies outside the
// window still counts, a traceparent a kept task's parent logged before
// it, or a break in the trace after it, which the pass reports.
func (f *Filter) Window() (from, to Bound) {
	if f.From.bounded() || f.To.bounded() || f.sel == nil || !f.sel.bounded {
		return f.From, f.To
	}
	s := f.sel
	from = Bound{Offset: time.Duration(s.extent.start - s.start), Set: true}
	if s.toEnd {
		// What it keeps lasts to the trace's end: so does the window, and
		// an item open there is open at the trace's end, not cut by the
		// window (a wait under way is not counted as one that ended).
		return from, Bound{}
	}
	return from, Bound{Offset: time.Duration(s.extent.end - s.start), Set: true}
}

// Empty reports whether the filter keeps everything.
func (f *Filter) Empty() bool {
	return !f.From.bounded() && !f.To.bounded() && len(f.Goroutines) == 0 && len(f.Tasks) == 0 && len(f.Regions) == 0
}

// NeedsPrepass reports whether Prepass must run over the trace before the
// pass through Sink.
func (f *Filter) NeedsPrepass() bool {
	return len(f.Tasks) > 0 || len(f.Regions) > 0 || (f.Related && len(f.Goroutines) > 0)
}

// Prepass returns a Sink that learns, in a first pass over the trace, which
// goroutines, tasks and regions the selection covers and when. The pass
// through Sink must then read the same trace: what was learned of
// another is not detected, and keeps whatever its IDs and times match.
// The Sink takes one pass; one that never began (its input was not a
// trace) leaves the filter without a prepass (see [ErrNoPrepass]).
func (f *Filter) Prepass() Sink {
	f.sel = newSelection(f)
	return &prepass{f: f, s: f.sel}
}

// Sink returns a Sink that passes the selected part of the trace to next.
// A selection that needs a prepass (see NeedsPrepass) must have had one:
// without it, the pass fails at Begin with an error wrapping
// [ErrNoPrepass]. The Sink takes one pass, and refuses a second.
func (f *Filter) Sink(next Sink) Sink {
	var misuse error
	sel := f.sel
	if sel != nil && !sel.prepassed && f.NeedsPrepass() {
		// Prepass was called, but its pass never began (it was not
		// run, or its input was not a trace): the selection is empty.
		sel = nil
	}
	if sel == nil {
		sel = newSelection(f)
		if f.NeedsPrepass() {
			// Not kept: a prepass run later still makes the selection.
			var what []string
			if len(f.Tasks) > 0 {
				what = append(what, "tasks")
			}
			if len(f.Regions) > 0 {
				what = append(what, "regions")
			}
			if f.Related && len(f.Goroutines) > 0 {
				what = append(what, "related goroutines")
			}
			misuse = fmt.Errorf("%w: a selection of %s needs a pass through Prepass over the trace first",
				ErrNoPrepass, strings.Join(what, " and "))
		} else {
			f.sel = sel
		}
	}
	f.kept = 0
	f.seen = Seen{}
	return &filterSink{next: next, f: f, s: sel, misuse: misuse,
		pending: map[GoID]*Goroutine{}, stated: map[GoID]bool{}}
}

// span is a closed time interval.
type span struct{ start, end Time }

// selection is what a filter keeps, apart from the window.
type selection struct {
	// prepassed: a pass through Prepass began (or PrepassFile read what
	// it could of a broken trace); a selection that needs one is empty
	// without it.
	prepassed bool
	entities  bool                // goroutines, tasks or regions are selected
	allOf     map[GoID]bool       // goroutines kept for the whole trace
	spans     map[GoID][]span     // goroutines kept while these spans last (sorted, merged after the prepass)
	tasks     map[TaskID]bool     // tasks kept
	regions   map[GoID][]span     // matching regions: the regions inside them are kept
	taskType  map[string]bool     // task types selected
	taskID    map[TaskID]bool     // task IDs selected
	regType   map[string]bool     // region types selected
	keptSpan  map[TaskID]keptTask // when each task kept lasted, and its goroutines
	// typeOf holds the type of each task kept, for a pass over a window's
	// generations, which may not read where the task began.
	typeOf map[TaskID]string
	// linkOf holds the parent and root of each task open at a window's
	// start that has one, as the first pass saw them: a pass over the
	// window's generations knows neither for a task begun before them,
	// and a task kept would leave its parent's distributed trace.
	linkOf map[TaskID]taskLink
	// involved pairs each task a Related prepass has not yet kept with
	// its goroutines, a pair each: whether they relate to one selected is
	// known at the end only. Pairs, not a map of slices: a fourth of the
	// memory, for what may be every task of the trace.
	involved []taskG
	related  map[GoID]bool   // goroutines that interact with a selected one
	regTask  map[TaskID]bool // tasks of matching regions
	context  map[TaskID]bool // tasks kept as context only, without their regions and logs
	gTasks   map[TaskID]bool // tasks of the goroutines selected for the whole trace, after a prepass
	// start is the trace's start, and extent the time from the earliest
	// start to the latest end of what the selection keeps, where it keeps
	// no goroutine for the whole trace (bounded): a pass with no window
	// of its own keeps its context (GC, pauses, counters) over that time
	// only (see Filter.Window).
	start   Time
	extent  span
	bounded bool
	toEnd   bool // the extent reaches the trace's last event
	// inWindow holds the tasks kept that overlap a window given, by
	// start: a pass over the window's generations does not see one open
	// across all of them with nothing of its own in them (see
	// filterSink.unseen).
	inWindow []keptID
	// tpTasks holds the tasks of tpBefore, for the same reason: kept
	// for their traceparent, they are context of what is kept.
	tpTasks map[TaskID]keptTask
	// ctxTasks holds the tasks kept as context for a region selected
	// (see regTask) that overlap a window given, for the same reason.
	ctxTasks map[TaskID]keptTask
	// openAtFrom holds the tasks open at the start of a window given: one
	// that a pass over the window's generations did not see begin, and
	// that is not among them, ended before the window (see
	// filterSink.endedBefore).
	openAtFrom idSet[TaskID]
	sawFrom    bool // the prepass read up to the window's start
	// openAt holds the regions open at the start of a window given,
	// without their stacks (a pass numbers its own), for a pass over the
	// window's generations, which does not read where they began (see
	// regionSeeder).
	openAt []Region
	// tpBefore holds, in time order, the first traceparent log of each
	// task open at the window's start that logged it before, as the
	// prepass read them: a pass over the window's generations may not
	// read them, and the tasks kept would leave their distributed traces
	// (see traceparent.go).
	tpBefore []Log
	// firstTP is when the first traceparent log of a task was, if tpSeen:
	// the filter passes on that of the tasks it keeps only (see
	// Meta.TraceparentSeen).
	firstTP Time
	tpSeen  bool
}

func newSelection(f *Filter) *selection {
	s := &selection{
		entities: len(f.Goroutines) > 0 || len(f.Tasks) > 0 || len(f.Regions) > 0,
		allOf:    map[GoID]bool{},
		spans:    map[GoID][]span{},
		tasks:    map[TaskID]bool{},
		regions:  map[GoID][]span{},
		taskType: map[string]bool{},
		taskID:   map[TaskID]bool{},
		regType:  map[string]bool{},
		keptSpan: map[TaskID]keptTask{},
		typeOf:   map[TaskID]string{},
		related:  map[GoID]bool{},
		regTask:  map[TaskID]bool{},
		context:  map[TaskID]bool{},
		gTasks:   map[TaskID]bool{},
	}
	for _, g := range f.Goroutines {
		s.allOf[g] = true
	}
	for _, t := range f.Tasks {
		// A decimal value is an ID and a type both: programs name task
		// types after status codes, years and job numbers too.
		if id, err := strconv.ParseUint(t, 10, 64); err == nil {
			s.taskID[TaskID(id)] = true
		}
		s.taskType[t] = true
	}
	for _, r := range f.Regions {
		s.regType[r] = true
	}
	return s
}

// taskG is a goroutine of a task.
type taskG struct {
	t TaskID
	g GoID
}

// taskLink is where a task hangs in its tree.
type taskLink struct{ parent, root TaskID }

// keptTask is what the pass needs of a task the selection keeps: when it
// lasted, the goroutines involved in it, and its type.
type keptTask struct {
	span         span
	gs           []GoID
	typ          string
	parent, root TaskID
	flags        Flags
}

// keptID is a task kept, with its ID.
type keptID struct {
	id TaskID
	keptTask
}

// prepass learns the selection.
//
// A task is kept if it or one of its ancestors is selected; tasks are
// delivered as they end, a subtask often before its parent. So a task
// whose parent has not ended waits for it, and is settled with it; a task
// left out is remembered (a bit by ID), for a subtask that outlives it.
// What the prepass holds then follows the tasks kept and the subtasks of
// open tasks, not every task of the trace.
type prepass struct {
	NopSink
	f        *Filter
	s        *selection
	waiting  map[TaskID][]*waitingTask // tasks by the parent they wait for
	left     idSet[TaskID]             // tasks left out
	from, to Time                      // the window, see Begin
	// tps holds the first traceparent of each task that logged one
	// before the window's start, until the task ends before it.
	tps map[TaskID]Log
	// extent spans what the selection keeps, as far as known (see
	// selection.extent); grown says it holds something.
	extent span
	grown  bool
	// taskSpans holds when each task ended so far lasted, for a region
	// selection: a matching region that outlived its task comes after it;
	// taskTypes their types.
	taskSpans map[TaskID]span
	taskTypes map[TaskID]string
}

// grow adds sp to the extent of what the selection keeps.
func (p *prepass) grow(sp span) {
	if !p.grown {
		p.extent, p.grown = sp, true
		return
	}
	p.extent.start, p.extent.end = min(p.extent.start, sp.start), max(p.extent.end, sp.end)
}

// waitingTask is a task whose parent had not ended when it did.
type waitingTask struct {
	id TaskID
	keptTask
}

func (p *prepass) Task(t *Task) error {
	s := p.s
	if t.Start < p.from && t.End >= p.from && p.f.From.bounded() {
		// Open at the window's start: a pass over the window's
		// generations may not read its begin, and the task may be kept
		// as context (an ancestor of a task kept, the task of a region
		// kept) or selected.
		s.openAtFrom.add(t.ID)
		if t.Type != "" {
			s.typeOf[t.ID] = t.Type
		}
		if t.Parent != NoTask {
			if s.linkOf == nil {
				s.linkOf = map[TaskID]taskLink{}
			}
			s.linkOf[t.ID] = taskLink{t.Parent, cmp.Or(t.Root, t.Parent)}
		}
	}
	if len(s.regType) > 0 {
		// A task of a matching region is kept as context, whole. It
		// ends after the region, which came before it, or, ended by
		// another goroutine, before the region ends: then its span is
		// known when the region comes.
		if s.regTask[t.ID] {
			p.grow(span{t.Start, t.End})
			if p.f.From.bounded() && t.End >= p.from && t.Start <= p.to {
				if s.ctxTasks == nil {
					s.ctxTasks = map[TaskID]keptTask{}
				}
				s.ctxTasks[t.ID] = keptTask{span{t.Start, t.End}, nil, t.Type, t.Parent, t.Root, t.Flags & (OpenStart | OpenEnd)}
			}
			// For a pass over a window's generations, which may not read
			// where the task began.
			if t.Type != "" {
				s.typeOf[t.ID] = t.Type
			}
		} else {
			if p.taskSpans == nil {
				p.taskSpans = map[TaskID]span{}
			}
			p.taskSpans[t.ID] = span{t.Start, t.End}
			if t.Type != "" {
				if p.taskTypes == nil {
					p.taskTypes = map[TaskID]string{}
				}
				p.taskTypes[t.ID] = t.Type
			}
		}
	}
	if !t.Flags.Has(OpenEnd) && t.End < p.from {
		delete(p.tps, t.ID)
	} else if _, ok := p.tps[t.ID]; ok {
		// A task that logged its traceparent before the window and is
		// open at its start: kept for its subtasks' or regions' sake, it
		// may have nothing of its own in the window's generations.
		if s.tpTasks == nil {
			s.tpTasks = map[TaskID]keptTask{}
		}
		s.tpTasks[t.ID] = keptTask{span{t.Start, t.End}, nil, t.Type, t.Parent, t.Root, t.Flags & (OpenStart | OpenEnd)}
	}
	if len(s.taskType) > 0 || len(s.taskID) > 0 {
		wt := &waitingTask{t.ID, keptTask{span{t.Start, t.End}, slices.Clone(t.Goroutines), t.Type, t.Parent, t.Root, t.Flags & (OpenStart | OpenEnd)}}
		switch {
		case s.taskType[t.Type] || s.taskID[t.ID] || s.tasks[t.Parent] || t.Parent != NoTask && s.taskID[t.Parent]:
			// (Task 0 is no task, the background's, which no trace
			// shows: selected, it is not the parent of every task.)
			p.settle(wt, true)
		case t.Parent == NoTask || p.left.has(t.Parent):
			p.settle(wt, false)
		default:
			if p.waiting == nil {
				p.waiting = map[TaskID][]*waitingTask{}
			}
			p.waiting[t.Parent] = append(p.waiting[t.Parent], wt)
		}
	}
	if len(p.f.Goroutines) > 0 {
		switch {
		case slices.ContainsFunc(t.Goroutines, func(g GoID) bool { return s.allOf[g] || s.related[g] }):
			s.gTasks[t.ID] = true
		case p.f.Related:
			// Whether its goroutines relate to a selected one is known at
			// the end only.
			for _, g := range t.Goroutines {
				s.involved = append(s.involved, taskG{t.ID, g})
			}
		}
	}
	return nil
}

// settle keeps task wt or leaves it out, and so the subtasks that waited
// for it: those not selected themselves, which share its fate.
func (p *prepass) settle(wt *waitingTask, kept bool) {
	s := p.s
	if kept {
		s.tasks[wt.id] = true
		s.keptSpan[wt.id] = wt.keptTask
	} else {
		p.left.add(wt.id)
	}
	children := p.waiting[wt.id]
	delete(p.waiting, wt.id)
	for _, c := range children {
		p.settle(c, kept)
	}
}

// Begin places the window, for Region.
func (p *prepass) Begin(m *Meta) error {
	if p.s.prepassed {
		// What it learnt of the first would mix with the second.
		return errPrepassTwice
	}
	p.s.prepassed = true
	p.s.start = m.Start
	p.from, p.to = Time(math.MinInt64), Time(math.MaxInt64)
	// A window that does not resolve fails the main pass, which says so.
	if p.f.From.bounded() {
		if t, err := p.f.From.resolve(m); err == nil {
			p.from = t
		}
	}
	if p.f.To.bounded() {
		if t, err := p.f.To.resolve(m); err == nil {
			p.to = t
		}
	}
	return nil
}

// Log keeps the traceparents logged before the window (see tpBefore).
func (p *prepass) Log(l *Log) error {
	if p.s.tasks[l.Task] {
		p.grow(span{l.Time, l.Time}) // logged in a task kept after it ended
	}
	if l.Category != CategoryTraceparent || l.Task == NoTask {
		return nil
	}
	if !p.s.tpSeen || l.Time < p.s.firstTP {
		p.s.firstTP, p.s.tpSeen = l.Time, true
	}
	if l.Time >= p.from {
		return nil
	}
	if _, ok := p.tps[l.Task]; ok || len(p.tps) >= maxHeld {
		return nil
	}
	if p.tps == nil {
		p.tps = map[TaskID]Log{}
	}
	p.tps[l.Task] = *l
	return nil
}

func (p *prepass) Region(r *Region) error {
	if p.f.From.bounded() && r.Start < p.from && r.End >= p.from && len(p.s.openAt) < maxHeld {
		c := *r
		c.Stack, c.EndStack, c.Time, c.Timed = NoStack, NoStack, StateTimes{}, false
		p.s.openAt = append(p.s.openAt, c)
	}
	if p.s.tasks[r.Task] {
		// A region of a task kept that outlived it: the task was
		// delivered, and kept, before.
		p.grow(span{r.Start, r.End})
	}
	if p.s.regType[r.Type] {
		p.s.regions[r.G] = append(p.s.regions[r.G], span{r.Start, r.End})
		// Its task is context for the regions kept: those in the window.
		if r.Task != NoTask && r.End >= p.from && r.Start <= p.to {
			p.s.regTask[r.Task] = true
			if sp, ok := p.taskSpans[r.Task]; ok {
				p.grow(sp) // a task that ended before its region
				if typ := p.taskTypes[r.Task]; typ != "" {
					p.s.typeOf[r.Task] = typ
				}
			}
		}
	}
	return nil
}

func (p *prepass) GoroutineEvent(e *GoroutineEvent) error {
	if p.f.Related && (e.Kind == GoCreated || e.Kind == GoUnblocked) && e.By != NoGoroutine {
		p.relate(e.G, e.By)
	}
	return nil
}

func (p *prepass) relate(a, b GoID) {
	if p.s.allOf[a] {
		p.s.related[b] = true
	}
	if p.s.allOf[b] {
		p.s.related[a] = true
	}
}

func (p *prepass) End(sum *Summary) error {
	s := p.s
	s.prepassed = true
	// A trace broken before the window's start leaves the tasks open there
	// unknown (see filterSink.endedBefore).
	s.sawFrom = sum != nil && sum.End >= p.from
	// The tasks still waiting: their parent never ended in the trace, or
	// ended long before them and was left out.
	for _, parent := range slices.Sorted(maps.Keys(p.waiting)) {
		for _, c := range p.waiting[parent] {
			p.settle(c, false)
		}
		delete(p.waiting, parent)
	}
	for id, k := range s.keptSpan {
		for _, g := range k.gs {
			s.spans[g] = append(s.spans[g], k.span)
		}
		if k.typ != "" {
			s.typeOf[id] = k.typ
		}
	}
	for g, sps := range s.regions {
		s.spans[g] = append(s.spans[g], sps...)
		s.regions[g] = merge(slices.Clone(sps))
	}
	for t := range s.regTask {
		s.context[t] = true
	}
	for g := range s.related {
		s.allOf[g] = true
	}
	// The tasks the pass will keep for a goroutine selected, known now so
	// that their traceparent logs are passed on in their place (known as
	// they ended, but for Related).
	for _, tg := range s.involved {
		if s.allOf[tg.g] {
			s.gTasks[tg.t] = true
		}
	}
	for g, sps := range s.spans {
		s.spans[g] = merge(sps)
	}
	for id, k := range s.keptSpan {
		p.grow(k.span) // a task may have no goroutine
		if (p.f.From.bounded() || p.f.To.bounded()) && k.span.end >= p.from && k.span.start <= p.to {
			k.gs = nil
			s.inWindow = append(s.inWindow, keptID{id, k})
		}
	}
	slices.SortFunc(s.inWindow, func(a, b keptID) int {
		return cmp.Or(cmpTime(a.span.start, b.span.start), cmp.Compare(a.id, b.id))
	})
	for _, sps := range s.spans {
		p.grow(sps[0])
		p.grow(sps[len(sps)-1])
	}
	// Nothing kept, or goroutines kept for the whole trace: no extent.
	s.extent, s.bounded = p.extent, p.grown && len(s.allOf) == 0
	s.toEnd = s.bounded && sum != nil && s.extent.end >= sum.End
	s.tpBefore = slices.SortedFunc(maps.Values(p.tps), func(a, b Log) int {
		return cmp.Or(cmpTime(a.Time, b.Time), cmp.Compare(a.Task, b.Task))
	})
	// What the prepass alone needed is no longer needed.
	s.keptSpan, s.involved, s.related, s.regTask = nil, nil, nil, nil
	p.waiting, p.left, p.tps, p.taskSpans, p.taskTypes = nil, idSet[TaskID]{}, nil, nil, nil
	return nil
}

// merge sorts spans and joins the ones that overlap.
func merge(sps []span) []span {
	slices.SortFunc(sps, func(a, b span) int { return cmpTime(a.start, b.start) })
	out := sps[:0]
	for _, sp := range sps {
		if n := len(out); n > 0 && sp.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

func cmpTime(a, b Time) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// filterSink passes on what the filter keeps.
type filterSink struct {
	next   Sink
	f      *Filter
	s      *selection
	misuse error // Begin's error: the filter needed a prepass
	passes int   // Begins: a second is refused
	// open holds the tasks open at the pass's end until End (see
	// drainOpen); draining is set from then on.
	open     []Task
	draining bool
	// openTasks tells of the tasks open, from the mapping (nil for
	// another driver); openParent gives the parents of those open at the
	// pass's end, which the mapping no longer holds (see named).
	openTasks  openTasks
	openParent map[TaskID]TaskID
	skipped    bool // the pass skipped the file's first generations (Meta.Skipped)
	// forwarded is set once next's Begin is called: only then is its End.
	forwarded bool
	// The window: as Filter.Window gives it, and placed in the trace.
	fromB, toB Bound
	from, to   Time
	origin     Time // the trace start
	// ended remembers the tasks that ended, and leftT those left out: a
	// region or log that comes later does not name one left out, and a
	// traceparent logged in an ended task is not held.
	ended idSet[TaskID] // the tasks that ended
	leftT idSet[TaskID] // of those, the ones left out
	// The traceparent logs of open tasks, by task, while it is not known
	// that the task is kept or the window has not begun (see
	// traceparent.go); tpG counts those held by goroutine.
	tps map[TaskID]*heldLog
	tpG map[GoID]int
	// tpRoot lists, by root task, the tasks under it whose traceparent
	// is held.
	tpRoot map[TaskID][]TaskID
	begun  bool // something was passed on: the window has begun
	// Goroutines are declared to next only when a kept item names them;
	// until then the latest delivery of each live one waits here.
	pending  map[GoID]*Goroutine
	declared idSet[GoID] // kept for the pass: later items may name an ended goroutine
	// stated holds the goroutines alive with a state kept: their end is
	// kept wherever it is in the window.
	stated map[GoID]bool
	// The latest value of every counter before the window, restated at its
	// start so that the window opens with the values in force. A trace has
	// a dozen or so counters and one changes at nearly every event before
	// the window: a scan of a short slice costs less than hashing a name.
	counters []*Counter
	restated bool
	// regEnds holds, by goroutine, the ends of the selected regions (and
	// of the selected tasks it ended) at which a span of the selection
	// ends, with the stack there, until the goroutine's state that covers
	// them has come: a run cut there ends there (see Filter).
	regEnds map[GoID][]stackAt
	// placed holds, by goroutine and depth, the earliest start given
	// to the regions put into the window that nest in a region not yet
	// come (see placeNested).
	placed map[GoID][]placedStart

	// copies handed to next, so the mapper's items are never changed
	gs  GoroutineState
	pcs []piece // what clipPieces returns, reused
	rg  Region
	lg  Log
	tk  Task
	rn  Range
	pr  ProcRun
	ge  GoroutineEvent
	gos []GoID
	sum Summary
}

// stackAt is a stack a goroutine had at a moment.
type stackAt struct {
	t     Time
	stack StackID
}

func (f *filterSink) nilSink() error { return checkNext(f.next, "the sink given to Filter.Sink") }

func (f *filterSink) Begin(m *Meta) error {
	if err := f.nilSink(); err != nil {
		return err
	}
	if f.misuse != nil {
		return f.misuse
	}
	if f.passes++; f.passes > 1 {
		// What it holds of the first pass would go into the second. next
		// had its pass, and its End: it gets no other.
		f.forwarded = false
		return errSinkTwice
	}
	f.from, f.to = Time(math.MinInt64), Time(math.MaxInt64)
	f.fromB, f.toB = f.f.Window()
	var err error
	if f.fromB.bounded() {
		if f.from, err = f.fromB.resolve(m); err != nil {
			return fmt.Errorf("%w: its start: %w", ErrWindow, err)
		}
	}
	if f.toB.bounded() {
		if f.to, err = f.toB.resolve(m); err != nil {
			return fmt.Errorf("%w: its end: %w", ErrWindow, err)
		}
	}
	if f.to < f.from {
		return fmt.Errorf("%w: it ends (%s) before it starts (%s)", ErrWindow, f.toB, f.fromB)
	}
	if f.to < m.Start {
		return endsBeforeStart(f.toB)
	}
	f.origin = m.Start
	f.skipped = m.Skipped
	f.begun = !f.fromB.bounded()
	// The traceparents the prepass saw logged before the window are held
	// as the pass would hold them had it read them: a pass over the
	// window's generations may not have.
	for _, l := range f.s.tpBefore {
		if l.Time < f.from {
			f.holdBefore(l)
		}
	}
	meta := *m
	meta.Start = max(m.Start, f.from)
	meta.Filtered = true
	if f.toB.bounded() {
		meta.WindowEnd = f.to
	}
	meta.Selected = f.s.entities
	meta.TraceparentSeen, meta.FirstTraceparent = f.s.tpSeen, f.s.firstTP
	f.forwarded = true
	return f.next.Begin(&meta)
}

func (f *filterSink) Stack(s *Stack) error   { return f.next.Stack(s) }
func (f *filterSink) Proc(p *Proc) error     { return f.next.Proc(p) }
func (f *filterSink) Thread(t *Thread) error { return f.next.Thread(t) }

func (f *filterSink) Goroutine(g *Goroutine) error {
	if seen := &f.f.seen; !g.Updated {
		if seen.Goroutines == 0 || g.ID < seen.FirstG {
			seen.FirstG = g.ID
		}
		seen.LastG = max(seen.LastG, g.ID)
		seen.Goroutines++
	}
	if f.declared.has(g.ID) {
		// An update (a label): cut as the declaration was.
		c := f.cut(g)
		return f.next.Goroutine(&c)
	}
	c := *g
	f.pending[g.ID] = &c
	return nil
}

// cut returns g as the output has it: a lifetime begun before the window
// cut there, as its states are, and no creator that the output does not
// name.
func (f *filterSink) cut(g *Goroutine) Goroutine {
	c := *g
	if c.Created < f.from {
		c.Created, c.Flags = f.from, c.Flags|OpenStart
	}
	if c.Creator != NoGoroutine && !f.declared.has(c.Creator) {
		// The output names only goroutines it has; a creator left out is
		// not declared for this alone.
		c.Creator = NoGoroutine
	}
	return c
}

// declare delivers goroutine id to next if it has not been, and reports
// whether next knows it.
func (f *filterSink) declare(id GoID) (bool, error) {
	if id == NoGoroutine || f.declared.has(id) {
		return true, nil
	}
	g := f.pending[id]
	if g == nil {
		return false, nil // ended before anything kept named it
	}
	f.declared.add(id)
	delete(f.pending, id)
	c := f.cut(g)
	c.Updated = false
	return true, f.next.Goroutine(&c)
}

// clip bounds [start, end] by the window and reports whether anything is
// left, with the flags to add for what was cut.
func (f *filterSink) clip(start, end Time) (Time, Time, Flags, bool) {
	var fl Flags
	if end < f.from || start > f.to {
		return 0, 0, 0, false
	}
	if start < f.from {
		start, fl = f.from, fl|OpenStart
	}
	if end > f.to {
		end, fl = f.to, fl|OpenEnd
	}
	return start, end, fl, true
}

// clipG is clip for an item of goroutine g, also bounded by the spans in
// which g is selected.
func (f *filterSink) clipG(g GoID, start, end Time) (Time, Time, Flags, bool) {
	if !f.s.entities || f.s.allOf[g] {
		return f.clip(start, end)
	}
	sps := f.s.spans[g]
	i, _ := slices.BinarySearchFunc(sps, start, func(sp span, t Time) int { return cmpTime(sp.end, t) })
	if i == len(sps) || sps[i].start > end {
		return 0, 0, 0, false
	}
	j := i
	for j+1 < len(sps) && sps[j+1].start <= end {
		j++
	}
	var fl Flags
	if start < sps[i].start {
		start, fl = sps[i].start, OpenStart
	}
	if end > sps[j].end {
		end, fl = sps[j].end, fl|OpenEnd
	}
	s, e, wfl, ok := f.clip(start, end)
	return s, e, fl | wfl, ok
}

// piece is a part of an item that a filter keeps, with the flags for
// what it cut.
type piece struct {
	start, end Time
	fl         Flags
}

// clipPieces is clipG for an interval of goroutine g that may span
// several of the spans in which g is selected: it returns the part in
// each, in order, since the time between them (g running outside the
// regions selected, waiting between two tasks) is not selected. The
// slice is reused by the next call.
func (f *filterSink) clipPieces(g GoID, start, end Time) []piece {
	if !f.s.entities || f.s.allOf[g] {
		return f.clipWhole(start, end)
	}
	f.pcs = f.pcs[:0]
	sps := f.s.spans[g]
	i, _ := slices.BinarySearchFunc(sps, start, func(sp span, t Time) int { return cmpTime(sp.end, t) })
	for ; i < len(sps) && sps[i].start <= end; i++ {
		s, e, fl := start, end, Flags(0)
		if s < sps[i].start {
			s, fl = sps[i].start, OpenStart
		}
		if e > sps[i].end {
			e, fl = sps[i].end, fl|OpenEnd
		}
		if s, e, wfl, ok := f.clip(s, e); ok {
			f.pcs = append(f.pcs, piece{s, e, fl | wfl})
		}
	}
	return f.pcs
}

// clipWhole is clip as a piece, if anything is left.
func (f *filterSink) clipWhole(start, end Time) []piece {
	f.pcs = f.pcs[:0]
	if s, e, fl, ok := f.clip(start, end); ok {
		f.pcs = append(f.pcs, piece{s, e, fl})
	}
	return f.pcs
}

// inRegion reports whether [start, end] lies in a selected region of g.
func (f *filterSink) inRegion(g GoID, start, end Time, openStart bool) bool {
	sps := f.s.regions[g]
	i, _ := slices.BinarySearchFunc(sps, start, func(sp span, t Time) int { return cmpTime(sp.end, t) })
	// A region whose begin the pass did not read (a window's pass reads
	// only some generations) is put at their start, which may be before
	// its begin that the prepass saw: its end places it.
	if openStart {
		i, _ = slices.BinarySearchFunc(sps, end, func(sp span, t Time) int { return cmpTime(sp.end, t) })
		return i < len(sps) && sps[i].start <= end && end <= sps[i].end
	}
	return i < len(sps) && sps[i].start <= start && end <= sps[i].end
}

// endsSpan reports whether t is the end of a span in which goroutine g is
// selected.
func (f *filterSink) endsSpan(g GoID, t Time) bool {
	sps := f.s.spans[g]
	i, ok := slices.BinarySearchFunc(sps, t, func(sp span, t Time) int { return cmpTime(sp.end, t) })
	return ok && i < len(sps)
}

// stackAt returns the stack goroutine g is known to have had at t, where
// a selected region of it ended, and forgets what came before t.
func (f *filterSink) stackAt(g GoID, t Time) StackID {
	ends := f.regEnds[g]
	stk := NoStack
	for _, e := range ends {
		if e.t == t {
			stk = e.stack
		}
	}
	f.pruneEnds(g, t)
	return stk
}

// pruneEnds forgets the region ends of goroutine g up to t: its states
// come in order, so no later one can be cut there.
func (f *filterSink) pruneEnds(g GoID, t Time) {
	ends, ok := f.regEnds[g]
	if !ok {
		return
	}
	i := 0
	for i < len(ends) && ends[i].t <= t {
		i++
	}
	if i == len(ends) {
		delete(f.regEnds, g)
		return
	}
	f.regEnds[g] = ends[i:]
}

func (f *filterSink) GoroutineState(s *GoroutineState) error {
	pcs := f.clipPieces(s.G, s.Start, s.End)
	if len(pcs) == 0 {
		f.pruneEnds(s.G, s.End)
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(s.G); err != nil {
		return err
	}
	if f.s.entities && !f.s.allOf[s.G] {
		// Only a goroutine kept for part of its life has its end
		// outside what is kept.
		f.stated[s.G] = true
	}
	for _, pc := range pcs {
		f.gs = *s
		f.gs.Start, f.gs.End, f.gs.Flags = pc.start, pc.end, s.Flags|pc.fl
		// No stack from beyond a cut (see Filter); a goroutine that is
		// not running is where its state began throughout.
		if pc.fl.Has(OpenStart) && s.State == GoRunning {
			f.gs.Stack = NoStack
		}
		if pc.fl.Has(OpenEnd) {
			f.gs.EndStack = f.stackAt(s.G, pc.end)
		}
		f.f.kept++
		if err := f.next.GoroutineState(&f.gs); err != nil {
			return err
		}
	}
	f.pruneEnds(s.G, s.End)
	return nil
}

func (f *filterSink) ProcRun(r *ProcRun) error {
	if f.s.entities {
		return nil
	}
	start, end, fl, ok := f.clip(r.Start, r.End)
	if !ok {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	f.pr = *r
	f.pr.Start, f.pr.End, f.pr.Flags = start, end, r.Flags|fl
	if f.pr.TakenFrom != NoGoroutine {
		// The run names the goroutine whose syscall held the P: it is
		// declared first, or, gone before anything kept named it, not
		// named.
		known, err := f.declare(f.pr.TakenFrom)
		if err != nil {
			return err
		}
		if !known {
			f.pr.TakenFrom = NoGoroutine
		}
	}
	f.f.kept++
	return f.next.ProcRun(&f.pr)
}

func (f *filterSink) Range(r *Range) error {
	var pcs []piece
	if r.Kind != RangeSTW && r.Scope == ScopeGoroutine {
		pcs = f.clipPieces(r.G, r.Start, r.End)
	} else {
		// Process-wide (a stop-the-world, whichever goroutine the trace
		// charges it to), or a P's or M's (a sweep): the GC's work, kept
		// as context with a selection, as the GC cycles are.
		pcs = f.clipWhole(r.Start, r.End)
	}
	if len(pcs) == 0 {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if r.Scope == ScopeGoroutine {
		if _, err := f.declare(r.G); err != nil {
			return err
		}
	}
	for _, pc := range pcs {
		f.rn = *r
		f.rn.Start, f.rn.End, f.rn.Flags = pc.start, pc.end, r.Flags|pc.fl
		if !f.s.entities || (r.Scope == ScopeGoroutine && r.Kind != RangeSTW) {
			f.f.kept++ // context alone is not a match
		}
		if err := f.next.Range(&f.rn); err != nil {
			return err
		}
	}
	return nil
}

func (f *filterSink) Task(t *Task) error {
	if t.Flags.Has(OpenEnd) && !f.draining {
		// Open at the pass's end, where the mapping gives them all at
		// once (see drainOpen).
		c := *t
		c.Goroutines = slices.Clone(t.Goroutines)
		f.open = append(f.open, c)
		return nil
	}
	f.f.seen.addType(&f.f.seen.taskTypes, t.Type)
	if f.s.tasks[t.ID] && t.EndStack != NoStack && t.EndG != NoGoroutine && !f.s.allOf[t.EndG] && f.endsSpan(t.EndG, t.End) {
		// As for a region: the run of the goroutine that ended it, cut
		// here, comes later, and is where the task ended.
		if f.regEnds == nil {
			f.regEnds = map[GoID][]stackAt{}
		}
		f.regEnds[t.EndG] = append(f.regEnds[t.EndG], stackAt{t.End, t.EndStack})
	}
	keep := !f.s.entities || f.s.tasks[t.ID] || f.s.context[t.ID] || f.s.gTasks[t.ID] ||
		slices.ContainsFunc(t.Goroutines, func(g GoID) bool { return f.s.allOf[g] })
	start, end, fl, ok := f.clip(t.Start, t.End)
	if !keep || !ok || f.endedBefore(t) {
		f.forgetTraceparent(t.ID)
		f.endTask(t.ID, true)
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	parent, root := t.Parent, f.rootOf(t.ID, t.Root)
	if l, ok := f.s.linkOf[t.ID]; ok && parent == NoTask {
		parent = l.parent // the prepass saw it begin
	}
	// Its traceparent, if still held, goes out before it, at its end.
	if err := f.named(t.ID, root, parent, t.End); err != nil {
		return err
	}
	f.forgetTraceparent(t.ID)
	f.endTask(t.ID, false)
	delete(f.s.context, t.ID)
	f.tk = *t
	f.tk.Start, f.tk.End, f.tk.Flags = start, end, t.Flags|fl
	f.tk.Parent, f.tk.Root = parent, root
	if t.Type == "" {
		f.tk.Type = f.s.typeOf[t.ID] // the prepass saw it begin
	}
	// Name only the goroutines something kept has named: declaring the
	// others would add goroutines with nothing to show.
	f.gos = f.gos[:0]
	for _, g := range t.Goroutines {
		if f.declared.has(g) {
			f.gos = append(f.gos, g)
		}
	}
	f.tk.Goroutines = f.gos
	for _, g := range []*GoID{&f.tk.StartG, &f.tk.EndG} {
		known, err := f.declare(*g)
		if err != nil {
			return err
		}
		if !known {
			*g = NoGoroutine
		}
	}
	f.f.kept++
	return f.next.Task(&f.tk)
}

// drainOpen passes on the tasks open at the pass's end, in the order the
// mapping gave them (by ID), once those kept have named their trees:
// the traceparent of a task that the selection keeps only for what it
// keeps under it (a request's task, parent of the one selected) makes it
// context, which a task that ends in the trace learns from its
// subtasks, which end before it. The mapping gives a parent first, and
// a pass over a window's generations, which ends with both open, left it
// out, a placeholder in OTLP where the whole trace's pass keeps it.
func (f *filterSink) drainOpen() error {
	open := f.open
	f.open, f.draining = nil, true
	f.openParent = make(map[TaskID]TaskID, len(open))
	for i := range open {
		if p := open[i].Parent; p != NoTask {
			f.openParent[open[i].ID] = p
		}
	}
	for i := len(open) - 1; i >= 0; i-- {
		t := &open[i]
		keep := !f.s.entities || f.s.tasks[t.ID] || f.s.context[t.ID] || f.s.gTasks[t.ID] ||
			slices.ContainsFunc(t.Goroutines, func(g GoID) bool { return f.s.allOf[g] })
		if _, _, _, ok := f.clip(t.Start, t.End); !keep || !ok || f.endedBefore(t) {
			continue
		}
		if err := f.enter(); err != nil {
			return err
		}
		if err := f.named(t.ID, f.rootOf(t.ID, t.Root), t.Parent, t.End); err != nil {
			return err
		}
	}
	for i := range open {
		if err := f.Task(&open[i]); err != nil {
			return err
		}
	}
	return nil
}

// unseen delivers the tasks kept that overlap the window and that the
// pass did not deliver: a pass over a window's generations does not see
// a task open across all of them with nothing of its own in them (a
// request's task begun before and still waiting, a server's task), which
// the prepass, reading from the trace's start, knew. A pass that read
// the whole trace delivered them all.
//
// So are the tasks whose traceparent, logged before the window, was
// passed on for what was kept under them (a server's task, the parent of
// the requests' tasks): they are kept as context, as the pass over the
// whole trace keeps them, not left for a placeholder.
func (f *filterSink) unseen() error {
	for _, k := range f.s.inWindow {
		if err := f.unseenTask(k.id, &k.keptTask); err != nil {
			return err
		}
	}
	if len(f.s.tpTasks) == 0 {
		return f.unseenContext()
	}
	var ctx []keptID
	for id, k := range f.s.tpTasks {
		if h := f.tps[id]; h != nil && h.sent && !f.ended.has(id) {
			ctx = append(ctx, keptID{id, k})
		}
	}
	slices.SortFunc(ctx, func(a, b keptID) int {
		return cmp.Or(cmpTime(a.span.start, b.span.start), cmp.Compare(a.id, b.id))
	})
	for _, k := range ctx {
		if err := f.unseenTask(k.id, &k.keptTask); err != nil {
			return err
		}
	}
	return f.unseenContext()
}

// unseenContext delivers, as unseen does, the tasks kept as context for
// a region selected that the pass did not see: those of the regions open
// across the window (see regionSeeder), and any other task with nothing
// of its own in the window's generations.
func (f *filterSink) unseenContext() error {
	ids := slices.Collect(maps.Keys(f.s.ctxTasks))
	slices.SortFunc(ids, func(a, b TaskID) int {
		return cmp.Or(cmpTime(f.s.ctxTasks[a].span.start, f.s.ctxTasks[b].span.start), cmp.Compare(a, b))
	})
	for _, id := range ids {
		k := f.s.ctxTasks[id]
		if err := f.unseenTask(id, &k); err != nil {
			return err
		}
	}
	return nil
}

// unseenTask delivers task id, which the prepass saw as k, if the pass
// did not, cut to the window.
func (f *filterSink) unseenTask(id TaskID, k *keptTask) error {
	if f.ended.has(id) {
		return nil
	}
	start, end, fl, ok := f.clip(k.span.start, k.span.end)
	if !ok {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if err := f.named(id, k.root, k.parent, end); err != nil {
		return err
	}
	f.forgetTraceparent(id)
	f.endTask(id, false)
	delete(f.s.context, id)
	f.tk = Task{ID: id, Parent: k.parent, Root: k.root, Type: k.typ, Start: start, End: end,
		StartG: NoGoroutine, EndG: NoGoroutine, Stack: NoStack, EndStack: NoStack, Flags: k.flags | fl}
	f.f.kept++
	return f.next.Task(&f.tk)
}

func (f *filterSink) Region(r *Region) error {
	f.f.seen.addType(&f.f.seen.regionTypes, r.Type)
	if f.s.regType[r.Type] && r.EndStack != NoStack && !f.s.allOf[r.G] && f.endsSpan(r.G, r.End) {
		// The goroutine's run that goes on past it is cut here; it comes
		// later, when the run ends.
		if f.regEnds == nil {
			f.regEnds = map[GoID][]stackAt{}
		}
		f.regEnds[r.G] = append(f.regEnds[r.G], stackAt{r.End, r.EndStack})
	}
	if f.s.entities && !f.s.allOf[r.G] && !f.s.tasks[r.Task] && !f.inRegion(r.G, r.Start, r.End, r.Flags.Has(OpenStart)) {
		return nil
	}
	start, end, fl, ok := f.clip(r.Start, r.End)
	if !ok {
		return nil
	}
	if f.fromB.bounded() && start < f.from+regionSlack && (f.f.From.bounded() || r.Start < f.from) {
		// Never earlier than it began, so that it stays after a region
		// before it; never past its end. (A window a selection takes
		// begins at the first item it keeps: a region there is not cut,
		// and keeps its place.)
		start = f.placeNested(r, min(max(start, f.from+f.regionOffset(r)), end))
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(r.G); err != nil {
		return err
	}
	f.rg = *r
	f.rg.Start, f.rg.End, f.rg.Flags = start, end, r.Flags|fl
	f.rg.GoroutineEnded = r.GoroutineEnded && end == r.End
	if fl != 0 || start != r.Start {
		// Its times are of the whole region, not of the part kept.
		f.rg.Time, f.rg.Timed = StateTimes{}, false
	}
	if f.rg.Task = f.taskOf(r.Task); f.rg.Task == NoTask {
		f.rg.Root = NoTask
	} else {
		f.rg.Root = f.rootOf(f.rg.Task, r.Root)
	}
	// A region kept shows that its task is: its traceparent goes first.
	if err := f.named(f.rg.Task, f.rg.Root, NoTask, r.End); err != nil {
		return err
	}
	if f.leftT.has(r.ParentTask) || f.endedBeforeID(r.ParentTask) {
		f.rg.ParentTask = NoTask
	}
	f.f.kept++
	return f.next.Region(&f.rg)
}

// endedBefore reports whether task t, as a pass over a window's later
// generations gives it, ended before the window, as the prepass saw: the
// pass read neither its begin nor its end, only something that names it
// (a region begun in it, which outlived it), and takes it for a task open
// since before them all, across the window.
func (f *filterSink) endedBefore(t *Task) bool {
	return f.skipped && f.s.sawFrom && f.fromB.bounded() && t.Flags.Has(OpenStart) &&
		t.Start < f.from && !f.s.openAtFrom.has(t.ID)
}

// endedBeforeID is endedBefore for task id, which an item names: one the
// pass has not seen end nor begin.
func (f *filterSink) endedBeforeID(id TaskID) bool {
	return f.skipped && f.s.sawFrom && f.fromB.bounded() && f.openTasks != nil && id != NoTask &&
		!f.s.openAtFrom.has(id) && !f.ended.has(id) && !f.openTasks.begunIn(id)
}

// regionSeeds returns the regions open at the window's start, as the
// prepass saw them (see regionSeeder).
func (f *filterSink) regionSeeds() []Region { return f.s.openAt }

// rootOf returns the root of task id, whose root the pass gave as root:
// the root the first pass saw where the pass's tree stops at a task begun
// before the window's generations (see selection.linkOf).
func (f *filterSink) rootOf(id, root TaskID) TaskID {
	if l, ok := f.s.linkOf[cmp.Or(root, id)]; ok {
		return l.root
	}
	return root
}

// endTask remembers that task id ended, and whether it was left out.
func (f *filterSink) endTask(id TaskID, left bool) {
	f.ended.add(id)
	if left {
		f.leftT.add(id)
	}
}

// taskOf returns the task a kept region or log is to name. The model
// delivers every task something names, so the task is kept too; one
// already left out (it ended before the region or log did) is not named.
func (f *filterSink) taskOf(id TaskID) TaskID {
	if id == NoTask {
		return id
	}
	if f.leftT.has(id) || f.endedBeforeID(id) {
		return NoTask
	}
	f.s.context[id] = true
	return id
}

// regionSlack is how far after the window start the regions cut by it
// are put, at most.
const regionSlack = 64

// placedStart is the earliest start given to the regions put into the
// window that nest in region parent.
type placedStart struct {
	parent RegionID
	start  Time
}

// placeNested returns the start of a region put into the window at
// start, no later than the regions nested in it: one of those that ended
// before its place is put at its end, which can be before the places of
// the regions it nests in. Regions come as they end, those nested in a
// region before it.
func (f *filterSink) placeNested(r *Region, start Time) Time {
	kids := f.placed[r.G]
	if d := r.Depth + 1; d < len(kids) {
		if k := kids[d]; k.parent == r.ID && k.start < start {
			start = k.start
		}
		kids[d] = placedStart{}
	}
	if r.Parent == NoRegion || r.ID == NoRegion {
		delete(f.placed, r.G)
		return start
	}
	for len(kids) <= r.Depth {
		kids = append(kids, placedStart{})
	}
	if k := &kids[r.Depth]; k.parent != r.Parent || start < k.start {
		*k = placedStart{r.Parent, start}
	}
	if f.placed == nil {
		f.placed = map[GoID][]placedStart{}
	}
	f.placed[r.G] = kids
	return start
}

// regionOffset places a region cut by the window start. Cut regions would
// all start at the window start, and tools that order slices by start
// time could no longer tell which encloses which. So they are put a few
// nanoseconds after it, outer before inner: first the regions already
// open when the trace began, which the mapping puts before the trace
// start, outermost first, in the order the mapping gave them; then the
// regions begun in the trace, one nanosecond per level of nesting. A
// region that began later than its place keeps its start, so that it
// stays after a region that ended before it began.
func (f *filterSink) regionOffset(r *Region) Time {
	const open = regionSlack / 2
	if r.Flags&OpenStart != 0 && r.Start <= f.origin {
		return open - 1 - min(f.origin-r.Start, open-1)
	}
	return open + min(Time(r.Depth), open-1)
}

func (f *filterSink) Log(l *Log) error {
	keep := l.Time >= f.from && l.Time <= f.to &&
		(!f.s.entities || f.s.allOf[l.G] || f.s.tasks[l.Task] || f.inRegion(l.G, l.Time, l.Time, false))
	if l.Category == CategoryTraceparent && l.Task != NoTask {
		if !keep {
			return f.holdTraceparent(l)
		}
		f.noteTraceparent(l.Task)
	}
	if !keep {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(l.G); err != nil {
		return err
	}
	task := f.taskOf(l.Task)
	// A log kept shows that its task is: its traceparent goes first.
	root := NoTask
	if task != NoTask {
		root = f.rootOf(task, l.Root)
	}
	if err := f.named(task, root, NoTask, l.Time); err != nil {
		return err
	}
	if task != l.Task || root != l.Root {
		f.lg = *l
		f.lg.Task, f.lg.Root = task, root
		f.f.kept++
		return f.next.Log(&f.lg)
	}
	f.f.kept++
	return f.next.Log(l)
}

func (f *filterSink) GoroutineEvent(e *GoroutineEvent) error {
	stated := false
	if e.Kind == GoEnded {
		delete(f.regEnds, e.G)
		stated = f.stated[e.G]
		delete(f.stated, e.G)
		defer f.goEnded(e.G)
	}
	context := false
	if _, _, _, ok := f.clipG(e.G, e.Time, e.Time); !ok {
		// A goroutine drawn for part of its life (a task's, a region's),
		// or declared only because a kept item names it (the goroutine
		// that woke a selected one), still ends where it ends: else it
		// would seem alive to the end of the window, and every output
		// would hold it as alive.
		named := e.Kind == GoEnded && f.declared.has(e.G)
		if !stated && !named || e.Time < f.from || e.Time > f.to {
			return nil
		}
		context = !stated
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(e.G); err != nil {
		return err
	}
	known, err := f.declare(e.By)
	if err != nil {
		return err
	}
	if !context {
		f.f.kept++
	}
	if known {
		return f.next.GoroutineEvent(e)
	}
	f.ge = *e
	f.ge.By = NoGoroutine
	return f.next.GoroutineEvent(&f.ge)
}

// keepEnd reports whether a flow's endpoint is kept.
func (f *filterSink) keepEnd(e Endpoint) bool {
	if e.G == NoGoroutine {
		return e.Time >= f.from && e.Time <= f.to
	}
	_, _, _, ok := f.clipG(e.G, e.Time, e.Time)
	return ok
}

func (f *filterSink) Flow(fl *Flow) error {
	if !f.keepEnd(fl.From) || !f.keepEnd(fl.To) {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	for _, g := range []GoID{fl.From.G, fl.To.G} {
		if known, err := f.declare(g); !known || err != nil {
			return err // a goroutine gone before it was kept: no flow
		}
	}
	f.f.kept++
	return f.next.Flow(fl)
}

func (f *filterSink) Counter(c *Counter) error {
	if c.Time < f.from && !f.restated {
		for _, held := range f.counters {
			if held.Kind == c.Kind && held.Name == c.Name {
				*held = *c
				return nil
			}
		}
		cp := *c
		f.counters = append(f.counters, &cp)
		return nil
	}
	if c.Time > f.to {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if c.Time < f.from {
		// Restated already: the value is in force from the window start.
		cp := *c
		cp.Time = f.from
		c = &cp
	}
	return f.next.Counter(c)
}

// restate delivers, once, the counter values in force at the window start.
func (f *filterSink) restate() error {
	if f.restated {
		return nil
	}
	f.restated = true
	held := f.counters
	// By kind and name, not the order they first changed in, so that
	// windows of one trace restate them alike.
	slices.SortFunc(held, func(a, b *Counter) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	for _, c := range held {
		c.Time = f.from
		if err := f.next.Counter(c); err != nil {
			return err
		}
	}
	f.counters = nil
	return nil
}

func (f *filterSink) CPUSample(c *CPUSample) error {
	if c.G == NoGoroutine {
		if f.s.entities || c.Time < f.from || c.Time > f.to {
			return nil
		}
		if err := f.enter(); err != nil {
			return err
		}
		f.f.kept++
		return f.next.CPUSample(c)
	}
	if _, _, _, ok := f.clipG(c.G, c.Time, c.Time); !ok {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(c.G); err != nil {
		return err
	}
	f.f.kept++
	return f.next.CPUSample(c)
}

func (f *filterSink) Experimental(x *Experimental) error {
	if x.G == NoGoroutine {
		if f.s.entities || x.Time < f.from || x.Time > f.to {
			return nil
		}
		if err := f.enter(); err != nil {
			return err
		}
		f.f.kept++
		return f.next.Experimental(x)
	}
	if _, _, _, ok := f.clipG(x.G, x.Time, x.Time); !ok {
		return nil
	}
	if err := f.enter(); err != nil {
		return err
	}
	if _, err := f.declare(x.G); err != nil {
		return err
	}
	f.f.kept++
	return f.next.Experimental(x)
}

func (f *filterSink) End(s *Summary) error {
	if f.next == nil {
		return f.nilSink()
	}
	if !f.forwarded {
		// The filter refused the pass at Begin (a window it cannot
		// place, no prepass): next never began, and does not end.
		return nil
	}
	if err := f.drainOpen(); err != nil {
		return err
	}
	if f.fromB.bounded() && f.from > s.End && s.Err == nil {
		// next began: it ends, empty, so that what it holds is released
		// (a goroutine of Async, an exporter's), and the error says why.
		err := startsAfterEnd(f.fromB, time.Duration(s.End-s.Start))
		f.sum = *s
		f.sum.Start, f.sum.Goroutines = s.End, 0
		return errjoin.Join(err, f.next.End(&f.sum))
	}
	f.sum = *s
	if s.Start < f.from && f.from <= s.End {
		if err := f.restate(); err != nil {
			return err
		}
	}
	if s.Err == nil {
		if err := f.unseen(); err != nil {
			return err
		}
	}
	f.sum.Goroutines = f.declared.len()
	f.sum.Start = max(s.Start, f.from)
	f.sum.End = max(min(s.End, f.to), f.sum.Start)
	return f.next.End(&f.sum)
}
