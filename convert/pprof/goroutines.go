package pprof

import (
	"cmp"
	"strings"

	"github.com/trace2x/trace2x/mapping"
)

// goroutines is what the Writer keeps about each live goroutine to place
// its state intervals: only what the next interval needs, dropped when
// the goroutine ends.
type goroutines struct {
	w    *Writer
	live map[mapping.GoID]*gTrack
	// dead holds the IDs that may come back: see gTrack.reuse.
	dead map[mapping.GoID]*gTrack
	free []*gTrack
}

// gTrack is one goroutine's record.
type gTrack struct {
	seen bool            // an interval of this life has been delivered
	last mapping.GoState // the state of the last one

	// ran is set once this life has been running. go tool trace measures
	// each interval against the goroutine's life from its first run (or the
	// whole trace if it never runs), so what comes before the first run is
	// held in pre and counted only if the goroutine never runs.
	ran bool
	pre []contrib

	// held is the part of a wait that a span or window cut at its end
	// (see Writer.within), until it is known whether the wait went on to
	// the trace's end, which counts nothing: held ends at heldEnd.
	held    contrib
	heldEnd mapping.Time
	holding bool

	// The last GoroutineEvent that can begin a runnable interval (a
	// creation, a wake-up, the end of a blocking syscall), whose stack is
	// the one go tool trace gives that interval.
	evTime  mapping.Time
	evStack mapping.StackID
	haveEv  bool

	// own is the goroutine's stack in its last interval, for Wall, and
	// ownEnd the time that interval ended: an interval that begins later
	// follows a gap (a filter left out what came between), where the
	// goroutine may have run other code.
	own    mapping.StackID
	ownEnd mapping.Time

	// reuse marks a goroutine whose life began in a syscall: the runtime
	// gives the goroutines of C threads that call into Go the IDs of earlier
	// ones, and go tool trace, which keys goroutines by ID, measures every
	// life of an ID against the last one (from its first run, or all of
	// them if it never runs). Such a record keeps, by stack, every interval
	// of every life of its ID (all), and what its lives counted in the
	// profile since the last first run (counted), to take it back when a
	// later life runs. It outlives the goroutine if it ends in a syscall,
	// the way such goroutines end. (One running a callback when the trace
	// started lends its ID too, but its life did not begin in a syscall
	// within the trace; telling it apart would take such a record for every
	// goroutine found at the start, so it is not, and where a later life of
	// its ID runs, its own figures stay in the profile.)
	reuse        bool
	all, counted map[mapping.StackID]total
}

// contrib is one interval's delay on a stack.
type contrib struct {
	stack mapping.StackID
	d     int64
}

type total struct{ n, d int64 }

func (gs *goroutines) init(w *Writer) {
	gs.w = w
	gs.live = make(map[mapping.GoID]*gTrack)
	gs.dead = make(map[mapping.GoID]*gTrack)
}

func (gs *goroutines) get(id mapping.GoID) *gTrack {
	if g, ok := gs.live[id]; ok {
		return g
	}
	var g *gTrack
	if n := len(gs.free); n > 0 {
		g = gs.free[n-1]
		gs.free = gs.free[:n-1]
		*g = gTrack{pre: g.pre[:0]}
	} else {
		g = &gTrack{}
	}
	// Within spans or a window every interval counts: as if it had run.
	g.ran = gs.w.within
	gs.live[id] = g
	return g
}

// born starts a goroutine's life; an ID that may be reused takes its
// record back.
func (gs *goroutines) born(id mapping.GoID) {
	if g, ok := gs.live[id]; ok {
		// A life the mapping did not say ended; it has no more intervals.
		gs.release(g)
		gs.settle(id, g)
	}
	if g, ok := gs.dead[id]; ok {
		delete(gs.dead, id)
		g.seen, g.ran, g.haveEv, g.own = false, gs.w.within, false, mapping.NoStack
		gs.live[id] = g
	}
}

// event notes the events that begin runnable intervals, and the end of a
// goroutine.
func (gs *goroutines) event(e *mapping.GoroutineEvent) {
	switch e.Kind {
	case mapping.GoCreated, mapping.GoUnblocked, mapping.GoSyscallExitBlocked:
		if gs.w.kind == Sched {
			g := gs.get(e.G)
			g.evTime, g.evStack, g.haveEv = e.Time, e.Stack, true
		}
	case mapping.GoEnded:
		g, ok := gs.live[e.G]
		if !ok {
			return
		}
		// Its waits ended.
		gs.release(g)
		if g.reuse && g.seen && g.last == mapping.GoSyscall {
			// The way the goroutines of C threads end: the ID may be given
			// to the next such goroutine.
			delete(gs.live, e.G)
			gs.dead[e.G] = g
			return
		}
		gs.settle(e.G, g)
	}
}

// tracked reports whether an interval belongs in the profile, by go tool
// trace's rules for each kind.
func tracked(kind Kind, s *mapping.GoroutineState) bool {
	switch kind {
	case Net:
		return s.State == mapping.GoWaiting && s.Reason == "network"
	case Sync:
		return s.State == mapping.GoWaiting &&
			(strings.Contains(s.Reason, "chan") || strings.Contains(s.Reason, "sync") || strings.Contains(s.Reason, "select"))
	case Syscall:
		return s.State == mapping.GoSyscall
	case Sched:
		return s.State == mapping.GoRunnable
	}
	return false
}

// blocking adds an interval to a profile of one of go tool trace's kinds.
func (gs *goroutines) blocking(s *mapping.GoroutineState) {
	w := gs.w
	g := gs.get(s.G)
	if !g.seen {
		g.seen = true
		if s.State == mapping.GoSyscall && !g.reuse {
			g.reuse = true
			g.all = make(map[mapping.StackID]total)
			g.counted = make(map[mapping.StackID]total)
		}
	}
	g.last = s.State
	// The goroutine went on after the wait held.
	gs.release(g)
	if s.State == mapping.GoRunning {
		if !g.ran {
			g.ran = true
			g.pre = g.pre[:0]
			for stk, t := range g.counted {
				w.add(sampleKey{stack: stk}, -t.n, -t.d)
			}
			clear(g.counted)
		}
		return
	}
	// Empty intervals are never counted: go tool trace counts only a
	// positive overlap with the goroutine's life.
	d := int64(s.End - s.Start)
	if !tracked(w.kind, s) || d <= 0 {
		return
	}
	stk := s.Stack
	if s.State == mapping.GoRunnable && g.haveEv && g.evTime == s.Start {
		// Timestamps in a trace are distinct, so the event at the
		// interval's start is the one that began it.
		stk = g.evStack
	}
	if s.Flags.Has(mapping.OpenEnd) {
		// go tool trace counts an interval when it sees it end, so one
		// open at the trace's end not at all. Within spans or a window,
		// the part of a wait they cut at its end counts its time, and
		// its contention is counted where the wait ends, in the next
		// span or window, so that adjacent windows add up to the whole
		// trace.
		switch {
		case !w.within:
		case w.meta.WindowEnd != 0 && s.End == w.meta.WindowEnd:
			w.add(sampleKey{stack: stk}, 0, d)
		default:
			// Cut by a span, or open at the trace's end: the
			// goroutine's next interval, or its end, or the trace's
			// end tells.
			g.held, g.heldEnd, g.holding = contrib{stk, d}, s.End, true
		}
		return
	}
	if g.reuse {
		t := g.all[stk]
		g.all[stk] = total{t.n + 1, t.d + d}
	}
	switch {
	case g.ran:
		w.add(sampleKey{stack: stk}, 1, d)
		if g.reuse {
			t := g.counted[stk]
			g.counted[stk] = total{t.n + 1, t.d + d}
		}
	case !g.reuse:
		g.pre = append(g.pre, contrib{stk, d})
	}
}

// release counts the wait held, once the goroutine is known to have gone
// on after it.
func (gs *goroutines) release(g *gTrack) {
	if g.holding {
		g.holding = false
		gs.w.add(sampleKey{stack: g.held.stack}, 0, g.held.d)
	}
}

// settle counts what a goroutine's record holds for good, once no more
// intervals can come for its ID: if its last life never ran, go tool trace
// counts every interval it had.
func (gs *goroutines) settle(id mapping.GoID, g *gTrack) {
	w := gs.w
	if !g.ran {
		for _, c := range g.pre {
			w.add(sampleKey{stack: c.stack}, 1, c.d)
		}
		for stk, t := range g.counted {
			w.add(sampleKey{stack: stk}, -t.n, -t.d)
		}
		for stk, t := range g.all {
			w.add(sampleKey{stack: stk}, t.n, t.d)
		}
	}
	delete(gs.live, id)
	if !g.reuse {
		gs.free = append(gs.free, g)
	}
}

// finish settles every record at the end of the pass, which ends at end:
// a wait held that ends there was open at the trace's end.
func (gs *goroutines) finish(end mapping.Time) {
	for id, g := range gs.live {
		if g.holding && g.heldEnd < end {
			gs.release(g)
		}
		gs.settle(id, g)
	}
	for id, g := range gs.dead {
		delete(gs.dead, id)
		gs.settle(id, g)
	}
}

// wall adds an interval to the Wall profile, on the goroutine's own stack.
func (gs *goroutines) wall(s *mapping.GoroutineState) {
	g := gs.get(s.G)
	// Where the goroutine was as the interval began, if the interval
	// before it is the one that ended then.
	before := mapping.NoStack
	if g.ownEnd == s.Start {
		before = g.own
	}
	stk := s.Stack
	switch s.State {
	case mapping.GoRunning:
		// A run begins with no stack; where it ended says what it ran.
		// A run a filter cut at its end has no end stack (the stack after
		// the cut is of code not kept): where it began, then, or no stack.
		if s.EndStack != mapping.NoStack {
			stk = s.EndStack
		} else if before != mapping.NoStack {
			stk = before
		}
	case mapping.GoRunnable:
		// Woken, or back from a blocking syscall: it is still where it
		// waited.
		if stk == mapping.NoStack {
			stk = before
		}
	}
	g.own, g.ownEnd = stk, s.End
	if d := int64(s.End - s.Start); d > 0 {
		k := sampleKey{stack: stk, state: s.State}
		if s.State == mapping.GoWaiting {
			// A wait whose reason the trace does not give (one begun
			// before it) is labelled so, as stats names it, for
			// -tagfocus to reach it.
			k.reason = cmp.Or(s.Reason, "(unknown)")
		}
		gs.w.add(k, 1, d)
	}
}
