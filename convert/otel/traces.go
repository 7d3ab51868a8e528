package otel

import (
	"cmp"
	"maps"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// This file decides which trace each task's spans go to.
//
// A task's spans go to the trace of its root task (mapping.Task.Root: the
// outermost task it descends from, as far as the trace tells), unless the
// task, or one of its ancestors, joined a remote trace by logging a
// traceparent; then they go to the remote trace. So each request (a root
// task) is a trace of its own, bounded by the request's own tree, and a
// backend lists, searches and limits them one by one. The difficulty is
// that intervals arrive when they end, children first, and a task's
// parent is known only when the task ends: when a region of a child task
// ends, the sink cannot tell whether the child descends from a joined
// task.
//
// So a task's trace is decided once, at the first moment it is needed, and
// never changes:
//
//   - A traceparent logged in a task whose trace is undecided joins it: the
//     task and everything that waited for it go to the remote trace.
//   - Until the first traceparent of the file, no task can be joined, so a
//     task's trace is decided (its root's) when its first span must be
//     sent. The usual program logs the traceparent right after beginning
//     the task, before any of its regions ends, so this loses nothing.
//   - After the first traceparent, the spans of a task that has not joined
//     wait until it ends and names its parent. A task whose parent is
//     decided takes the parent's trace; one whose parent is undecided joins
//     its parent's group and waits for the parent's decision. A root task
//     that ends unjoined is decided into its own trace, and so is one whose
//     group's spans waiting fill a trace (see maxTaskTraceSpans): a
//     long-lived worker's task, which logs no traceparent.
//   - A traceparent that comes after its task's trace was decided (it was
//     logged late, or the spans waiting overflowed WithMaxPendingSpans) is
//     "late": the task's span gets a link to the remote span instead of
//     becoming its child, since spans already sent cannot be moved.
//   - A task whose trace differs from its parent's links to the parent's
//     span rather than naming it as parent, which would cross traces.
//   - A task that the model names (as a parent, or as the task of a region
//     or log) but never delivers began and ended outside the trace, or was
//     cut by a filter. At the end it gets a span "task placeholder" (its ID in go.task.id),
//     over the whole trace and marked open at both ends, so that its
//     children have their parent in their trace.
//
// Memory is bounded: decided tasks are remembered (their trace ID) for the
// last 65536 tasks that ended, as the mapping remembers them, and spans
// waiting for a decision are limited by WithMaxPendingSpans.

// taskState is what the sink keeps about a task until its span is made and
// its trace decided.
type taskState struct {
	id          mapping.TaskID
	rootID      mapping.TaskID // its root task, as the model names it; NoTask until known
	ended       bool
	decided     bool
	traceID     trace.TraceID     // when decided
	remote      trace.SpanContext // the parent named by a timely traceparent
	late        trace.SpanContext // a traceparent that came too late
	traceparent string            // as logged
	datadog     string            // Datadog span ID, decimal
	events      eventList         // logs for the task's own span
	// parked counts the task's logs that wait in regions of unknown task.
	// A task that ends with logs parked is closing: its span waits until
	// they are placed.
	parked  int
	closing *closingTask
	// used: a span of its trace names it as parent (see Sink.sdkSpanTask).
	used bool
	// kids is the time the spans that name it as parent cover, if any
	// (hasKids): a placeholder for it covers that (see
	// Sink.placeholderTasks).
	kids    extent
	hasKids bool
	// group is the undecided task whose decision this one awaits; nil for
	// a task that awaits only its own. Only ended tasks await others.
	group   *taskState
	members []*taskState // for a group's root: the ended tasks awaiting it
	pending []*spanRec   // for a group's root: spans awaiting its decision
}

// child returns the span of task id, as parentSpan does, for a child
// span over [start, end] in its trace, which its placeholder covers.
func (tt *traceTable) child(s *Sink, id mapping.TaskID, start, end mapping.Time) trace.SpanID {
	if st := tt.tasks[id]; st != nil {
		st.cover(start, end)
	}
	return tt.parentSpan(s, id)
}

// cover notes a child of st over [start, end].
func (st *taskState) cover(start, end mapping.Time) {
	if !st.hasKids {
		st.kids, st.hasKids = extent{start, end}, true
		return
	}
	st.kids.start, st.kids.end = min(st.kids.start, start), max(st.kids.end, end)
}

func (st *taskState) root() *taskState {
	for st.group != nil {
		st = st.group
	}
	return st
}

// closingTask is a task that ended while logs of it were parked.
type closingTask struct {
	task mapping.Task
	rec  spanRec
}

// maxEnded bounds the ended tasks remembered, as the mapping does.
const maxEnded = 1 << 16

// traceTable holds the state of tasks, for the sink.
type traceTable struct {
	tasks      map[mapping.TaskID]*taskState // open, or ended and undecided
	ended      map[mapping.TaskID]trace.TraceID
	endedQ     []mapping.TaskID
	skipped    map[mapping.TaskID]bool // ended tasks whose span was not sent, of the last maxEnded
	skippedQ   []mapping.TaskID
	counts     map[trace.TraceID]int   // spans sent to the traces of the root tasks open (see maxTaskTraceSpans)
	roots      map[*taskState]struct{} // undecided groups with spans pending
	pending    int
	maxPending int
	metAny     bool // a traceparent of the file was logged, in time or late, or WithTraceparentsExpected
	// firstTP is when the trace logged its first traceparent, where a
	// Filter that may have left it out said so (Meta.TraceparentSeen):
	// metAny is set from then on, as over the whole trace.
	firstTP    mapping.Time
	tpFromMeta bool

	joined, late, bad int
	taskless          int // traceparent logs outside any task
	// remote counts the tasks that joined each remote trace, to tell the
	// traces that several tasks share (see Result.SharedJoins). Bounded:
	// past maxRemote traces it starts again, so a trace joined again
	// only after that many others is counted twice.
	remote      map[trace.TraceID]int
	shared      int
	most        int // the most tasks that joined one remote trace
	mostTraceID trace.TraceID
	// parents counts the tasks that logged each traceparent, bounded as
	// remote is: many tasks under one remote span are one request's
	// batch or a traceparent fixed by mistake, where tasks under many
	// spans of one trace are a request's fan-out.
	parents  map[remoteSpan]int
	mostSame int // the most tasks that logged one traceparent
	// sampling is what WithSampledOnly needs to know of the joins.
	sampling sampling
}

// remoteSpan is a span of a remote trace.
type remoteSpan struct {
	trace trace.TraceID
	span  trace.SpanID
}

// maxRemote bounds the remote traces remembered.
const maxRemote = 1 << 16

func newTraceTable(maxPending int, expectTraceparents bool) traceTable {
	return traceTable{
		metAny:     expectTraceparents,
		tasks:      make(map[mapping.TaskID]*taskState),
		ended:      make(map[mapping.TaskID]trace.TraceID),
		roots:      make(map[*taskState]struct{}),
		maxPending: maxPending,
	}
}

// state returns the state of task id, creating it for a task not seen
// before, which must be open. It returns nil for a task that ended and was
// decided.
func (tt *traceTable) state(id mapping.TaskID) *taskState {
	if st := tt.tasks[id]; st != nil {
		return st
	}
	if _, ok := tt.ended[id]; ok {
		return nil
	}
	st := &taskState{id: id}
	tt.tasks[id] = st
	return st
}

// noteRoot records the root of task id, as an item of the model names it.
func (tt *traceTable) noteRoot(id, root mapping.TaskID) {
	if id == mapping.NoTask {
		return
	}
	if st := tt.state(id); st != nil && st.rootID == mapping.NoTask {
		st.rootID = root
	}
}

// rootTrace is the trace of the tasks of root task st.rootID: the one a
// group whose root is st goes to unless it joins a remote trace.
func (s *Sink) rootTrace(st *taskState) trace.TraceID {
	root := st.rootID
	if root == mapping.NoTask {
		root = st.id
	}
	return s.ids.trace(kindTaskTrace, uint64(root))
}

// parentSpan returns the span ID a span whose parent is task id names,
// marking the task used: none for a task whose span was left out
// (Sink.sdkSpanTask) by the time a later span of it ends.
func (tt *traceTable) parentSpan(s *Sink, id mapping.TaskID) trace.SpanID {
	if st := tt.tasks[id]; st != nil {
		st.used = true
	} else if tt.skipped[id] {
		return trace.SpanID{}
	}
	return s.ids.span(kindTask, uint64(id))
}

// skip remembers, for a while, that the span of ended task id was left
// out.
func (tt *traceTable) skip(id mapping.TaskID) {
	if tt.skipped == nil {
		tt.skipped = make(map[mapping.TaskID]bool)
	}
	tt.skipped[id] = true
	tt.skippedQ = append(tt.skippedQ, id)
	if len(tt.skippedQ) > maxEnded {
		delete(tt.skipped, tt.skippedQ[0])
		tt.skippedQ = tt.skippedQ[1:]
	}
}

// trace returns the trace task id went to, if that is decided.
func (tt *traceTable) trace(id mapping.TaskID) (trace.TraceID, bool) {
	if st := tt.tasks[id]; st != nil {
		r := st.root()
		return r.traceID, r.decided
	}
	tid, ok := tt.ended[id]
	return tid, ok
}

// open returns the state of task id if the task has not ended.
func (tt *traceTable) open(id mapping.TaskID) *taskState {
	if st := tt.state(id); st != nil && !st.ended {
		return st
	}
	return nil
}

// datadog records the Datadog span ID logged in a task.
func (tt *traceTable) datadog(id mapping.TaskID, spanID string) {
	if id == mapping.NoTask {
		return
	}
	if st := tt.open(id); st != nil && st.datadog == "" {
		st.datadog = spanID
	}
}

// join acts on a traceparent logged in task id.
func (tt *traceTable) join(s *Sink, id mapping.TaskID, sc trace.SpanContext, raw string) {
	// From the first traceparent on, late or not, the file is one that
	// joins: spans wait for their task's, so that a task that logs its
	// own after a region ended (behind a middleware's region) still joins.
	tt.metAny = true
	st := tt.open(id)
	switch {
	case st == nil || st.closing != nil:
		tt.late++ // the task has ended
	case st.remote.IsValid() || st.late.IsValid():
		// A second traceparent in one task: the first one counts.
	case st.decided:
		st.late, st.traceparent = sc, valid(raw)
		tt.late++
	default:
		st.remote, st.traceparent = sc, valid(raw)
		tt.joined++
		if s.cfg.sampledOnly {
			tt.sampling.note(id, sc)
		}
		if sc.IsSampled() || !s.cfg.sampledOnly {
			// Tasks left out make no trace to count.
			tt.countRemote(sc.TraceID(), sc.SpanID())
		}
		tt.decide(s, st, sc.TraceID())
	}
}

// countRemote counts a task that joined the remote trace id under its
// span parent.
func (tt *traceTable) countRemote(id trace.TraceID, parent trace.SpanID) {
	key := remoteSpan{id, parent}
	if tt.parents == nil || (len(tt.parents) >= maxRemote && tt.parents[key] == 0) {
		tt.parents = make(map[remoteSpan]int)
	}
	tt.parents[key]++
	tt.mostSame = max(tt.mostSame, tt.parents[key])
	if tt.remote == nil || (len(tt.remote) >= maxRemote && tt.remote[id] == 0) {
		tt.remote = make(map[trace.TraceID]int)
	}
	n := tt.remote[id] + 1
	tt.remote[id] = n
	if n > 1 {
		tt.shared++
	}
	if n > tt.most {
		tt.most, tt.mostTraceID = n, id
	}
}

// reach notes that the items delivered have come to time t.
func (tt *traceTable) reach(t mapping.Time) {
	if tt.tpFromMeta && t >= tt.firstTP {
		tt.metAny = true
	}
}

// place sends, or holds back, the span of a region of task id.
func (tt *traceTable) place(s *Sink, id mapping.TaskID, rec *spanRec) {
	tt.reach(s.latest)
	st := tt.state(id)
	if st == nil {
		s.emit(rec, tt.ended[id])
		return
	}
	r := st.root()
	switch {
	case r.decided:
		s.emit(rec, r.traceID)
	case !tt.metAny:
		tt.decide(s, r, tt.roomIn(s, r, s.rootTrace(r)))
		s.emit(rec, r.traceID)
	default:
		tt.hold(s, r, rec)
	}
}

// maxTaskTraceSpans is about the most spans a root task's trace holds:
// past it, each task under the root that is yet to be placed begins a
// trace of its own, linked to its parent's span. A root task that lasts
// the program (a worker's, with a child task per job) would otherwise be
// one trace a backend cannot show; a request's tree stays whole.
const maxTaskTraceSpans = 1000

// roomIn returns the trace for task st, which would go to tid: tid, or,
// for a task under a root whose trace is full, a trace of its own.
func (tt *traceTable) roomIn(s *Sink, st *taskState, tid trace.TraceID) trace.TraceID {
	if st.rootID == mapping.NoTask || st.rootID == st.id || tt.counts[tid] < maxTaskTraceSpans {
		return tid
	}
	return s.ids.trace(kindTaskTrace, uint64(st.id))
}

// count counts a span sent to trace tid, if it is a root task's trace.
func (tt *traceTable) count(tid trace.TraceID) {
	if n, ok := tt.counts[tid]; ok {
		tt.counts[tid] = n + 1
	}
}

// end makes the span of task t, whose record is rec, or holds it back
// until the trace of its parent is decided.
func (tt *traceTable) end(s *Sink, t *mapping.Task, rec *spanRec) {
	st := tt.state(t.ID)
	if st == nil {
		// Ended before by the mapping's account too: cannot happen, but
		// the span is made all the same.
		st = &taskState{id: t.ID}
		tt.tasks[t.ID] = st
	}
	st.ended = true
	tt.reach(s.latest)
	if st.rootID == mapping.NoTask {
		st.rootID = t.Root
	}
	rec.events = st.events
	st.events = eventList{}
	// The attributes may be the sink's scratch: appending is fine, as
	// nothing else uses it until the span is sent or held (and cloned).
	if st.datadog != "" {
		rec.attrs = append(rec.attrs, keyDatadogSpanID.String(st.datadog))
	}
	if st.traceparent != "" {
		rec.attrs = append(rec.attrs, keyTraceparent.String(st.traceparent))
	}
	if st.late.IsValid() {
		rec.links = append(rec.links, trace.Link{SpanContext: st.late,
			Attributes: []attribute.KeyValue{keyLinkReason.String("late traceparent")}})
	}

	var parent *taskState
	var ptid trace.TraceID
	pknown := false
	if t.Parent != mapping.NoTask {
		if parent = tt.state(t.Parent); parent == nil {
			ptid, pknown = tt.ended[t.Parent], true
		} else {
			if parent.rootID == mapping.NoTask && t.Root != t.ID {
				// A parent not yet delivered, or never to be: it has the
				// same root.
				parent.rootID = t.Root
			}
			if pr := parent.root(); pr.decided {
				ptid, pknown = pr.traceID, true
			}
		}
	}
	parentOf := func() trace.SpanID {
		if rec.skip {
			// Not sent: it does not make its parent needed.
			return s.ids.span(kindTask, uint64(t.Parent))
		}
		return tt.child(s, t.Parent, rec.start, rec.end)
	}
	if rec.skip {
		tt.skip(t.ID)
	}
	linkParent := func(tid trace.TraceID) {
		if rec.skip {
			return // not sent
		}
		// A link, as a parent, makes an SDK's task's span needed (see
		// Sink.sdkSpanTask); one left out already is not linked to: the
		// link would lead nowhere.
		sid := tt.parentSpan(s, t.Parent)
		if !sid.IsValid() {
			return
		}
		rec.links = append(rec.links, trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
			Attributes:  []attribute.KeyValue{keyLinkReason.String("parent task")},
		})
	}

	switch {
	case st.remote.IsValid():
		rec.remote = st.remote
		if pknown {
			linkParent(ptid)
		}
		s.emit(rec, st.traceID)
		tt.finish(st)
	case st.decided:
		if parent != nil && !pknown {
			pr := parent.root()
			if natural := s.rootTrace(pr); natural == st.traceID {
				// The task's spans are out in its trace: its parent
				// follows, where it would have gone but for a late
				// traceparent.
				tt.decide(s, pr, st.traceID)
				ptid = st.traceID
			} else {
				ptid = natural
			}
			pknown = true
		}
		if t.Parent != mapping.NoTask {
			if pknown && ptid != st.traceID {
				linkParent(ptid)
			} else {
				rec.parent = parentOf()
			}
		}
		s.emit(rec, st.traceID)
		tt.finish(st)
	case t.Parent == mapping.NoTask:
		tt.decide(s, st, s.rootTrace(st))
		s.emit(rec, st.traceID)
	case pknown:
		if tid := tt.roomIn(s, st, ptid); tid != ptid {
			linkParent(ptid)
			tt.decide(s, st, tid)
		} else {
			rec.parent = parentOf()
			tt.decide(s, st, ptid)
		}
		s.emit(rec, st.traceID)
	case tt.metAny && len(parent.root().pending) >= maxTaskTraceSpans:
		// Its parent's trace, yet to be decided, is full already. The
		// parent has had all that time to log a traceparent, as a
		// request's task does first: it is decided into its own trace
		// now (one it logs later is late, a link), and this task begins
		// a trace of its own, linked to the parent's span there.
		pr := parent.root()
		ptid := s.rootTrace(pr)
		tt.decide(s, pr, ptid)
		tid := tt.roomIn(s, st, ptid)
		if tid != ptid {
			linkParent(ptid)
		} else {
			rec.parent = parentOf()
		}
		tt.decide(s, st, tid)
		s.emit(rec, st.traceID)
	case tt.metAny:
		// Its parent may yet join a remote trace: wait for it.
		rec.parent = parentOf()
		pr := parent.root()
		tt.merge(st, pr)
		tt.hold(s, pr, rec)
	default:
		tid := s.rootTrace(st)
		switch pr := parent.root(); {
		case s.rootTrace(pr) != tid:
			// The mapping fixed the task's root before it learnt of the
			// parent: the parent is in another trace.
			linkParent(s.rootTrace(pr))
		case tt.roomIn(s, st, tid) != tid:
			tt.decide(s, pr, tid)
			linkParent(tid)
			tid = tt.roomIn(s, st, tid)
		default:
			rec.parent = parentOf()
			tt.decide(s, pr, tid)
		}
		tt.decide(s, st, tid)
		s.emit(rec, st.traceID)
	}
}

// hold keeps rec until the decision of group r.
func (tt *traceTable) hold(s *Sink, r *taskState, rec *spanRec) {
	c := *rec
	c.attrs = slices.Clone(rec.attrs) // rec's may be the sink's scratch
	r.pending = append(r.pending, &c)
	tt.roots[r] = struct{}{}
	tt.pending++
	if tt.pending > tt.maxPending {
		tt.settleAll(s)
	}
}

// merge makes the group of ended task st await the decision of group r.
func (tt *traceTable) merge(st, r *taskState) {
	st.group = r
	for _, m := range st.members {
		m.group = r
	}
	r.members = append(append(r.members, st), st.members...)
	r.pending = append(r.pending, st.pending...)
	st.members, st.pending = nil, nil
	delete(tt.roots, st)
	if len(r.pending) > 0 {
		tt.roots[r] = struct{}{}
	}
}

// decide fixes the trace of group r and sends the spans that awaited it.
func (tt *traceTable) decide(s *Sink, r *taskState, tid trace.TraceID) {
	r.decided, r.traceID = true, tid
	if !r.remote.IsValid() && tid == s.rootTrace(r) {
		// A root task's trace, whose spans are counted while it is open.
		if tt.counts == nil {
			tt.counts = make(map[trace.TraceID]int)
		}
		if _, ok := tt.counts[tid]; !ok {
			tt.counts[tid] = 0
		}
	}
	for _, m := range r.members {
		m.decided, m.traceID, m.group = true, tid, nil
		tt.finish(m)
	}
	pending := r.pending
	r.members, r.pending = nil, nil
	tt.pending -= len(pending)
	delete(tt.roots, r)
	if r.ended {
		tt.finish(r)
	}
	for _, rec := range pending {
		s.emit(rec, tid)
	}
}

// finish forgets an ended, decided task but for its trace ID.
func (tt *traceTable) finish(st *taskState) {
	if st.rootID == mapping.NoTask || st.rootID == st.id {
		delete(tt.counts, st.traceID)
	}
	delete(tt.tasks, st.id)
	tt.ended[st.id] = st.traceID
	tt.endedQ = append(tt.endedQ, st.id)
	if len(tt.endedQ) > maxEnded {
		delete(tt.ended, tt.endedQ[0])
		tt.endedQ = tt.endedQ[1:]
	}
}

// settleAll decides every group with spans pending into its root's trace.
func (tt *traceTable) settleAll(s *Sink) {
	roots := slices.SortedFunc(maps.Keys(tt.roots), func(a, b *taskState) int { return cmp.Compare(a.id, b.id) })
	for _, r := range roots {
		tt.decide(s, r, s.rootTrace(r))
	}
}

// unplaced counts the logs of tasks that were never delivered.
func (tt *traceTable) unplaced() int64 {
	var n int64
	for _, st := range tt.tasks {
		n += int64(len(st.events.events))
	}
	return n
}
