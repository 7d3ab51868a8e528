package chromejson

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/trace2x/trace2x/internal/jsonstr"
	"github.com/trace2x/trace2x/mapping"
)

// row is one thread row of the output.
type row struct {
	part int // the part in which the row was last named
	// key is `,"tid":<tid>`, formatted once: a tid is written in most
	// events, and formatting numbers is most of the writer's work.
	key  [28]byte
	keyN uint8
	// For rows of one slice at a time (see place): the rows beside it.
	one    mapping.OneAtATime
	spills []*row
}

// overlapSuffix names the row beside a row of one-at-a-time slices (the
// stop-the-world pauses, an M's Ps) that holds a slice a damaged trace
// gives at the same time as another.
const overlapSuffix = " (overlapping: the trace is damaged)"

// overlapSuffixOldM names those of an M's row in a trace before Go 1.22:
// its format does not say which thread holds a P, and the parser's guess
// can give an M two at once.
const overlapSuffixOldM = " (overlapping: traces before Go 1.22 do not say which thread holds a P)"

// place returns the row on which a slice from start to end of row r, a
// row of one slice at a time, goes: r, or, for a slice that overlaps one
// of r's without nesting, which only a damaged trace gives (two pauses of
// the world at once, an M holding two Ps), a row beside r, named as
// quoted (its JSON-quoted name) says: the viewers would misdraw both on
// one row (see mapping.OneAtATime).
func (w *Writer) place(r *row, pid int, quoted string, sort int64, start, end mapping.Time) *row {
	if k := r.one.Place(start, end); k > 0 {
		return w.spill(r, k, pid, quoted, overlapSuffix, sort)
	}
	return r
}

// spill returns the k-th row beside r, named quoted and suffix.
func (w *Writer) spill(r *row, k int, pid int, quoted, suffix string, sort int64) *row {
	for len(r.spills) < k {
		r.spills = append(r.spills, &row{})
	}
	s := r.spills[k-1]
	if s.part != w.part {
		w.name(s, pid, quoted, suffix, sort)
	}
	return s
}

// setTID sets the row's tid.
func (r *row) setTID(tid uint64) {
	r.keyN = uint8(len(appendKeyUint(r.key[:0], `,"tid":`, tid)))
}

// Rows that exist once.
const (
	rowGCCycles = iota
	rowSTW
	rowTasks
	rowRuntime // causes with no execution context (old traces' timers and network poller)
	numFixedRows
)

var fixedRows = [numFixedRows]struct {
	pid  int
	name string
	sort int64
}{
	rowGCCycles: {pidGC, "GC cycles", 0},
	rowSTW:      {pidGC, "Stop-the-world", 1},
	rowTasks:    {pidTasks, "Tasks", 0},
	rowRuntime:  {pidProcs, "Runtime", -1},
}

// A goroutine's rows.
const (
	laneStates = iota
	laneRegions
	laneAssists
	numLanes
)

var laneSuffix = [numLanes]string{laneRegions: " regions", laneAssists: " mark assist"}

// goState is what the writer keeps about a goroutine.
type goState struct {
	id   mapping.GoID
	name string // JSON-quoted: "G<id> <start function> (<label>)"
	// row is the name of its rows, JSON-quoted: name without the label,
	// which the runtime changes (a GC worker's mode) while a row has one
	// name for its whole length.
	row  string
	info mapping.Goroutine
	lane *laneRows    // nil until drawn, see goRow
	life bool         // drawn, its lifetime not written yet
	last mapping.Time // the end of its latest slice
	flow mapping.Flow // a flow into its next run, see Flow
	// hasFlow says flow is set.
	hasFlow bool
	// retireSeq numbers its retirement while it is retired, else 0.
	retireSeq uint64
	pend      *pendingRun // its running slice held back, if any; see GoroutineState
	// ended and endStack are where a goroutine ended with nothing drawn
	// (see GoroutineEvent), for goRow to draw it there if a later item
	// names it.
	ended    mapping.Time
	endStack mapping.StackID
}

// laneRows are the rows of a lane (see mapping.Lanes), which the
// goroutines of one start function share in turn, or one goroutine has to
// itself.
type laneRows struct {
	lane mapping.Lane
	name string // JSON-quoted, for a shared lane: "<start function> #<n>"
	rows [numLanes]row
}

// procState is what the writer keeps about a P.
type procState struct {
	id          mapping.ProcID
	main, sweep row
}

// retiredEntry is one retirement in the ring of retired goroutines.
type retiredEntry struct {
	g   *goState
	seq uint64
}

// maxRetired bounds how many ended goroutines are remembered.
const maxRetired = 1 << 16

// allocTID returns a tid for a new row, skipping the OS thread IDs seen.
func (w *Writer) allocTID() uint64 {
	for {
		t := w.nextTID
		w.nextTID++
		if _, ok := w.threads[mapping.ThreadID(t)]; !ok {
			return t
		}
	}
}

// name writes a row's thread_name and thread_sort_index events, once
// per part. quoted is the name as a JSON string. Rows get their tids when
// they are made, in the order of the items, so that a row has the same
// tid whether and wherever the output is split.
func (w *Writer) name(r *row, pid int, quoted string, suffix string, sort int64) {
	if r.keyN == 0 {
		r.setTID(w.allocTID())
	}
	r.part = w.part
	w.begin('M', pid)
	b := append(w.buf, r.key[:r.keyN]...)
	b = append(b, `,"name":"thread_name","args":{"name":`...)
	if suffix != "" {
		b = append(b, quoted[:len(quoted)-1]...)
		b = append(b, suffix...)
		b = append(b, '"')
	} else {
		b = append(b, quoted...)
	}
	w.buf = append(b, '}')
	w.end()
	w.begin('M', pid)
	b = append(w.buf, r.key[:r.keyN]...)
	b = appendKeyInt(append(b, `,"name":"thread_sort_index","args":`...), `{"sort_index":`, sort)
	w.buf = append(b, '}')
	w.end()
}

// The row functions return a row, named in the current part.

func (w *Writer) fixedRow(k int) *row {
	r := &w.fixed[k]
	if r.part != w.part {
		f := &fixedRows[k]
		w.name(r, f.pid, string(jsonstr.Append(nil, f.name)), "", f.sort)
	}
	return r
}

// goRow returns a row of the goroutine's lane, putting the goroutine on a
// lane first: goroutines that start during the trace share lanes by start
// function, a lane taken again once its goroutine has ended, so that rows
// follow the peak number of goroutines alive rather than their total; the
// others keep rows of their own (see mapping.Lanes). A lifetime slice,
// "G42 main.f", encloses each goroutine's states on the lane and names it.
func (w *Writer) goRow(g *goState, k int) *row {
	if g.lane == nil {
		lane, fresh := w.lanes.Take(&g.info)
		for lane.ID >= len(w.laneRows) {
			w.laneRows = append(w.laneRows, nil)
		}
		if fresh {
			lr := &laneRows{lane: lane}
			for k := range lr.rows {
				lr.rows[k].setTID(w.allocTID())
			}
			if lane.Shared {
				lr.name = string(jsonstr.Append(nil, lane.Func+" #"+strconv.Itoa(lane.Index)))
			}
			w.laneRows[lane.ID] = lr
		}
		g.lane, g.life = w.laneRows[lane.ID], true
		if g.retireSeq != 0 {
			// It ended with nothing drawn, and an item comes after (a
			// range that the trace's end closed): it is drawn, and ended
			// where it ended, as if it had been drawn then.
			w.endGoroutine(g, g.ended, g.endStack)
		}
	}
	r := &g.lane.rows[k]
	if r.part != w.part {
		w.nameLane(g, k)
	}
	return r
}

// nameLane names a row of a goroutine's lane: after the goroutine on a lane
// of its own, in goroutine order; after the start function on a shared
// one, after all those, in the order lanes were first taken.
func (w *Writer) nameLane(g *goState, k int) {
	w.nameLaneRow(g.lane, g.row, g.id, k)
}

// nameLaneRow names row k of lane lr, whose goroutine, on a lane of its
// own, is id, named name.
func (w *Writer) nameLaneRow(lr *laneRows, name string, id mapping.GoID, k int) {
	if lr.lane.Shared {
		w.name(&lr.rows[k], pidGoroutines, lr.name, laneSuffix[k], 1<<50+4*int64(lr.lane.ID)+int64(k))
		return
	}
	w.name(&lr.rows[k], pidGoroutines, name, laneSuffix[k], 4*int64(id)+int64(k))
}

// endLife writes the goroutine's lifetime slice, ending at end (marked
// open at the end if the goroutine is still alive there), and frees its
// lane.
func (w *Writer) endLife(g *goState, end mapping.Time, open bool) {
	if !g.life {
		return
	}
	g.life = false
	// No earlier than the trace, or the filter's window; drawn from a
	// nanosecond before its first state, which catapult would otherwise
	// put beside it: it nests slices that begin together in the order of
	// the file, and the lifetime comes after its states. (Perfetto puts
	// the longer first; timestamp 0 lies a microsecond before the trace.)
	start := max(g.info.Created, w.meta.Start)
	w.complete(pidGoroutines, w.goRow(g, laneStates), start-1, max(end, start), catLifetime)
	w.nameRaw(g.name)
	w.argsOpen()
	w.argInt(`"goroutine":`, int64(g.id))
	fl := g.info.Flags & mapping.OpenStart
	if open {
		fl |= mapping.OpenEnd
	}
	w.flags(fl)
	w.argsClose()
	w.end()
	// The lane stays the goroutine's for a flow out of it that comes late.
	w.lanes.Release(g.lane.lane, end)
}

func (w *Writer) procRow(p *procState, sweep bool) *row {
	r, suffix, sort := &p.main, "", 2*int64(p.id)
	if sweep {
		r, suffix, sort = &p.sweep, " sweep", sort+1
	}
	if r.part != w.part {
		w.name(r, pidProcs, `"P`+strconv.FormatInt(int64(p.id), 10)+`"`, suffix, sort)
	}
	return r
}

// threadState is what the writer keeps about an M: its row, whose tid is
// the OS thread ID, and the row of its syscalls that lost their P, which
// can outlast the P held around their start and so cannot nest in it.
type threadState struct {
	main, sys row
	tid       uint64 // main's
}

// threadRow returns the row of M id, named in the current part.
func (w *Writer) threadRow(id mapping.ThreadID, m *threadState) *row {
	r := &m.main
	if r.part != w.part {
		w.name(r, pidThreads, `"M`+strconv.FormatInt(int64(id), 10)+`"`, "", 2*int64(id))
	}
	return r
}

// syscallRow returns the row of the syscalls of M id, after M id's row.
func (w *Writer) syscallRow(id mapping.ThreadID, m *threadState) *row {
	r := &m.sys
	if r.part != w.part {
		w.name(r, pidThreads, `"M`+strconv.FormatInt(int64(id), 10)+`"`, " syscalls", 2*int64(id)+1)
	}
	return r
}

// proc returns the state of P id, or nil if it was never delivered.
func (w *Writer) proc(id mapping.ProcID) *procState {
	if p := w.lastP; p != nil && p.id == id {
		return p
	}
	p := w.procs[id]
	if p != nil {
		w.lastP = p
	}
	return p
}

// thread returns the state of M id, or nil if it was never delivered.
func (w *Writer) thread(id mapping.ThreadID) *threadState {
	if w.lastM != nil && w.lastMID == id {
		return w.lastM
	}
	m := w.threads[id]
	if m != nil {
		w.lastM, w.lastMID = m, id
	}
	return m
}

// event starts an event on a row at time t.
func (w *Writer) event(ph byte, pid int, r *row, t mapping.Time) {
	w.notePartTime(t)
	w.begin(ph, pid)
	b := append(w.buf, r.key[:r.keyN]...)
	b = append(b, `,"ts":`...)
	w.buf = appendMicros(b, int64(t-w.base))
}

// complete starts an "X" event.
func (w *Writer) complete(pid int, r *row, start, end mapping.Time, cat string) {
	w.event('X', pid, r, start)
	b := append(w.buf, `,"dur":`...)
	b = appendMicros(b, int64(max(end-start, 0)))
	w.buf = append(b, cat...)
}

// instant starts a thread-scoped "i" event.
func (w *Writer) instant(pid int, r *row, t mapping.Time, cat string) {
	w.event('i', pid, r, t)
	w.buf = append(append(w.buf, `,"s":"t"`...), cat...)
}

// Categories, with their keys.
const (
	catGoroutine = `,"cat":"goroutine"`
	catProc      = `,"cat":"proc"`
	catThread    = `,"cat":"thread"`
	catGC        = `,"cat":"gc"`
	catRegion    = `,"cat":"region"`
	catTask      = `,"cat":"task"`
	catLog       = `,"cat":"log"`
	catFlow      = `,"cat":"flow"`
	catCPU       = `,"cat":"cpu"`
	catLifetime  = `,"cat":"lifetime"`
)

func (w *Writer) nameStr(s string) { w.buf = jsonstr.Append(append(w.buf, `,"name":`...), s) }

// nameRaw names the event with an already quoted string.
func (w *Writer) nameRaw(quoted string) {
	w.buf = append(append(w.buf, `,"name":`...), quoted...)
}

// stack refers to a stack under key ("sf" or "esf").
func (w *Writer) stack(key string, id mapping.StackID) uint32 {
	if id == mapping.NoStack {
		return 0
	}
	n, added := w.stacks.use(id)
	if n == 0 {
		return 0
	}
	w.frameLen += added
	w.buf = appendKeyUint(w.buf, key, uint64(n))
	return n
}

// Arguments: argsOpen, then any of arg*, then argsClose, which drops the
// object if it stayed empty.
func (w *Writer) argsOpen() {
	w.buf = append(w.buf, `,"args":{`...)
}

func (w *Writer) argKey(key string) {
	if w.buf[len(w.buf)-1] != '{' {
		w.buf = append(w.buf, ',')
	}
	w.buf = append(w.buf, key...)
}

// Argument keys are constants, quoted with their colon.
func (w *Writer) argInt(key string, v int64) {
	w.argKey(key)
	w.buf = appendInt(w.buf, v)
}

func (w *Writer) argUint(key string, v uint64) {
	w.argKey(key)
	w.buf = appendUint(w.buf, v)
}

func (w *Writer) argStr(key, v string) {
	w.argKey(key)
	w.buf = jsonstr.Append(w.buf, v)
}

func (w *Writer) argBool(key string, v bool) {
	w.argKey(key)
	w.buf = strconv.AppendBool(w.buf, v)
}

func (w *Writer) argsClose() {
	if n := len(w.buf); w.buf[n-1] == '{' {
		w.buf = w.buf[:n-len(`,"args":{`)]
		return
	}
	w.buf = append(w.buf, '}')
}

func (w *Writer) flags(f mapping.Flags) {
	if f.Has(mapping.OpenStart) {
		if w.meta.Filtered {
			w.argBool(`"began before the trace or the filter's window":`, true)
		} else {
			w.argBool(`"began before the trace":`, true)
		}
	}
	if f.Has(mapping.OpenEnd) {
		if w.meta.Filtered {
			w.argBool(`"open at the end of the trace or the filter's window":`, true)
		} else {
			w.argBool(`"open at the end of the trace":`, true)
		}
	}
}

// Stack interns a stack; it is written in the stackFrames table of the
// parts that refer to it.
func (w *Writer) Stack(s *mapping.Stack) error {
	if w.closed {
		return errClosed
	}
	w.stacks.add(s)
	return w.err
}

// Goroutine records a goroutine, or what more is known about it. A
// goroutine whose ID is reused by a later one shares its rows with it.
func (w *Writer) Goroutine(g *mapping.Goroutine) error {
	if w.closed {
		return errClosed
	}
	st := w.goroutines[g.ID]
	if st == nil {
		if st = w.retired[g.ID]; st != nil {
			w.flushRun(st) // a run of its last life that came after its end
			delete(w.retired, g.ID)
			st.retireSeq = 0
			st.lane = nil // a new life, drawn anew
		} else {
			st = w.newGoState(g.ID)
		}
		w.goroutines[g.ID] = st
	}
	st.info = *g
	b := append(w.scratch[:0], `"G`...)
	b = appendInt(b, int64(g.ID))
	if g.StartFunc != "" {
		b = jsonstr.AppendEscaped(append(b, ' '), g.StartFunc)
	}
	row := len(b)
	if g.Label != "" {
		b = append(jsonstr.AppendEscaped(append(b, " ("...), g.Label), ')')
	}
	b = append(b, '"')
	w.scratch = b
	if string(b) == st.name {
		return w.err
	}
	st.name = string(b)
	if string(b[:row]) == st.row[:max(len(st.row)-1, 0)] {
		return w.err // a new label: its slices say it
	}
	st.row = string(b[:row]) + `"`
	// Rows of its own already named in this part take the new name now;
	// catapult shows the last name given.
	if lr := st.lane; lr != nil && !lr.lane.Shared {
		for k := range lr.rows {
			if r := &lr.rows[k]; r.keyN != 0 && r.part == w.part {
				w.nameLane(st, k)
			}
		}
	}
	return w.err
}

// known returns the state of goroutine id, live or ended not long ago,
// or nil.
func (w *Writer) known(id mapping.GoID) *goState {
	if id == mapping.NoGoroutine {
		return nil
	}
	if g := w.lastG; g != nil && g.id == id {
		return g
	}
	if g := w.goroutines[id]; g != nil {
		return g
	}
	return w.retired[id]
}

// goroutine returns the state of goroutine id: live, or ended not long
// ago. One never delivered, which the mapping does not do, gets a state
// of its own.
func (w *Writer) goroutine(id mapping.GoID) *goState {
	if g := w.lastG; g != nil && g.id == id {
		return g
	}
	g := w.goroutines[id]
	if g == nil {
		if g = w.retired[id]; g != nil {
			return g
		}
		g = w.newGoState(id)
		g.name = string(strconv.AppendInt([]byte(`"G`), int64(id), 10)) + `"`
		g.row = g.name
		g.info = mapping.Goroutine{ID: id, Creator: mapping.NoGoroutine, Created: w.meta.Start, Flags: mapping.OpenStart}
		w.goroutines[id] = g
	}
	w.lastG = g
	return g
}

// newGoState returns a fresh state, reusing one that was forgotten:
// programs that start many short goroutines would otherwise allocate for
// each.
func (w *Writer) newGoState(id mapping.GoID) *goState {
	if n := len(w.freeG); n > 0 {
		g := w.freeG[n-1]
		w.freeG = w.freeG[:n-1]
		*g = goState{id: id}
		return g
	}
	return &goState{id: id}
}

// retire forgets an ended goroutine, but keeps its state for a while: a
// flow out of it (it unblocked a goroutine that runs only after it ended)
// or a range closed at the end of the trace can still name it, and the
// runtime can give its ID to a new goroutine, which then shares its rows.
// Beyond maxRetired, a flow starts on the P or M it ran on instead, so
// memory stays bounded.
func (w *Writer) retire(g *goState) {
	delete(w.goroutines, g.id)
	if w.lastG == g {
		w.lastG = nil
	}
	g.hasFlow = false
	w.retireSeq++
	g.retireSeq = w.retireSeq
	w.retired[g.id] = g
	e := retiredEntry{g, w.retireSeq}
	if len(w.retiredQ) < maxRetired {
		w.retiredQ = append(w.retiredQ, e)
		return
	}
	old := w.retiredQ[w.retiredAt]
	w.retiredQ[w.retiredAt] = e
	w.retiredAt = (w.retiredAt + 1) % maxRetired
	// The entry is stale if the goroutine's ID came back to life since.
	if old.g.retireSeq == old.seq && w.retired[old.g.id] == old.g {
		delete(w.retired, old.g.id)
		old.g.retireSeq = 0
		w.flushRun(old.g) // a run of it that came after its end
		w.freeG = append(w.freeG, old.g)
	}
}

// Proc records a P; its rows are named when first used.
func (w *Writer) Proc(p *mapping.Proc) error {
	if w.closed {
		return errClosed
	}
	if _, ok := w.procs[p.ID]; !ok {
		ps := &procState{id: p.ID}
		ps.main.setTID(w.allocTID())
		ps.sweep.setTID(w.allocTID())
		w.procs[p.ID] = ps
	}
	return w.err
}

// Thread records an M, whose row has the OS thread ID as its tid (in
// traces before Go 1.22, the M's number plus one).
func (w *Writer) Thread(m *mapping.Thread) error {
	if w.closed {
		return errClosed
	}
	if _, ok := w.threads[m.ID]; !ok {
		tid := uint64(m.ID)
		switch {
		case w.oldThreadIDs:
			// Traces before Go 1.22 number their Ms from 0 rather than
			// give OS thread IDs, and Perfetto's importer reads tid 0 as
			// the process's own: they are moved up by one, as in the
			// Perfetto output.
			tid++
		case tid == 0:
			// No OS thread has ID 0; a trace written by hand may.
			tid = w.allocTID()
		case tid >= firstTID:
			// Not an OS thread's of any system Go traces (a damaged
			// trace's): the importers take a tid as 32 bits, or as a
			// JavaScript number, and would give it another thread's.
			tid = w.allocTID()
		}
		t := &threadState{tid: tid}
		t.main.setTID(tid)
		t.sys.setTID(w.allocTID())
		w.threads[m.ID] = t
	}
	return w.err
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

// GoroutineState writes a state slice on the goroutine's row, the flow
// that ends where it starts running, if any, a running interval also on
// its P's row, and a syscall that lost its P on its M's syscall row.
//
// As in the Perfetto output, a syscall that keeps its P (the usual short
// read or write) does not cut the goroutine's run in three: the runs
// before and after it are one running slice, on the goroutine's row and
// on the P's, with the syscall nested in it on the goroutine's row. So a
// running slice is held until the goroutine's next state tells whether a
// syscall follows, and the syscall until the run after it, or until the
// goroutine ends or the output does. A split output holds a run only a
// little trace time past its last part, so that a part
// shows nothing from much before the rest of it.
func (w *Writer) GoroutineState(s *mapping.GoroutineState) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.limit > 0 {
		w.now = max(w.now, s.End)
		w.expire()
	}
	g := w.goroutine(s.G)
	g.last = max(g.last, s.End)
	var flow *pendingFlow
	if s.State == mapping.GoRunning && g.hasFlow {
		if g.flow.To.Time == s.Start {
			flow = w.takeFlow(g, s)
		} else if g.flow.To.Time < s.Start {
			g.hasFlow = false // its run was never delivered; cannot happen
		}
	}
	if p := g.pend; p != nil {
		r := &p.run
		switch {
		case !p.inSys && s.State == mapping.GoSyscall && !s.Blocked && s.Start == r.End && s.P == r.P && s.M == r.M:
			p.sys = append(p.sys, *s)
			p.inSys = true
			w.stamp(g, s.End)
			return w.err
		case p.inSys && s.State == mapping.GoRunning && s.Start == p.sys[len(p.sys)-1].End && s.P == r.P && s.M == r.M:
			r.End, r.EndStack, r.Reason = s.End, s.EndStack, s.Reason
			r.Flags = r.Flags&mapping.OpenStart | s.Flags&mapping.OpenEnd
			p.inSys = false
			if flow != nil {
				p.flows = append(p.flows, *flow)
			}
			if w.limit > 0 && len(p.sys) >= maxNested {
				w.flushRun(g)
				// The run goes on in a slice of its own from here, so
				// that the syscalls after it still nest in a run and its
				// P does not look idle in them; if none follows, nothing
				// of it is written.
				c := w.newPend()
				g.pend, c.run, c.cont = c, *s, true
				c.run.Start, c.run.Stack, c.run.Flags = s.End, mapping.NoStack, 0
				w.stamp(g, s.End)
			} else {
				w.stamp(g, s.End)
			}
			return w.err
		}
		w.flushRun(g)
	}
	if s.State == mapping.GoRunning {
		p := w.newPend()
		g.pend, p.run = p, *s
		if flow != nil {
			p.flows = append(p.flows, *flow)
		}
		w.stamp(g, s.End)
		// Its row gets its place now, in the order of the items, as
		// it would unheld: whether and where the output is split does
		// not change which row is which.
		w.goRow(g, laneStates)
	} else {
		w.checkSplit()
		w.writeState(g, s, 0)
	}
	return w.err
}

// splitHold is how long, in trace time, a split output holds a run past
// the end of its last part: the scheduler's time slice, longer than most
// runs and the syscalls that keep their P.
const splitHold = 10_000_000 // ns

// A split output queues the held runs by when their last part ended; an
// entry whose stamp is no longer its goroutine's is stale.
type heldStamp struct {
	g     *goState
	stamp uint64
}

// stamp queues g's held run, whose last part ended at t, in a split output.
func (w *Writer) stamp(g *goState, t mapping.Time) {
	if w.limit == 0 {
		return
	}
	w.stamps++
	g.pend.stamp, g.pend.until = w.stamps, t
	w.queue = append(w.queue, heldStamp{g, w.stamps})
}

// expire writes the runs held splitHold past their last part. The queue is
// in the order of the items, which end in about time order.
func (w *Writer) expire() {
	i := w.queueAt
	for ; i < len(w.queue); i++ {
		e := w.queue[i]
		if e.g.pend == nil || e.g.pend.stamp != e.stamp {
			continue
		}
		if e.g.pend.until+splitHold > w.now {
			break
		}
		w.flushRun(e.g)
	}
	w.queueAt = i
	if i == len(w.queue) {
		w.queue, w.queueAt = w.queue[:0], 0
	} else if i > 1024 && 2*i > len(w.queue) {
		w.queue, w.queueAt = w.queue[:copy(w.queue, w.queue[i:])], 0
	}
}

// maxNested bounds the syscalls nested in one running slice of a split
// output, and so the bytes of a held run: a goroutine can make thousands
// in a row without losing its P, and a part must not grow by all of them
// at once.
const maxNested = 16

// pendingRun is a running slice held back, see GoroutineState.
type pendingRun struct {
	run   mapping.GoroutineState   // the runs so far, as one
	sys   []mapping.GoroutineState // the syscalls between them
	inSys bool                     // the last of sys has no run after it yet
	flows []pendingFlow            // the flows into its runs
	// stamp is its entry in the queue of a split output, 0 for none;
	// until is when its last part ended.
	stamp uint64
	until mapping.Time
	// heldTo is when a syscall after the run that blocked lost its P:
	// the run stays on the P's row until then.
	heldTo mapping.Time
	// cont marks the rest of a run cut at maxNested syscalls, which is
	// written only if a syscall nests in it (or its P is held past it).
	cont bool
}

// pendingFlow is a flow into a held run, with the row it starts on when
// that is a goroutine's, taken when the run came: by the time the run is
// written, the goroutine's ID can have come back to life on another row.
type pendingFlow struct {
	flow  mapping.Flow
	start mapping.Time // of the run it ends on
	end   mapping.Time
	lane  *laneRows // the lane of the goroutine it starts on, or nil
	name  string    // that goroutine's name and ID, to name its row
	id    mapping.GoID
}

// takeFlow takes g's pending flow into its run s.
func (w *Writer) takeFlow(g *goState, s *mapping.GoroutineState) *pendingFlow {
	g.hasFlow = false
	w.flowBuf = pendingFlow{flow: g.flow, start: s.Start, end: s.End}
	// A goroutine that ended without being drawn has no lane to start
	// from, and is given none: its lifetime is over.
	if sg := w.known(g.flow.From.G); sg != nil && (sg.lane != nil || sg.retireSeq == 0) {
		w.goRow(sg, laneStates) // puts it on a lane if it has none
		w.flowBuf.lane, w.flowBuf.name, w.flowBuf.id = sg.lane, sg.row, sg.id
	}
	return &w.flowBuf
}

// flushAll writes every held run, at the end, in the order the runs
// began, so that the output does not depend on the order of a map.
func (w *Writer) flushAll() {
	gs := w.holdScratch[:0]
	for _, g := range w.goroutines {
		if g.pend != nil {
			gs = append(gs, g)
		}
	}
	for _, g := range w.retired {
		if g.pend != nil {
			gs = append(gs, g)
		}
	}
	slices.SortFunc(gs, func(a, b *goState) int {
		return cmp.Or(cmp.Compare(a.pend.run.Start, b.pend.run.Start), cmp.Compare(a.id, b.id), cmp.Compare(a.retireSeq, b.retireSeq))
	})
	for _, g := range gs {
		w.flushRun(g)
	}
	w.holdScratch = gs[:0]
}

// flushRun writes the running slice held for g, with the syscalls nested
// in it; a last syscall with no run after it (the trace, the hold or the
// goroutine's life ended in it) follows as a state of its own.
func (w *Writer) flushRun(g *goState) {
	p := g.pend
	if p == nil {
		return
	}
	g.pend = nil
	if p.cont && len(p.sys) == 0 && p.heldTo <= p.run.End {
		*p = pendingRun{sys: p.sys[:0], flows: p.flows[:0]}
		w.freePend = append(w.freePend, p)
		return
	}
	w.checkSplit()
	w.writeState(g, &p.run, p.heldTo)
	for i := range p.flows {
		w.writeFlow(g, &p.flows[i])
	}
	for i := range p.sys {
		w.checkSplit()
		w.writeState(g, &p.sys[i], 0)
	}
	*p = pendingRun{sys: p.sys[:0], flows: p.flows[:0]}
	w.freePend = append(w.freePend, p)
}

// newPend returns a pendingRun to hold a run in, reusing one written.
func (w *Writer) newPend() *pendingRun {
	if n := len(w.freePend); n > 0 {
		p := w.freePend[n-1]
		w.freePend = w.freePend[:n-1]
		return p
	}
	return new(pendingRun)
}

// writeState writes one state slice of g, see GoroutineState; a run on
// its P's row until heldTo, if that is later than its end.
func (w *Writer) writeState(g *goState, s *mapping.GoroutineState, heldTo mapping.Time) {
	if w.err != nil {
		return
	}
	w.complete(pidGoroutines, w.goRow(g, laneStates), s.Start, s.End, catGoroutine)
	w.nameStr(stateName(s))
	w.stack(`,"sf":`, s.Stack)
	w.stack(`,"esf":`, s.EndStack)
	w.argsOpen()
	w.argInt(`"goroutine":`, int64(s.G))
	if s.P != mapping.NoProc {
		w.argInt(`"P":`, int64(s.P))
	}
	if s.M != mapping.NoThread {
		w.argInt(`"M":`, int64(s.M))
	}
	if s.State == mapping.GoSyscall {
		w.argBool(`"blocked":`, s.Blocked)
	}
	if s.Reason != "" && s.State != mapping.GoWaiting {
		w.argStr(`"reason":`, s.Reason)
	}
	w.flags(s.Flags)
	w.argsClose()
	w.end()

	if s.State == mapping.GoSyscall && s.Blocked {
		if m := w.thread(s.M); m != nil {
			w.complete(pidThreads, w.syscallRow(s.M, m), s.Start, s.End, catThread)
			w.nameStr(stateName(s))
			w.stack(`,"sf":`, s.Stack)
			w.stack(`,"esf":`, s.EndStack)
			w.argsOpen()
			w.argInt(`"G":`, int64(s.G))
			if s.P != mapping.NoProc {
				w.argInt(`"P":`, int64(s.P))
			}
			w.argsClose()
			w.end()
		}
		return
	}
	// Only running goroutines occupy a P: a syscall can outlive its hold
	// on the P, which would break the nesting of the P's row. The
	// goroutine is in the name of the slice on the P's row.
	if p := w.proc(s.P); p != nil && s.State == mapping.GoRunning {
		w.complete(pidProcs, w.procRow(p, false), s.Start, max(s.End, heldTo), catProc)
		w.nameRaw(g.name)
		w.stack(`,"sf":`, s.Stack)
		w.stack(`,"esf":`, s.EndStack)
		if s.M != mapping.NoThread || s.Flags&(mapping.OpenStart|mapping.OpenEnd) != 0 {
			// A run cut by the trace's ends or a filter says so here too,
			// or it would pass for a short run of its own.
			w.argsOpen()
			if s.M != mapping.NoThread {
				w.argInt(`"M":`, int64(s.M))
			}
			w.flags(s.Flags)
			w.argsClose()
		}
		w.end()
	}
}

// ProcRun writes, on its M's row, the P it held: "P3". The goroutines the
// P ran are on the P's row.
func (w *Writer) ProcRun(r *mapping.ProcRun) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.takenFrom(r)
	if !w.held.Holds(r) {
		return w.err
	}
	m := w.thread(r.M)
	if m == nil {
		// Traces before Go 1.22 can name an M first here.
		w.Thread(&mapping.Thread{ID: r.M})
		m = w.thread(r.M)
	}
	w.checkSplit()
	rw := w.threadRow(r.M, m)
	if k := rw.one.Place(r.Start, r.End); k > 0 {
		suffix := overlapSuffix
		if w.oldThreadIDs {
			suffix = overlapSuffixOldM
		}
		rw = w.spill(rw, k, pidThreads, `"M`+strconv.FormatInt(int64(r.M), 10)+`"`, suffix, 2*int64(r.M))
	}
	w.complete(pidThreads, rw, r.Start, r.End, catThread)
	w.nameRaw(`"P` + strconv.FormatInt(int64(r.P), 10) + `"`)
	w.argsOpen()
	w.flags(r.Flags)
	w.argsClose()
	w.end()
	return w.err
}

// takenFrom notes, for a P taken from a goroutine in a syscall, when it
// was taken: the goroutine's run before the syscall, held until its next
// state, stays on the P's row until then, as go tool trace draws it. Only
// within splitHold of the run's end, when a split output still holds the
// run, so that parts and the whole draw the same (sysmon takes a P from a
// syscall within 20us to 10ms).
func (w *Writer) takenFrom(r *mapping.ProcRun) {
	if r.TakenFrom == mapping.NoGoroutine {
		return
	}
	g := w.goroutines[r.TakenFrom]
	if g == nil {
		return
	}
	if p := g.pend; p != nil && !p.inSys && p.run.P == r.P && p.run.M == r.M && p.run.End <= r.End && r.End-p.run.End <= splitHold {
		p.heldTo = r.End
	}
}

// Flow keeps a flow until the slice where its goroutine runs is written,
// which the flow's arrow ends on.
func (w *Writer) Flow(f *mapping.Flow) error {
	if w.closed {
		return errClosed
	}
	g := w.goroutine(f.To.G)
	g.flow, g.hasFlow = *f, true
	return w.err
}

var flowNames = [...]string{
	mapping.GoCreated:            `"go"`,
	mapping.GoUnblocked:          `"unblock"`,
	mapping.GoSyscallExitBlocked: `"syscall exit"`,
}

// writeFlow writes g's pending flow, which ends where its run s starts:
// an instant on whatever caused it (the goroutine, else the P, else the
// M) with the flow's start, and the flow's finish on g's row, a
// nanosecond into s when s is that long (see the package doc).
func (w *Writer) writeFlow(g *goState, pf *pendingFlow) {
	f := &pf.flow
	pid, from := pidProcs, &f.From
	var src *row
	if lr := pf.lane; lr != nil {
		pid, src = pidGoroutines, &lr.rows[laneStates]
		if src.part != w.part {
			w.nameLaneRow(lr, pf.name, pf.id, laneStates)
		}
	} else if p := w.proc(from.P); p != nil {
		src = w.procRow(p, false)
	} else if m := w.thread(from.M); m != nil {
		pid, src = pidThreads, w.threadRow(from.M, m)
	} else {
		src = w.fixedRow(rowRuntime)
	}
	name := `"flow"`
	if int(f.Kind) < len(flowNames) && flowNames[f.Kind] != "" {
		name = flowNames[f.Kind]
	}
	w.instant(pid, src, f.From.Time, catGoroutine)
	w.nameRaw(name)
	w.stack(`,"sf":`, f.Stack)
	w.argsOpen()
	w.argInt(`"G":`, int64(f.To.G))
	w.argsClose()
	w.end()

	w.event('s', pid, src, f.From.Time)
	w.buf = append(w.buf, catFlow...)
	w.nameRaw(name)
	w.buf = appendKeyUint(w.buf, `,"id":`, f.ID)
	w.end()

	w.event('f', pidGoroutines, w.goRow(g, laneStates), pf.start+min(1, pf.end-pf.start))
	w.buf = append(w.buf, `,"bp":"e"`...)
	w.buf = append(w.buf, catFlow...)
	w.nameRaw(name)
	w.buf = appendKeyUint(w.buf, `,"id":`, f.ID)
	w.end()
}

// Range writes GC cycles and stop-the-world pauses on the GC rows,
// sweeps on their P's sweep row, mark assists on their goroutine's.
func (w *Writer) Range(r *mapping.Range) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.checkSplit()
	pid := pidGC
	var rw *row
	switch r.Kind {
	case mapping.RangeGCMark, mapping.RangeSTW:
		k := rowGCCycles
		if r.Kind == mapping.RangeSTW {
			k = rowSTW
		}
		f := &fixedRows[k]
		rw = w.place(w.fixedRow(k), f.pid, string(jsonstr.Append(nil, f.name)), f.sort, r.Start, r.End)
	case mapping.RangeSweep:
		if p := w.proc(r.P); p != nil {
			pid, rw = pidProcs, w.procRow(p, true)
		}
	case mapping.RangeMarkAssist:
		if r.G != mapping.NoGoroutine {
			pid, rw = pidGoroutines, w.goRow(w.goroutine(r.G), laneAssists)
		}
	}
	if rw == nil {
		rw = w.otherRange(r)
	}
	w.complete(pid, rw, r.Start, r.End, catGC)
	switch r.Kind {
	case mapping.RangeGCMark:
		b := append(w.buf, `,"name":"GC`...)
		if r.Cycle > 0 {
			b = strconv.AppendInt(append(b, ' '), int64(r.Cycle), 10)
		}
		w.buf = append(b, '"')
	case mapping.RangeSTW:
		b := append(w.buf, `,"name":"STW (`...)
		b = jsonstr.AppendEscaped(b, r.Reason)
		w.buf = append(b, ')', '"')
	case mapping.RangeSweep:
		w.nameStr("sweep")
	case mapping.RangeMarkAssist:
		w.nameStr("mark assist")
	default:
		w.nameStr(r.Name)
	}
	w.stack(`,"sf":`, r.Stack)
	w.stack(`,"esf":`, r.EndStack)
	w.argsOpen()
	if r.Kind == mapping.RangeGCMark {
		w.argInt(`"cycle":`, int64(r.Cycle))
	}
	if r.Reason != "" {
		w.argStr(`"reason":`, r.Reason)
	}
	if r.Scope == mapping.ScopeGoroutine {
		w.argInt(`"G":`, int64(r.G))
	}
	for _, a := range r.Attrs {
		if w.buf[len(w.buf)-1] != '{' {
			w.buf = append(w.buf, ',')
		}
		w.buf = jsonstr.Append(w.buf, a.Name)
		w.buf = strconv.AppendUint(append(w.buf, ':'), a.Value, 10)
	}
	w.flags(r.Flags)
	w.argsClose()
	w.end()
	return w.err
}

// otherRange returns a row for a range of a kind this version does not
// know: one per name and resource, in the GC process.
func (w *Writer) otherRange(r *mapping.Range) *row {
	name := r.Name
	switch r.Scope {
	case mapping.ScopeGoroutine:
		name += " G" + strconv.FormatInt(int64(r.G), 10)
	case mapping.ScopeProc:
		name += " P" + strconv.FormatInt(int64(r.P), 10)
	case mapping.ScopeThread:
		name += " M" + strconv.FormatInt(int64(r.M), 10)
	}
	rw := w.others[name]
	if rw == nil {
		rw = &row{}
		rw.setTID(w.allocTID())
		w.others[name] = rw
	}
	if rw.part != w.part {
		w.name(rw, pidGC, string(jsonstr.Append(nil, name)), "", 2)
	}
	return rw
}

// Task writes a task as an async slice on the Tasks row. Catapult stacks
// overlapping tasks in sub-rows and groups them by name; Perfetto gives
// each its own track.
func (w *Writer) Task(t *mapping.Task) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.checkSplit()
	tr := w.fixedRow(rowTasks)
	var name []byte
	if t.Type != "" {
		name = jsonstr.Append(w.scratch[:0], t.Type)
	} else {
		name = strconv.AppendUint(append(w.scratch[:0], `"task `...), uint64(t.ID), 10)
		name = append(name, '"')
	}
	w.scratch = name
	w.event('b', pidTasks, tr, t.Start)
	w.buf = append(w.buf, catTask...)
	w.buf = append(append(w.buf, `,"name":`...), name...)
	w.buf = appendKeyUint(w.buf, `,"id":`, uint64(t.ID))
	w.stack(`,"sf":`, t.Stack)
	w.argsOpen()
	w.argUint(`"task":`, uint64(t.ID))
	if t.Parent != mapping.NoTask {
		w.argUint(`"parent":`, uint64(t.Parent))
	}
	if t.StartG != mapping.NoGoroutine {
		w.argInt(`"begun by G":`, int64(t.StartG))
	}
	if t.EndG != mapping.NoGoroutine {
		w.argInt(`"ended by G":`, int64(t.EndG))
	}
	w.flags(t.Flags)
	w.argsClose()
	w.end()
	w.event('e', pidTasks, tr, t.End)
	w.buf = append(w.buf, catTask...)
	w.buf = append(append(w.buf, `,"name":`...), name...)
	w.buf = appendKeyUint(w.buf, `,"id":`, uint64(t.ID))
	w.stack(`,"sf":`, t.EndStack)
	w.end()
	return w.err
}

// Region writes a region on its goroutine's regions row, where regions
// nest among themselves whatever the goroutine's states do.
func (w *Writer) Region(r *mapping.Region) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.checkSplit()
	g := w.goroutine(r.G)
	w.complete(pidGoroutines, w.goRow(g, laneRegions), r.Start, r.End, catRegion)
	if r.Type == "" {
		w.nameStr("region")
	} else {
		w.nameStr(r.Type)
	}
	w.stack(`,"sf":`, r.Stack)
	w.stack(`,"esf":`, r.EndStack)
	w.argsOpen()
	if r.Task != mapping.NoTask {
		w.argUint(`"task":`, uint64(r.Task))
	}
	if r.GoroutineEnded {
		// Not open at the end of the trace: its goroutine ended.
		w.flags(r.Flags &^ mapping.OpenEnd)
		w.argBool(`"its goroutine exited before it ended":`, true)
	} else {
		w.flags(r.Flags)
	}
	w.argsClose()
	w.end()
	return w.err
}

// Log writes a log as an instant on its goroutine's row, or on its M's,
// P's or the process's when it has none.
func (w *Writer) Log(l *mapping.Log) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.checkSplit()
	switch {
	case l.G != mapping.NoGoroutine:
		w.instant(pidGoroutines, w.goRow(w.goroutine(l.G), laneStates), l.Time, catLog)
	case w.thread(l.M) != nil:
		w.instant(pidThreads, w.threadRow(l.M, w.thread(l.M)), l.Time, catLog)
	case w.proc(l.P) != nil:
		w.instant(pidProcs, w.procRow(w.proc(l.P), false), l.Time, catLog)
	default:
		w.instant(pidProcs, w.fixedRow(rowRuntime), l.Time, catLog)
	}
	// Named as go tool trace names it, so that the viewer shows and finds
	// the message; the arguments keep both apart.
	if l.Category == "" {
		w.nameStr(l.Message)
	} else {
		w.nameStr("[" + l.Category + "] " + l.Message)
	}
	w.stack(`,"sf":`, l.Stack)
	w.argsOpen()
	w.argStr(`"category":`, l.Category)
	w.argStr(`"message":`, l.Message)
	if l.Task != mapping.NoTask {
		w.argUint(`"task":`, uint64(l.Task))
	}
	w.argsClose()
	w.end()
	return w.err
}

// GoroutineEvent writes a goroutine's end as an instant on its row;
// creations and unblocks are drawn as flows when the goroutine runs (see
// Flow).
func (w *Writer) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil || e.Kind != mapping.GoEnded {
		return w.err
	}
	g := w.goroutine(e.G)
	if g.lane == nil && g.pend == nil {
		// Described but never drawn: a goroutine that a filter's kept
		// items only name (the one that began a task or stopped the
		// world). Drawn only to end it, it would be a row of its whole
		// life with nothing on it; an item that names it after its end
		// draws it (see goRow).
		g.ended, g.endStack = e.Time, e.Stack
		if w.goroutines[e.G] == g {
			w.retire(g)
		}
		return w.err
	}
	w.flushRun(g)
	w.checkSplit()
	w.endGoroutine(g, e.Time, e.Stack)
	if w.goroutines[e.G] == g {
		w.retire(g)
	}
	return w.err
}

// endGoroutine writes goroutine g's end, at t with stack, and its lifetime.
func (w *Writer) endGoroutine(g *goState, t mapping.Time, stack mapping.StackID) {
	w.instant(pidGoroutines, w.goRow(g, laneStates), t, catGoroutine)
	w.nameStr("end")
	w.stack(`,"sf":`, stack)
	w.end()
	w.endLife(g, t, false)
}

// CPUSample writes a CPU profile sample as an instant with its stack on
// the row of the thread it sampled, and, when it has both, lists it in the
// part's samples array too: catapult draws those on the thread's row and
// sums any selection of them into a sampling profile, the format's flame
// graph.
func (w *Writer) CPUSample(s *mapping.CPUSample) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	w.checkSplit()
	onThread := w.thread(s.M) != nil
	switch {
	case onThread:
		w.instant(pidThreads, w.threadRow(s.M, w.thread(s.M)), s.Time, catCPU)
	case w.proc(s.P) != nil:
		w.instant(pidProcs, w.procRow(w.proc(s.P), false), s.Time, catCPU)
	default:
		w.instant(pidProcs, w.fixedRow(rowRuntime), s.Time, catCPU)
	}
	w.nameStr("CPU sample")
	if sf := w.stack(`,"sf":`, s.Stack); sf != 0 && onThread {
		if len(w.samples) < maxSamples {
			w.samples = append(w.samples, sampleRef{w.thread(s.M).tid, int64(s.Time - w.base), sf})
		} else {
			w.samplesOmitted++
		}
	}
	w.argsOpen()
	if s.G != mapping.NoGoroutine {
		w.argInt(`"G":`, int64(s.G))
	}
	if s.P != mapping.NoProc {
		w.argInt(`"P":`, int64(s.P))
	}
	w.argsClose()
	w.end()
	return w.err
}

// Experimental events are not drawn; trace2x stats counts them.
func (w *Writer) Experimental(*mapping.Experimental) error {
	if w.closed {
		return errClosed
	}
	return w.err
}
