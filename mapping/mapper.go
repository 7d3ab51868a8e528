package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/trace2x/trace2x/internal/gotable"
	"golang.org/x/exp/trace"
)

// gState is what the mapping keeps about one live goroutine.
type gState struct {
	info    Goroutine
	named   bool
	open    bool           // cur holds an interval not yet ended
	cur     GoroutineState // the state interval in progress
	regions []*Region      // open regions, innermost last
	// acc is the time g spent in each state over its intervals ended so
	// far, and in the GC's work over the ranges ended so far: a region
	// takes the difference between its end and its begin (see
	// Region.base), so that a state change or a range costs the same
	// however many regions are open (a region begun per request and never
	// ended leaves thousands). No region begins or ends inside such a
	// range: the goroutine runs the runtime's code then, not its own.
	acc     StateTimes
	cause   Flow // pending flow into the goroutine's next run
	pending bool // cause is set
	// earlier counts the regions found to have begun before the trace,
	// which end innermost first; see regionEnd.
	earlier int
}

// pState is what the mapping keeps about one P.
type pState struct {
	open bool
	cur  ProcRun
	// sysG is the goroutine that last entered a syscall holding the P:
	// if the P stops while it is still in it, the syscall lost its P,
	// which a syscall still open at the end of the trace shows only so.
	sysG GoID
}

type rangeKey struct {
	name  string
	scope Scope
	id    int64
}

// mapper holds the state of one pass. Its maps hold live resources only:
// goroutines leave when they end, tasks and ranges when they close, and the
// per-generation stack cache is dropped at every generation boundary, so
// memory follows what is open, not the length of the trace.
type mapper struct {
	// genEnds is, in a parallel pass, where each generation of the pass
	// ends in the input a single reader counts (see runParallel).
	genEnds []int64
	// mappedTo is where the generations a parallel pass mapped whole end:
	// the least a stop's offset can be, also once a reader from the
	// start takes over (see fallback), whose count starts again.
	mappedTo int64
	// scan follows the generations of a trace read without an index, to
	// say where an error is (see locateInStream).
	scan *scanReader
	// joined finds, in a trace before Go 1.22, another trace's header
	// (see headerScan).
	joined *headerScan
	// readPast is set when the parser failed as it began a generation,
	// after the last event of the one before (see scanReader.readPast).
	readPast bool
	// parserFailed is set when the pass ends on the parser's own error,
	// not on one the mapping met in an event: only then has the parser
	// stopped where it failed, and tells where that was (readPast). On
	// the mapping's error it may have read on ahead.
	parserFailed bool

	sink    Sink
	cfg     *config
	counter *countingReader
	// join is set while the events come from several parsers (see
	// parallel.go).
	join *join
	// pseudoPs: the trace is in a format before Go 1.22, whose pseudo-Ps
	// are no processor (see procOf).
	pseudoPs bool
	sum      Summary
	begun    bool
	ended    bool
	syncs    int
	origin   Time
	last     Time

	gs    gotable.Table[GoID, gState]
	ps    map[ProcID]*pState
	ms    map[ThreadID]struct{}
	lastM ThreadID
	lastP ProcID
	lastG *gState // the goroutine looked up last; nil when it may be stale
	// openTasks holds open tasks by the low bits of their ID, each one
	// found by task; a slot is emptied when its task begins again or ends.
	openTasks [openTaskSlots]*Task
	freeG     []*gState
	freeR     []*Region
	// endedEarly holds the goroutines that ended in the first generation,
	// until it ends (a bit by ID: a trace before Go 1.22 is one
	// generation): a CPU sample can trail its goroutine's end, and one
	// naming a goroutine not known live there is otherwise taken for one
	// that ran since before the trace (see sampleOfEnded).
	endedEarly idSet[GoID]
	dirty      bool // a derived counter may have changed
	// batched says the current event comes in a batch, with its task
	// details (curTask) read by the parsing goroutine; otherwise events
	// come one by one, as in tests, and the mapping reads them itself.
	batched bool
	// curTask is the current event's Task() (see batch).
	curTask trace.Task
	// decoded says the parsing goroutine also decoded the current event's
	// state transition, curState (nil for other events), and looked up
	// the refs of that state's stack, curStateStk, and of the event's own,
	// curStk (see batch.add).
	decoded     bool
	curState    *trace.StateTransition
	curStateStk *stackRef
	curStk      *stackRef
	// endedTasks remembers, for a while, the tasks that ended, with their
	// roots, so that a task begun in one after its end finds its root.
	endedTasks map[TaskID]TaskID
	endedTaskQ []TaskID
	// taskEnded holds every task that ended, however long ago: a second
	// end of a task, or a region or log naming it, is told from one of a
	// task begun before the trace at any distance.
	taskEnded idSet[TaskID]
	tasks     map[TaskID]*Task
	ranges    map[rangeKey]*Range
	sweepG    map[ProcID]GoID // the goroutine each P's sweep under way began on
	// first holds the first generation until the goroutines it states
	// late are known (see hold).
	first firstGen

	ownStacks *stackCache        // this generation's stacks, for events the parser did not decode
	stackIDs  map[string]StackID // every stack, by its key
	nextStack StackID
	frameBuf  []Frame
	keyBuf    []byte

	// seedList holds the regions a Filter's prepass saw open at its
	// window's start, until the first Sync tells which began before the
	// pass; seeds those, by goroutine, until the goroutine is met (see
	// regionSeeder).
	seedList []Region
	seeds    map[GoID][]*Region
	// lastRegion is the ID of the last region begun; earlierRegions
	// counts the regions begun before the trace (see regionBegin).
	lastRegion     RegionID
	earlierRegions RegionID
	nextFlow       uint64
	gcCycle        int

	kinds     [32]int64  // events by trace.EventKind
	expCounts []expCount // experimental events, by experiment
	goCount   [numGoStates]int
	procsRun  int
	// changed has a bit (1<<CounterKind) for each derived counter whose
	// count moved since the counters were last delivered; emitted holds
	// the values delivered, and flushed says they have been once.
	changed uint16
	emitted [numCounterKinds]uint64
	flushed bool
	metrics map[string]uint64

	// Scratch items passed to the sink; reused so that delivering does not
	// allocate.
	stk   Stack
	ctr   Counter
	gev   GoroutineEvent
	log   Log
	smp   CPUSample
	exp   Experimental
	prc   Proc
	thr   Thread
	flow  Flow
	attrs []Attr

	// derivedCtr holds a Counter per derived kind with its name and unit
	// set once: a counter changes at nearly every goroutine transition,
	// and rewriting the strings each time showed in profiles.
	derivedCtr [numCounterKinds]Counter
}

func newMapper(sink Sink, cfg *config) *mapper {
	m := &mapper{
		sink:       sink,
		cfg:        cfg,
		ps:         make(map[ProcID]*pState),
		ms:         make(map[ThreadID]struct{}),
		lastM:      NoThread,
		lastP:      NoProc,
		tasks:      make(map[TaskID]*Task),
		ranges:     make(map[rangeKey]*Range),
		ownStacks:  newStackCache(),
		stackIDs:   make(map[string]StackID),
		metrics:    make(map[string]uint64),
		endedTasks: make(map[TaskID]TaskID),
	}
	for k := range m.derivedCtr {
		m.derivedCtr[k] = Counter{Kind: CounterKind(k), Name: CounterKind(k).String(), Unit: "count"}
	}
	m.sum.Input = cfg.input
	m.sum.ExpBatches = make(map[string]int)
	m.sum.Anomalies = make(map[string]int)
	if s, ok := sink.(openTasksSink); ok {
		s.useOpenTasks(m)
	}
	if s, ok := sink.(regionSeeder); ok && (cfg.skipped > 0 || cfg.stopsEarly) {
		// A pass from the file's start that stops early reads the begin
		// of every region but those begun before the trace, and not the
		// end of such a region open after it stops.
		m.seedList = s.regionSeeds()
	}
	return m
}

// regionSeeder is a sink of this package that knows the regions open
// where a pass over a file's later generations, or its first ones, begins
// (a Filter, from its prepass): the pass reads neither their begin nor,
// for one open across all the generations read, their end. Taken as open from the
// start, each keeps its ID, enclosing region and depth as the whole
// pass gives them, and so do the regions begun in it; one open across
// them all is seen; and one left open when its goroutine ends is ended
// there.
type regionSeeder interface {
	regionSeeds() []Region
}

// seededRegion marks the ID of a region begun before the trace that the
// pass took as open from a prepass (see regionSeeder), apart from those
// the pass numbers itself (see earlierRegion).
const seededRegion RegionID = 1 << 62

// plantSeeds takes as open the regions of the seed list begun before t,
// the first generation's start, and from the file's start those begun
// before the trace: the pass reads the begin of the others.
func (m *mapper) plantSeeds(t Time) {
	list := m.seedList
	m.seedList = nil
	for i := range list {
		p := &list[i]
		if p.Start >= t && (m.cfg.skipped > 0 || !p.Flags.Has(OpenStart)) {
			continue
		}
		if m.seeds == nil {
			m.seeds = map[GoID][]*Region{}
		}
		r := m.newRegion()
		*r = Region{ID: p.ID, Parent: p.Parent, ParentTask: p.ParentTask, G: p.G, Task: p.Task, Root: p.Root,
			Type: p.Type, Depth: p.Depth, Start: p.Start, Stack: NoStack, EndStack: NoStack,
			Flags: p.Flags & OpenStart, endsAt: p.End}
		if p.Flags.Has(OpenStart) {
			r.ID |= seededRegion
		}
		if p.Parent&earlierRegion != 0 {
			r.Parent |= seededRegion // seeded too: it encloses this one
		}
		if p.Flags.Has(OpenEnd) {
			r.endsAt = Time(math.MaxInt64) // no end of its own in the pass
		}
		m.seeds[p.G] = append(m.seeds[p.G], r)
	}
	for _, rs := range m.seeds {
		slices.SortFunc(rs, func(a, b *Region) int { return cmp.Or(cmp.Compare(a.Depth, b.Depth), cmpTime(a.Start, b.Start)) })
	}
}

// openTasks is what a sink of this package may ask the mapping of the
// tasks open, which the model gives only when they end.
type openTasks interface {
	// openParent returns the parent of task id while it is open, NoTask
	// if it is not open or has none the pass knows (see
	// filterSink.ancestor).
	openParent(id TaskID) TaskID
	// begunIn reports whether task id is open and the pass read its
	// begin (see filterSink.endedBeforeID).
	begunIn(id TaskID) bool
}

// openTasksSink is a sink that asks the mapping of the tasks open.
type openTasksSink interface {
	useOpenTasks(openTasks)
}

func (m *mapper) openParent(id TaskID) TaskID {
	if tk := m.tasks[id]; tk != nil {
		return tk.Parent
	}
	return NoTask
}

func (m *mapper) begunIn(id TaskID) bool {
	tk := m.tasks[id]
	return tk != nil && !tk.Flags.Has(OpenStart)
}

func (m *mapper) anomaly(what string) { m.sum.Anomalies[what]++ }

// openStart is the start to give an item found already in progress at t.
// In the first generation that is the start of the trace; later, an item
// first seen in progress (a P added by GOMAXPROCS, say) may have begun at
// any time since the previous generation, and t is the earliest moment the
// trace vouches for.
func (m *mapper) openStart(t Time) Time {
	if m.syncs <= 1 {
		return m.origin
	}
	return t
}

func (m *mapper) event(ev *trace.Event) error {
	m.sum.Events++
	kind := ev.Kind()
	if int(kind) < len(m.kinds) {
		m.kinds[kind]++
	}
	t := Time(ev.Time())
	if kind == trace.EventSync {
		return m.sync(ev, t)
	}
	if !m.begun {
		// The parser always starts with a Sync; anything else first is a
		// bug in it, and the trace is unusable.
		return fmt.Errorf("broken trace: %v event before the first Sync", kind)
	}
	m.last = t
	if err := m.seeContext(ev, t); err != nil {
		return err
	}
	var err error
	switch kind {
	case trace.EventStateTransition:
		st, stk := m.curState, m.curStateStk
		if !m.decoded {
			s := ev.StateTransition()
			st, stk = &s, m.ownStacks.ref(s.Stack)
		}
		switch st.Resource.Kind {
		case trace.ResourceGoroutine:
			err = m.goTransition(ev, st, stk, t)
		case trace.ResourceProc:
			err = m.procTransition(ev, st, t)
		default:
			m.anomaly(fmt.Sprintf("state transition of a %v", st.Resource.Kind))
		}
	case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
		err = m.rangeEvent(ev, kind, t)
	case trace.EventTaskBegin:
		err = m.taskBegin(ev, t)
	case trace.EventTaskEnd:
		err = m.taskEnd(ev, t)
	case trace.EventRegionBegin:
		err = m.regionBegin(ev, t)
	case trace.EventRegionEnd:
		err = m.regionEnd(ev, t)
	case trace.EventLog:
		err = m.logEvent(ev, t)
	case trace.EventMetric:
		err = m.metric(ev, t)
	case trace.EventLabel:
		err = m.label(ev)
	case trace.EventStackSample:
		err = m.sample(ev, t)
	case trace.EventExperimental:
		// Decoding an experimental event's arguments costs more than
		// parsing it, and no converter draws them: they are counted by
		// experiment, and decoded and delivered only on request.
		m.countExperiment(ev)
		if m.cfg.experimental {
			err = m.experimental(ev, t)
		}
	default:
		m.anomaly(fmt.Sprintf("unknown event kind %v", kind))
	}
	if err != nil || !m.dirty {
		return err
	}
	m.dirty = false
	return m.flushCounters(t)
}

func (m *mapper) sync(ev *trace.Event, t Time) error {
	m.syncs++
	if m.syncs == 1 && m.seedList != nil {
		m.plantSeeds(t)
	}
	if m.syncs == 2 {
		m.endedEarly = idSet[GoID]{}
	}
	if k := m.syncs - 2; k >= 0 && k < len(m.genEnds) {
		// The generation before this Sync is mapped whole.
		m.counter.n.Store(m.genEnds[k])
		m.mappedTo = m.genEnds[k]
	}
	s := ev.Sync()
	for exp, batches := range s.ExperimentalBatches {
		m.sum.ExpBatches[exp] += len(batches)
		for _, b := range batches {
			m.sum.ExpBatchBytes += int64(len(b.Data))
		}
	}
	// Stacks are handles into one generation's tables: forget them so the
	// old generation can be freed.
	m.ownStacks.reset()
	if m.begun {
		m.last = max(m.last, t)
		return nil
	}
	m.begun = true
	m.origin, m.last = t, t
	m.sum.Start = t
	if c := s.ClockSnapshot; c != nil {
		m.sum.Clock = plausibleClock(&ClockSnapshot{Trace: Time(c.Trace), Wall: c.Wall, Mono: c.Mono})
	}
	if o := m.cfg.origin; o != nil {
		// A pass over later generations only (see MapWindow) describes the
		// trace as a whole: its start and first clock snapshot, so that
		// offsets and times mean what they do in a full pass.
		m.origin, m.sum.Start, m.sum.Clock = o.start, o.start, o.clock
	}
	m.sum.Origin = m.sum.Start
	m.sum.Skipped = m.cfg.skipped > 0
	meta := m.sum.Meta
	if err := m.sink.Begin(&meta); err != nil {
		return err
	}
	if m.changed != 0 {
		// Goroutines the first generation states late are counted from
		// its start (see hold).
		return m.flushCounters(t)
	}
	return nil
}

// seeContext makes sure the event's execution context has been delivered.
func (m *mapper) seeContext(ev *trace.Event, t Time) error {
	if th := ThreadID(ev.Thread()); th != m.lastM && th != NoThread {
		m.lastM = th
		if _, ok := m.ms[th]; !ok {
			m.ms[th] = struct{}{}
			m.sum.Threads++
			m.thr = Thread{ID: th}
			if err := m.sink.Thread(&m.thr); err != nil {
				return err
			}
		}
	}
	if p := m.procOf(ev); p != NoProc && p != m.lastP {
		if _, err := m.proc(p); err != nil {
			return err
		}
		m.lastP = p
	}
	if id := GoID(ev.Goroutine()); id != NoGoroutine && !m.sampleOfEnded(ev, id) {
		g, err := m.goroutine(id, t)
		if err != nil {
			return err
		}
		if !g.named {
			if r := m.evStackRef(ev); r != nil {
				return m.nameFrom(g, r.stk, false)
			}
		}
	}
	return nil
}

// firstPseudoP is the first of the pseudo-Ps of traces before Go 1.22.
const firstPseudoP = 1000000

// procOf returns the P of ev's context. Traces before Go 1.22 put the
// network poller's, the timers' and the syscalls' events on pseudo-Ps
// numbered from 1000000, which are no processor: such an event has none.
func (m *mapper) procOf(ev *trace.Event) ProcID {
	p := ProcID(ev.Proc())
	if m.pseudoPs && p >= firstPseudoP {
		return NoProc
	}
	return p
}

func (m *mapper) proc(id ProcID) (*pState, error) {
	if p, ok := m.ps[id]; ok {
		return p, nil
	}
	p := &pState{sysG: NoGoroutine}
	m.ps[id] = p
	m.sum.Procs++
	m.prc = Proc{ID: id}
	return p, m.sink.Proc(&m.prc)
}

// goroutine returns the state of goroutine id, delivering it first if it
// is new. A goroutine first seen other than by its creation existed before
// the trace began.
func (m *mapper) goroutine(id GoID, t Time) (*gState, error) {
	if g := m.lookupG(id); g != nil {
		return g, nil
	}
	g := m.newG(Goroutine{ID: id, Creator: NoGoroutine, Created: m.openStart(t), Flags: OpenStart})
	m.sum.Goroutines++
	err := m.sink.Goroutine(&g.info)
	g.info.Updated = true
	return g, err
}

// lookupG finds a live goroutine. Consecutive events mostly concern the
// same goroutine, so the last one found is checked first.
func (m *mapper) lookupG(id GoID) *gState {
	if g := m.lastG; g != nil && g.info.ID == id {
		return g
	}
	g := m.gs.Get(id)
	if g != nil {
		m.lastG = g
	}
	return g
}

// lookupSysG is lookupG of a P's sysG, which may be none.
func (m *mapper) lookupSysG(id GoID) *gState {
	if id == NoGoroutine {
		return nil
	}
	return m.lookupG(id)
}

// newG adds a goroutine, reusing the state of one that ended: programs
// that start many short goroutines would otherwise allocate for each.
func (m *mapper) newG(info Goroutine) *gState {
	var g *gState
	if n := len(m.freeG); n > 0 {
		g = m.freeG[n-1]
		m.freeG = m.freeG[:n-1]
		*g = gState{regions: g.regions[:0]}
	} else {
		g = &gState{}
	}
	g.info = info
	if rs, ok := m.seeds[info.ID]; ok {
		g.regions = append(g.regions, rs...)
		delete(m.seeds, info.ID)
	}
	m.gs.Set(info.ID, g)
	m.lastG = g
	return g
}

// dropG removes a goroutine that ended.
func (m *mapper) dropG(g *gState) {
	if m.join != nil {
		m.join.goroutineEnded(g.info.ID)
	}
	m.gs.Delete(g.info.ID)
	if m.syncs <= 1 {
		m.endedEarly.add(g.info.ID)
	}
	if m.lastG == g {
		m.lastG = nil
	}
	clear(g.regions)
	m.freeG = append(m.freeG, g)
}

// nameFrom names g after a stack. A creation stack's first frame is the
// start function; any other stack of the goroutine ends in it.
func (m *mapper) nameFrom(g *gState, stk trace.Stack, creation bool) error {
	fn := startFunc(stk, creation)
	if fn == "" {
		return nil
	}
	g.named = true
	g.info.StartFunc = fn
	return m.sink.Goroutine(&g.info)
}

func startFunc(stk trace.Stack, creation bool) string {
	fn := ""
	for f := range stk.Frames() {
		if f.Func == "runtime.goexit" {
			break
		}
		fn = f.Func
		if creation {
			break
		}
	}
	return fn
}

func goState(s trace.GoState) (GoState, bool) {
	switch s {
	case trace.GoRunnable:
		return GoRunnable, true
	case trace.GoRunning:
		return GoRunning, true
	case trace.GoWaiting:
		return GoWaiting, true
	case trace.GoSyscall:
		return GoSyscall, true
	}
	return 0, false
}

// goTransition maps a goroutine's state transition st, whose stack's ref
// is stRef.
func (m *mapper) goTransition(ev *trace.Event, st *trace.StateTransition, stRef *stackRef, t Time) error {
	id := GoID(st.Resource.Goroutine())
	from, to := st.Goroutine()
	g := m.lookupG(id)
	isNew := g == nil
	if isNew {
		info := Goroutine{ID: id, Creator: NoGoroutine, Created: t}
		if from == trace.GoNotExist {
			if to != trace.GoSyscall {
				info.Creator = GoID(ev.Goroutine())
			}
		} else {
			info.Created = m.openStart(t)
			info.Flags = OpenStart
		}
		g = m.newG(info)
		m.sum.Goroutines++
	}
	named := false
	if !g.named && st.Stack != trace.NoStack {
		if fn := startFunc(st.Stack, from == trace.GoNotExist); fn != "" {
			g.named, named = true, true
			g.info.StartFunc = fn
		}
	}
	if isNew || named {
		if err := m.sink.Goroutine(&g.info); err != nil {
			return err
		}
		g.info.Updated = true
	}

	newState, live := goState(to)
	if from == trace.GoUndetermined && g.open && live && g.cur.State == newState {
		// A generation restating what is already known.
		return nil
	}
	if from == to {
		return nil
	}
	startStk, err := m.resolve(stRef)
	if err != nil {
		return err
	}
	var endStk StackID
	if GoID(ev.Goroutine()) == id {
		if endStk, err = m.evStack(ev); err != nil {
			return err
		}
	}
	if stRef == nil {
		startStk = endStk
	}
	wasReason, wasOpen := "", g.open
	if g.open {
		wasReason = g.cur.Reason
		if from == trace.GoSyscall && to != trace.GoRunning && g.cur.State == GoSyscall {
			g.cur.Blocked = true
		}
		if err := m.endState(g, t, endStk, 0); err != nil {
			return err
		}
	}

	// Instants and the causes of flows.
	by, byP, byM := GoID(ev.Goroutine()), m.procOf(ev), ThreadID(ev.Thread())
	switch {
	case from == trace.GoNotExist && to != trace.GoSyscall:
		creatorStk, err := m.evStack(ev)
		if err != nil {
			return err
		}
		if err := m.goEvent(GoCreated, t, id, by, byP, byM, "", creatorStk); err != nil {
			return err
		}
		m.setCause(g, GoCreated, t, by, byP, byM, creatorStk)
	case from == trace.GoWaiting && to == trace.GoRunnable:
		ustk, err := m.evStack(ev)
		if err != nil {
			return err
		}
		if err := m.goEvent(GoUnblocked, t, id, by, byP, byM, wasReason, ustk); err != nil {
			return err
		}
		m.setCause(g, GoUnblocked, t, by, byP, byM, ustk)
	case from == trace.GoSyscall && to == trace.GoRunnable:
		if err := m.goEvent(GoSyscallExitBlocked, t, id, id, NoProc, byM, "", endStk); err != nil {
			return err
		}
		m.setCause(g, GoSyscallExitBlocked, t, id, NoProc, byM, endStk)
	}

	if !live {
		if len(g.regions) > 0 {
			// Regions cannot outlive their goroutine; close them where it
			// ended, before the end, which is the last the sinks hear of it.
			for _, r := range g.regions {
				r.GoroutineEnded = true
			}
			if err := m.closeRegions(g, t, OpenEnd); err != nil {
				return err
			}
		}
		if to == trace.GoNotExist {
			if err := m.goEvent(GoEnded, t, id, id, byP, byM, "", endStk); err != nil {
				return err
			}
		}
		if g.pending {
			m.sum.UnmatchedFlows++
		}
		m.dropG(g)
		m.dirty = true
		return nil
	}

	start, flags := t, Flags(0)
	if from == trace.GoUndetermined && !wasOpen {
		start, flags = m.openStart(t), OpenStart
	}
	g.open = true
	g.cur = GoroutineState{
		G: id, State: newState, Start: start, P: NoProc, M: NoThread,
		Reason: st.Reason, Stack: startStk, Flags: flags,
	}
	if newState == GoRunning || newState == GoSyscall {
		g.cur.P, g.cur.M = byP, byM
		if newState == GoSyscall && byP != NoProc {
			if p := m.ps[byP]; p != nil {
				p.sysG = id
			}
		}
		if newState == GoSyscall && byP == NoProc && from == trace.GoUndetermined {
			// A syscall restated without a P has lost it: the runtime
			// takes back every P from a syscall to restate it at a
			// generation's start, so a trace or window that begins
			// during a syscall draws it blocked, as a pass that read its
			// start does.
			g.cur.Blocked = true
		}
	}
	if from != trace.GoUndetermined || wasOpen || !m.countedEarly(id, newState) {
		m.goCount[newState]++
	}
	m.changed |= goStateCounters[newState]
	m.dirty = true
	if newState == GoRunning && g.pending {
		g.pending = false
		m.nextFlow++
		m.flow = g.cause
		m.flow.ID = m.nextFlow
		m.flow.To = Endpoint{Time: t, G: id, P: byP, M: byM}
		return m.sink.Flow(&m.flow)
	}
	return nil
}

// endState ends g's current interval at t.
func (m *mapper) endState(g *gState, t Time, endStk StackID, flags Flags) error {
	if m.pseudoPs && g.cur.State == GoSyscall && g.cur.Blocked {
		// A format before Go 1.22 does not say which thread a syscall
		// is on: the parser names the M that last started the P, which
		// the runtime can hand to another M without an event (a
		// goroutine back from a syscall takes its P again), so
		// syscalls that lost their P would overlap on one M.
		g.cur.M = NoThread
	}
	g.acc.add(g.cur.State, g.cur.Reason, time.Duration(t-g.cur.Start))
	g.open = false
	g.cur.End = t
	g.cur.EndStack = endStk
	g.cur.Flags |= flags
	m.goCount[g.cur.State]--
	m.changed |= goStateCounters[g.cur.State]
	m.dirty = true
	return m.sink.GoroutineState(&g.cur)
}

func (m *mapper) setCause(g *gState, kind GoEventKind, t Time, by GoID, p ProcID, th ThreadID, stk StackID) {
	// A goroutine created blocked (iter.Pull's coroutines) runs first when
	// it is unblocked: that cause replaces its creation. Any other cause
	// replaced was lost.
	if g.pending && !(g.cause.Kind == GoCreated && kind == GoUnblocked) {
		m.sum.UnmatchedFlows++
	}
	g.pending = true
	g.cause = Flow{Kind: kind, From: Endpoint{Time: t, G: by, P: p, M: th}, Stack: stk}
}

func (m *mapper) goEvent(kind GoEventKind, t Time, id, by GoID, p ProcID, th ThreadID, reason string, stk StackID) error {
	m.gev = GoroutineEvent{Kind: kind, Time: t, G: id, By: by, P: p, M: th, Reason: reason, Stack: stk}
	return m.sink.GoroutineEvent(&m.gev)
}

func (m *mapper) procTransition(ev *trace.Event, st *trace.StateTransition, t Time) error {
	id := ProcID(st.Resource.Proc())
	from, to := st.Proc()
	p, err := m.proc(id)
	if err != nil {
		return err
	}
	running := to == trace.ProcRunning
	if p.open == running {
		// Nothing changes for us: a restated status, or idle to idle.
		return nil
	}
	if p.open {
		if g := m.lookupSysG(p.sysG); g != nil && g.open && g.cur.State == GoSyscall && g.cur.P == id {
			g.cur.Blocked = true // its P is taken or handed off while it is in the kernel
			p.cur.TakenFrom = g.info.ID
		}
		p.sysG = NoGoroutine
		p.open = false
		p.cur.End = t
		m.procsRun--
		m.changed |= 1 << CounterThreadsRunning
		m.dirty = true
		return m.sink.ProcRun(&p.cur)
	}
	start, flags := t, Flags(0)
	if from == trace.ProcUndetermined {
		start, flags = m.openStart(t), OpenStart
	}
	p.open = true
	p.cur = ProcRun{P: id, M: ThreadID(ev.Thread()), Start: start, Flags: flags, TakenFrom: NoGoroutine}
	m.procsRun++
	m.changed |= 1 << CounterThreadsRunning
	m.dirty = true
	return nil
}

func rangeKindOf(name string) (RangeKind, string) {
	switch {
	case name == "GC concurrent mark phase":
		return RangeGCMark, ""
	case strings.HasPrefix(name, "stop-the-world ("):
		return RangeSTW, strings.TrimSuffix(strings.TrimPrefix(name, "stop-the-world ("), ")")
	case name == "GC incremental sweep":
		return RangeSweep, ""
	case name == "GC mark assist":
		return RangeMarkAssist, ""
	}
	return RangeOther, ""
}

func (m *mapper) rangeEvent(ev *trace.Event, kind trace.EventKind, t Time) error {
	r := ev.Range()
	key := rangeKey{name: r.Name}
	switch r.Scope.Kind {
	case trace.ResourceGoroutine:
		key.scope, key.id = ScopeGoroutine, int64(r.Scope.Goroutine())
		if _, err := m.goroutine(GoID(key.id), t); err != nil {
			return err
		}
	case trace.ResourceProc:
		key.scope, key.id = ScopeProc, int64(r.Scope.Proc())
		if _, err := m.proc(ProcID(key.id)); err != nil {
			return err
		}
	case trace.ResourceThread:
		key.scope, key.id = ScopeThread, int64(r.Scope.Thread())
	}
	open := m.ranges[key]
	switch kind {
	case trace.EventRangeActive:
		if open != nil {
			return nil
		}
		m.openRange(key, m.openStart(t), OpenStart, NoStack)
		return nil
	case trace.EventRangeBegin:
		if open != nil {
			m.anomaly("range begun twice: " + r.Name)
			if err := m.closeRange(key, open, t, NoStack, OpenEnd); err != nil {
				return err
			}
		}
		stk, err := m.evStack(ev)
		if err != nil {
			return err
		}
		if r := m.openRange(key, t, 0, stk); r.Kind == RangeSweep && key.scope == ScopeProc {
			if m.sweepG == nil {
				m.sweepG = map[ProcID]GoID{}
			}
			m.sweepG[r.P] = GoID(ev.Goroutine())
		}
		return nil
	}
	// EventRangeEnd
	if open == nil {
		m.anomaly("range end without begin: " + r.Name)
		open = m.openRange(key, m.openStart(t), OpenStart, NoStack)
	}
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	m.attrs = m.attrs[:0]
	for _, a := range ev.RangeAttributes() {
		if a.Value.Kind() == trace.ValueUint64 {
			m.attrs = append(m.attrs, Attr{Name: a.Name, Value: a.Value.Uint64()})
		}
	}
	open.Attrs = m.attrs
	if open.Kind == RangeSweep && key.scope == ScopeProc {
		// A P's sweep is the goroutine's that began and ended it, as go
		// tool trace counts it: the sweeping an allocation did.
		if g0, ok := m.sweepG[open.P]; ok {
			delete(m.sweepG, open.P)
			if g := m.gs.Get(g0); g != nil && g0 == GoID(ev.Goroutine()) {
				if d := time.Duration(t - open.Start); d > 0 {
					g.acc.Sweep += d
				}
			}
		}
	}
	return m.closeRange(key, open, t, stk, 0)
}

func (m *mapper) openRange(key rangeKey, start Time, flags Flags, stk StackID) *Range {
	kind, reason := rangeKindOf(key.name)
	r := &Range{Kind: kind, Name: key.name, Scope: key.scope, G: NoGoroutine, P: NoProc, M: NoThread,
		Start: start, Reason: reason, Stack: stk, Flags: flags}
	switch key.scope {
	case ScopeGoroutine:
		r.G = GoID(key.id)
	case ScopeProc:
		r.P = ProcID(key.id)
	case ScopeThread:
		r.M = ThreadID(key.id)
	}
	if kind == RangeGCMark && flags&OpenStart == 0 {
		m.gcCycle++
		r.Cycle = m.gcCycle
	}
	m.ranges[key] = r
	return r
}

func (m *mapper) closeRange(key rangeKey, r *Range, t Time, stk StackID, flags Flags) error {
	delete(m.ranges, key)
	r.End, r.EndStack = t, stk
	r.Flags |= flags
	if flags == 0 && r.Scope == ScopeGoroutine && (r.Kind == RangeSTW || r.Kind == RangeMarkAssist) {
		// The GC's work that fell to the goroutine, in each of its
		// regions open (see StateTimes).
		if g := m.gs.Get(r.G); g != nil {
			if d := time.Duration(t - r.Start); d > 0 {
				if r.Kind == RangeSTW {
					g.acc.STW += d
				} else {
					g.acc.MarkAssist += d
				}
			}
		}
	}
	return m.sink.Range(r)
}

func taskID(id trace.TaskID) TaskID {
	if id == trace.NoTask {
		return NoTask
	}
	return TaskID(id)
}

// maxEnded bounds how many ended tasks are remembered.
const maxEnded = 1 << 16

// openTaskSlots is the size of the cache of open tasks: a power of two.
// Task IDs are handed out in order, so the tasks open at one time mostly
// fall in distinct slots.
const openTaskSlots = 256

// task returns the open task id, making one up if the trace never showed
// its begin: the task began before the trace did. It returns nil for no
// task, and for a task that already ended: a region can outlive its task.
//
// Regions and logs of many tasks interleave, and each asks for its task:
// a task found is kept in openTasks, which is checked first.
func (m *mapper) task(id TaskID, t Time) *Task {
	slot := &m.openTasks[uint64(id)%openTaskSlots]
	if tk := *slot; tk != nil && tk.ID == id {
		return tk
	}
	if id == NoTask {
		return nil
	}
	tk, ok := m.tasks[id]
	if !ok {
		if m.taskEnded.has(id) {
			return nil // unless begun again, which only a damaged trace does
		}
		// Its begin is in no generation of the trace, so it began before
		// the trace did, whichever generation this is.
		tk = &Task{ID: id, Root: id, Start: m.origin, StartG: NoGoroutine, EndG: NoGoroutine, Flags: OpenStart}
		m.tasks[id] = tk
	}
	*slot = tk
	return tk
}

// dropTask removes task id from the open tasks.
func (m *mapper) dropTask(id TaskID) {
	if tk := m.tasks[id]; tk != nil {
		tk.involved = nil // the sinks get the task as the mapping made it
	}
	delete(m.tasks, id)
	if slot := &m.openTasks[uint64(id)%openTaskSlots]; *slot != nil && (*slot).ID == id {
		*slot = nil
	}
}

// rootOf returns the root of task id: see Task.Root. A task the mapping
// never saw, or has forgotten, is its own root: it began before the trace
// and its parent is unknown.
func (m *mapper) rootOf(id TaskID) TaskID {
	if id == NoTask {
		return NoTask
	}
	if tk := m.tasks[id]; tk != nil {
		return tk.Root
	}
	if r := m.endedTasks[id]; r != NoTask {
		return r
	}
	return id
}

func (tk *Task) involve(g GoID) {
	if g == NoGoroutine {
		return
	}
	if tk.involved != nil {
		if _, ok := tk.involved[g]; !ok {
			tk.involved[g] = struct{}{}
			tk.Goroutines = append(tk.Goroutines, g)
		}
		return
	}
	if slices.Contains(tk.Goroutines, g) {
		return
	}
	tk.Goroutines = append(tk.Goroutines, g)
	if len(tk.Goroutines) > involvedList {
		// A task that every request's goroutine joins (a server's, for
		// its whole run) would make each look-up in the list cost as
		// much as the goroutines so far.
		tk.involved = make(map[GoID]struct{}, 2*len(tk.Goroutines))
		for _, id := range tk.Goroutines {
			tk.involved[id] = struct{}{}
		}
	}
}

// involvedList is how many goroutines a task lists before it keeps a set
// of them as well.
const involvedList = 16

// taskOf returns the task details of a task event.
func (m *mapper) taskOf(ev *trace.Event) trace.Task {
	if m.batched {
		return m.curTask
	}
	return ev.Task()
}

func (m *mapper) taskBegin(ev *trace.Event, t Time) error {
	et := m.taskOf(ev)
	id := taskID(et.ID)
	if id == NoTask {
		m.anomaly("task begin with the background task's ID")
		return nil
	}
	if old, ok := m.tasks[id]; ok {
		if old.Flags&OpenStart == 0 {
			m.anomaly("task begun twice")
		}
		m.dropTask(id)
		old.End = t
		old.Flags |= OpenEnd
		old.EndG = NoGoroutine
		if err := m.sink.Task(old); err != nil {
			return err
		}
	}
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	g := GoID(ev.Goroutine())
	tk := &Task{ID: id, Parent: taskID(et.Parent), Type: et.Type, Start: t, StartG: g, EndG: NoGoroutine, Stack: stk}
	tk.Root = id
	if tk.Parent != NoTask {
		tk.Root = m.rootOf(tk.Parent)
	}
	tk.involve(g)
	m.tasks[id] = tk
	return nil
}

func (m *mapper) taskEnd(ev *trace.Event, t Time) error {
	et := m.taskOf(ev)
	id := taskID(et.ID)
	if id == NoTask {
		m.anomaly("task end with the background task's ID")
		return nil
	}
	tk := m.task(id, t)
	if tk == nil {
		m.anomaly("task ended twice")
		return nil
	}
	if tk.Type == "" {
		tk.Type = et.Type
	}
	if tk.Parent == NoTask {
		tk.Parent = taskID(et.Parent)
	}
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	g := GoID(ev.Goroutine())
	tk.End, tk.EndG, tk.EndStack = t, g, stk
	tk.involve(g)
	m.dropTask(id)
	m.taskEnded.add(id)
	m.endedTasks[id] = tk.Root
	m.endedTaskQ = append(m.endedTaskQ, id)
	if len(m.endedTaskQ) > maxEnded {
		delete(m.endedTasks, m.endedTaskQ[0])
		m.endedTaskQ = m.endedTaskQ[1:]
	}
	return m.sink.Task(tk)
}

func (m *mapper) regionBegin(ev *trace.Event, t Time) error {
	er := ev.Region()
	id := GoID(ev.Goroutine())
	g := m.lookupG(id)
	if g == nil {
		m.anomaly("region outside any goroutine")
		return nil
	}
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	// A region is named by the time of its begin, which no other event
	// shares (Go's parser keeps them apart; for the older formats, the
	// next free time is taken): a pass over some generations of the
	// trace names it as the whole pass does.
	m.lastRegion = max(RegionID(t), m.lastRegion+1)
	r := m.newRegion()
	open := g.known()
	*r = Region{ID: m.lastRegion, G: id, Task: taskID(er.Task), Type: er.Type, Depth: len(open), Start: t, Stack: stk, Timed: true}
	r.base = g.statesAt(t)
	if n := len(open); n > 0 {
		r.Parent, r.ParentTask = open[n-1].ID, open[n-1].Task
	}
	if tk := m.task(r.Task, t); tk != nil {
		tk.involve(id)
	}
	r.Root = m.rootOf(r.Task)
	g.regions = append(g.regions, r)
	return nil
}

func (m *mapper) regionEnd(ev *trace.Event, t Time) error {
	er := ev.Region()
	id := GoID(ev.Goroutine())
	g := m.lookupG(id)
	if g == nil {
		m.anomaly("region outside any goroutine")
		return nil
	}
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	// The innermost open region of that type ends. Regions must nest, so
	// it is almost always the innermost of all; matching by type keeps
	// exact times even for a program that ends them out of order.
	for i := len(g.regions) - 1; i >= 0; i-- {
		r := g.regions[i]
		if r.Type != er.Type || r.Task != taskID(er.Task) || r.endsAt != 0 && r.endsAt != t {
			continue
		}
		r.endsAt = 0
		if i != len(g.regions)-1 {
			m.anomaly("region ended out of order")
			// The regions it enclosed outlive it: their parent is now its
			// own, so that a parent is always delivered after its children.
			for _, in := range g.regions[i+1:] {
				if in.Parent == r.ID {
					in.Parent, in.ParentTask = r.Parent, r.ParentTask
				}
			}
		}
		g.regions = slices.Delete(g.regions, i, i+1)
		r.End, r.EndStack = t, stk
		m.timeOpenPart(g, r, t)
		err := m.sink.Region(r)
		m.freeR = append(m.freeR, r)
		return err
	}
	// No begin: the region began before the trace did. Such regions end
	// innermost first, so each one found encloses the ones found before it.
	// Its true start is unknown; it is put at the trace start less the
	// number found before it, so that their starts are distinct and they
	// nest as they did, in tools that order slices by start time.
	m.earlierRegions++
	r := &Region{ID: earlierRegion | m.earlierRegions, G: id, Task: taskID(er.Task), Type: er.Type,
		Start: m.origin - Time(g.earlier), End: t, EndStack: stk, Flags: OpenStart}
	g.earlier++
	if tk := m.task(r.Task, t); tk != nil {
		tk.involve(id)
	}
	r.Root = m.rootOf(r.Task)
	return m.sink.Region(r)
}

// timeOpenPart adds to region r, ending at t, the time g spent in each
// state while it was open.
func (m *mapper) timeOpenPart(g *gState, r *Region, t Time) {
	r.Time.addSince(g.statesAt(t), r.base)
	r.base = StateTimes{} // the sinks get the region as it was before
}

// statesAt returns g's state times up to t: those of its intervals ended,
// and the part up to t of the one under way.
func (g *gState) statesAt(t Time) StateTimes {
	st := g.acc
	if g.open && t > g.cur.Start {
		st.add(g.cur.State, g.cur.Reason, time.Duration(t-g.cur.Start))
	}
	return st
}

func (m *mapper) newRegion() *Region {
	if n := len(m.freeR); n > 0 {
		r := m.freeR[n-1]
		m.freeR = m.freeR[:n-1]
		return r
	}
	return new(Region)
}

// known returns the regions open on g that the whole pass knows of: all
// but those begun before the trace that a prepass seeded (see
// plantSeeds), which the whole pass learns of only as they end, so that
// the regions and logs in them have the enclosing region, and depth, they
// have there. Begun first, they are the outermost.
func (g *gState) known() []*Region {
	i := 0
	for i < len(g.regions) && g.regions[i].ID&seededRegion != 0 {
		i++
	}
	return g.regions[i:]
}

// closeRegions ends every region open on g, innermost first.
func (m *mapper) closeRegions(g *gState, t Time, flags Flags) error {
	for i := len(g.regions) - 1; i >= 0; i-- {
		r := g.regions[i]
		r.End = t
		r.Flags |= flags
		m.timeOpenPart(g, r, t)
		if err := m.sink.Region(r); err != nil {
			return err
		}
		m.freeR = append(m.freeR, r)
	}
	clear(g.regions)
	g.regions = g.regions[:0]
	return nil
}

func (m *mapper) logEvent(ev *trace.Event, t Time) error {
	el := ev.Log()
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	id := GoID(ev.Goroutine())
	m.log = Log{Time: t, G: id, P: m.procOf(ev), M: ThreadID(ev.Thread()), Task: taskID(el.Task),
		Category: el.Category, Message: el.Message, Stack: stk}
	if g := m.lookupG(id); g != nil {
		if open := g.known(); len(open) > 0 {
			m.log.Region = open[len(open)-1].ID
		}
	}
	if tk := m.task(m.log.Task, t); tk != nil {
		tk.involve(id)
		if el.Category == CategoryTaskType && tk.Type == "" && tk.Flags&OpenStart != 0 {
			tk.Type = el.Message
		}
	}
	m.log.Root = m.rootOf(m.log.Task)
	return m.sink.Log(&m.log)
}

func (m *mapper) metric(ev *trace.Event, t Time) error {
	mt := ev.Metric()
	if mt.Value.Kind() != trace.ValueUint64 {
		m.anomaly("metric with a non-integer value: " + mt.Name)
		return nil
	}
	v := mt.Value.Uint64()
	if old, ok := m.metrics[mt.Name]; ok && old == v {
		return nil
	}
	m.metrics[mt.Name] = v
	m.ctr = Counter{Kind: CounterMetric, Name: mt.Name, Unit: metricUnit(mt.Name), Time: t, Value: v}
	switch mt.Name {
	case "/memory/classes/heap/objects:bytes":
		m.ctr.Kind = CounterHeapLive
	case "/gc/heap/goal:bytes":
		m.ctr.Kind = CounterHeapGoal
	case "/sched/gomaxprocs:threads":
		m.ctr.Kind = CounterGOMAXPROCS
	}
	if m.ctr.Kind != CounterMetric {
		m.ctr.Name = m.ctr.Kind.String()
	}
	return m.sink.Counter(&m.ctr)
}

// metricUnit reads the unit from a runtime/metrics name ("...:bytes").
func metricUnit(name string) string {
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		switch u := name[i+1:]; u {
		case "bytes":
			return "bytes"
		case "threads", "objects", "goroutines", "calls":
			return "count"
		default:
			return u
		}
	}
	return "count"
}

func (m *mapper) label(ev *trace.Event) error {
	l := ev.Label()
	if l.Resource.Kind != trace.ResourceGoroutine {
		m.anomaly("label on a " + l.Resource.Kind.String())
		return nil
	}
	g, err := m.goroutine(GoID(l.Resource.Goroutine()), Time(ev.Time()))
	if err != nil {
		return err
	}
	if g.info.Label == l.Label {
		return nil
	}
	g.info.Label = l.Label
	return m.sink.Goroutine(&g.info)
}

// sampleOfEnded reports whether ev is a CPU sample of goroutine id, which
// is not live: the runtime writes a sample some time after it is taken,
// and its goroutine may have ended in between. A goroutine the mapping
// does not know is one that ended, except in the first generation, where
// it may be one that ran since before the trace and that the trace has
// not stated yet (Go's tracer states a running goroutine at its next
// event). Declaring an ended goroutine again would make it a goroutine
// alive, in no state, from the trace's start to its end.
func (m *mapper) sampleOfEnded(ev *trace.Event, id GoID) bool {
	if ev.Kind() != trace.EventStackSample || m.lookupG(id) != nil {
		return false
	}
	if m.syncs > 1 {
		return true
	}
	return m.endedEarly.has(id)
}

func (m *mapper) sample(ev *trace.Event, t Time) error {
	stk, err := m.evStack(ev)
	if err != nil {
		return err
	}
	m.smp = CPUSample{Time: t, G: GoID(ev.Goroutine()), P: m.procOf(ev), M: ThreadID(ev.Thread()), Stack: stk}
	if m.smp.G != NoGoroutine && m.lookupG(m.smp.G) == nil {
		// What ran is known by its thread and stack; the goroutine had
		// ended (see sampleOfEnded).
		m.anomaly("CPU sample of a goroutine that had ended (the sample kept without it)")
		m.smp.G = NoGoroutine
	}
	// Traces before Go 1.22 do not name a sample's thread: it is the one
	// running on the sample's P then.
	if m.smp.M == NoThread && m.smp.P != NoProc {
		if p := m.ps[m.smp.P]; p != nil && p.open {
			m.smp.M = p.cur.M
		}
	}
	return m.sink.CPUSample(&m.smp)
}

// countExperiment counts an experimental event in Summary.ExpEvents.
// Its experiment's name is compared, not kept, and a new one is copied:
// the ExperimentalEvent holds a slice of the Event it was made from, so
// keeping any part of it would make every such Event a copy on the heap,
// which costs more than its parse.
func (m *mapper) countExperiment(ev *trace.Event) {
	x := ev.Experimental()
	for i := range m.expCounts {
		if c := &m.expCounts[i]; c.name == x.Experiment {
			c.n++
			return
		}
	}
	m.expCounts = append(m.expCounts, expCount{strings.Clone(x.Experiment), 1})
}

// expCount is the count of one experiment's events: a trace has a few
// experiments at most, found faster in a slice than in a map.
type expCount struct {
	name string
	n    int64
}

func (m *mapper) experimental(ev *trace.Event, t Time) error {
	x := ev.Experimental()
	m.exp = Experimental{Time: t, Name: x.Name, Experiment: x.Experiment,
		G: GoID(ev.Goroutine()), P: m.procOf(ev), M: ThreadID(ev.Thread()), Args: m.exp.Args[:0]}
	if !m.expArgs(&x) {
		m.anomaly("experimental event with an unreadable argument: " + x.Name)
	}
	return m.sink.Experimental(&m.exp)
}

// expArgs reads the arguments of an experimental event into m.exp. The
// parser does not validate these arguments (it does not know the
// experiments), and a string argument with a bad ID makes it panic; the
// arguments read before that are kept.
func (m *mapper) expArgs(x *trace.ExperimentalEvent) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	for i, name := range x.Args {
		v := x.ArgValue(i)
		a := ExpArg{Name: name}
		if v.Kind() == trace.ValueString {
			a.String = v.String()
		} else {
			a.Value = v.Uint64()
		}
		m.exp.Args = append(m.exp.Args, a)
	}
	return true
}

// goStateCounters are the derived counters (bits 1<<CounterKind) that
// count the goroutines in each state.
var goStateCounters = [numGoStates]uint16{
	GoRunnable: 1 << CounterGoroutinesRunnable,
	GoRunning:  1 << CounterGoroutinesRunning,
	GoWaiting:  1 << CounterGoroutinesWaiting,
	GoSyscall:  1<<CounterGoroutinesSyscall | 1<<CounterThreadsSyscall,
}

// derivedCounters are the bits of every derived counter.
const derivedCounters = 1<<CounterGoroutinesRunning | 1<<CounterGoroutinesRunnable | 1<<CounterGoroutinesWaiting |
	1<<CounterGoroutinesSyscall | 1<<CounterThreadsRunning | 1<<CounterThreadsSyscall

// flushCounters delivers the derived counters that changed, in the order
// of their kinds; the first time, every one. A transition moves two
// counts or three, so only those are looked at.
func (m *mapper) flushCounters(t Time) error {
	check, all := m.changed, !m.flushed
	if all {
		check = derivedCounters
	}
	m.changed, m.flushed = 0, true
	for check != 0 {
		k := CounterKind(bits.TrailingZeros16(check))
		check &= check - 1
		v := m.derivedValue(k)
		if !all && m.emitted[k] == v {
			continue
		}
		m.emitted[k] = v
		c := &m.derivedCtr[k]
		c.Time, c.Value = t, v
		if err := m.sink.Counter(c); err != nil {
			return err
		}
	}
	return nil
}

// derivedValue is the value of derived counter k.
func (m *mapper) derivedValue(k CounterKind) uint64 {
	switch k {
	case CounterGoroutinesRunning:
		return uint64(m.goCount[GoRunning])
	case CounterGoroutinesRunnable:
		return uint64(m.goCount[GoRunnable])
	case CounterGoroutinesWaiting:
		return uint64(m.goCount[GoWaiting])
	case CounterThreadsRunning:
		return uint64(m.procsRun)
	}
	return uint64(m.goCount[GoSyscall]) // goroutines and threads in a syscall
}

// finish closes everything still open at the last timestamp and ends the
// pass. Items are closed in ID order so that output is deterministic.
func (m *mapper) finish() (err error) {
	if m.ended {
		return nil
	}
	m.ended = true
	defer func() {
		if p := recover(); p != nil {
			// The sinks are ending: a panic of theirs is reported as
			// during the pass.
			err = m.recovered(p)
			var se sinkError
			if errors.As(err, &se) {
				err = se.err
			}
		}
	}()
	t := m.last
	cerr := m.closeAll(t)
	m.sum.End = t
	m.sum.Generations = max(m.syncs-1, 0)
	if m.readPast {
		m.sum.Generations++
	}
	m.sum.Spans = m.spans()
	m.sum.BytesRead = m.counter.n.Load()
	m.sum.Compressed = m.counter.compressed
	m.sum.EventsByKind = make(map[string]int64)
	for k, n := range m.kinds {
		if n > 0 {
			m.sum.EventsByKind[trace.EventKind(k).String()] = n
		}
	}
	if len(m.expCounts) > 0 {
		m.sum.ExpEvents = make(map[string]int64, len(m.expCounts))
		for _, c := range m.expCounts {
			m.sum.ExpEvents[c.name] += c.n
		}
	}
	if cerr != nil {
		m.sum.Err = cerr
		_ = m.sink.End(&m.sum)
		return cerr
	}
	return m.sink.End(&m.sum)
}

func (m *mapper) closeAll(t Time) error {
	for _, id := range slices.Sorted(maps.Keys(maps.Collect(m.gs.All()))) {
		g := m.gs.Get(id)
		if err := m.closeRegions(g, t, OpenEnd); err != nil {
			return err
		}
		if g.open {
			if err := m.endState(g, t, NoStack, OpenEnd); err != nil {
				return err
			}
		}
		if g.pending && !m.cfg.stopsEarly {
			m.sum.UnmatchedFlows++
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.ps)) {
		if p := m.ps[id]; p.open {
			p.open = false
			p.cur.End = t
			p.cur.Flags |= OpenEnd
			m.procsRun--
			m.changed |= 1 << CounterThreadsRunning
			if err := m.sink.ProcRun(&p.cur); err != nil {
				return err
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(m.ranges), func(a, b rangeKey) int {
		return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.id, b.id), cmp.Compare(a.name, b.name))
	})
	for _, k := range keys {
		if err := m.closeRange(k, m.ranges[k], t, NoStack, OpenEnd); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.tasks)) {
		tk := m.tasks[id]
		m.dropTask(id)
		tk.End = t
		tk.Flags |= OpenEnd
		if err := m.sink.Task(tk); err != nil {
			return err
		}
	}
	return nil
}
