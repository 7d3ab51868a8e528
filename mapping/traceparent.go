package mapping

import (
	"cmp"
	"slices"
)

// This file keeps, through a Filter, the traceparent logs of the tasks it
// keeps (see CategoryTraceparent): without it a task kept loses its place
// in the application's distributed trace whenever its traceparent falls
// outside what the filter keeps, as the one logged at a task's start does
// for a window that begins later, or for a region selection.
//
// The log comes before the filter can always tell whether its task is
// kept: the task is delivered when it ends, and the window may not have
// begun. So the first traceparent of each open task that the filter would
// drop is held, and passed on
//
//   - at once, in its place, if it lies in the window and its task is
//     known to be kept (the prepass of a task, region or related
//     selection tells, as does a window alone);
//   - when the window begins, if it came before the window and its task
//     is known to be kept;
//   - before the first item kept that names its task (one of its regions
//     or logs, or the task itself), which is when a selection of
//     goroutines made without a prepass tells that the task is kept, or
//     when a window tells it of a traceparent logged after the window's
//     end.
//
// The traceparents held of the ancestors of a task kept that the
// selection leaves out go out with the first item kept of that task, on
// no goroutine, and keep their tasks as context: a subtask or a region
// selected in a request stays in the request's distributed trace, also
// where the task that logged the traceparent is not the root (a request
// task under the OpenTelemetry SDK's task for the server's span). A task
// between them that logged none and that the selection leaves out is not
// kept. Nor are the other tasks of the tree: a sibling or a subtask has a
// traceparent of its own, another request's, and which of them were open
// when the kept one was named would depend on where the pass ended.
//
// Passed on later than it came, its Time is the moment it is passed on,
// bounded by the window: every output then shows it inside the task as
// the filter clipped it (the task is open then, or ends then, and began
// before the log), and logs stay in time order. A held log whose task
// ends first, or is left out, is dropped with the task.

// maxHeld bounds the traceparent logs a filter holds. One per open task
// is held, and the mapping delivers every task a log names, so only a
// trace with more open tasks than this could reach it.
const maxHeld = 1 << 16

// heldLog is the traceparent of an open task.
type heldLog struct {
	log   Log
	at    Time // it is not passed on before this: its own time, or when its task was known to be kept
	ready bool // its task is known to be kept
	sent  bool // passed on (or passed by the filter as it is): no other goes out for the task
	// alone: passed on for a task the selection leaves out but for its
	// traceparent, on no goroutine, which the selection may not keep.
	alone bool
}

// keepsTask reports whether the selection keeps task id, as far as is
// known before the task ends: a goroutine selected may yet turn out to be
// one of its own.
func (f *filterSink) keepsTask(id TaskID) bool {
	return !f.s.entities || f.s.tasks[id] || f.s.context[id] || f.s.gTasks[id]
}

// noteTraceparent notes that the filter passes on, as it is, a
// traceparent of task id, so that no later one is forced through. An
// earlier one still held is the task's first, and goes out before this
// one (see named).
func (f *filterSink) noteTraceparent(id TaskID) {
	if f.ended.has(id) || f.tps[id] != nil || len(f.tps) >= maxHeld {
		return
	}
	f.hold(&heldLog{log: Log{Task: id}, sent: true})
}

// holdTraceparent takes a traceparent log the filter would drop.
func (f *filterSink) holdTraceparent(l *Log) error {
	if f.ended.has(l.Task) || f.tps[l.Task] != nil || len(f.tps) >= maxHeld {
		return nil // of a task ended, not the task's first, or too many held
	}
	h := &heldLog{log: *l, at: l.Time}
	// The region it was logged in may be cut: it is the task's.
	h.log.Region = NoRegion
	h.ready = l.Time <= f.to && f.keepsTask(l.Task)
	f.hold(h)
	if h.ready && l.Time >= f.from {
		if err := f.enter(); err != nil {
			return err
		}
		return f.release(h)
	}
	return nil
}

// holdBefore holds l, a traceparent logged before the window that the
// prepass read, as holdTraceparent would have held it.
func (f *filterSink) holdBefore(l Log) {
	if f.tps[l.Task] != nil || len(f.tps) >= maxHeld {
		return
	}
	h := &heldLog{log: l, at: l.Time}
	h.log.Region = NoRegion
	if f.skipped {
		// A pass over a window's generations numbers its stacks itself:
		// the prepass's ID names another stack, or none it gives.
		h.log.Stack = NoStack
	}
	h.ready = f.keepsTask(l.Task)
	f.hold(h)
}

// hold records h as its task's traceparent.
func (f *filterSink) hold(h *heldLog) {
	if f.tps == nil {
		f.tps, f.tpG, f.tpRoot = map[TaskID]*heldLog{}, map[GoID]int{}, map[TaskID][]TaskID{}
	}
	f.tps[h.log.Task] = h
	if !h.sent {
		f.tpG[h.log.G]++
		root := cmp.Or(h.log.Root, h.log.Task)
		f.tpRoot[root] = append(f.tpRoot[root], h.log.Task)
	}
}

// enter notes that the window has begun, before the first item passed
// on, and passes on the traceparents held of the tasks kept.
func (f *filterSink) enter() error {
	if f.begun {
		return nil
	}
	f.begun = true
	var out []*heldLog
	for _, h := range f.tps {
		if h.ready && !h.sent {
			out = append(out, h)
		}
	}
	// In time order, as they were logged.
	slices.SortFunc(out, func(a, b *heldLog) int {
		return cmp.Or(cmp.Compare(a.log.Time, b.log.Time), cmp.Compare(a.log.Task, b.log.Task))
	})
	for _, h := range out {
		if err := f.release(h); err != nil {
			return err
		}
	}
	// The counters open the window, before any instant in it.
	return f.restate()
}

// named notes that an item kept, about to be passed on at time at, names
// task id, of root task root and parent parent (NoTask where the item
// does not tell): the task is kept, and its traceparent, if held, goes
// out now. So do those of its ancestors that the selection leaves out: a
// task selected in a request's task (a subtask, or the task of a region
// selected) stays in the request's distributed trace, and the request's
// task, named by its traceparent, is kept for context.
func (f *filterSink) named(id, root, parent TaskID, at Time) error {
	if root == NoTask {
		root = id
	}
	for _, other := range f.tpRoot[root] {
		if h := f.tps[other]; other != id && h != nil && !h.sent && !f.keepsTask(other) && f.ancestor(other, id, parent) {
			h.ready, h.at, h.alone = true, max(h.at, at), true
			if err := f.release(h); err != nil {
				return err
			}
		}
	}
	h := f.tps[id]
	if h == nil || h.sent {
		return nil
	}
	h.ready, h.at = true, max(h.at, at)
	return f.release(h)
}

// maxDepth bounds the walk from a task to its ancestors: a damaged
// trace may make a task its own ancestor.
const maxDepth = 1 << 10

// ancestor reports whether task a is an ancestor of task id, whose parent
// is parent (NoTask if the caller does not know it). Where the pass does
// not give the parents of the tasks open (a driver other than this
// package's mapping), every task of id's tree is taken for one.
func (f *filterSink) ancestor(a, id, parent TaskID) bool {
	if f.openTasks == nil && !f.draining {
		return true
	}
	p := cmp.Or(parent, f.parent(id))
	for n := 0; p != NoTask && n < maxDepth; n++ {
		if p == a {
			return true
		}
		p = f.parent(p)
	}
	return false
}

// parent returns the parent of task id, open, as far as the pass knows it.
func (f *filterSink) parent(id TaskID) TaskID {
	if p, ok := f.openParent[id]; ok {
		return p
	}
	if f.openTasks != nil {
		if p := f.openTasks.openParent(id); p != NoTask {
			return p
		}
	}
	if l, ok := f.s.linkOf[id]; ok {
		return l.parent // the prepass saw it begin before the window's generations
	}
	return NoTask
}

// useOpenTasks takes from the mapping how to learn of the tasks open
// (see openTasksSink).
func (f *filterSink) useOpenTasks(t openTasks) { f.openTasks = t }

// release passes on a held traceparent, whose task is kept.
func (f *filterSink) release(h *heldLog) error {
	if h.sent {
		return nil
	}
	h.sent = true
	f.untrack(h.log.G)
	l := &h.log
	if f.leftT.has(l.Task) {
		return nil // cannot happen: its task has not ended
	}
	l.Time = min(max(h.at, f.from), f.to)
	if !f.drawsG(l.G) || h.alone {
		// A goroutine the selection does not draw would get a lane of
		// its own for the log; and one passed on for a task left out
		// but for it is the task's alone, on no goroutine (whether
		// something kept named its goroutine before depends on where
		// the pass began: a window's or the trace's start).
		f.orphan(l)
	}
	known, err := f.declare(l.G)
	if err != nil {
		return err
	}
	if !known {
		f.orphan(l)
	}
	l.Task = f.taskOf(l.Task)
	f.f.kept++
	return f.next.Log(l)
}

// forgetTraceparent forgets the traceparent of task id, which has ended.
func (f *filterSink) forgetTraceparent(id TaskID) {
	if h := f.tps[id]; h != nil {
		if !h.sent {
			f.untrack(h.log.G)
		}
		delete(f.tps, id)
		root := cmp.Or(h.log.Root, h.log.Task)
		if ids := slices.DeleteFunc(f.tpRoot[root], func(t TaskID) bool { return t == id }); len(ids) > 0 {
			f.tpRoot[root] = ids
		} else {
			delete(f.tpRoot, root)
		}
	}
}

func (f *filterSink) untrack(g GoID) {
	if n := f.tpG[g]; n > 1 {
		f.tpG[g] = n - 1
	} else {
		delete(f.tpG, g)
	}
}

// goEnded forgets goroutine g, whose end has been seen (and passed on, if
// kept). Nothing of a goroutine follows its end, so one never declared can
// be forgotten, and the traceparents it logged that are still held must
// no longer name it.
func (f *filterSink) goEnded(g GoID) {
	delete(f.pending, g)
	if f.tpG[g] == 0 {
		return
	}
	for _, h := range f.tps {
		if !h.sent && h.log.G == g {
			f.orphan(&h.log)
		}
	}
	delete(f.tpG, g)
}

// drawsG reports whether the selection keeps something of goroutine g
// of its own: its states, over the whole trace or the spans of the tasks
// and regions kept.
func (f *filterSink) drawsG(g GoID) bool {
	return !f.s.entities || f.s.allOf[g] || len(f.s.spans[g]) > 0
}

// orphan makes l a log of no goroutine, and so of no P or M either: moved
// to a time its goroutine is gone, it is the task's alone.
func (f *filterSink) orphan(l *Log) {
	l.G, l.P, l.M = NoGoroutine, NoProc, NoThread
}
