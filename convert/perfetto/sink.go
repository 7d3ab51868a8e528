package perfetto

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/trace2x/trace2x/mapping"
)

// rank clamps an ID to the range of TrackDescriptor.sibling_order_rank.
func rank(id int64) int64 { return min(max(id, math.MinInt32), math.MaxInt32) }

// Goroutine records a goroutine; its track is declared when first used,
// by which time its start function is usually known.
func (w *Writer) Goroutine(g *mapping.Goroutine) error {
	if w.closed {
		return errClosed
	}
	gt := w.goroutine.Get(g.ID)
	if gt != nil && !g.Updated && gt.uuid != 0 {
		// A new life of a reused ID (see mapping.Goroutine) whose last
		// life was never seen to end.
		w.flushRun(gt)
		w.endLife(gt, gt.last, false)
		w.lanes.Release(gt.lane.lane, gt.last)
		w.retire(g.ID, gt)
		gt = nil
	}
	if gt == nil {
		gt = w.newGoTrack()
		w.goroutine.Set(g.ID, gt)
	}
	named := gt.info.StartFunc != g.StartFunc
	if gt.name == "" || named || gt.info.Label != g.Label {
		gt.name, gt.nameIID = "", 0 // named when first needed
	}
	gt.info = *g
	if named && gt.uuid != 0 && !gt.lane.lane.Shared {
		w.rename(gt)
	}
	return w.err
}

// rename declares the tracks of a goroutine's own lane again under its new
// name: a goroutine alive when the trace began is drawn before a stack of
// its own tells its start function, and the trace processor takes a later
// name for a track that is not merged with its siblings.
func (w *Writer) rename(gt *goTrack) {
	lt := gt.lane
	t := max(gt.last, w.meta.Start)
	w.declare(t, lt.uuid, uuidGoroutines, gt.info.Name(), func(b msg) msg {
		b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
		b = b.uint(fTdChildOrdering, childOrderingExplicit)
		return b.int(fTdSiblingOrderRank, rank(int64(gt.info.ID)))
	})
	w.rows-- // the same track
	for _, c := range [...]struct {
		uuid   uint64
		suffix string
		order  int64
	}{{lt.regions, " regions", 1}, {lt.assists, " mark assist", 2}} {
		if c.uuid == 0 {
			continue
		}
		w.declare(t, c.uuid, lt.uuid, gt.info.Name()+c.suffix, func(b msg) msg {
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			return b.int(fTdSiblingOrderRank, c.order)
		})
		w.rows--
	}
}

// newGoTrack returns a goTrack, reusing one of an ended goroutine: a
// program can start millions of short goroutines.
func (w *Writer) newGoTrack() *goTrack {
	if n := len(w.freeGo); n > 0 {
		gt := w.freeGo[n-1]
		w.freeGo = w.freeGo[:n-1]
		*gt = goTrack{flowsIn: gt.flowsIn[:0]}
		return gt
	}
	return &goTrack{}
}

// nameOf returns the goroutine's display name, making it on first use.
func (gt *goTrack) nameOf() string {
	if gt.name == "" {
		gt.name = goroutineName(&gt.info)
	}
	return gt.name
}

// goroutineName names the slices of a goroutine: with the label the
// runtime gave it last (a GC worker's mode, which changes from one GC to
// the next). Its tracks, which have one name for their whole length, are
// named without it.
func goroutineName(g *mapping.Goroutine) string {
	if g.Label != "" {
		return g.Name() + " (" + g.Label + ")"
	}
	return g.Name()
}

// goName names a slice after a goroutine. Its name is interned apart from
// the shared table, in the goroutine's own state, so that the writer's
// memory does not grow with every goroutine that ever lived.
func (w *Writer) goName(ev msg, gt *goTrack) msg {
	if gt.nameIID == 0 {
		w.ownNames++
		gt.nameIID = 2*w.ownNames - 1
		w.intern.newNames = append(w.intern.newNames, entry{gt.nameIID, gt.nameOf()})
	}
	return ev.uint(fEvNameIID, gt.nameIID)
}

// goTrackOf returns goroutine id, drawn on its lane.
func (w *Writer) goTrackOf(id mapping.GoID, t mapping.Time) *goTrack {
	gt := w.lastGo
	if gt == nil || gt.info.ID != id {
		gt = w.goroutine.Get(id)
	}
	if gt == nil {
		// Not described by the model: taken as alive at the start.
		gt = w.newGoTrack()
		gt.info = mapping.Goroutine{ID: id, Creator: mapping.NoGoroutine, Created: w.meta.Start, Flags: mapping.OpenStart}
		w.goroutine.Set(id, gt)
	}
	if gt.uuid == 0 {
		w.draw(gt)
	}
	gt.last = max(gt.last, t)
	w.lastGo = gt
	return gt
}

// draw puts a goroutine on a lane (see mapping.Lanes), declaring the lane
// first if it is new. On a lane shared by many goroutines it begins the
// goroutine's lifetime slice there: "G42 main.f", from its creation to its
// end, under which its states nest, so that the lane still names each. It
// begins no earlier than the trace (or the filter's window), and is
// written first, so that the states that begin with it nest in it.
//
// A lane of its own is the goroutine's track, named after it (and named
// again when a later stack tells its start function, see rename), so its
// states lie on it directly: a lifetime slice there would name nothing
// the track does not, and a slice's name, once written, cannot change.
func (w *Writer) draw(gt *goTrack) {
	lane, fresh := w.lanes.Take(&gt.info)
	for lane.ID >= len(w.laneTracks) {
		w.laneTracks = append(w.laneTracks, nil)
	}
	lt := w.laneTracks[lane.ID]
	if fresh {
		lt = &laneTrack{lane: lane, uuid: w.uuid()}
		w.laneTracks[lane.ID] = lt
		// A lane of its own is declared again as rename does when the
		// goroutine's start function becomes known.
		parent, name, order := uint64(uuidGoroutines), gt.info.Name(), rank(int64(gt.info.ID))
		if lane.Shared {
			parent = w.funcGroup(lane.Func)
			name = fmt.Sprintf("%s #%d", lane.Func, lane.Index)
			order = int64(lane.Index)
		}
		w.declare(w.meta.Start, lt.uuid, parent, name, func(b msg) msg {
			// Lanes of the same start function must stay apart.
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			b = b.uint(fTdChildOrdering, childOrderingExplicit)
			return b.int(fTdSiblingOrderRank, order)
		})
	}
	gt.lane, gt.uuid = lt, lt.uuid
	gt.last = gt.info.Created
	if !lane.Shared {
		return
	}
	gt.life = true
	w.event(evSliceBegin, lt.uuid, max(gt.info.Created, w.meta.Start), mapping.NoStack, nil, nil, func(ev msg) msg {
		return w.lifetime(ev, gt)
	})
}

// lifetime fills a goroutine's lifetime slice.
func (w *Writer) lifetime(ev msg, gt *goTrack) msg {
	ev = w.category(ev, catLifetime)
	ev = w.goName(ev, gt)
	ev = annFixed(ev, annGoroutine, fDaIntValue, uint64(gt.info.ID))
	if gt.info.Flags.Has(mapping.OpenStart) {
		ev = w.flags(ev, mapping.OpenStart)
	}
	return ev
}

// endLife ends a goroutine's lifetime slice at t, marked open at the end
// if the goroutine is still alive there.
func (w *Writer) endLife(gt *goTrack, t mapping.Time, open bool) {
	if !gt.life {
		return
	}
	gt.life = false
	w.startPacket(t)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, evSliceEnd)
	ev = ev.uint(fEvTrackUUID, gt.uuid)
	if open {
		// The trace processor adds an end's arguments to its slice. The
		// argument's name may be interned here, after the packet: it is
		// not held open for counters.
		ev = w.flags(ev, mapping.OpenEnd)
		w.pkt = ev.close(off)
		w.flushInterned()
		return
	}
	w.pkt = ev
	w.holdOpen(off, t)
}

// funcGroup returns the group track of the lanes of a start function,
// after the goroutines alive at the start, in order of first use.
func (w *Writer) funcGroup(fn string) uint64 {
	return w.group(w.funcGroups, fn, uuidGoroutines, math.MaxInt32/2)
}

// group returns the group track named name under parent, declaring it
// first, ranked base plus its number among groups.
func (w *Writer) group(groups map[string]uint64, name string, parent uint64, base int64) uint64 {
	uuid, ok := groups[name]
	if !ok {
		uuid = w.uuid()
		groups[name] = uuid
		w.declare(w.meta.Start, uuid, parent, name, func(b msg) msg {
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			b = b.uint(fTdChildOrdering, childOrderingExplicit)
			return b.int(fTdSiblingOrderRank, base+int64(len(groups)))
		})
	}
	return uuid
}

// child returns (declaring it first) a child track of a goroutine's or a
// P's track. Its name is made only then: this is on the hot path.
func (w *Writer) child(parent uint64, slot *uint64, name func() string, order int64) uint64 {
	if *slot == 0 {
		*slot = w.uuid()
		w.declare(w.meta.Start, *slot, parent, name(), func(b msg) msg {
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			return b.int(fTdSiblingOrderRank, order)
		})
	}
	return *slot
}

// Proc declares a P's track under Procs.
func (w *Writer) Proc(p *mapping.Proc) error {
	if w.closed {
		return errClosed
	}
	if w.proc(p.ID) != nil || p.ID < 0 {
		return w.err
	}
	pt := &procTrack{uuid: w.uuid()}
	// P IDs are small and dense, from 0 to GOMAXPROCS-1; a damaged trace
	// can name any, which must not size a slice.
	if p.ID < maxDenseProc {
		for int(p.ID) >= len(w.procs) {
			w.procs = append(w.procs, nil)
		}
		w.procs[p.ID] = pt
	} else {
		if w.farProcs == nil {
			w.farProcs = make(map[mapping.ProcID]*procTrack)
		}
		w.farProcs[p.ID] = pt
	}
	w.declare(w.meta.Start, pt.uuid, uuidProcs, procName(p.ID), func(b msg) msg {
		b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
		return b.int(fTdSiblingOrderRank, rank(int64(p.ID)))
	})
	return w.err
}

// proc returns the tracks of P id, or nil.
func (w *Writer) proc(id mapping.ProcID) *procTrack {
	if id < 0 {
		return nil
	}
	if id >= mapping.ProcID(len(w.procs)) { // not int(id): an int has 32 bits on some platforms
		return w.farProcs[id] // nil for a nil map
	}
	return w.procs[id]
}

// maxDenseProc bounds the P IDs kept in a slice: a real trace's are below
// GOMAXPROCS.
const maxDenseProc = 1 << 16

// thread returns the tracks of M id, or nil. Consecutive slices are mostly
// on the same M, so the last one found is checked first.
func (w *Writer) thread(id mapping.ThreadID) *threadTrack {
	if id == w.lastM && w.lastMTrack != nil {
		return w.lastMTrack
	}
	tt := w.threads[id]
	if tt != nil {
		if !tt.declared {
			w.declareThread(tt)
		}
		w.lastM, w.lastMTrack = id, tt
	}
	return tt
}

// Thread declares an M's thread track. Its tid is the OS thread ID, so it
// merges with a system trace of the same process. Where a filter selected
// goroutines, tasks or regions, which leaves out what the Ms held, the
// track is declared only once something is drawn on it or sampled in it:
// else a selection of one request would list every thread, empty.
func (w *Writer) Thread(m *mapping.Thread) error {
	if w.closed {
		return errClosed
	}
	if w.threads[m.ID] != nil {
		return w.err
	}
	tt := &threadTrack{uuid: w.uuid(), id: m.ID}
	w.threads[m.ID] = tt
	if !w.meta.Selected {
		w.declareThread(tt)
	}
	return w.err
}

// declareThread declares thread track tt.
func (w *Writer) declareThread(tt *threadTrack) {
	tt.declared = true
	// A thread track belongs to its process by its pid; it cannot be
	// nested under a plain track, and the UI orders threads itself.
	w.declare(w.meta.Start, tt.uuid, 0, "", func(b msg) msg {
		b, off := b.open(fTdThread)
		b = b.int(fThreadPID, int64(w.cfg.pid))
		b = b.int(fThreadTID, w.tid(tt.id))
		b = b.str(fThreadName, fmt.Sprintf("M%d", tt.id))
		return b.close(off)
	})
}

// noThreadTID is the thread ID of the stand-in thread of CPU samples that
// name no M: no OS thread's, which are below 2^22 on Linux, nor an M's.
const noThreadTID = math.MaxInt32 - 1

// tid is the thread ID of an M in the file. Traces before Go 1.22 record
// the runtime's M numbers, from 0, rather than OS thread IDs; Perfetto
// takes thread 0 for the kernel's idle thread, so those are moved up by one.
func (w *Writer) tid(m mapping.ThreadID) int64 {
	switch {
	case w.oldThreadIDs && m >= 0 && m < math.MaxInt32-maxStandInTIDs:
		return int64(m) + 1
	case m == 0:
		// No OS thread has ID 0, which is the kernel's idle thread to
		// Perfetto; a trace written by hand may name one.
		return math.MaxInt32
	case m > 0 && m < math.MaxInt32-maxStandInTIDs:
		return int64(m)
	}
	// Perfetto's thread IDs have 32 bits: an ID past them (a damaged
	// trace's, or a system whose thread IDs are wider) would wrap, to 0
	// or to another thread's. It gets one of its own from the top down.
	if t, ok := w.bigTIDs[m]; ok {
		return t
	}
	if w.bigTIDs == nil {
		w.bigTIDs = map[mapping.ThreadID]int64{}
	}
	t := int64(math.MaxInt32 - 2 - len(w.bigTIDs))
	if len(w.bigTIDs) >= maxStandInTIDs {
		t = math.MaxInt32 - 2 - maxStandInTIDs // shared past that many
	} else {
		w.bigTIDs[m] = t
	}
	return t
}

// maxStandInTIDs bounds the thread IDs given to threads whose own do not
// fit Perfetto's 32 bits, just below noThreadTID.
const maxStandInTIDs = 1 << 16

// slice writes a slice as a begin and an end packet. fill adds the
// begin's name, category and arguments.
func (w *Writer) slice(track uint64, start, end mapping.Time, stack mapping.StackID, flowsOut, flowsIn []uint64, fill func(ev msg) msg) {
	w.event(evSliceBegin, track, start, stack, flowsOut, flowsIn, fill)
	w.endSlice(track, end)
}

// endSlice writes the end of the slice open on a track.
func (w *Writer) endSlice(track uint64, end mapping.Time) {
	w.startPacket(end)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, evSliceEnd)
	w.pkt = ev.uint(fEvTrackUUID, track)
	// Left open for the counters that changed at the same time; see Counter.
	w.holdOpen(off, end)
}

// instant writes an instant event.
func (w *Writer) instant(track uint64, t mapping.Time, stack mapping.StackID, flowsOut, flowsIn []uint64, fill func(ev msg) msg) {
	w.event(evInstant, track, t, stack, flowsOut, flowsIn, fill)
}

// event writes a track event of type typ that fill names and describes.
func (w *Writer) event(typ uint64, track uint64, t mapping.Time, stack mapping.StackID, flowsOut, flowsIn []uint64, fill func(ev msg) msg) {
	w.rows += 1 + int64(len(flowsOut))
	w.startPacket(t)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, typ)
	ev = ev.uint(fEvTrackUUID, track)
	ev = fill(ev)
	if stack != mapping.NoStack {
		ev = ev.uint(fEvCallstackIID, uint64(stack))
	}
	for _, f := range flowsOut {
		ev = ev.fixed64(fEvFlowIDs, f)
	}
	for _, f := range flowsIn {
		ev = ev.fixed64(fEvTerminatingFlowIDs, f)
	}
	w.pkt = ev.close(off)
	w.flushInterned()
}

// endTask remembers, for a while, that a task's slice was written, so
// that its later regions get no flow that would have no source.
func (w *Writer) endTask(id mapping.TaskID) {
	w.endedTasks.put(id, 1)
}

// goroutineEndedArg marks a region whose goroutine exited with it open.
const goroutineEndedArg = "its goroutine exited before it ended"

// flags marks a slice cut at either end: by the trace, or, for a
// filtered trace, perhaps by the filter.
func (w *Writer) flags(ev msg, f mapping.Flags) msg {
	if !f.Has(mapping.OpenStart) && !f.Has(mapping.OpenEnd) {
		return ev
	}
	start, end := "began before the trace", "open at the end of the trace"
	if w.meta.Filtered {
		start, end = "began before the trace or the filter's window", "open at the end of the trace or the filter's window"
	}
	if f.Has(mapping.OpenStart) {
		ev = w.annBool(ev, start, true)
	}
	if f.Has(mapping.OpenEnd) {
		ev = w.annBool(ev, end, true)
	}
	return ev
}

// stateNameIID returns the interned name of a goroutine state's slice.
// The fixed names are looked up once; waiting reasons by name.
func (w *Writer) stateName(ev msg, s *mapping.GoroutineState) msg {
	if s.State == mapping.GoWaiting && s.Reason != "" {
		return w.name(ev, s.Reason)
	}
	i := int(s.State)
	if s.State == mapping.GoSyscall && s.Blocked {
		i = len(w.stateIIDs) - 1
	}
	if w.stateIIDs[i] == 0 {
		ev = w.name(ev, stateName(s))
		w.stateIIDs[i] = w.intern.names[stateName(s)]
		return ev
	}
	return ev.uint(fEvNameIID, w.stateIIDs[i])
}

// stateName is the slice name of a goroutine state.
func stateName(s *mapping.GoroutineState) string {
	switch s.State {
	case mapping.GoWaiting:
		if s.Reason != "" {
			return s.Reason
		}
		return "waiting"
	case mapping.GoSyscall:
		if s.Blocked {
			return "syscall (blocked)"
		}
		return "syscall"
	}
	return s.State.String()
}

// takeFlowsIn returns the flows that end where goroutine gt starts to
// run at t. The slice returned is valid until the next call.
func (w *Writer) takeFlowsIn(gt *goTrack, t mapping.Time) []uint64 {
	ids := w.flowScratch[:0]
	kept := gt.flowsIn[:0]
	for _, f := range gt.flowsIn {
		if f.at == t {
			ids = append(ids, f.id)
		} else {
			kept = append(kept, f)
		}
	}
	gt.flowsIn = kept
	w.flowScratch = ids
	return ids
}

// GoroutineState writes a state slice on the goroutine's lane (nested in
// its lifetime slice on a shared lane); a running interval also on its P's
// track, and a syscall that lost its P on its M's syscall track.
//
// A syscall that keeps its P (the usual short one: a network write, a
// file read) does not cut the goroutine's run in three: the runs before
// and after it are one running slice, on the lane and on the P's track,
// and the syscall nests in it on the lane. So a running slice is held
// until the goroutine's next state tells whether a syscall follows, and
// the syscall until the run after it.
//
// The goroutine's ID, the argument "goroutine" for selection, search and
// SQL, is on its lifetime slice and its slices on P tracks, which share
// one argument set in the trace processor, and on its states only on a
// track of its own; nothing else that differs from one goroutine to the
// next is, since each argument set that differs costs rows.
func (w *Writer) GoroutineState(s *mapping.GoroutineState) error {
	if w.closed {
		return errClosed
	}
	gt := w.goTrackOf(s.G, s.End)
	if p := &gt.pend; p.held {
		r := &p.run
		switch {
		case !p.inSys && s.State == mapping.GoSyscall && !s.Blocked && s.Start == r.End && s.P == r.P && s.M == r.M:
			p.sys = append(p.sys, *s)
			p.inSys = true
			return w.err
		case p.inSys && s.State == mapping.GoRunning && s.Start == p.sys[len(p.sys)-1].End && s.P == r.P && s.M == r.M:
			r.End, r.EndStack, r.Reason = s.End, s.EndStack, s.Reason
			r.Flags = r.Flags&mapping.OpenStart | s.Flags&mapping.OpenEnd
			p.flowsIn = append(p.flowsIn, w.takeFlowsIn(gt, s.Start)...)
			p.inSys = false
			return w.err
		}
		w.flushRun(gt)
	}
	if s.State == mapping.GoRunning {
		p := &gt.pend
		p.held, p.run = true, *s
		p.flowsIn = append(p.flowsIn[:0], w.takeFlowsIn(gt, s.Start)...)
		return w.err
	}
	w.state(gt, s, nil)
	return w.err
}

// pendingRun is a running slice held back, see GoroutineState.
type pendingRun struct {
	held    bool
	run     mapping.GoroutineState   // the runs so far, as one
	sys     []mapping.GoroutineState // the syscalls between them
	inSys   bool                     // the last of sys has no run after it yet
	flowsIn []uint64
	heldTo  mapping.Time // when a syscall after the run that blocked lost its P
}

// flushRun writes the running slice held for a goroutine, with the
// syscalls nested in it. A last syscall with no run after it (the trace
// or the goroutine's life ended in it) follows as a state of its own.
func (w *Writer) flushRun(gt *goTrack) {
	p := &gt.pend
	if !p.held {
		return
	}
	r := &p.run
	nested := p.sys
	if p.inSys {
		nested = nested[:len(nested)-1]
	}
	w.event(evSliceBegin, gt.uuid, r.Start, r.Stack, nil, p.flowsIn, func(ev msg) msg {
		return w.stateArgs(ev, gt, r)
	})
	for i := range nested {
		w.state(gt, &nested[i], nil)
	}
	w.endSlice(gt.uuid, r.End)
	if pt := w.proc(r.P); pt != nil {
		w.slice(pt.uuid, r.Start, max(r.End, p.heldTo), r.Stack, nil, nil, func(ev msg) msg {
			ev = w.category(ev, catProc)
			ev = w.goName(ev, gt)
			// A run cut by the trace's ends or a filter says so here too,
			// or it would pass for a short run of its own.
			return w.flags(w.gpm(ev, r), r.Flags)
		})
	}
	if p.inSys {
		w.state(gt, &p.sys[len(p.sys)-1], nil)
	}
	p.held, p.inSys, p.sys, p.flowsIn, p.heldTo = false, false, p.sys[:0], p.flowsIn[:0], 0
}

// state writes a state slice on the goroutine's lane and, for a syscall
// that lost its P, on its M's syscall track.
func (w *Writer) state(gt *goTrack, s *mapping.GoroutineState, flowsIn []uint64) {
	w.slice(gt.uuid, s.Start, s.End, s.Stack, nil, flowsIn, func(ev msg) msg {
		return w.stateArgs(ev, gt, s)
	})
	if s.State != mapping.GoSyscall || !s.Blocked {
		return
	}
	if tt := w.thread(s.M); tt != nil {
		track := w.child(tt.uuid, &tt.syscalls, func() string { return fmt.Sprintf("M%d syscalls", s.M) }, 0)
		w.slice(track, s.Start, s.End, s.Stack, nil, nil, func(ev msg) msg {
			ev = w.category(ev, catThread)
			ev = w.stateName(ev, s)
			return w.gpm(ev, s)
		})
	}
}

// stateArgs names and describes a state slice. On a shared lane the
// state nests in its goroutine's lifetime slice, which carries the
// goroutine's ID: the state does not repeat it, since an ID beside a
// stack makes an argument set of its own, a row or two in the trace
// processor for nearly every waiting state.
func (w *Writer) stateArgs(ev msg, gt *goTrack, s *mapping.GoroutineState) msg {
	ev = w.category(ev, catGoroutine)
	ev = w.stateName(ev, s)
	if !gt.life {
		ev = w.gpm(ev, s)
	}
	if s.Reason != "" && s.State != mapping.GoWaiting {
		ev = w.annStr(ev, "reason", s.Reason)
	}
	return w.flags(ev, s.Flags)
}

// gpm writes the goroutine of a state as its argument. Its P and M are
// not repeated there: the P's track has the run at the same time, and
// the M's track the P it held; argument sets that differ per goroutine
// cost the trace processor rows, sets that are equal cost nothing more.
func (w *Writer) gpm(ev msg, s *mapping.GoroutineState) msg {
	return annFixed(ev, annGoroutine, fDaIntValue, uint64(s.G))
}

// ProcRun writes which P a thread held, as a slice "P3" on the M's thread
// track: the goroutines the P ran are on the P's track.
func (w *Writer) ProcRun(r *mapping.ProcRun) error {
	if w.closed {
		return errClosed
	}
	w.takenFrom(r)
	if !w.heldPs.Holds(r) {
		return w.err
	}
	tt := w.thread(r.M)
	if tt == nil {
		// Traces before Go 1.22 can name an M first here.
		w.Thread(&mapping.Thread{ID: r.M})
		tt = w.thread(r.M)
	}
	suffix := overlapSuffix
	if w.oldThreadIDs {
		suffix = overlapSuffixOldM
	}
	w.slice(w.place(&tt.procs, tt.uuid, func() string { return fmt.Sprintf("M%d", r.M) + suffix }, r.Start, r.End), r.Start, r.End, mapping.NoStack, nil, nil, func(ev msg) msg {
		ev = w.category(ev, catThread)
		ev = w.name(ev, procName(r.P))
		return w.flags(ev, r.Flags)
	})
	return w.err
}

// takenFrom notes, for a P taken from a goroutine in a syscall, when it
// was taken: the goroutine's run before the syscall, held until its next
// state, stays on the P's track until then, as go tool trace draws it.
func (w *Writer) takenFrom(r *mapping.ProcRun) {
	if r.TakenFrom == mapping.NoGoroutine {
		return
	}
	gt := w.goroutine.Get(r.TakenFrom)
	if gt == nil {
		return
	}
	if p := &gt.pend; p.held && !p.inSys && p.run.P == r.P && p.run.M == r.M && p.run.End <= r.End {
		p.heldTo = r.End
	}
}

// place returns the track on which a slice from start to end of flat
// track f, whose track is uuid, goes: uuid, or, for a slice that overlaps
// one of f's without nesting, a child track named as name gives.
func (w *Writer) place(f *flatTrack, uuid uint64, name func() string, start, end mapping.Time) uint64 {
	k := f.one.Place(start, end)
	if k == 0 {
		return uuid
	}
	for len(f.spills) < k {
		f.spills = append(f.spills, 0)
	}
	return w.child(uuid, &f.spills[k-1], name, int64(k))
}

// procName is the name of P id's track and of its slices on thread tracks.
func procName(id mapping.ProcID) string { return "P" + strconv.FormatInt(int64(id), 10) }

// Range writes GC cycles and stop-the-world pauses on the GC tracks,
// sweeps on their P's child track, mark assists on their goroutine's.
func (w *Writer) Range(r *mapping.Range) error {
	if w.closed {
		return errClosed
	}
	var track uint64
	name := r.Name
	switch r.Kind {
	case mapping.RangeGCMark:
		track = w.place(&w.cycles, uuidGCCycles, func() string { return "GC cycles" + overlapSuffix }, r.Start, r.End)
		name = "GC"
		if r.Cycle > 0 {
			name = fmt.Sprintf("GC %d", r.Cycle)
		}
	case mapping.RangeSTW:
		track = w.place(&w.stw, uuidSTW, func() string { return "Stop-the-world" + overlapSuffix }, r.Start, r.End)
		name = "STW (" + r.Reason + ")"
	case mapping.RangeSweep:
		if pt := w.proc(r.P); pt != nil {
			track = w.child(pt.uuid, &pt.sweeps, func() string { return fmt.Sprintf("P%d sweep", r.P) }, 0)
		}
		name = "sweep"
	case mapping.RangeMarkAssist:
		gt := w.goTrackOf(r.G, r.End)
		lt := gt.lane
		track = w.child(lt.uuid, &lt.assists, func() string { return w.laneName(lt, gt) + " mark assist" }, 2)
		name = "mark assist"
	}
	if track == 0 {
		track = w.otherRange(r)
	}
	w.slice(track, r.Start, r.End, r.Stack, nil, nil, func(ev msg) msg {
		ev = w.category(ev, catGC)
		ev = w.name(ev, name)
		if r.Kind == mapping.RangeGCMark {
			ev = w.annInt(ev, "cycle", int64(r.Cycle))
		}
		if r.Reason != "" {
			ev = w.annStr(ev, "reason", r.Reason)
		}
		if r.Scope == mapping.ScopeGoroutine {
			ev = w.annInt(ev, "goroutine", int64(r.G))
		}
		for _, a := range r.Attrs {
			ev = w.annUint(ev, a.Name, a.Value)
		}
		return w.flags(ev, r.Flags)
	})
	return w.err
}

// otherRange returns a track for a range of a kind this version does not
// know: one per name and scope, under GC.
func (w *Writer) otherRange(r *mapping.Range) uint64 {
	key := fmt.Sprintf("%s|%d|%d|%d|%d", r.Name, r.Scope, r.G, r.P, r.M)
	uuid, ok := w.ranges[key]
	if !ok {
		uuid = w.uuid()
		w.ranges[key] = uuid
		name := r.Name
		switch r.Scope {
		case mapping.ScopeGoroutine:
			name = fmt.Sprintf("%s G%d", r.Name, r.G)
		case mapping.ScopeProc:
			name = fmt.Sprintf("%s P%d", r.Name, r.P)
		case mapping.ScopeThread:
			name = fmt.Sprintf("%s M%d", r.Name, r.M)
		}
		w.declare(w.meta.Start, uuid, uuidGC, name, func(b msg) msg {
			return b.int(fTdSiblingOrderRank, 2)
		})
	}
	return uuid
}

// maxTaskFlows bounds the flows drawn from one task to the goroutines
// that worked in it, and so the memory an open task holds.
const maxTaskFlows = 1024

// taskFlow returns a new flow from task id to a region or log in it on
// goroutine g, if it is the task's first there: the arrows show where a
// request went, one per goroutine; every log names its task in its
// arguments, as every region does or the region it nests in (see Region),
// which shares the task's colour. The task's slice is written
// when the task ends, with the flows it collected; a region or log after
// that (or past the bound) gets none.
func (w *Writer) taskFlow(id mapping.TaskID, g mapping.GoID, t mapping.Time) []uint64 {
	if _, ended := w.endedTasks.get(id); ended || id == mapping.NoTask {
		return nil
	}
	tf := w.taskFlows.Get(taskKey(id))
	if tf == nil {
		// Tasks come and go by the million: their sets are reused.
		if n := len(w.freeFlows); n > 0 {
			tf = w.freeFlows[n-1]
			w.freeFlows = w.freeFlows[:n-1]
		} else {
			tf = new(taskFlowSet)
		}
		w.taskFlows.Set(taskKey(id), tf)
	}
	if slices.Contains(tf.gs, g) {
		return nil
	}
	if len(tf.flows) >= maxTaskFlows {
		w.omittedFlows++
		return nil
	}
	w.nextFlow++
	if len(tf.flows) == 0 || t < tf.first {
		tf.first = t
	}
	tf.flows = append(tf.flows, w.nextFlow)
	tf.gs = append(tf.gs, g)
	return tf.flows[len(tf.flows)-1:]
}

// taskFlowSet is the flows of a task and the goroutines they lead to.
type taskFlowSet struct {
	flows []uint64
	gs    []mapping.GoID
	first mapping.Time // where the earliest of them ends
}

// maxTaskGroups bounds the task types that get a group track of their
// own; otherTaskTypes is the group of the rest.
const (
	maxTaskGroups  = 256
	otherTaskTypes = "other task types"
)

// taskKey is a task ID as a key of a gotable.Table: task IDs, like
// goroutine IDs, are handed out in order.
type taskKey int64

// taskTrack returns the track of a task: a lane (see mapping.SpanLanes)
// of the tasks of its type, under a group track for the type. A service
// begins a task per request: a track each would be thousands of tracks.
// The task's ID, its parent and the goroutines that began and ended it
// are in its slice's arguments.
func (w *Writer) taskTrack(name string, start, end mapping.Time) uint64 {
	if _, ok := w.taskGroups[name]; !ok && len(w.taskGroups) >= maxTaskGroups {
		// A type per request (an ID in the name) would be two tracks a
		// task, and memory for each type: past the first types, the
		// tasks share lanes, each slice still named by its type.
		name = otherTaskTypes
	}
	lane, fresh := w.taskLanes.Take(name, start, end)
	for lane.ID >= len(w.taskTracks) {
		w.taskTracks = append(w.taskTracks, 0)
	}
	if fresh {
		group := w.group(w.taskGroups, name, uuidTasks, 0)
		uuid := w.uuid()
		w.taskTracks[lane.ID] = uuid
		w.declare(w.meta.Start, uuid, group, fmt.Sprintf("%s #%d", name, lane.Index), func(b msg) msg {
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			return b.int(fTdSiblingOrderRank, int64(lane.Index))
		})
	}
	return w.taskTracks[lane.ID]
}

// Task writes a task as a slice on a lane of its type.
func (w *Writer) Task(t *mapping.Task) error {
	if w.closed {
		return errClosed
	}
	name := t.Type
	if name == "" {
		name = "task " + strconv.FormatUint(uint64(t.ID), 10)
	}
	group := t.Type
	switch {
	case group != "":
	case t.Flags.Has(mapping.OpenStart):
		group = "tasks of unknown type" // begun before the trace
	default:
		group = `tasks of type ""` // trace.NewTask(ctx, "")
	}
	var flows []uint64
	tf := w.taskFlows.Get(taskKey(t.ID))
	start := t.Start
	if tf != nil {
		flows = tf.flows
		w.taskFlows.Delete(taskKey(t.ID))
		// The trace processor pairs a flow's ends in the order it reads
		// them, by time and then by place in the file, and drops a flow
		// whose end comes first. A task that began before the trace (or
		// before what a filter kept) is put where it was found, often at
		// the very time of the regions open with it, which were written
		// before it: it is drawn from just before the earliest of them,
		// which is no less true of a task whose start is unknown. (A task
		// seen to begin precedes its regions: the parser orders events.)
		if len(flows) > 0 && tf.first <= start {
			start = tf.first - 1
		}
	}
	track := w.taskTrack(group, start, t.End)
	w.endTask(t.ID)
	w.slice(track, start, t.End, t.Stack, flows, nil, func(ev msg) msg {
		ev = w.category(ev, catTask)
		ev = w.name(ev, name)
		ev = ev.uint(fEvCorrelationID, uint64(t.ID))
		ev = w.annUint(ev, "task", uint64(t.ID))
		if t.Parent != mapping.NoTask {
			ev = w.annUint(ev, "parent", uint64(t.Parent))
		}
		if t.StartG != mapping.NoGoroutine {
			ev = w.annInt(ev, "begun by goroutine", int64(t.StartG))
		}
		// A task ended by the goroutine that began it, the usual case,
		// says so once: a second per-task argument costs a row each.
		if t.EndG != mapping.NoGoroutine && t.EndG != t.StartG {
			ev = w.annInt(ev, "ended by goroutine", int64(t.EndG))
		}
		return w.flags(ev, t.Flags)
	})
	if tf != nil {
		tf.flows, tf.gs = tf.flows[:0], tf.gs[:0]
		w.freeFlows = append(w.freeFlows, tf)
	}
	return w.err
}

// Region writes a region on its goroutine's regions track, where regions
// nest among themselves whatever the goroutine's states do.
//
// A region names its task (the argument "task", and the task's colour)
// unless the region it nests in is of the same task: that one names it
// for both (a region of no task in a region of one has "task" 0). Every
// region names its own where a filter selected goroutines, tasks or
// regions (a window keeps the regions a region nests in), and so does a
// region of no length. Beside the region's stack the task's ID makes an argument set per region, two or three rows in the trace
// processor, and a request's regions usually nest in one (handle, with
// decode, query and encode in it).
func (w *Writer) Region(r *mapping.Region) error {
	if w.closed {
		return errClosed
	}
	if r.Depth >= maxRegionDepth {
		w.deepRegions++
		return w.err
	}
	gt := w.goTrackOf(r.G, r.End)
	lt := gt.lane
	track := w.child(lt.uuid, &lt.regions, func() string { return w.laneName(lt, gt) + " regions" }, 1)
	start := gt.regionStart(r)
	w.slice(track, start, r.End, r.Stack, nil, w.taskFlow(r.Task, r.G, start), func(ev msg) msg {
		ev = w.category(ev, catRegion)
		if r.Type == "" {
			ev = w.name(ev, "region") // as the other outputs name it: a blank slice is lost in the UI
		} else {
			ev = w.name(ev, r.Type)
		}
		switch {
		case r.Parent != mapping.NoRegion && r.ParentTask == r.Task && !w.meta.Selected && r.Start < r.End:
			// Named by the region it nests in. A filter that selects
			// can leave that one out (a region filter keeps a region,
			// not the regions it is in): then each names its own. So
			// does a region of no length: at an instant where others
			// begin and end too, the trace processor may not put it in
			// the region it nests in.
		case r.Task != mapping.NoTask:
			ev = ev.uint(fEvCorrelationID, uint64(r.Task))
			ev = w.annUint(ev, "task", uint64(r.Task))
		case r.Parent != mapping.NoRegion:
			// Of no task, in a region of one: "task" 0 says so, a
			// set shared by all such regions at the same stack.
			ev = w.annUint(ev, "task", 0)
		}
		if r.GoroutineEnded {
			// Not open at the end of the trace: its goroutine ended.
			return w.annBool(w.flags(ev, r.Flags&^mapping.OpenEnd), goroutineEndedArg, true)
		}
		return w.flags(ev, r.Flags)
	})
	return w.err
}

// regionStart returns where region r's slice begins: where r began, or a
// nanosecond before the earliest region nested in it if that one begins
// no later. The trace processor nests slices that begin in the same
// nanosecond in the order the file gives them, and a region is written
// when it ends, after those nested in it, so they would hold it instead.
// Nested regions begin in the same nanosecond where the trace's clock is
// coarse, and where a filter's window cuts them (see mapping.Filter).
func (gt *goTrack) regionStart(r *mapping.Region) mapping.Time {
	start := r.Start
	if d := r.Depth + 1; d < len(gt.kids) {
		if k := gt.kids[d]; k.parent == r.ID && r.ID != mapping.NoRegion && k.start <= start {
			start = k.start - 1
		}
		gt.kids[d] = nestedStart{}
	}
	if r.Parent != mapping.NoRegion {
		for len(gt.kids) <= r.Depth {
			gt.kids = append(gt.kids, nestedStart{})
		}
		if k := &gt.kids[r.Depth]; k.parent != r.Parent || start < k.start {
			*k = nestedStart{r.Parent, start}
		}
	}
	return start
}

// maxRegionDepth is the deepest region written (see OmittedDeepRegions),
// below the trace processor's 512 levels.
const maxRegionDepth = 500

// Log writes a log as an instant on its goroutine's track.
func (w *Writer) Log(l *mapping.Log) error {
	if w.closed {
		return errClosed
	}
	track := uint64(uuidProcess)
	if l.G != mapping.NoGoroutine {
		track = w.goTrackOf(l.G, l.Time).uuid
	}
	w.instant(track, l.Time, l.Stack, nil, w.taskFlow(l.Task, l.G, l.Time), func(ev msg) msg {
		ev = w.category(ev, catLog)
		name := logName(l.Category, l.Message)
		ev = w.logNameIID(ev, name)
		// The name holds both; the category is an argument only where
		// the name does not tell it (a category with "] " in it, or
		// none before a message that begins like one).
		if cat, msg := splitLogName(name); cat != l.Category || msg != l.Message {
			ev = w.annStr(ev, "category", l.Category)
		}
		if l.Task != mapping.NoTask {
			ev = w.annUint(ev, "task", uint64(l.Task))
		}
		return ev
	})
	return w.err
}

// logName names a log as go tool trace does: "[category] message", or the
// message alone. In the name, the message is seen on the time line and
// found by the UI's search, and the arguments left (the task) are the
// same for every log of a task, which the trace processor then stores
// once: a message in an argument made an argument row per log.
func logName(category, message string) string {
	if category == "" {
		return message
	}
	return "[" + category + "] " + message
}

// maxLogNames bounds the table of recent log names.
const maxLogNames = 4096

// logNameIID interns a log's name. Messages are often unique (an ID, a
// URL), so they are kept apart from the shared table, which would grow
// with the trace, in a small one of their own that is emptied when full:
// a name that recurs is interned again now and then, with a new ID.
func (w *Writer) logNameIID(ev msg, name string) msg {
	iid, ok := w.logNames[name]
	if !ok {
		if len(w.logNames) >= maxLogNames {
			clear(w.logNames)
		}
		w.ownNames++
		iid = 2*w.ownNames - 1
		w.logNames[name] = iid
		w.intern.newNames = append(w.intern.newNames, entry{iid, name})
	}
	return ev.uint(fEvNameIID, iid)
}

// splitLogName reads the category and message back from a log's name.
func splitLogName(name string) (category, message string) {
	if strings.HasPrefix(name, "[") {
		if i := strings.Index(name, "] "); i > 0 {
			return name[1:i], name[i+2:]
		}
	}
	return "", name
}

// GoroutineEvent writes goroutine ends as instants; creations and
// unblocks are drawn as flows when the goroutine runs (see Flow).
func (w *Writer) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if w.closed {
		return errClosed
	}
	if e.Kind != mapping.GoEnded {
		return w.err
	}
	if gt := w.goroutine.Get(e.G); gt != nil && gt.uuid == 0 {
		// Described but never drawn: a goroutine that a filter's kept
		// items only name (the one that began a task or stopped the
		// world). Drawn only to end it, it would be a lane of its whole
		// life with nothing on it.
		w.retire(e.G, gt)
		return w.err
	}
	gt := w.goTrackOf(e.G, e.Time)
	w.flushRun(gt)
	w.endLife(gt, e.Time, false)
	w.lanes.Release(gt.lane.lane, e.Time)
	w.retire(e.G, gt)
	return w.err
}

// retire forgets an ended goroutine but remembers its track for a while
// (see recent): a flow out of it (it unblocked a goroutine that runs only
// after it ended) can still arrive. Beyond that, such a flow starts on
// the P or M that the goroutine ran on instead, so memory stays bounded.
func (w *Writer) retire(id mapping.GoID, gt *goTrack) {
	w.goroutine.Delete(id)
	if w.lastGo == gt {
		w.lastGo = nil
	}
	w.retired.put(id, gt.uuid)
	w.freeGo = append(w.freeGo, gt)
}

// Flow writes the cause as an instant on the track of whatever caused it
// (a goroutine, else the P, else the M) with an outgoing flow that ends on
// the slice where the goroutine starts running.
func (w *Writer) Flow(f *mapping.Flow) error {
	if w.closed {
		return errClosed
	}
	var track uint64
	// The table of ended goroutines answers for the ID in its slot, which
	// may be another's: only an ID it knows counts.
	retired, ended := w.retired.get(f.From.G)
	switch {
	case f.From.G == mapping.NoGoroutine:
	case w.goroutine.Get(f.From.G) != nil:
		track = w.goTrackOf(f.From.G, f.From.Time).uuid
	case ended && retired != 0:
		track = retired
	}
	switch {
	case track != 0:
	case w.proc(f.From.P) != nil:
		track = w.proc(f.From.P).uuid
	case w.thread(f.From.M) != nil:
		track = w.thread(f.From.M).uuid
	default:
		// Old traces unblock from timers and the network poller with no
		// execution context: the process is the cause.
		track = uuidProcess
	}
	w.nextFlow++
	id := w.nextFlow
	gt := w.goTrackOf(f.To.G, f.To.Time)
	w.flowScratch = append(w.flowScratch[:0], id)
	w.instant(track, f.From.Time, f.Stack, w.flowScratch, nil, func(ev msg) msg {
		ev = w.category(ev, catGoroutine)
		switch f.Kind {
		case mapping.GoCreated:
			ev = w.name(ev, "go")
		case mapping.GoUnblocked:
			ev = w.name(ev, "unblock")
		default:
			ev = w.name(ev, "syscall exit")
		}
		// The goroutine it leads to is the flow's end, whose lifetime
		// or track names it: repeating it here would make every cause's
		// arguments unique, a row each in the trace processor.
		return ev
	})
	gt.flowsIn = append(gt.flowsIn, pendingFlow{id: id, at: f.To.Time})
	return w.err
}

// counterTrack returns the track of a counter, declaring it first.
func (w *Writer) counterTrack(c *mapping.Counter) uint64 {
	// The counters the mapping derives are looked up by kind, the runtime
	// metrics by name.
	var slot *uint64
	if c.Kind != mapping.CounterMetric && int(c.Kind) < len(w.derived) {
		if slot = &w.derived[c.Kind]; *slot != 0 {
			return *slot
		}
	} else if uuid, ok := w.counters[c.Name]; ok {
		return uuid
	}
	uuid := w.uuid()
	if slot != nil {
		*slot = uuid
	} else {
		w.counters[c.Name] = uuid
	}
	w.declare(w.meta.Start, uuid, uuidCounters, c.Name, func(b msg) msg {
		b, off := b.open(fTdCounter)
		if c.Unit == "bytes" {
			b = b.uint(fCounterUnit, unitBytes)
		} else {
			b = b.uint(fCounterUnit, unitCount)
		}
		switch c.Kind {
		case mapping.CounterHeapLive, mapping.CounterHeapGoal:
			b = b.str(fCounterShareKey, "heap") // one scale for both
		}
		b = b.close(off)
		return b.int(fTdSiblingOrderRank, int64(c.Kind))
	})
	return uuid
}

// maxExtraCounters is how many extra counter values the trace processor
// takes on one event.
const maxExtraCounters = 8

// Counter writes a counter sample. A goroutine changing state ends a slice
// and moves one or two counters at the same instant: the samples ride on
// the slice's end packet as extra counter values (the trace processor
// takes them on any track event), which saves a packet each: 7% of the
// output on a trace of busy goroutines. Samples with no such packet to
// ride on start a counter packet of their own, which the next samples of
// the same instant join.
func (w *Writer) Counter(c *mapping.Counter) error {
	if w.closed {
		return errClosed
	}
	// Declaring the counter's track, the first time, writes a packet,
	// which ends any packet held open.
	track := w.counterTrack(c)
	w.rows++
	// The trace processor keeps an event's extra values up to the first
	// zero and reads every later one as zero (its sorter stores them so):
	// a zero rides last.
	if w.held && c.Time == w.heldTime && w.heldExtra < maxExtraCounters && !w.heldZero {
		w.pkt = w.pkt.uint(fEvExtraCounterTrackUUIDs, track)
		w.pkt = w.pkt.int(fEvExtraCounterValues, int64(c.Value))
		w.heldExtra++
		w.heldZero = c.Value == 0
		return w.err
	}
	w.startPacket(c.Time)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, evCounter)
	ev = ev.uint(fEvTrackUUID, track)
	w.pkt = ev.int(fEvCounterValue, int64(c.Value))
	w.holdOpen(off, c.Time)
	return w.err
}

// holdOpen leaves the packet being encoded unwritten, its track event
// (begun at off) open, so that counter samples of time t can join it.
// The next packet, or Close, writes it.
func (w *Writer) holdOpen(off int, t mapping.Time) {
	w.held, w.heldOff, w.heldTime, w.heldExtra, w.heldZero = true, off, t, 0, false
}

// flushHeld writes the packet held open, if any.
func (w *Writer) flushHeld() {
	if w.held {
		w.held = false
		w.pkt = w.pkt.close(w.heldOff)
		w.endPacket()
	}
}

// CPUSample writes a CPU profile sample as a perf sample of its thread,
// which the UI sums into a CPU flame graph, and, when a goroutine was
// running, as an instant with the same stack on the goroutine's track.
func (w *Writer) CPUSample(s *mapping.CPUSample) error {
	if w.closed {
		return errClosed
	}
	w.rows++
	tid := int64(noThreadTID)
	if s.M != mapping.NoThread {
		tid = w.tid(s.M)
		w.thread(s.M) // named before the trace processor meets it
	} else if !w.noThread {
		// A sample without one (a trace before Go 1.22 whose P ran
		// nothing) would go to thread 0, the kernel's idle thread, to
		// the trace processor: it gets a thread that says so.
		w.noThread = true
		w.declare(w.meta.Start, w.uuid(), 0, "", func(b msg) msg {
			b, off := b.open(fTdThread)
			b = b.int(fThreadPID, int64(w.cfg.pid))
			b = b.int(fThreadTID, noThreadTID)
			b = b.str(fThreadName, "CPU samples of no recorded thread")
			return b.close(off)
		})
	}
	w.startPacket(s.Time)
	p, off := w.pkt.open(fPktPerfSample)
	p = p.uint(fPsPID, uint64(w.cfg.pid))
	p = p.uint(fPsTID, uint64(tid))
	if s.Stack != mapping.NoStack {
		p = p.uint(fPsCallstackIID, uint64(s.Stack))
	}
	w.pkt = p.close(off)
	w.endPacket()
	if s.G != mapping.NoGoroutine {
		gt := w.goTrackOf(s.G, s.Time)
		w.instant(gt.uuid, s.Time, s.Stack, nil, nil, func(ev msg) msg {
			ev = w.category(ev, catCPU)
			return w.name(ev, "CPU sample")
		})
	}
	return w.err
}

// Experimental events are not drawn; trace2x stats counts them.
func (w *Writer) Experimental(*mapping.Experimental) error {
	if w.closed {
		return errClosed
	}
	return w.err
}

// laneName is the name of a lane's track: its goroutine's, for a lane of
// its own, without the label its slices carry (see goroutineName).
func (w *Writer) laneName(lt *laneTrack, gt *goTrack) string {
	if lt.lane.Shared {
		return fmt.Sprintf("%s #%d", lt.lane.Func, lt.lane.Index)
	}
	return gt.info.Name()
}
