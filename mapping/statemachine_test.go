package mapping

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/exp/trace"
)

// Table-driven tests of the mapping's state machine, (*mapper).event, on
// synthetic events built with x/exp/trace's public MakeEvent.
//
// Every case starts with a Sync event and ends with finish. A recording sink
// keeps a copy of everything delivered, in order, and checks the Sink
// protocol as it goes (Begin first, End last, nothing named before it was
// delivered, stacks interned, derived counters not repeated, instants in
// time order), so every case also checks the protocol.
//
// What MakeEvent (x/exp/trace at f0251eb4aa3e) cannot build, so that only
// tests on real traces can cover it:
//   - experimental events: EventDetails has no experimental kind;
//   - range attributes: a sweep's RangeEnd always carries "bytes swept" and
//     "bytes reclaimed" of 0, there is no field to set them;
//   - thread-scoped ranges and ranges other than GC mark, sweep, mark assist
//     and stop-the-world (MakeEvent rejects other names);
//   - metrics other than heap live, heap goal and GOMAXPROCS;
//   - labels on anything but a goroutine, and state transitions of threads
//     (MakeEvent rejects both), so the mapping's anomalies for them;
//   - a P first seen in a later generation: NotExist->Running comes back
//     from the event as Undetermined->Running (MakeEvent stores the runtime's
//     status code where the parser keeps the old ProcState);
//   - stacks on RangeEnd, GoStart, GoDestroy and syscall exits: the wire
//     events have none, and MakeEvent drops a stack given for them;
//   - frames with PC 0: MakeStack keys frames by PC, so frames sharing a PC
//     collapse into one; every synthetic frame here has its own PC.

// Execution contexts and resources of the synthetic traces. Names are
// chosen not to clash with other tests of the package.
const (
	goMain   = 1 // the main goroutine, running at trace start
	goWorker = 2 // created by goMain
	goThird  = 3
	goFourth = 4
	goCgo    = 5

	procA = 0
	procB = 1

	thrA = 100
	thrB = 101
	thrC = 102
)

const (
	rangeGCMark = "GC concurrent mark phase"
	rangeSweep  = "GC incremental sweep"
	rangeAssist = "GC mark assist"
	rangeSTW    = "stop-the-world (GC sweep termination)"

	metricHeapLive   = "/memory/classes/heap/objects:bytes"
	metricHeapGoal   = "/gc/heap/goal:bytes"
	metricGOMAXPROCS = "/sched/gomaxprocs:threads"
)

// Frames of the synthetic stacks. Each has its own PC: MakeStack and the
// mapping both take a PC to name one frame.
var (
	frGoexit      = trace.StackFrame{PC: 0x401000, Func: "runtime.goexit", File: "/go/src/runtime/asm_amd64.s", Line: 1700}
	frRuntimeMain = trace.StackFrame{PC: 0x402000, Func: "runtime.main", File: "/go/src/runtime/proc.go", Line: 283}
	frMainGo      = trace.StackFrame{PC: 0x403000, Func: "main.main", File: "/src/app/main.go", Line: 12}
	frMainSend    = trace.StackFrame{PC: 0x403100, Func: "main.main", File: "/src/app/main.go", Line: 14}
	frMainSelect  = trace.StackFrame{PC: 0x403200, Func: "main.main", File: "/src/app/main.go", Line: 16}
	frWorker      = trace.StackFrame{PC: 0x404000, Func: "main.worker", File: "/src/app/main.go", Line: 30}
	frWorkerRecv  = trace.StackFrame{PC: 0x404100, Func: "main.worker", File: "/src/app/main.go", Line: 31}
	frWorkerRead  = trace.StackFrame{PC: 0x404200, Func: "main.worker", File: "/src/app/main.go", Line: 35}
	frChanrecv    = trace.StackFrame{PC: 0x405000, Func: "runtime.chanrecv1", File: "/go/src/runtime/chan.go", Line: 489}
	frChansend    = trace.StackFrame{PC: 0x405100, Func: "runtime.chansend1", File: "/go/src/runtime/chan.go", Line: 161}
	frSelectgo    = trace.StackFrame{PC: 0x405200, Func: "runtime.selectgo", File: "/go/src/runtime/select.go", Line: 335}
	frRead        = trace.StackFrame{PC: 0x406000, Func: "syscall.read", File: "/go/src/syscall/zsyscall_linux_amd64.go", Line: 736}
	frGCStart     = trace.StackFrame{PC: 0x407000, Func: "runtime.gcStart", File: "/go/src/runtime/mgc.go", Line: 640}
	frAssist      = trace.StackFrame{PC: 0x407100, Func: "runtime.gcAssistAlloc", File: "/go/src/runtime/mgcmark.go", Line: 500}
	frSweepone    = trace.StackFrame{PC: 0x407200, Func: "runtime.sweepone", File: "/go/src/runtime/mgcsweep.go", Line: 380}
	frNewTask     = trace.StackFrame{PC: 0x408000, Func: "runtime/trace.NewTask", File: "/go/src/runtime/trace/annotation.go", Line: 80}
	frTaskEnd     = trace.StackFrame{PC: 0x408100, Func: "runtime/trace.(*Task).End", File: "/go/src/runtime/trace/annotation.go", Line: 120}
	frRegion      = trace.StackFrame{PC: 0x408200, Func: "runtime/trace.StartRegion", File: "/go/src/runtime/trace/annotation.go", Line: 160}
	frRegionEnd   = trace.StackFrame{PC: 0x408300, Func: "runtime/trace.(*Region).End", File: "/go/src/runtime/trace/annotation.go", Line: 180}
	frLog         = trace.StackFrame{PC: 0x408400, Func: "runtime/trace.Log", File: "/go/src/runtime/trace/annotation.go", Line: 100}
	frHandler     = trace.StackFrame{PC: 0x409000, Func: "main.handle", File: "/src/app/handler.go", Line: 50}
)

var (
	stkGoStmt      = trace.MakeStack([]trace.StackFrame{frMainGo, frRuntimeMain, frGoexit}) // main.main's go statement
	stkWorkerStart = trace.MakeStack([]trace.StackFrame{frWorker})                          // a creation stack: the start PC
	stkRecv        = trace.MakeStack([]trace.StackFrame{frChanrecv, frWorkerRecv, frGoexit})
	stkSend        = trace.MakeStack([]trace.StackFrame{frChansend, frMainSend, frRuntimeMain, frGoexit})
	stkSelect      = trace.MakeStack([]trace.StackFrame{frSelectgo, frMainSelect, frRuntimeMain, frGoexit})
	stkRead        = trace.MakeStack([]trace.StackFrame{frRead, frWorkerRead, frGoexit})
	stkGC          = trace.MakeStack([]trace.StackFrame{frGCStart, frHandler, frGoexit})
	stkAssist      = trace.MakeStack([]trace.StackFrame{frAssist, frHandler, frGoexit})
	stkSweep       = trace.MakeStack([]trace.StackFrame{frSweepone, frHandler, frGoexit})
	stkNewTask     = trace.MakeStack([]trace.StackFrame{frNewTask, frHandler, frGoexit})
	stkTaskEnd     = trace.MakeStack([]trace.StackFrame{frTaskEnd, frHandler, frGoexit})
	stkRegion      = trace.MakeStack([]trace.StackFrame{frRegion, frHandler, frGoexit})
	stkRegionEnd   = trace.MakeStack([]trace.StackFrame{frRegionEnd, frHandler, frGoexit})
	stkLog         = trace.MakeStack([]trace.StackFrame{frLog, frHandler, frGoexit})
	stkHandler     = trace.MakeStack([]trace.StackFrame{frHandler, frGoexit})
)

// smCtx is the execution context of a synthetic event.
type smCtx struct {
	g trace.GoID
	p trace.ProcID
	m trace.ThreadID
}

// onM is a thread holding no P; onP a thread holding a P but running no
// goroutine; onG a goroutine running on a P and a thread.
func onM(m trace.ThreadID) smCtx                 { return smCtx{trace.NoGoroutine, trace.NoProc, m} }
func onP(p trace.ProcID, m trace.ThreadID) smCtx { return smCtx{trace.NoGoroutine, p, m} }
func onG(g trace.GoID, p trace.ProcID, m trace.ThreadID) smCtx {
	return smCtx{g, p, m}
}

// synth builds synthetic events. Its methods are its namespace: the
// package's other tests may use the short names.
type synth struct{}

func smMake[T trace.EventDetails](ts trace.Time, kind trace.EventKind, c smCtx, stk trace.Stack, details T) trace.Event {
	ev, err := trace.MakeEvent(trace.EventConfig[T]{
		Time: ts, Kind: kind, Goroutine: c.g, Proc: c.p, Thread: c.m, Stack: stk, Details: details,
	})
	if err != nil {
		// The test asked for an event MakeEvent cannot build: a bug in the test.
		panic(fmt.Sprintf("MakeEvent(%v at %d): %v", kind, ts, err))
	}
	return ev
}

func (synth) sync(ts trace.Time) trace.Event {
	return smMake(ts, trace.EventSync, smCtx{trace.NoGoroutine, trace.NoProc, trace.NoThread}, trace.NoStack, trace.Sync{})
}

// goTrans is a goroutine state transition; stk is the event's stack, tstk
// the transition's (the new goroutine's start for a creation).
func (synth) goTrans(ts trace.Time, c smCtx, stk trace.Stack, id trace.GoID, from, to trace.GoState, reason string, tstk trace.Stack) trace.Event {
	st := trace.MakeGoStateTransition(id, from, to)
	st.Reason = reason
	st.Stack = tstk
	return smMake(ts, trace.EventStateTransition, c, stk, st)
}

// goStatus states a goroutine's status in the first generation
// (Undetermined->to). A stack makes it a GoStatusStack: MakeEvent takes the
// transition's stack to choose the event and the event's stack to fill it.
func (e synth) goStatus(ts trace.Time, c smCtx, id trace.GoID, to trace.GoState, stk trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, id, trace.GoUndetermined, to, "", stk)
}

// goRestate restates a known status, as the parser does in every
// generation after the first (s->s).
func (e synth) goRestate(ts trace.Time, c smCtx, id trace.GoID, s trace.GoState) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, id, s, s, "", trace.NoStack)
}

func (e synth) goCreate(ts trace.Time, c smCtx, stk trace.Stack, id trace.GoID, start trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, id, trace.GoNotExist, trace.GoRunnable, "", start)
}

func (e synth) goCreateBlocked(ts trace.Time, c smCtx, stk trace.Stack, id trace.GoID, start trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, id, trace.GoNotExist, trace.GoWaiting, "", start)
}

func (e synth) goCreateSyscall(ts trace.Time, c smCtx, id trace.GoID) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, id, trace.GoNotExist, trace.GoSyscall, "", trace.NoStack)
}

// goStart starts id on the P and thread of c (c.g is the goroutine before).
func (e synth) goStart(ts trace.Time, c smCtx, id trace.GoID) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, id, trace.GoRunnable, trace.GoRunning, "", trace.NoStack)
}

// goBlock blocks c.g. MakeEvent takes the transition's stack from the event.
func (e synth) goBlock(ts trace.Time, c smCtx, reason string, stk trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, c.g, trace.GoRunning, trace.GoWaiting, reason, trace.NoStack)
}

func (e synth) goStop(ts trace.Time, c smCtx, reason string, stk trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, c.g, trace.GoRunning, trace.GoRunnable, reason, trace.NoStack)
}

func (e synth) goUnblock(ts trace.Time, c smCtx, stk trace.Stack, id trace.GoID) trace.Event {
	return e.goTrans(ts, c, stk, id, trace.GoWaiting, trace.GoRunnable, "", trace.NoStack)
}

func (e synth) goSyscall(ts trace.Time, c smCtx, stk trace.Stack) trace.Event {
	return e.goTrans(ts, c, stk, c.g, trace.GoRunning, trace.GoSyscall, "", trace.NoStack)
}

func (e synth) goSyscallEnd(ts trace.Time, c smCtx) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, c.g, trace.GoSyscall, trace.GoRunning, "", trace.NoStack)
}

func (e synth) goSyscallEndBlocked(ts trace.Time, c smCtx) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, c.g, trace.GoSyscall, trace.GoRunnable, "", trace.NoStack)
}

func (e synth) goEnd(ts trace.Time, c smCtx) trace.Event {
	return e.goTrans(ts, c, trace.NoStack, c.g, trace.GoRunning, trace.GoNotExist, "", trace.NoStack)
}

func (synth) procTrans(ts trace.Time, c smCtx, id trace.ProcID, from, to trace.ProcState) trace.Event {
	return smMake(ts, trace.EventStateTransition, c, trace.NoStack, trace.MakeProcStateTransition(id, from, to))
}

// procStatus states a P's status in the first generation.
func (e synth) procStatus(ts trace.Time, c smCtx, id trace.ProcID, to trace.ProcState) trace.Event {
	return e.procTrans(ts, c, id, trace.ProcUndetermined, to)
}

func (e synth) procStart(ts trace.Time, m trace.ThreadID, id trace.ProcID) trace.Event {
	return e.procTrans(ts, onM(m), id, trace.ProcIdle, trace.ProcRunning)
}

// procStop stops c.p; procSteal takes id away from another context.
func (e synth) procStop(ts trace.Time, c smCtx) trace.Event {
	return e.procTrans(ts, c, c.p, trace.ProcRunning, trace.ProcIdle)
}

func (e synth) procSteal(ts trace.Time, c smCtx, id trace.ProcID) trace.Event {
	return e.procTrans(ts, c, id, trace.ProcRunning, trace.ProcIdle)
}

func (synth) rng(ts trace.Time, kind trace.EventKind, c smCtx, stk trace.Stack, name string, scope trace.ResourceID) trace.Event {
	return smMake(ts, kind, c, stk, trace.Range{Name: name, Scope: scope})
}

var scopeGlobal = trace.ResourceID{Kind: trace.ResourceNone}

func goScope(id trace.GoID) trace.ResourceID     { return trace.MakeResourceID(id) }
func procScope(id trace.ProcID) trace.ResourceID { return trace.MakeResourceID(id) }

func (synth) task(ts trace.Time, kind trace.EventKind, c smCtx, stk trace.Stack, id, parent trace.TaskID, typ string) trace.Event {
	return smMake(ts, kind, c, stk, trace.Task{ID: id, Parent: parent, Type: typ})
}

func (synth) region(ts trace.Time, kind trace.EventKind, c smCtx, stk trace.Stack, task trace.TaskID, typ string) trace.Event {
	return smMake(ts, kind, c, stk, trace.Region{Task: task, Type: typ})
}

func (synth) log(ts trace.Time, c smCtx, stk trace.Stack, task trace.TaskID, category, message string) trace.Event {
	return smMake(ts, trace.EventLog, c, stk, trace.Log{Task: task, Category: category, Message: message})
}

func (synth) label(ts trace.Time, c smCtx, id trace.GoID, label string) trace.Event {
	return smMake(ts, trace.EventLabel, c, trace.NoStack, trace.Label{Label: label, Resource: trace.MakeResourceID(id)})
}

func (synth) metric(ts trace.Time, c smCtx, name string, v uint64) trace.Event {
	return smMake(ts, trace.EventMetric, c, trace.NoStack, trace.Metric{Name: name, Value: trace.Uint64Value(v)})
}

func (synth) sample(ts trace.Time, c smCtx, stk trace.Stack) trace.Event {
	return smMake(ts, trace.EventStackSample, c, stk, trace.StackSample{})
}

// mainCreatesWorker opens a trace: goMain, running on procA at its
// start, creates goWorker at 1010.
func (e synth) mainCreatesWorker() []trace.Event {
	return []trace.Event{
		e.sync(1000),
		e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
		e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.goCreate(1010, onG(goMain, procA, thrA), stkGoStmt, goWorker, stkWorkerStart),
	}
}

// lifecycle is the life of a goroutine: goMain, running at trace start,
// creates goWorker, which starts on procB, blocks on a channel, is
// unblocked by goMain, runs on procA and ends. goMain is left waiting.
func (e synth) lifecycle() []trace.Event {
	return []trace.Event{
		e.sync(1000), // 0
		e.procStatus(1010, onM(thrA), procA, trace.ProcRunning),                         // 1
		e.procStatus(1011, onM(thrB), procB, trace.ProcIdle),                            // 2
		e.goStatus(1020, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),      // 3
		e.goCreate(1030, onG(goMain, procA, thrA), stkGoStmt, goWorker, stkWorkerStart), // 4
		e.procStart(1040, thrB, procB),                                                  // 5
		e.goStart(1050, onP(procB, thrB), goWorker),                                     // 6
		e.goBlock(1060, onG(goWorker, procB, thrB), "chan receive", stkRecv),            // 7
		e.procStop(1065, onP(procB, thrB)),                                              // 8
		e.goUnblock(1070, onG(goMain, procA, thrA), stkSend, goWorker),                  // 9
		e.goBlock(1080, onG(goMain, procA, thrA), "select", stkSelect),                  // 10
		e.goStart(1090, onP(procA, thrA), goWorker),                                     // 11
		e.goEnd(1100, onG(goWorker, procA, thrA)),                                       // 12
		e.sync(1110), // 13
	}
}

var errSink = errors.New("sink failed on purpose")

// smCall is one call to a sink: the method and a copy of its item.
type smCall struct {
	method string
	item   any
}

// smRecorder is a Sink that keeps a copy of everything delivered, in order,
// and checks the Sink protocol as it goes.
type smRecorder struct {
	calls      []smCall
	metas      []Meta
	summaries  []Summary
	stacks     []Stack
	goroutines []Goroutine
	procs      []Proc
	threads    []Thread
	states     []GoroutineState
	procRuns   []ProcRun
	ranges     []Range
	tasks      []Task
	regions    []Region
	logs       []Log
	goEvents   []GoroutineEvent
	flows      []Flow
	counters   []Counter
	samples    []CPUSample
	exps       []Experimental

	failMethod string // the method that fails with errSink ...
	failN      int    // ... on its failN-th call, from 1
	endErr     error  // what End returns
	count      map[string]int

	problems    []string
	stackFrames map[StackID]string
	stackByKey  map[string]StackID
	seenG       map[GoID]bool
	seenP       map[ProcID]bool
	seenM       map[ThreadID]bool
	goneG       map[GoID]bool // goroutines whose GoEnded was delivered
	lastCounter map[string]uint64
	lastInstant Time
	begun       bool
	ended       bool
}

var _ Sink = (*smRecorder)(nil)

func newRecorder() *smRecorder {
	return &smRecorder{
		count:       make(map[string]int),
		stackFrames: make(map[StackID]string),
		stackByKey:  make(map[string]StackID),
		seenG:       make(map[GoID]bool),
		seenP:       make(map[ProcID]bool),
		seenM:       make(map[ThreadID]bool),
		goneG:       make(map[GoID]bool),
		lastCounter: make(map[string]uint64),
		lastInstant: -1 << 63,
	}
}

// cloneSlice copies s, mapping empty to nil so that copies compare by
// content.
func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func (s *smRecorder) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *smRecorder) record(method string, item any) error {
	if s.ended {
		s.problem("%s after End", method)
	}
	if !s.begun {
		s.problem("%s before Begin", method)
	}
	s.calls = append(s.calls, smCall{method, item})
	s.count[method]++
	if method == s.failMethod && s.count[method] == s.failN {
		return errSink
	}
	return nil
}

func (s *smRecorder) needG(what string, g GoID) {
	if g != NoGoroutine && !s.seenG[g] {
		s.problem("%s names G%d before it was delivered", what, g)
	}
}

// onG checks an item on g's own timeline: GoEnded is the last of them.
func (s *smRecorder) onG(what string, g GoID) {
	s.needG(what, g)
	if s.goneG[g] {
		s.problem("%s comes after the end of G%d", what, g)
	}
}

func (s *smRecorder) needP(what string, p ProcID) {
	if p != NoProc && !s.seenP[p] {
		s.problem("%s names P%d before it was delivered", what, p)
	}
}

func (s *smRecorder) needM(what string, m ThreadID) {
	if m != NoThread && !s.seenM[m] {
		s.problem("%s names M%d before it was delivered", what, m)
	}
}

func (s *smRecorder) needStack(what string, id StackID) {
	if _, ok := s.stackFrames[id]; id != NoStack && !ok {
		s.problem("%s names stack %d before it was delivered", what, id)
	}
}

func (s *smRecorder) interval(what string, start, end Time) {
	if end < start {
		s.problem("%s ends at %d before it starts at %d", what, end, start)
	}
}

func (s *smRecorder) instant(what string, t Time) {
	if t < s.lastInstant {
		s.problem("%s at %d comes after an instant at %d", what, t, s.lastInstant)
	}
	s.lastInstant = t
}

func (s *smRecorder) Begin(m *Meta) error {
	if s.begun {
		s.problem("Begin called twice")
	}
	s.begun = true
	c := *m
	if m.Clock != nil {
		clk := *m.Clock
		c.Clock = &clk
	}
	s.metas = append(s.metas, c)
	return s.record("Begin", c)
}

func (s *smRecorder) Stack(st *Stack) error {
	c := Stack{ID: st.ID, Frames: cloneSlice(st.Frames)}
	key := fmt.Sprint(c.Frames)
	switch {
	case c.ID == NoStack:
		s.problem("a stack delivered as NoStack")
	case len(c.Frames) == 0:
		s.problem("stack %d has no frames", c.ID)
	}
	if _, ok := s.stackFrames[c.ID]; ok {
		s.problem("stack %d delivered twice", c.ID)
	}
	if id, ok := s.stackByKey[key]; ok {
		s.problem("stack %d repeats the frames of stack %d", c.ID, id)
	}
	s.stackFrames[c.ID] = key
	s.stackByKey[key] = c.ID
	s.stacks = append(s.stacks, c)
	return s.record("Stack", c)
}

func (s *smRecorder) Goroutine(g *Goroutine) error {
	c := *g
	if s.seenG[c.ID] && !c.Updated {
		s.problem("G%d delivered again without Updated", c.ID)
	}
	if !s.seenG[c.ID] && c.Updated {
		s.problem("first delivery of G%d has Updated set", c.ID)
	}
	s.needG(fmt.Sprintf("G%d's Creator", c.ID), c.Creator)
	if s.goneG[c.ID] {
		s.problem("G%d delivered after its end", c.ID)
	}
	s.seenG[c.ID] = true
	s.goroutines = append(s.goroutines, c)
	return s.record("Goroutine", c)
}

func (s *smRecorder) Proc(p *Proc) error {
	if s.seenP[p.ID] {
		s.problem("P%d delivered twice", p.ID)
	}
	s.seenP[p.ID] = true
	s.procs = append(s.procs, *p)
	return s.record("Proc", *p)
}

func (s *smRecorder) Thread(m *Thread) error {
	if s.seenM[m.ID] {
		s.problem("M%d delivered twice", m.ID)
	}
	s.seenM[m.ID] = true
	s.threads = append(s.threads, *m)
	return s.record("Thread", *m)
}

func (s *smRecorder) GoroutineState(x *GoroutineState) error {
	c := *x
	what := fmt.Sprintf("%v interval of G%d", c.State, c.G)
	s.onG(what, c.G)
	s.needP(what, c.P)
	s.needM(what, c.M)
	s.needStack(what, c.Stack)
	s.needStack(what, c.EndStack)
	s.interval(what, c.Start, c.End)
	s.states = append(s.states, c)
	return s.record("GoroutineState", c)
}

func (s *smRecorder) ProcRun(x *ProcRun) error {
	c := *x
	what := fmt.Sprintf("run of P%d", c.P)
	s.needP(what, c.P)
	s.needM(what, c.M)
	s.interval(what, c.Start, c.End)
	s.procRuns = append(s.procRuns, c)
	return s.record("ProcRun", c)
}

func (s *smRecorder) Range(x *Range) error {
	c := *x
	c.Attrs = cloneSlice(x.Attrs)
	what := "range " + c.Name
	switch c.Scope {
	case ScopeGoroutine:
		s.onG(what, c.G)
	case ScopeProc:
		s.needP(what, c.P)
	case ScopeThread:
		s.needM(what, c.M)
	}
	s.needStack(what, c.Stack)
	s.needStack(what, c.EndStack)
	s.interval(what, c.Start, c.End)
	s.ranges = append(s.ranges, c)
	return s.record("Range", c)
}

func (s *smRecorder) Task(x *Task) error {
	c := *x
	c.Goroutines = cloneSlice(x.Goroutines)
	what := fmt.Sprintf("task %d", c.ID)
	s.needG(what, c.StartG)
	s.needG(what, c.EndG)
	for _, g := range c.Goroutines {
		s.needG(what, g)
	}
	s.needStack(what, c.Stack)
	s.needStack(what, c.EndStack)
	s.interval(what, c.Start, c.End)
	s.tasks = append(s.tasks, c)
	return s.record("Task", c)
}

func (s *smRecorder) Region(x *Region) error {
	c := *x
	what := fmt.Sprintf("region %d", c.ID)
	s.onG(what, c.G)
	s.needStack(what, c.Stack)
	s.needStack(what, c.EndStack)
	s.interval(what, c.Start, c.End)
	s.regions = append(s.regions, c)
	return s.record("Region", c)
}

func (s *smRecorder) Log(x *Log) error {
	c := *x
	s.onG("log", c.G)
	s.needP("log", c.P)
	s.needM("log", c.M)
	s.needStack("log", c.Stack)
	s.instant("log", c.Time)
	s.logs = append(s.logs, c)
	return s.record("Log", c)
}

func (s *smRecorder) GoroutineEvent(x *GoroutineEvent) error {
	c := *x
	what := fmt.Sprintf("%v event of G%d", c.Kind, c.G)
	s.onG(what, c.G)
	if c.Kind == GoEnded {
		s.goneG[c.G] = true
	}
	s.needG(what, c.By)
	s.needP(what, c.P)
	s.needM(what, c.M)
	s.needStack(what, c.Stack)
	s.instant(what, c.Time)
	s.goEvents = append(s.goEvents, c)
	return s.record("GoroutineEvent", c)
}

func (s *smRecorder) Flow(x *Flow) error {
	c := *x
	what := fmt.Sprintf("flow %d", c.ID)
	for _, e := range []Endpoint{c.From, c.To} {
		s.needG(what, e.G)
		s.needP(what, e.P)
		s.needM(what, e.M)
	}
	s.needStack(what, c.Stack)
	s.interval(what, c.From.Time, c.To.Time)
	s.flows = append(s.flows, c)
	return s.record("Flow", c)
}

func (s *smRecorder) Counter(x *Counter) error {
	c := *x
	key := fmt.Sprintf("%v/%s", c.Kind, c.Name)
	if v, ok := s.lastCounter[key]; ok && v == c.Value {
		s.problem("counter %s repeats %d at %d", key, v, c.Time)
	}
	s.lastCounter[key] = c.Value
	s.instant("counter "+key, c.Time)
	s.counters = append(s.counters, c)
	return s.record("Counter", c)
}

func (s *smRecorder) CPUSample(x *CPUSample) error {
	c := *x
	s.onG("sample", c.G)
	s.needP("sample", c.P)
	s.needM("sample", c.M)
	s.needStack("sample", c.Stack)
	s.instant("sample", c.Time)
	s.samples = append(s.samples, c)
	return s.record("CPUSample", c)
}

func (s *smRecorder) Experimental(x *Experimental) error {
	c := *x
	c.Args = cloneSlice(x.Args)
	s.needG("experimental", c.G)
	s.needP("experimental", c.P)
	s.needM("experimental", c.M)
	s.instant("experimental", c.Time)
	s.exps = append(s.exps, c)
	return s.record("Experimental", c)
}

func (s *smRecorder) End(sum *Summary) error {
	if !s.begun {
		s.problem("End before Begin")
	}
	c := *sum
	c.EventsByKind = maps.Clone(sum.EventsByKind)
	c.ExpBatches = maps.Clone(sum.ExpBatches)
	c.Anomalies = maps.Clone(sum.Anomalies)
	s.summaries = append(s.summaries, c)
	err := s.record("End", c)
	if s.ended {
		s.problem("End called twice")
	}
	s.ended = true
	if err != nil {
		return err
	}
	return s.endErr
}

// summary is the Summary passed to End.
func (s *smRecorder) summary(t *testing.T) Summary {
	t.Helper()
	if len(s.summaries) != 1 {
		t.Fatalf("End called %d times, want 1", len(s.summaries))
	}
	return s.summaries[0]
}

// missingStack is what sid returns for a stack never delivered: it matches
// no StackID the mapping hands out in these tests.
const missingStack StackID = 1<<32 - 1

func framesOf(stk trace.Stack) []Frame {
	var fs []Frame
	for f := range stk.Frames() {
		fs = append(fs, Frame{PC: f.PC, Func: f.Func, File: f.File, Line: f.Line})
	}
	return fs
}

// sid is the ID under which stk's frames were delivered.
func (s *smRecorder) sid(t *testing.T, stk trace.Stack) StackID {
	t.Helper()
	want := framesOf(stk)
	for _, st := range s.stacks {
		if reflect.DeepEqual(st.Frames, want) {
			return st.ID
		}
	}
	t.Errorf("stack %v was never delivered", want)
	return missingStack
}

func (s *smRecorder) statesOf(g GoID) []GoroutineState {
	var out []GoroutineState
	for _, x := range s.states {
		if x.G == g {
			out = append(out, x)
		}
	}
	return out
}

func (s *smRecorder) goroutinesOf(g GoID) []Goroutine {
	var out []Goroutine
	for _, x := range s.goroutines {
		if x.ID == g {
			out = append(out, x)
		}
	}
	return out
}

// smCV is a counter sample without its name and unit.
type smCV struct {
	Kind  CounterKind
	Time  Time
	Value uint64
}

func (c smCV) String() string { return fmt.Sprintf("%v@%d=%d", c.Kind, c.Time, c.Value) }

// countersOf lists the samples of the given kinds, in delivery order.
func (s *smRecorder) countersOf(kinds ...CounterKind) []smCV {
	var out []smCV
	for _, c := range s.counters {
		if slices.Contains(kinds, c.Kind) {
			out = append(out, smCV{c.Kind, c.Time, c.Value})
		}
	}
	return out
}

func (s *smRecorder) methods() []string {
	var out []string
	for _, c := range s.calls {
		out = append(out, c.method)
	}
	return out
}

// smFeed runs a mapper over evs into sink. It returns the index of the
// event whose mapping failed, or len(evs) if finish did (or all went well),
// and the error.
func smFeed(sink Sink, evs []trace.Event) (*mapper, int, error) {
	m := newMapper(sink, &config{input: "synthetic"})
	m.counter = &countingReader{}
	for i := range evs {
		if err := m.event(&evs[i]); err != nil {
			return m, i, err
		}
	}
	return m, len(evs), m.finish()
}

// smMap maps evs into a new recorder and fails the test on any error or
// protocol violation.
func smMap(t *testing.T, evs []trace.Event) *smRecorder {
	t.Helper()
	r := newRecorder()
	_, i, err := smFeed(r, evs)
	if err != nil {
		where := "finish"
		if i < len(evs) {
			where = fmt.Sprintf("event %d (%v at %d)", i, evs[i].Kind(), evs[i].Time())
		}
		t.Fatalf("%s: %v", where, err)
	}
	for _, p := range r.problems {
		t.Errorf("sink protocol: %s", p)
	}
	if len(r.metas) != 1 || len(r.summaries) != 1 {
		t.Errorf("Begin called %d times and End %d times, want 1 and 1", len(r.metas), len(r.summaries))
	}
	return r
}

// smDump formats a value for a failure message, a slice one element a line.
func smDump(x any) string {
	v := reflect.ValueOf(x)
	if v.Kind() != reflect.Slice {
		return fmt.Sprintf("%+v", x)
	}
	if v.Len() == 0 {
		return "[]"
	}
	var b strings.Builder
	for i := range v.Len() {
		fmt.Fprintf(&b, "\n\t%+v", v.Index(i).Interface())
	}
	return b.String()
}

func smEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot:  %s\nwant: %s", what, smDump(got), smDump(want))
	}
}

// ran is the regions rs as the model gives them when their goroutine ran
// all the while they were open, as in the scripts that use it: all their
// time running, for those begun in the trace.
func ran(rs []Region) []Region {
	for i := range rs {
		if !rs[i].Flags.Has(OpenStart) {
			rs[i].Timed, rs[i].Time = true, StateTimes{Running: time.Duration(rs[i].End - rs[i].Start)}
		}
	}
	return rs
}

func TestStateMachine(t *testing.T) {
	var e synth
	tests := []struct {
		name   string
		events []trace.Event
		check  func(t *testing.T, r *smRecorder)
	}{
		{
			name:   "goroutine lifecycle",
			events: e.lifecycle(),
			check: func(t *testing.T, r *smRecorder) {
				start, goStmt := r.sid(t, stkWorkerStart), r.sid(t, stkGoStmt)
				recv, send, sel := r.sid(t, stkRecv), r.sid(t, stkSend), r.sid(t, stkSelect)
				smEqual(t, "goroutines", r.goroutines, []Goroutine{
					{ID: goMain, Creator: NoGoroutine, Created: 1000, Flags: OpenStart},
					// Named when first seen with a stack: the outermost frame.
					{ID: goMain, StartFunc: "runtime.main", Creator: NoGoroutine, Created: 1000, Flags: OpenStart, Updated: true},
					// Named after the first frame of its creation stack.
					{ID: goWorker, StartFunc: "main.worker", Creator: goMain, Created: 1030},
				})
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goWorker, State: GoRunnable, Start: 1030, End: 1050, P: NoProc, M: NoThread, Stack: start},
					{G: goWorker, State: GoRunning, Start: 1050, End: 1060, P: procB, M: thrB, EndStack: recv},
					{G: goWorker, State: GoWaiting, Start: 1060, End: 1070, P: NoProc, M: NoThread, Reason: "chan receive", Stack: recv},
					{G: goMain, State: GoRunning, Start: 1000, End: 1080, P: procA, M: thrA, EndStack: sel, Flags: OpenStart},
					{G: goWorker, State: GoRunnable, Start: 1070, End: 1090, P: NoProc, M: NoThread},
					{G: goWorker, State: GoRunning, Start: 1090, End: 1100, P: procA, M: thrA},
					{G: goMain, State: GoWaiting, Start: 1080, End: 1110, P: NoProc, M: NoThread, Reason: "select", Stack: sel, Flags: OpenEnd},
				})
				smEqual(t, "goroutine events", r.goEvents, []GoroutineEvent{
					{Kind: GoCreated, Time: 1030, G: goWorker, By: goMain, P: procA, M: thrA, Stack: goStmt},
					{Kind: GoUnblocked, Time: 1070, G: goWorker, By: goMain, P: procA, M: thrA, Reason: "chan receive", Stack: send},
					{Kind: GoEnded, Time: 1100, G: goWorker, By: goWorker, P: procA, M: thrA},
				})
				smEqual(t, "flows", r.flows, []Flow{
					{ID: 1, Kind: GoCreated, From: Endpoint{1030, goMain, procA, thrA}, To: Endpoint{1050, goWorker, procB, thrB}, Stack: goStmt},
					{ID: 2, Kind: GoUnblocked, From: Endpoint{1070, goMain, procA, thrA}, To: Endpoint{1090, goWorker, procA, thrA}, Stack: send},
				})
				smEqual(t, "proc runs", r.procRuns, []ProcRun{
					{P: procB, M: thrB, Start: 1040, End: 1065, TakenFrom: NoGoroutine},
					{P: procA, M: thrA, Start: 1000, End: 1110, Flags: OpenStart | OpenEnd, TakenFrom: NoGoroutine},
				})
				smEqual(t, "procs", r.procs, []Proc{{procA}, {procB}})
				smEqual(t, "threads", r.threads, []Thread{{thrA}, {thrB}})
				// Derived counters: all of them at the first event, then
				// only changes, kinds in their order within one event.
				smEqual(t, "derived counters", r.countersOf(CounterGoroutinesRunning, CounterGoroutinesRunnable,
					CounterGoroutinesWaiting, CounterGoroutinesSyscall, CounterThreadsRunning, CounterThreadsSyscall), []smCV{
					{CounterGoroutinesRunning, 1010, 0}, {CounterGoroutinesRunnable, 1010, 0}, {CounterGoroutinesWaiting, 1010, 0},
					{CounterGoroutinesSyscall, 1010, 0}, {CounterThreadsRunning, 1010, 1}, {CounterThreadsSyscall, 1010, 0},
					{CounterGoroutinesRunning, 1020, 1},
					{CounterGoroutinesRunnable, 1030, 1},
					{CounterThreadsRunning, 1040, 2},
					{CounterGoroutinesRunning, 1050, 2}, {CounterGoroutinesRunnable, 1050, 0},
					{CounterGoroutinesRunning, 1060, 1}, {CounterGoroutinesWaiting, 1060, 1},
					{CounterThreadsRunning, 1065, 1},
					{CounterGoroutinesRunnable, 1070, 1}, {CounterGoroutinesWaiting, 1070, 0},
					{CounterGoroutinesRunning, 1080, 0}, {CounterGoroutinesWaiting, 1080, 1},
					{CounterGoroutinesRunning, 1090, 1}, {CounterGoroutinesRunnable, 1090, 0},
					{CounterGoroutinesRunning, 1100, 0},
				})
				for _, c := range r.counters {
					if c.Unit != "count" || c.Name != c.Kind.String() {
						t.Errorf("derived counter %+v: want unit count and name %q", c, c.Kind.String())
					}
				}
				sum := r.summary(t)
				smEqual(t, "meta", r.metas, []Meta{{Input: "synthetic", Start: 1000, Origin: 1000}})
				smEqual(t, "summary", []any{sum.Start, sum.End, sum.Generations, sum.Events, sum.Goroutines, sum.Procs, sum.Threads, sum.UnmatchedFlows, len(sum.Anomalies), sum.Err},
					[]any{Time(1000), Time(1110), 1, int64(14), 2, 2, 2, 0, 0, error(nil)})
				smEqual(t, "events by kind", sum.EventsByKind, map[string]int64{"Sync": 2, "StateTransition": 12})
			},
		},
		{
			// The parser restates every status at each generation: s->s.
			name: "status restated as s->s at the next generation does not split intervals",
			events: []trace.Event{
				e.sync(1000),
				e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1003, onM(thrA), goThird, trace.GoWaiting, stkRecv),
				e.sync(2000),
				e.procTrans(2001, onM(thrA), procA, trace.ProcRunning, trace.ProcRunning),
				e.goRestate(2002, onP(procA, thrA), goMain, trace.GoRunning),
				e.goRestate(2003, onM(thrA), goThird, trace.GoWaiting),
				e.sync(3000),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 3000, P: procA, M: thrA, Flags: OpenStart | OpenEnd},
					{G: goThird, State: GoWaiting, Start: 1000, End: 3000, P: NoProc, M: NoThread, Stack: r.sid(t, stkRecv), Flags: OpenStart | OpenEnd},
				})
				smEqual(t, "proc runs", r.procRuns, []ProcRun{{P: procA, M: thrA, Start: 1000, End: 3000, Flags: OpenStart | OpenEnd, TakenFrom: NoGoroutine}})
				sum := r.summary(t)
				smEqual(t, "generations, end", []any{sum.Generations, sum.End}, []any{2, Time(3000)})
			},
		},
		{
			// The brief's variant: Undetermined->s again for a goroutine
			// already known.
			name: "status restated as Undetermined->s at the next generation does not split intervals",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.sync(2000),
				e.goStatus(2002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.sync(3000),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 3000, P: procA, M: thrA, Flags: OpenStart | OpenEnd},
				})
				smEqual(t, "goroutines", r.goroutines, []Goroutine{{ID: goMain, Creator: NoGoroutine, Created: 1000, Flags: OpenStart}})
			},
		},
		{
			name: "goroutine waiting at trace start, unblocked, never runs again",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1003, onP(procA, thrA), goThird, trace.GoWaiting, stkRecv),
				e.goUnblock(1050, onG(goMain, procA, thrA), stkSend, goThird),
				e.sync(1100),
			},
			check: func(t *testing.T, r *smRecorder) {
				recv := r.sid(t, stkRecv)
				smEqual(t, "goroutine", r.goroutinesOf(goThird), []Goroutine{
					{ID: goThird, StartFunc: "main.worker", Creator: NoGoroutine, Created: 1000, Flags: OpenStart},
				})
				smEqual(t, "states", r.statesOf(goThird), []GoroutineState{
					{G: goThird, State: GoWaiting, Start: 1000, End: 1050, P: NoProc, M: NoThread, Stack: recv, Flags: OpenStart},
					{G: goThird, State: GoRunnable, Start: 1050, End: 1100, P: NoProc, M: NoThread, Flags: OpenEnd},
				})
				smEqual(t, "goroutine events", r.goEvents, []GoroutineEvent{
					// GoStatus carries no wait reason.
					{Kind: GoUnblocked, Time: 1050, G: goThird, By: goMain, P: procA, M: thrA, Stack: r.sid(t, stkSend)},
				})
				smEqual(t, "flows", len(r.flows), 0)
				smEqual(t, "unmatched flows", r.summary(t).UnmatchedFlows, 1)
			},
		},
		{
			// No Sync at the end: the last event's time closes what is open.
			name: "running at the end without a final Sync",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.log(1500, onG(goMain, procA, thrA), trace.NoStack, trace.BackgroundTask, "k", "v"),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 1500, P: procA, M: thrA, Flags: OpenStart | OpenEnd},
				})
				smEqual(t, "end", r.summary(t).End, Time(1500))
			},
		},
		{
			name: "preemption: running to runnable and back, no flow",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStop(1020, onG(goMain, procA, thrA), "preempted", stkHandler),
				e.goStart(1030, onP(procA, thrA), goMain),
				e.sync(1040),
			},
			check: func(t *testing.T, r *smRecorder) {
				h := r.sid(t, stkHandler)
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 1020, P: procA, M: thrA, EndStack: h, Flags: OpenStart},
					{G: goMain, State: GoRunnable, Start: 1020, End: 1030, P: NoProc, M: NoThread, Reason: "preempted", Stack: h},
					{G: goMain, State: GoRunning, Start: 1030, End: 1040, P: procA, M: thrA, Flags: OpenEnd},
				})
				smEqual(t, "flows", len(r.flows), 0)
				smEqual(t, "goroutine events", len(r.goEvents), 0)
			},
		},
		{
			name: "syscalls: returning with the P, and blocking so the P is stolen",
			events: []trace.Event{
				e.sync(1000),
				e.procStatus(1005, onM(thrA), procA, trace.ProcRunning),
				e.goStatus(1010, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goSyscall(1020, onG(goMain, procA, thrA), stkRead),
				e.goSyscallEnd(1030, onG(goMain, procA, thrA)),
				e.goSyscall(1040, onG(goMain, procA, thrA), stkRead),
				e.procSteal(1050, onM(thrC), procA), // sysmon retakes the P
				e.goSyscallEndBlocked(1060, onG(goMain, trace.NoProc, thrA)),
				e.procStart(1070, thrA, procA),
				e.goStart(1080, onP(procA, thrA), goMain),
				e.sync(1090),
			},
			check: func(t *testing.T, r *smRecorder) {
				read := r.sid(t, stkRead)
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 1020, P: procA, M: thrA, EndStack: read, Flags: OpenStart},
					{G: goMain, State: GoSyscall, Start: 1020, End: 1030, P: procA, M: thrA, Stack: read},
					{G: goMain, State: GoRunning, Start: 1030, End: 1040, P: procA, M: thrA, EndStack: read},
					{G: goMain, State: GoSyscall, Start: 1040, End: 1060, P: procA, M: thrA, Stack: read, Blocked: true},
					{G: goMain, State: GoRunnable, Start: 1060, End: 1080, P: NoProc, M: NoThread},
					{G: goMain, State: GoRunning, Start: 1080, End: 1090, P: procA, M: thrA, Flags: OpenEnd},
				})
				smEqual(t, "goroutine events", r.goEvents, []GoroutineEvent{
					{Kind: GoSyscallExitBlocked, Time: 1060, G: goMain, By: goMain, P: NoProc, M: thrA},
				})
				smEqual(t, "flows", r.flows, []Flow{
					{ID: 1, Kind: GoSyscallExitBlocked, From: Endpoint{1060, goMain, NoProc, thrA}, To: Endpoint{1080, goMain, procA, thrA}},
				})
				smEqual(t, "proc runs", r.procRuns, []ProcRun{
					{P: procA, M: thrA, Start: 1000, End: 1050, Flags: OpenStart, TakenFrom: goMain},
					{P: procA, M: thrA, Start: 1070, End: 1090, Flags: OpenEnd, TakenFrom: NoGoroutine},
				})
				smEqual(t, "derived counters", r.countersOf(CounterGoroutinesRunning, CounterGoroutinesRunnable,
					CounterGoroutinesWaiting, CounterGoroutinesSyscall, CounterThreadsRunning, CounterThreadsSyscall), []smCV{
					{CounterGoroutinesRunning, 1005, 0}, {CounterGoroutinesRunnable, 1005, 0}, {CounterGoroutinesWaiting, 1005, 0},
					{CounterGoroutinesSyscall, 1005, 0}, {CounterThreadsRunning, 1005, 1}, {CounterThreadsSyscall, 1005, 0},
					{CounterGoroutinesRunning, 1010, 1},
					{CounterGoroutinesRunning, 1020, 0}, {CounterGoroutinesSyscall, 1020, 1}, {CounterThreadsSyscall, 1020, 1},
					{CounterGoroutinesRunning, 1030, 1}, {CounterGoroutinesSyscall, 1030, 0}, {CounterThreadsSyscall, 1030, 0},
					{CounterGoroutinesRunning, 1040, 0}, {CounterGoroutinesSyscall, 1040, 1}, {CounterThreadsSyscall, 1040, 1},
					{CounterThreadsRunning, 1050, 0},
					{CounterGoroutinesRunnable, 1060, 1}, {CounterGoroutinesSyscall, 1060, 0}, {CounterThreadsSyscall, 1060, 0},
					{CounterThreadsRunning, 1070, 1},
					{CounterGoroutinesRunning, 1080, 1}, {CounterGoroutinesRunnable, 1080, 0},
				})
			},
		},
		{
			// The P is taken while the goroutine is in the kernel and the
			// trace ends before it returns: the syscall lost its P all the
			// same. The syscall before it, which kept its P, did not.
			name: "syscall open at the end after its P was stolen",
			events: []trace.Event{
				e.sync(1000),
				e.procStatus(1005, onM(thrA), procA, trace.ProcRunning),
				e.goStatus(1010, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goSyscall(1020, onG(goMain, procA, thrA), stkRead),
				e.goSyscallEnd(1030, onG(goMain, procA, thrA)),
				e.procStatus(1031, onM(thrB), procB, trace.ProcRunning),
				e.goStatus(1032, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.goSyscall(1040, onG(goMain, procA, thrA), stkRead),
				e.goSyscall(1045, onG(goWorker, procB, thrB), stkRead),
				e.procSteal(1050, onM(thrC), procA),
				e.sync(1090),
			},
			check: func(t *testing.T, r *smRecorder) {
				read := r.sid(t, stkRead)
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goMain, State: GoRunning, Start: 1000, End: 1020, P: procA, M: thrA, EndStack: read, Flags: OpenStart},
					{G: goMain, State: GoSyscall, Start: 1020, End: 1030, P: procA, M: thrA, Stack: read},
					{G: goMain, State: GoRunning, Start: 1030, End: 1040, P: procA, M: thrA, EndStack: read},
					{G: goWorker, State: GoRunning, Start: 1000, End: 1045, P: procB, M: thrB, EndStack: read, Flags: OpenStart},
					{G: goMain, State: GoSyscall, Start: 1040, End: 1090, P: procA, M: thrA, Stack: read, Blocked: true, Flags: OpenEnd},
					{G: goWorker, State: GoSyscall, Start: 1045, End: 1090, P: procB, M: thrB, Stack: read, Flags: OpenEnd},
				})
				smEqual(t, "proc runs", r.procRuns, []ProcRun{
					{P: procA, M: thrA, Start: 1000, End: 1050, Flags: OpenStart, TakenFrom: goMain},
					{P: procB, M: thrB, Start: 1000, End: 1090, Flags: OpenStart | OpenEnd, TakenFrom: NoGoroutine},
				})
			},
		},
		{
			// A cgo callback: the goroutine comes into being in a syscall.
			name: "goroutine created in a syscall",
			events: []trace.Event{
				e.sync(1000),
				e.procStatus(1001, onM(thrA), procA, trace.ProcIdle),
				e.goCreateSyscall(1010, onM(thrC), goCgo),
				e.goSyscallEndBlocked(1020, onG(goCgo, trace.NoProc, thrC)),
				e.procStart(1025, thrC, procA),
				e.goStart(1030, onP(procA, thrC), goCgo),
				e.sync(1040),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "goroutine", r.goroutines, []Goroutine{{ID: goCgo, Creator: NoGoroutine, Created: 1010}})
				smEqual(t, "states", r.states, []GoroutineState{
					{G: goCgo, State: GoSyscall, Start: 1010, End: 1020, P: NoProc, M: thrC, Blocked: true},
					{G: goCgo, State: GoRunnable, Start: 1020, End: 1030, P: NoProc, M: NoThread},
					{G: goCgo, State: GoRunning, Start: 1030, End: 1040, P: procA, M: thrC, Flags: OpenEnd},
				})
				smEqual(t, "goroutine events", r.goEvents, []GoroutineEvent{
					{Kind: GoSyscallExitBlocked, Time: 1020, G: goCgo, By: goCgo, P: NoProc, M: thrC},
				})
				smEqual(t, "flows", r.flows, []Flow{
					{ID: 1, Kind: GoSyscallExitBlocked, From: Endpoint{1020, goCgo, NoProc, thrC}, To: Endpoint{1030, goCgo, procA, thrC}},
				})
			},
		},
		{
			name: "goroutine created blocked: the unblock is the flow into its run",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goCreateBlocked(1010, onG(goMain, procA, thrA), stkGoStmt, goWorker, stkWorkerStart),
				e.goUnblock(1020, onG(goMain, procA, thrA), stkSend, goWorker),
				e.goBlock(1030, onG(goMain, procA, thrA), "select", stkSelect),
				e.goStart(1040, onP(procA, thrA), goWorker),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				send := r.sid(t, stkSend)
				smEqual(t, "states", r.statesOf(goWorker), []GoroutineState{
					{G: goWorker, State: GoWaiting, Start: 1010, End: 1020, P: NoProc, M: NoThread, Stack: r.sid(t, stkWorkerStart)},
					{G: goWorker, State: GoRunnable, Start: 1020, End: 1040, P: NoProc, M: NoThread},
					{G: goWorker, State: GoRunning, Start: 1040, End: 1050, P: procA, M: thrA, Flags: OpenEnd},
				})
				smEqual(t, "goroutine events", r.goEvents, []GoroutineEvent{
					{Kind: GoCreated, Time: 1010, G: goWorker, By: goMain, P: procA, M: thrA, Stack: r.sid(t, stkGoStmt)},
					{Kind: GoUnblocked, Time: 1020, G: goWorker, By: goMain, P: procA, M: thrA, Stack: send},
				})
				smEqual(t, "flows", r.flows, []Flow{
					{ID: 1, Kind: GoUnblocked, From: Endpoint{1020, goMain, procA, thrA}, To: Endpoint{1040, goWorker, procA, thrA}, Stack: send},
				})
				// UnmatchedFlows is checked in TestUnmatchedFlowsCreatedBlocked.
			},
		},
		{
			name: "Ps: running at start, idle to running to idle, running at the end",
			events: []trace.Event{
				e.sync(1000),
				e.procStatus(1005, onM(thrA), procA, trace.ProcRunning),
				e.procStatus(1006, onM(thrB), procB, trace.ProcIdle),
				e.procStart(1020, thrB, procB),
				e.procStop(1030, onP(procB, thrB)),
				e.procStart(1040, thrC, procB),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "proc runs", r.procRuns, []ProcRun{
					{P: procB, M: thrB, Start: 1020, End: 1030, TakenFrom: NoGoroutine},
					{P: procA, M: thrA, Start: 1000, End: 1050, Flags: OpenStart | OpenEnd, TakenFrom: NoGoroutine},
					{P: procB, M: thrC, Start: 1040, End: 1050, Flags: OpenEnd, TakenFrom: NoGoroutine},
				})
				smEqual(t, "procs", r.procs, []Proc{{procA}, {procB}})
				smEqual(t, "threads", r.threads, []Thread{{thrA}, {thrB}, {thrC}})
				smEqual(t, "threads running", r.countersOf(CounterThreadsRunning), []smCV{
					{CounterThreadsRunning, 1005, 1},
					{CounterThreadsRunning, 1020, 2},
					{CounterThreadsRunning, 1030, 1},
					{CounterThreadsRunning, 1040, 2},
				})
				sum := r.summary(t)
				smEqual(t, "procs and threads", []int{sum.Procs, sum.Threads}, []int{2, 3})
			},
		},
		{
			name: "ranges: GC cycles, STW, mark assists, sweep",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1003, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1004, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.rng(1005, trace.EventRangeActive, onM(thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(1010, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(1020, trace.EventRangeBegin, onG(goMain, procA, thrA), stkGC, rangeSTW, goScope(goMain)),
				e.rng(1025, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSTW, goScope(goMain)),
				e.rng(1030, trace.EventRangeBegin, onG(goMain, procA, thrA), stkGC, rangeGCMark, scopeGlobal),
				e.rng(1040, trace.EventRangeBegin, onG(goWorker, procB, thrB), stkAssist, rangeAssist, goScope(goWorker)),
				e.rng(1045, trace.EventRangeBegin, onG(goMain, procA, thrA), stkAssist, rangeAssist, goScope(goMain)),
				e.rng(1050, trace.EventRangeEnd, onG(goWorker, procB, thrB), trace.NoStack, rangeAssist, goScope(goWorker)),
				e.rng(1055, trace.EventRangeBegin, onG(goMain, procA, thrA), stkSweep, rangeSweep, procScope(procA)),
				e.rng(1060, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSweep, procScope(procA)),
				e.rng(1070, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(1080, trace.EventRangeBegin, onG(goWorker, procB, thrB), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(1090, trace.EventRangeEnd, onG(goWorker, procB, thrB), trace.NoStack, rangeGCMark, scopeGlobal),
				e.sync(1100),
			},
			check: func(t *testing.T, r *smRecorder) {
				gc, assist, sweep := r.sid(t, stkGC), r.sid(t, stkAssist), r.sid(t, stkSweep)
				global := Range{Kind: RangeGCMark, Name: rangeGCMark, Scope: ScopeGlobal, G: NoGoroutine, P: NoProc, M: NoThread}
				onGo := func(g GoID) Range {
					return Range{Kind: RangeMarkAssist, Name: rangeAssist, Scope: ScopeGoroutine, G: g, P: NoProc, M: NoThread}
				}
				want := []Range{global, {}, onGo(goWorker), {}, global, global, onGo(goMain)}
				// Begun before the trace: cycle 0.
				want[0].Start, want[0].End, want[0].Flags = 1000, 1010, OpenStart
				want[1] = Range{Kind: RangeSTW, Name: rangeSTW, Scope: ScopeGoroutine, G: goMain, P: NoProc, M: NoThread,
					Start: 1020, End: 1025, Reason: "GC sweep termination", Stack: gc}
				want[2].Start, want[2].End, want[2].Stack = 1040, 1050, assist
				// MakeEvent cannot set the sweep's byte counts: they are 0.
				want[3] = Range{Kind: RangeSweep, Name: rangeSweep, Scope: ScopeProc, G: NoGoroutine, P: procA, M: NoThread,
					Start: 1055, End: 1060, Stack: sweep, Attrs: []Attr{{"bytes swept", 0}, {"bytes reclaimed", 0}}}
				want[4].Start, want[4].End, want[4].Cycle, want[4].Stack = 1030, 1070, 1, gc
				want[5].Start, want[5].End, want[5].Cycle = 1080, 1090, 2
				want[6].Start, want[6].End, want[6].Stack, want[6].Flags = 1045, 1100, assist, OpenEnd
				smEqual(t, "ranges", r.ranges, want)
				smEqual(t, "anomalies", len(r.summary(t).Anomalies), 0)
			},
		},
		{
			name: "ranges active at a generation boundary are not split",
			events: []trace.Event{
				e.sync(1000),
				e.rng(1005, trace.EventRangeActive, onM(thrA), trace.NoStack, rangeSweep, procScope(procB)),
				e.rng(1010, trace.EventRangeBegin, onM(thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(1015, trace.EventRangeEnd, onP(procB, thrB), trace.NoStack, rangeSweep, procScope(procB)),
				e.sync(2000),
				e.rng(2001, trace.EventRangeActive, onM(thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.rng(2010, trace.EventRangeEnd, onM(thrA), trace.NoStack, rangeGCMark, scopeGlobal),
				e.sync(2020),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "ranges", r.ranges, []Range{
					// RangeActive names a P that is not in the context.
					{Kind: RangeSweep, Name: rangeSweep, Scope: ScopeProc, G: NoGoroutine, P: procB, M: NoThread,
						Start: 1000, End: 1015, Attrs: []Attr{{"bytes swept", 0}, {"bytes reclaimed", 0}}, Flags: OpenStart},
					{Kind: RangeGCMark, Name: rangeGCMark, Scope: ScopeGlobal, G: NoGoroutine, P: NoProc, M: NoThread,
						Start: 1010, End: 2010, Cycle: 1},
				})
			},
		},
		{
			name: "range end without begin, range begun twice",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.rng(1010, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSTW, goScope(goMain)),
				e.rng(1020, trace.EventRangeBegin, onG(goMain, procA, thrA), stkAssist, rangeAssist, goScope(goMain)),
				e.rng(1030, trace.EventRangeBegin, onG(goMain, procA, thrA), stkAssist, rangeAssist, goScope(goMain)),
				e.rng(1040, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeAssist, goScope(goMain)),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				assist := r.sid(t, stkAssist)
				smEqual(t, "ranges", r.ranges, []Range{
					{Kind: RangeSTW, Name: rangeSTW, Scope: ScopeGoroutine, G: goMain, P: NoProc, M: NoThread,
						Start: 1000, End: 1010, Reason: "GC sweep termination", Flags: OpenStart},
					{Kind: RangeMarkAssist, Name: rangeAssist, Scope: ScopeGoroutine, G: goMain, P: NoProc, M: NoThread,
						Start: 1020, End: 1030, Stack: assist, Flags: OpenEnd},
					{Kind: RangeMarkAssist, Name: rangeAssist, Scope: ScopeGoroutine, G: goMain, P: NoProc, M: NoThread,
						Start: 1030, End: 1040, Stack: assist},
				})
				smEqual(t, "anomalies", r.summary(t).Anomalies, map[string]int{
					"range end without begin: " + rangeSTW: 1,
					"range begun twice: " + rangeAssist:    1,
				})
			},
		},
		{
			name: "tasks",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.task(1010, trace.EventTaskBegin, onG(goMain, procA, thrA), stkNewTask, 1, trace.NoTask, "request"),
				e.task(1020, trace.EventTaskBegin, onG(goMain, procA, thrA), stkNewTask, 2, 1, "sub"),
				e.task(1025, trace.EventTaskBegin, onG(goMain, procA, thrA), trace.NoStack, 3, 2, "child"),
				e.log(1030, onG(goWorker, procB, thrB), stkLog, 1, "cat", "hello"),
				e.task(1040, trace.EventTaskEnd, onG(goWorker, procB, thrB), stkTaskEnd, 2, 1, "sub"),
				// Children begun after their parent ended, and of a parent
				// the trace never shows.
				e.task(1042, trace.EventTaskBegin, onG(goMain, procA, thrA), trace.NoStack, 4, 2, "late child"),
				e.task(1044, trace.EventTaskBegin, onG(goMain, procA, thrA), trace.NoStack, 5, 42, "outside child"),
				// Ends without a begin: it began before the trace.
				e.task(1050, trace.EventTaskEnd, onG(goMain, procA, thrA), stkTaskEnd, 7, 3, "orphan"),
				// A region of a task the trace never begins.
				e.region(1060, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, 9, "r9"),
				e.region(1070, trace.EventRegionEnd, onG(goWorker, procB, thrB), stkRegionEnd, 9, "r9"),
				e.sync(1080),
			},
			check: func(t *testing.T, r *smRecorder) {
				newTask, taskEnd := r.sid(t, stkNewTask), r.sid(t, stkTaskEnd)
				smEqual(t, "tasks", r.tasks, []Task{
					{ID: 2, Parent: 1, Root: 1, Type: "sub", Start: 1020, End: 1040, StartG: goMain, EndG: goWorker,
						Stack: newTask, EndStack: taskEnd, Goroutines: []GoID{goMain, goWorker}},
					// Its root is fixed when the mapping first sees it, here
					// at its end, before the trace tells its parent.
					{ID: 7, Parent: 3, Root: 7, Type: "orphan", Start: 1000, End: 1050, StartG: NoGoroutine, EndG: goMain,
						EndStack: taskEnd, Goroutines: []GoID{goMain}, Flags: OpenStart},
					// Begun, never ended: closed at finish, in ID order.
					// goWorker is in task 1 through its log.
					{ID: 1, Parent: NoTask, Root: 1, Type: "request", Start: 1010, End: 1080, StartG: goMain, EndG: NoGoroutine,
						Stack: newTask, Goroutines: []GoID{goMain, goWorker}, Flags: OpenEnd},
					{ID: 3, Parent: 2, Root: 1, Type: "child", Start: 1025, End: 1080, StartG: goMain, EndG: NoGoroutine,
						Goroutines: []GoID{goMain}, Flags: OpenEnd},
					{ID: 4, Parent: 2, Root: 1, Type: "late child", Start: 1042, End: 1080, StartG: goMain, EndG: NoGoroutine,
						Goroutines: []GoID{goMain}, Flags: OpenEnd},
					{ID: 5, Parent: 42, Root: 42, Type: "outside child", Start: 1044, End: 1080, StartG: goMain, EndG: NoGoroutine,
						Goroutines: []GoID{goMain}, Flags: OpenEnd},
					{ID: 9, Root: 9, Start: 1000, End: 1080, StartG: NoGoroutine, EndG: NoGoroutine,
						Goroutines: []GoID{goWorker}, Flags: OpenStart | OpenEnd},
				})
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: 1060, G: goWorker, Task: 9, Root: 9, Type: "r9", Start: 1060, End: 1070,
						Stack: r.sid(t, stkRegion), EndStack: r.sid(t, stkRegionEnd)},
				}))
				smEqual(t, "logs", r.logs, []Log{
					{Time: 1030, G: goWorker, P: procB, M: thrB, Task: 1, Root: 1, Category: "cat", Message: "hello", Stack: r.sid(t, stkLog)},
				})
			},
		},
		{
			name: "regions of one task inside another's",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.task(1005, trace.EventTaskBegin, onG(goMain, procA, thrA), trace.NoStack, 1, trace.NoTask, "outer task"),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, 1, "outer"),
				e.task(1015, trace.EventTaskBegin, onG(goMain, procA, thrA), trace.NoStack, 2, trace.NoTask, "inner task"),
				e.region(1020, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, 2, "inner"),
				e.region(1030, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, 2, "inner"),
				e.region(1040, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, 1, "outer"),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: 1020, Parent: 1010, ParentTask: 1, G: goMain, Task: 2, Root: 2, Type: "inner", Depth: 1, Start: 1020, End: 1030, Stack: begin, EndStack: end},
					{ID: 1010, G: goMain, Task: 1, Root: 1, Type: "outer", Start: 1010, End: 1040, Stack: begin, EndStack: end},
				}))
			},
		},
		{
			name: "a region ended before the regions inside it",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "a"),
				e.region(1020, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "b"),
				e.region(1030, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "a"),
				e.region(1040, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "b"),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				// b outlives a: a no longer encloses it, so that no region
				// names a parent delivered before it.
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: 1010, G: goMain, Type: "a", Start: 1010, End: 1030, Stack: begin, EndStack: end},
					{ID: 1020, G: goMain, Type: "b", Depth: 1, Start: 1020, End: 1040, Stack: begin, EndStack: end},
				}))
			},
		},
		{
			// Traces before Go 1.22 can give two events one time: the
			// second region takes the next free ID.
			name: "regions begun at one time",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "a"),
				e.region(1010, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, trace.BackgroundTask, "b"),
				e.region(1011, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, trace.BackgroundTask, "c"),
				e.region(1030, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "a"),
				e.region(1040, trace.EventRegionEnd, onG(goWorker, procB, thrB), stkRegionEnd, trace.BackgroundTask, "c"),
				e.region(1050, trace.EventRegionEnd, onG(goWorker, procB, thrB), stkRegionEnd, trace.BackgroundTask, "b"),
				e.sync(1060),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: 1010, G: goMain, Type: "a", Start: 1010, End: 1030, Stack: begin, EndStack: end},
					{ID: 1012, Parent: 1011, G: goWorker, Type: "c", Depth: 1, Start: 1011, End: 1040, Stack: begin, EndStack: end},
					{ID: 1011, G: goWorker, Type: "b", Start: 1010, End: 1050, Stack: begin, EndStack: end},
				}))
			},
		},
		{
			// A region's time goes to the states its goroutine was in:
			// blocked on a channel and on the network, runnable, in a
			// syscall that kept its P, running. The region outside it
			// began before the trace: its time is not known.
			name: "a region's time by its goroutine's states",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "req"),
				e.goBlock(1020, onG(goMain, procA, thrA), "chan receive", stkRecv),
				e.goUnblock(1030, onG(goWorker, procB, thrB), stkSend, goMain),
				e.goStart(1035, onP(procA, thrA), goMain),
				e.goSyscall(1040, onG(goMain, procA, thrA), stkRead),
				e.goSyscallEnd(1045, onG(goMain, procA, thrA)),
				e.goBlock(1050, onG(goMain, procA, thrA), "network", stkRead),
				e.goUnblock(1060, onG(goWorker, procB, thrB), stkSend, goMain),
				e.goStart(1062, onP(procA, thrA), goMain),
				e.region(1070, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "req"),
				e.region(1075, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "outer"),
				e.sync(1080),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, []Region{
					{ID: 1010, G: goMain, Type: "req", Start: 1010, End: 1070, Stack: begin, EndStack: end, Timed: true,
						Time: StateTimes{Running: 10 + 5 + 5 + 8, Runnable: 5 + 2, Syscall: 5, Waiting: 10 + 10, Network: 10, Sync: 10}},
					{ID: earlierRegion | 1, G: goMain, Type: "outer", Start: 1000, End: 1075, EndStack: end, Flags: OpenStart},
				})
			},
		},
		{
			// The GC's work that falls to a region's goroutine: a
			// stop-the-world pause it began, a mark assist, and a P's
			// sweep begun and ended while it ran there (go tool trace's
			// rule), not one the P began under another goroutine.
			name: "a region's GC work: pauses, assists, sweeps",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "req"),
				e.rng(1012, trace.EventRangeBegin, onG(goMain, procA, thrA), stkGC, rangeSTW, goScope(goMain)),
				e.rng(1015, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSTW, goScope(goMain)),
				e.rng(1020, trace.EventRangeBegin, onG(goMain, procA, thrA), stkAssist, rangeAssist, goScope(goMain)),
				e.rng(1027, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeAssist, goScope(goMain)),
				e.rng(1030, trace.EventRangeBegin, onG(goMain, procA, thrA), stkSweep, rangeSweep, procScope(procA)),
				e.rng(1041, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSweep, procScope(procA)),
				// Begun on the worker's P by the worker: not the region's.
				e.rng(1045, trace.EventRangeBegin, onG(goWorker, procB, thrB), stkSweep, rangeSweep, procScope(procB)),
				e.rng(1050, trace.EventRangeEnd, onG(goWorker, procB, thrB), trace.NoStack, rangeSweep, procScope(procB)),
				e.region(1060, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "req"),
				e.sync(1080),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, []Region{
					{ID: 1010, G: goMain, Type: "req", Start: 1010, End: 1060, Stack: begin, EndStack: end, Timed: true,
						Time: StateTimes{Running: 50, STW: 3, MarkAssist: 7, Sweep: 11}},
				})
			},
		},
		{
			name: "regions: nesting, end without begin, closed at goroutine end and at finish, logs",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
				e.log(1003, onG(goMain, procA, thrA), stkLog, trace.BackgroundTask, "k", "outside"),
				e.region(1005, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "before"),
				e.region(1010, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "outer"),
				e.region(1020, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "inner"),
				e.log(1030, onG(goMain, procA, thrA), stkLog, trace.BackgroundTask, "k", "in inner"),
				e.region(1040, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "inner"),
				e.log(1045, onG(goMain, procA, thrA), stkLog, trace.BackgroundTask, "k", "in outer"),
				e.region(1060, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, trace.BackgroundTask, "a"),
				e.region(1070, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, trace.BackgroundTask, "b"),
				e.goEnd(1080, onG(goWorker, procB, thrB)),
				e.region(1085, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "inner2"),
				e.sync(1090),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: earlierRegion | 1, G: goMain, Type: "before", Start: 1000, End: 1005, EndStack: end, Flags: OpenStart},
					{ID: 1020, Parent: 1010, ParentTask: NoTask, G: goMain, Type: "inner", Depth: 1, Start: 1020, End: 1040, Stack: begin, EndStack: end},
					// Closed when their goroutine ended, innermost first.
					{ID: 1070, Parent: 1060, G: goWorker, Type: "b", Depth: 1, Start: 1070, End: 1080, Stack: begin, Flags: OpenEnd, GoroutineEnded: true},
					{ID: 1060, G: goWorker, Type: "a", Start: 1060, End: 1080, Stack: begin, Flags: OpenEnd, GoroutineEnded: true},
					// Closed at finish, innermost first.
					{ID: 1085, Parent: 1010, G: goMain, Type: "inner2", Depth: 1, Start: 1085, End: 1090, Stack: begin, Flags: OpenEnd},
					{ID: 1010, G: goMain, Type: "outer", Start: 1010, End: 1090, Stack: begin, Flags: OpenEnd},
				}))
				var inRegion []RegionID
				for _, l := range r.logs {
					inRegion = append(inRegion, l.Region)
				}
				smEqual(t, "regions of the logs", inRegion, []RegionID{NoRegion, 1020, 1010})
			},
		},
		{
			// Regions begun before the trace end innermost first; each
			// starts a nanosecond before the one it encloses (model.go,
			// OpenStart).
			name: "regions begun before the trace keep their nesting",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.region(1010, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "inner"),
				e.region(1020, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "outer"),
				e.sync(1030),
			},
			check: func(t *testing.T, r *smRecorder) {
				end := r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: earlierRegion | 1, G: goMain, Type: "inner", Start: 1000, End: 1010, EndStack: end, Flags: OpenStart},
					{ID: earlierRegion | 2, G: goMain, Type: "outer", Start: 999, End: 1020, EndStack: end, Flags: OpenStart},
				}))
			},
		},
		{
			// The mapping reuses the state of ended goroutines: nothing of
			// the old one may show through in the new one.
			name: "a goroutine created after another ended inherits nothing",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.goCreate(1010, onG(goMain, procA, thrA), stkGoStmt, goWorker, stkWorkerStart),
				e.goStart(1020, onP(procB, thrB), goWorker),
				e.region(1025, trace.EventRegionEnd, onG(goWorker, procB, thrB), stkRegionEnd, trace.BackgroundTask, "pre"),
				e.region(1030, trace.EventRegionBegin, onG(goWorker, procB, thrB), stkRegion, trace.BackgroundTask, "a"),
				e.goEnd(1040, onG(goWorker, procB, thrB)),
				// No creation stack: the new goroutine has no name yet.
				e.goCreate(1050, onG(goMain, procA, thrA), stkGoStmt, goThird, trace.NoStack),
				e.goStart(1060, onP(procB, thrB), goThird),
				e.region(1065, trace.EventRegionEnd, onG(goThird, procB, thrB), trace.NoStack, trace.BackgroundTask, "pre3"),
				e.region(1070, trace.EventRegionBegin, onG(goThird, procB, thrB), trace.NoStack, trace.BackgroundTask, "b"),
				e.sync(1080),
			},
			check: func(t *testing.T, r *smRecorder) {
				begin, end := r.sid(t, stkRegion), r.sid(t, stkRegionEnd)
				smEqual(t, "regions", r.regions, ran([]Region{
					{ID: earlierRegion | 1, G: goWorker, Type: "pre", Start: 1000, End: 1025, EndStack: end, Flags: OpenStart},
					{ID: 1030, G: goWorker, Type: "a", Start: 1030, End: 1040, Stack: begin, Flags: OpenEnd, GoroutineEnded: true},
					{ID: earlierRegion | 2, G: goThird, Type: "pre3", Start: 1000, End: 1065, Flags: OpenStart},
					{ID: 1070, G: goThird, Type: "b", Start: 1070, End: 1080, Flags: OpenEnd},
				}))
				smEqual(t, "third", r.goroutinesOf(goThird), []Goroutine{
					{ID: goThird, Creator: goMain, Created: 1050},
				})
				smEqual(t, "states of the third", r.statesOf(goThird), []GoroutineState{
					{G: goThird, State: GoRunnable, Start: 1050, End: 1060, P: NoProc, M: NoThread},
					{G: goThird, State: GoRunning, Start: 1060, End: 1080, P: procB, M: thrB, Flags: OpenEnd},
				})
			},
		},
		{
			name: "labels update the goroutine",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.label(1010, onG(goMain, procA, thrA), goMain, "GC (dedicated)"),
				e.label(1020, onG(goMain, procA, thrA), goMain, "GC (dedicated)"),
				e.label(1030, onG(goMain, procA, thrA), goMain, "GC (idle)"),
				// A goroutine seen first through its label existed before.
				e.label(1040, onP(procB, thrB), goFourth, "GC (fractional)"),
				e.sync(1050),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "main", r.goroutinesOf(goMain), []Goroutine{
					{ID: goMain, Creator: NoGoroutine, Created: 1000, Flags: OpenStart},
					{ID: goMain, Creator: NoGoroutine, Label: "GC (dedicated)", Created: 1000, Flags: OpenStart, Updated: true},
					{ID: goMain, Creator: NoGoroutine, Label: "GC (idle)", Created: 1000, Flags: OpenStart, Updated: true},
				})
				smEqual(t, "fourth", r.goroutinesOf(goFourth), []Goroutine{
					{ID: goFourth, Creator: NoGoroutine, Created: 1000, Flags: OpenStart},
					{ID: goFourth, Creator: NoGoroutine, Label: "GC (fractional)", Created: 1000, Flags: OpenStart, Updated: true},
				})
			},
		},
		{
			name: "metrics: kinds, units, repeated values dropped",
			events: []trace.Event{
				e.sync(1000),
				e.metric(1010, onM(thrA), metricHeapLive, 1<<20),
				e.metric(1020, onM(thrA), metricHeapGoal, 4<<20),
				e.metric(1030, onM(thrA), metricGOMAXPROCS, 8),
				e.metric(1040, onM(thrA), metricHeapLive, 1<<20),
				e.metric(1050, onM(thrA), metricHeapGoal, 4<<20),
				e.metric(1060, onM(thrA), metricHeapLive, 2<<20),
				e.metric(1070, onM(thrA), metricGOMAXPROCS, 4),
				e.sync(1080),
			},
			check: func(t *testing.T, r *smRecorder) {
				var got []Counter
				for _, c := range r.counters {
					if c.Kind < CounterGoroutinesRunning {
						got = append(got, c)
					}
				}
				smEqual(t, "metrics", got, []Counter{
					{Kind: CounterHeapLive, Name: "Heap live", Unit: "bytes", Time: 1010, Value: 1 << 20},
					{Kind: CounterHeapGoal, Name: "Heap goal", Unit: "bytes", Time: 1020, Value: 4 << 20},
					{Kind: CounterGOMAXPROCS, Name: "GOMAXPROCS", Unit: "count", Time: 1030, Value: 8},
					{Kind: CounterHeapLive, Name: "Heap live", Unit: "bytes", Time: 1060, Value: 2 << 20},
					{Kind: CounterGOMAXPROCS, Name: "GOMAXPROCS", Unit: "count", Time: 1070, Value: 4},
				})
			},
		},
		{
			name: "stacks are interned across events and generations, and delivered first",
			events: []trace.Event{
				e.sync(1000),
				e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
				e.log(1010, onG(goMain, procA, thrA), stkLog, trace.BackgroundTask, "k", "one"),
				// The same frames through another handle.
				e.log(1020, onG(goMain, procA, thrA), trace.MakeStack([]trace.StackFrame{frLog, frHandler, frGoexit}), trace.BackgroundTask, "k", "two"),
				e.log(1030, onG(goMain, procA, thrA), stkRegion, trace.BackgroundTask, "k", "other"),
				e.sync(2000),
				e.log(2010, onG(goMain, procA, thrA), stkLog, trace.BackgroundTask, "k", "three"),
				e.sample(2020, onG(goMain, procA, thrA), stkLog),
				e.sync(2030),
			},
			check: func(t *testing.T, r *smRecorder) {
				smEqual(t, "stacks", r.stacks, []Stack{
					{ID: 1, Frames: framesOf(stkLog)},
					{ID: 2, Frames: framesOf(stkRegion)},
				})
				var ids []StackID
				for _, l := range r.logs {
					ids = append(ids, l.Stack)
				}
				smEqual(t, "stacks of the logs", ids, []StackID{1, 1, 2, 1})
				smEqual(t, "samples", r.samples, []CPUSample{{Time: 2020, G: goMain, P: procA, M: thrA, Stack: 1}})
				// Each stack comes before the first log that names it.
				for _, id := range []StackID{1, 2} {
					first := slices.IndexFunc(r.calls, func(c smCall) bool {
						l, ok := c.item.(Log)
						return ok && l.Stack == id
					})
					delivered := slices.IndexFunc(r.calls, func(c smCall) bool {
						st, ok := c.item.(Stack)
						return ok && st.ID == id
					})
					if first < 0 || delivered < 0 || delivered > first {
						t.Errorf("stack %d delivered at call %d, first named at call %d: %v", id, delivered, first, r.methods())
					}
				}
				smEqual(t, "goroutine named from a stack", r.goroutinesOf(goMain)[1].StartFunc, "main.handle")
			},
		},
		{
			name: "clock snapshot and experimental batches",
			events: []trace.Event{
				smMake(1000, trace.EventSync, onM(thrA), trace.NoStack, trace.Sync{
					ClockSnapshot:       &trace.ClockSnapshot{Trace: 990, Wall: time.Unix(1700000000, 500).UTC(), Mono: 77},
					ExperimentalBatches: map[string][]trace.ExperimentalBatch{"AllocFree": {{Thread: thrA, Data: []byte{1, 2, 3}}}},
				}),
				smMake(2000, trace.EventSync, onM(thrA), trace.NoStack, trace.Sync{
					ClockSnapshot: &trace.ClockSnapshot{Trace: 1990, Wall: time.Unix(1700000001, 0).UTC(), Mono: 78},
					ExperimentalBatches: map[string][]trace.ExperimentalBatch{"AllocFree": {
						{Thread: thrA, Data: []byte{1, 2, 3, 4}}, {Thread: thrB, Data: []byte{5}},
					}},
				}),
			},
			check: func(t *testing.T, r *smRecorder) {
				if len(r.metas) != 1 || r.metas[0].Clock == nil {
					t.Fatalf("meta %+v: want one with a clock", r.metas)
				}
				clk := r.metas[0].Clock
				if clk.Trace != 990 || clk.Mono != 77 || !clk.Wall.Equal(time.Unix(1700000000, 500)) {
					t.Errorf("clock %+v: want the first generation's", clk)
				}
				if got, want := clk.WallTime(1000), time.Unix(1700000000, 510); !got.Equal(want) {
					t.Errorf("WallTime(1000) = %v, want %v", got, want)
				}
				sum := r.summary(t)
				smEqual(t, "batches", []any{sum.ExpBatches, sum.ExpBatchBytes, sum.Generations, sum.Events},
					[]any{map[string]int{"AllocFree": 3}, int64(8), 1, int64(2)})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k := tt.events[0].Kind(); k != trace.EventSync {
				t.Fatalf("case starts with %v, want Sync", k)
			}
			r := smMap(t, tt.events)
			tt.check(t, r)
			smEqual(t, "sink calls, events mapped in batches", smMapBatched(t, tt.events, decodeNone).calls, r.calls)
			smEqual(t, "sink calls, events mapped in batches decoded where parsed",
				smMapBatched(t, tt.events, decodeAll).calls, r.calls)
			smEqual(t, "sink calls, events mapped in batches decoded where parsed or not, in turn",
				smMapBatched(t, tt.events, func(i int) bool { return i%2 == 0 }).calls, r.calls)
			smEqual(t, "sink calls, events mapped in batches decoded where parsed or not, in turn",
				smMapBatched(t, tt.events, func(i int) bool { return i%2 == 1 }).calls, r.calls)
		})
	}
}

func decodeNone(int) bool { return false }
func decodeAll(int) bool  { return true }

// smMapBatched maps evs as a pass does, in batches, with the details the
// parsing goroutine reads of them (tasks; state transitions and stacks if
// decode says so of the batch's number), into a new recorder. The batches
// are short, so that a stack is found again in a later batch and after a
// generation boundary.
func smMapBatched(t *testing.T, evs []trace.Event, decode func(batch int) bool) *smRecorder {
	t.Helper()
	r := newRecorder()
	m := newMapper(r, &config{input: "synthetic"})
	m.counter = &countingReader{}
	stacks := newStackCache()
	n := 0
	for chunk := range slices.Chunk(evs, 3) {
		b := &batch{}
		d := decode(n)
		n++
		for i := range chunk {
			b.add(&chunk[i], stacks, d)
		}
		if err := m.mapBatch(b); err != nil {
			t.Fatalf("batched: %v", err)
		}
	}
	if err := m.finish(); err != nil {
		t.Fatalf("batched: %v", err)
	}
	return r
}

// TestOpenStartInLaterGeneration: a task or region whose begin is not in
// the trace began before the trace did, whatever generation its end is in,
// so its Start is the trace's start (the doc of OpenStart), not the time of
// its end. A long trace or a flight recorder snapshot ends most of its old
// tasks and regions after the first generation.
func TestOpenStartInLaterGeneration(t *testing.T) {
	var e synth
	r := smMap(t, []trace.Event{
		e.sync(1000),
		e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.sync(2000),
		e.goRestate(2001, onP(procA, thrA), goMain, trace.GoRunning),
		e.task(2050, trace.EventTaskEnd, onG(goMain, procA, thrA), stkTaskEnd, 7, trace.NoTask, "old"),
		e.region(2060, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "old"),
		e.sync(2100),
	})
	if len(r.tasks) != 1 || len(r.regions) != 1 {
		t.Fatalf("got tasks %+v and regions %+v, want one of each", r.tasks, r.regions)
	}
	if tk := r.tasks[0]; tk.Start != 1000 || tk.Flags != OpenStart {
		t.Errorf("task ended in generation 2 without a begin: Start %d, Flags %v; want 1000 (the trace's start), open-start", tk.Start, tk.Flags)
	}
	if rg := r.regions[0]; rg.Start != 1000 || rg.Flags != OpenStart {
		t.Errorf("region ended in generation 2 without a begin: Start %d, Flags %v; want 1000 (the trace's start), open-start", rg.Start, rg.Flags)
	}
}

// TestUnmatchedFlowsCreatedBlocked: Summary.UnmatchedFlows counts
// "creations and unblocks whose goroutine never ran again before the trace
// ended". A goroutine created blocked, then unblocked, does run again; its
// creation has no flow of its own, as the unblock is what leads to the run,
// but it is not unmatched either. iter.Pull creates its coroutines blocked.
func TestUnmatchedFlowsCreatedBlocked(t *testing.T) {
	var e synth
	r := smMap(t, []trace.Event{
		e.sync(1000),
		e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.goCreateBlocked(1010, onG(goMain, procA, thrA), stkGoStmt, goWorker, stkWorkerStart),
		e.goUnblock(1020, onG(goMain, procA, thrA), stkSend, goWorker),
		e.goBlock(1030, onG(goMain, procA, thrA), "select", stkSelect),
		e.goStart(1040, onP(procA, thrA), goWorker),
		e.sync(1050),
	})
	if n := r.summary(t).UnmatchedFlows; n != 0 {
		t.Errorf("UnmatchedFlows = %d, want 0: goroutine %d ran after its creation and its unblock", n, goWorker)
	}
}

// TestGoEndedIsLast: GoEnded is the last item of the goroutine's own
// timeline. A Flow out of a goroutine that ended before its target ran, and
// a Task that outlives the goroutine that began it, may still name it, and
// do here; states, events, regions, logs and samples of it may not.
func TestGoEndedIsLast(t *testing.T) {
	var e synth
	r := smMap(t, []trace.Event{
		e.sync(1000),
		e.goStatus(1001, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.goStatus(1002, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
		e.goStatus(1003, onM(thrA), goThird, trace.GoWaiting, trace.NoStack),
		e.task(1010, trace.EventTaskBegin, onG(goWorker, procB, thrB), stkNewTask, 1, trace.NoTask, "t"),
		e.goUnblock(1020, onG(goWorker, procB, thrB), stkSend, goThird),
		e.goEnd(1030, onG(goWorker, procB, thrB)),
		e.goStart(1040, onP(procB, thrB), goThird),
		e.sync(1050),
	})
	end := slices.IndexFunc(r.calls, func(c smCall) bool {
		ev, ok := c.item.(GoroutineEvent)
		return ok && ev.Kind == GoEnded && ev.G == goWorker
	})
	if end < 0 {
		t.Fatalf("no GoEnded for G%d: %v", goWorker, r.methods())
	}
	var flowAfter, taskAfter bool
	for _, c := range r.calls[end+1:] {
		switch x := c.item.(type) {
		case Flow:
			flowAfter = flowAfter || x.From.G == goWorker
		case Task:
			taskAfter = taskAfter || x.StartG == goWorker
		case GoroutineState:
			if x.G == goWorker {
				t.Errorf("state %+v of G%d after its GoEnded", x, goWorker)
			}
		case GoroutineEvent:
			if x.G == goWorker {
				t.Errorf("event %+v of G%d after its GoEnded", x, goWorker)
			}
		case Region:
			if x.G == goWorker {
				t.Errorf("region %+v of G%d after its GoEnded", x, goWorker)
			}
		case Log:
			if x.G == goWorker {
				t.Errorf("log %+v of G%d after its GoEnded", x, goWorker)
			}
		}
	}
	if !flowAfter || !taskAfter {
		t.Errorf("flow from G%d after its end: %v, task begun by it: %v; want both", goWorker, flowAfter, taskAfter)
	}
}

func TestEventBeforeSync(t *testing.T) {
	var e synth
	r := newRecorder()
	_, i, err := smFeed(r, []trace.Event{e.goStatus(1000, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack)})
	if i != 0 || err == nil || !strings.HasPrefix(err.Error(), "broken trace: ") {
		t.Errorf("event before the first Sync: error %v at event %d, want a broken trace at event 0", err, i)
	}
	if len(r.calls) != 0 {
		t.Errorf("calls %v, want none", r.methods())
	}
}

// TestSinkError: an error from the sink stops the mapping and comes back
// from the event that caused the call, or from finish; nothing is delivered
// after it but End.
func TestSinkError(t *testing.T) {
	var e synth
	evs := e.lifecycle()
	tests := []struct {
		method string
		n      int
		at     int // event index; len(evs) for finish
	}{
		{"Begin", 1, 0},
		{"Thread", 1, 1},
		{"Proc", 1, 1},
		{"Counter", 1, 1},
		{"Thread", 2, 2},
		{"Goroutine", 1, 3},
		{"Goroutine", 2, 4}, // goMain named after its stack
		{"Goroutine", 3, 4}, // goWorker created
		{"Stack", 1, 4},
		{"GoroutineEvent", 1, 4},
		{"GoroutineState", 1, 6},
		{"Flow", 1, 6},
		{"ProcRun", 1, 8},
		{"GoroutineEvent", 2, 9},
		{"Flow", 2, 11},
		{"GoroutineEvent", 3, 12},
		{"GoroutineState", 7, len(evs)}, // goMain's wait, closed at finish
		{"ProcRun", 2, len(evs)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s#%d", tt.method, tt.n), func(t *testing.T) {
			r := newRecorder()
			r.failMethod, r.failN = tt.method, tt.n
			_, at, err := smFeed(r, evs)
			if !errors.Is(err, errSink) || at != tt.at {
				t.Fatalf("got error %v at event %d, want %v at event %d", err, at, errSink, tt.at)
			}
			ms := r.methods()
			if at < len(evs) {
				if ms[len(ms)-1] != tt.method {
					t.Errorf("calls after the failing %s: %v", tt.method, ms)
				}
				return
			}
			// Failing in finish: End is still called, once, with the error.
			if len(ms) < 2 || ms[len(ms)-2] != tt.method || ms[len(ms)-1] != "End" {
				t.Errorf("calls %v: want the failing %s, then End", ms, tt.method)
			}
			if sum := r.summary(t); !errors.Is(sum.Err, errSink) {
				t.Errorf("Summary.Err = %v, want %v", sum.Err, errSink)
			}
		})
	}
	t.Run("End", func(t *testing.T) {
		r := newRecorder()
		r.endErr = errSink
		if _, _, err := smFeed(r, evs); !errors.Is(err, errSink) {
			t.Errorf("finish returned %v, want End's error", err)
		}
	})
}

func TestFanOut(t *testing.T) {
	var e synth
	evs := e.lifecycle()

	t.Run("every sink sees every call", func(t *testing.T) {
		a, b := newRecorder(), newRecorder()
		if _, _, err := smFeed(FanOut(a, b), evs); err != nil {
			t.Fatal(err)
		}
		if len(a.calls) < 20 || !reflect.DeepEqual(a.calls, b.calls) {
			t.Errorf("the sinks saw different calls:\n%v\n%v", a.methods(), b.methods())
		}
		for _, p := range append(a.problems, b.problems...) {
			t.Errorf("sink protocol: %s", p)
		}
	})

	t.Run("one sink is itself", func(t *testing.T) {
		a := newRecorder()
		if s := FanOut(a); s != Sink(a) {
			t.Errorf("FanOut(a) = %T, want a itself", s)
		}
	})

	t.Run("an error stops the pass; End reaches all", func(t *testing.T) {
		errEnd := errors.New("end failed")
		a, f, b := newRecorder(), newRecorder(), newRecorder()
		f.failMethod, f.failN, f.endErr = "Flow", 1, errEnd
		a.endErr = errSink
		fan := FanOut(a, f, b)
		_, at, err := smFeed(fan, evs)
		if !errors.Is(err, errSink) || at != 6 {
			t.Fatalf("got %v at event %d, want %v at event 6", err, at, errSink)
		}
		if a.count["Flow"] != 1 || f.count["Flow"] != 1 || b.count["Flow"] != 0 {
			t.Errorf("Flow calls: %d, %d, %d; want 1, 1 (failing) and 0", a.count["Flow"], f.count["Flow"], b.count["Flow"])
		}
		// Map calls End after a failed event; so does this test.
		endErr := fan.End(&Summary{Err: err})
		for i, s := range []*smRecorder{a, f, b} {
			if s.count["End"] != 1 {
				t.Errorf("sink %d: End called %d times, want 1", i, s.count["End"])
			}
		}
		if !errors.Is(endErr, errSink) || !errors.Is(endErr, errEnd) {
			t.Errorf("End returned %v, want both sinks' errors joined", endErr)
		}
	})
}

// TestFanOutIndependent checks that a sink that fails is left out and
// the pass goes on for the others, each of which sees what it would see
// alone; that End reaches every sink and returns the failure; and that
// the pass stops once every sink has failed.
func TestFanOutIndependent(t *testing.T) {
	var e synth
	evs := e.lifecycle()
	alone := newRecorder()
	if _, _, err := smFeed(alone, evs); err != nil {
		t.Fatal(err)
	}

	t.Run("one fails, the others go on", func(t *testing.T) {
		a, f, b := newRecorder(), newRecorder(), newRecorder()
		f.failMethod, f.failN = "Flow", 1
		_, at, err := smFeed(FanOutIndependent(a, f, b), evs)
		if at != len(evs) || !errors.Is(err, errSink) || strings.Count(err.Error(), errSink.Error()) != 1 {
			t.Fatalf("stopped at event %d of %d with %v; want the end of the pass and the failure once", at, len(evs), err)
		}
		for i, s := range []*smRecorder{a, b} {
			if !reflect.DeepEqual(s.calls, alone.calls) {
				t.Errorf("sink %d saw\n%v\nwhere alone it sees\n%v", i, s.methods(), alone.methods())
			}
		}
		// The failing sink saw nothing after its failure but End.
		if m := f.methods(); len(m) < 2 || m[len(m)-2] != "Flow" || m[len(m)-1] != "End" || f.count["Flow"] != 1 {
			t.Errorf("the failing sink saw %v after Begin; want nothing after its failed Flow but End", m)
		}
	})

	t.Run("all fail", func(t *testing.T) {
		f, g := newRecorder(), newRecorder()
		f.failMethod, f.failN = "Flow", 1
		g.failMethod, g.failN = "Flow", 2
		fan := FanOutIndependent(f, g)
		_, at, err := smFeed(fan, evs)
		if !errors.Is(err, errSink) || at >= len(evs) {
			t.Fatalf("stopped at event %d of %d with %v; want a stop with the failure", at, len(evs), err)
		}
		if f.count["Flow"] != 1 || g.count["Flow"] != 2 {
			t.Errorf("Flow calls %d and %d, want 1 and 2", f.count["Flow"], g.count["Flow"])
		}
		if err := fan.End(&Summary{Err: err}); !errors.Is(err, errSink) || f.count["End"] != 1 || g.count["End"] != 1 {
			t.Errorf("End returned %v and was called %d and %d times; want the failure and once each", err, f.count["End"], g.count["End"])
		}
	})
}

func TestTally(t *testing.T) {
	var e synth
	evs := append(e.mainCreatesWorker(),
		e.rng(1015, trace.EventRangeBegin, onG(goMain, procA, thrA), stkGC, rangeSTW, goScope(goMain)),
		e.rng(1020, trace.EventRangeEnd, onG(goMain, procA, thrA), trace.NoStack, rangeSTW, goScope(goMain)),
		e.rng(1022, trace.EventRangeBegin, onG(goMain, procA, thrA), stkGC, rangeGCMark, scopeGlobal),
		e.task(1025, trace.EventTaskBegin, onG(goMain, procA, thrA), stkNewTask, 1, trace.NoTask, "t"),
		e.region(1030, trace.EventRegionBegin, onG(goMain, procA, thrA), stkRegion, 1, "r"),
		e.log(1035, onG(goMain, procA, thrA), stkLog, 1, "k", "v"),
		e.region(1040, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, 1, "r"),
		e.task(1045, trace.EventTaskEnd, onG(goMain, procA, thrA), stkTaskEnd, 1, trace.NoTask, "t"),
		e.task(1046, trace.EventTaskEnd, onG(goMain, procA, thrA), stkTaskEnd, 5, trace.NoTask, "old"),
		e.region(1047, trace.EventRegionEnd, onG(goMain, procA, thrA), stkRegionEnd, trace.BackgroundTask, "old"),
		e.metric(1050, onM(thrA), metricHeapLive, 100),
		e.sample(1055, onG(goMain, procA, thrA), stkHandler),
		e.goBlock(1060, onG(goMain, procA, thrA), "select", stkSelect),
		e.goStart(1070, onP(procA, thrA), goWorker),
		e.goEnd(1080, onG(goWorker, procA, thrA)),
		e.rng(1085, trace.EventRangeEnd, onM(thrA), trace.NoStack, rangeGCMark, scopeGlobal),
		e.sync(1090),
	)
	var tally Tally
	r := newRecorder()
	if _, _, err := smFeed(FanOut(&tally, r), evs); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.problems {
		t.Errorf("sink protocol: %s", p)
	}
	counters := make(map[CounterKind]int)
	for _, c := range r.counters {
		counters[c.Kind]++
	}
	smEqual(t, "counters (against the recorder)", tally.Counters, counters)
	smEqual(t, "stacks (against the recorder)", tally.Stacks, len(r.stacks))
	smEqual(t, "stacks", tally.Stacks, 10)
	smEqual(t, "goroutines, procs, threads", []int{tally.Goroutines, tally.Procs, tally.Threads}, []int{2, 1, 1})
	smEqual(t, "goroutine states", tally.GoStates, [numGoStates]int{GoRunnable: 1, GoRunning: 2, GoWaiting: 1})
	smEqual(t, "goroutine state time", tally.GoStateTime, [numGoStates]time.Duration{GoRunnable: 60, GoRunning: 70, GoWaiting: 30})
	smEqual(t, "proc runs", tally.ProcRuns, 1)
	smEqual(t, "ranges", tally.Ranges, map[RangeKind]int{RangeSTW: 1, RangeGCMark: 1})
	smEqual(t, "GC cycles", tally.GCCycles, 1)
	smEqual(t, "STW", tally.STW, DurationStats{Count: 1, Total: 5, Max: 5})
	smEqual(t, "goroutine events", tally.GoEvents, map[GoEventKind]int{GoCreated: 1, GoEnded: 1})
	smEqual(t, "flows", tally.Flows, map[GoEventKind]int{GoCreated: 1})
	smEqual(t, "samples and logs", []int{tally.CPUSamples, tally.Logs}, []int{1, 1})
	smEqual(t, "tasks begun, ended, open", []int{tally.TasksBegun, tally.TasksEnded, tally.TasksOpen}, []int{1, 2, 1})
	smEqual(t, "regions, open", []int{tally.Regions, tally.RegionsOpen}, []int{2, 1})
	smEqual(t, "incomplete", tally.Incomplete, map[string]int{"goroutine state": 2, "proc run": 1, "task": 1, "region": 1})
	smEqual(t, "experiments", len(tally.Experiments), 0)
	if tally.Meta.Start != 1000 || tally.Summary == nil || tally.Summary.End != 1090 {
		t.Errorf("meta %+v, summary %+v: want start 1000, end 1090", tally.Meta, tally.Summary)
	}
}

func TestMetricUnit(t *testing.T) {
	// MakeEvent builds only three metrics; the units of the others.
	for name, want := range map[string]string{
		metricHeapLive:                   "bytes",
		metricGOMAXPROCS:                 "count",
		"/sched/goroutines:goroutines":   "count",
		"/gc/heap/allocs:objects":        "count",
		"/sync/mutex/wait/total:seconds": "seconds",
		"/no/unit":                       "count",
	} {
		if got := metricUnit(name); got != want {
			t.Errorf("metricUnit(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestPlausibleClock checks that a clock snapshot whose wall time no clock
// gives (a damaged trace's, found by FuzzParallel: year 121471982, which
// JSON and nanoseconds since 1970 cannot hold) is dropped, and that real
// ones are kept.
func TestPlausibleClock(t *testing.T) {
	for year, keep := range map[int]bool{1969: false, 1970: true, 2026: true, 2200: true, 2201: false, 121471982: false, -5: false} {
		c := &ClockSnapshot{Trace: 1, Wall: time.Date(year, 6, 29, 1, 15, 18, 0, time.UTC)}
		if got := plausibleClock(c) != nil; got != keep {
			t.Errorf("a wall time in the year %d: kept %v, want %v", year, got, keep)
		}
	}
	if plausibleClock(nil) != nil {
		t.Error("no snapshot became one")
	}
}
