package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp in nanoseconds on the trace's clock. Only differences
// between Times of one trace are meaningful, unless the trace carries a
// [ClockSnapshot] that ties the trace clock to wall time.
type Time int64

// Sub returns t-u as a duration.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// GoID identifies a goroutine.
type GoID int64

// NoGoroutine means that no goroutine is involved.
const NoGoroutine GoID = -1

// ProcID identifies a P, the scheduler's right to run Go code.
type ProcID int64

// NoProc means that no P is involved.
const NoProc ProcID = -1

// ThreadID identifies an M. In traces of Go 1.22 and later it is the OS
// thread ID.
type ThreadID int64

// NoThread means that no thread is involved.
const NoThread ThreadID = -1

// TaskID identifies a user task (runtime/trace.NewTask).
type TaskID uint64

// NoTask means that no task is involved: the event happened in the
// background task.
const NoTask TaskID = 0

// RegionID identifies one user region within a mapped trace. The trace
// itself has no region IDs; the mapping names a region by the time of its
// begin, which no other event shares (in a trace before Go 1.22, by the
// next time after the last region's, where two begins share one), so that
// a region can name its parent before either has ended, and a pass over
// part of the trace (MapWindow) names the regions it reads begin as a
// pass over the whole does. A region whose begin the trace does not hold
// is numbered from 1 with the top bit set.
type RegionID uint64

// NoRegion means that no region is involved.
const NoRegion RegionID = 0

// earlierRegion is the bit that marks the IDs of regions begun before the
// trace.
const earlierRegion RegionID = 1 << 63

// StackID names a stack delivered earlier through [Sink.Stack]. Stacks are
// interned across the whole trace: two events with the same frames share a
// StackID even when they come from different generations.
type StackID uint32

// NoStack means that the event carried no stack.
const NoStack StackID = 0

// Flags mark what the trace could not tell about an item.
type Flags uint8

const (
	// OpenStart means the item began before the trace did (or its beginning
	// was not recorded); its Start is the earliest time the trace vouches
	// for: the trace's start, or for regions nested inside each other at
	// the trace's start, a nanosecond earlier for each enclosing one, so
	// that they keep their nesting.
	OpenStart Flags = 1 << iota
	// OpenEnd means the item was still going on when the trace ended (or the
	// trace broke off); its End is the trace's last timestamp, or for a
	// region, the end of its goroutine if that came first.
	OpenEnd
)

// Has reports whether all of g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String lists the flags by name.
func (f Flags) String() string {
	switch f {
	case 0:
		return "complete"
	case OpenStart:
		return "open-start"
	case OpenEnd:
		return "open-end"
	case OpenStart | OpenEnd:
		return "open-start|open-end"
	}
	return fmt.Sprintf("Flags(%d)", uint8(f))
}

// Frame is one frame of a stack.
type Frame struct {
	PC   uint64
	Func string
	File string
	Line uint64
}

// Stack is an interned call stack, leaf first.
type Stack struct {
	ID     StackID
	Frames []Frame
}

// ClockSnapshot relates the trace clock to wall-clock time. Go 1.25 and
// later record one in every generation.
type ClockSnapshot struct {
	Trace Time      // the trace clock at the snapshot
	Wall  time.Time // the wall clock at the same moment
	Mono  uint64    // the OS monotonic clock in nanoseconds at the same moment
}

// plausibleClock returns the snapshot, or nil if its wall time is one no
// clock gives: a damaged trace's can be millions of years away, which
// nanoseconds since 1970 in an int64 (what Perfetto and OTLP carry) cannot
// hold, nor JSON's four-digit years. The trace is then one without a wall
// clock.
func plausibleClock(c *ClockSnapshot) *ClockSnapshot {
	if c == nil || c.Wall.Year() < 1970 || c.Wall.Year() > 2200 {
		return nil
	}
	return c
}

// WallTime converts a trace timestamp to wall-clock time.
func (c *ClockSnapshot) WallTime(t Time) time.Time {
	return c.Wall.Add(t.Sub(c.Trace))
}

// Meta describes the trace. It is delivered once, through [Sink.Begin],
// before anything else.
type Meta struct {
	Input         string // name of the input, as given by WithInputName
	FormatVersion string // trace format, e.g. "go1.22"; Go 1.24 writes "go1.23"
	Start         Time   // timestamp of the trace's first event
	// Origin is the timestamp of the whole trace's first event, from
	// which a Bound's Offset counts. It is Start, unless a Filter's
	// window begins later and Start with it.
	Origin Time
	Clock  *ClockSnapshot // nil when the trace has none (before Go 1.25)
	// Filtered is set when the model is the part of the trace a Filter
	// kept: OpenStart and OpenEnd then also mark items cut by it.
	Filtered bool
	// WindowEnd is the end of that Filter's window, zero if it has none.
	// An item that ends there, marked OpenEnd, was cut by the window (it
	// went on after); one that ends at the trace's end went on to it.
	WindowEnd Time
	// Skipped is set when the pass read a file's later generations only
	// (MapWindow skipped the first): what was under way when they begin
	// is known as begun before the trace, without what only the
	// generations skipped tell, such as the reason of a wait.
	Skipped bool
	// Selected is set when that Filter selected goroutines, tasks or
	// regions, not only a window: a region's enclosing region can then
	// be left out where the region is kept. A window keeps it, since it
	// lasts at least as long.
	Selected bool
	// TraceparentSeen is set when that Filter's prepass (one that
	// selects tasks, regions or related goroutines) saw a task log its
	// traceparent (CategoryTraceparent), the first at FirstTraceparent,
	// wherever the log lies: the filter passes on only those of the
	// tasks it keeps, and a sink that waits for a task's traceparent once
	// the trace has logged one can wait from that time, as it would over
	// the whole trace.
	TraceparentSeen  bool
	FirstTraceparent Time
}

// Goroutine describes a goroutine. It is delivered before any item that
// names the goroutine, and again with Updated set whenever more is learned
// about it (its start function, a label).
//
// The runtime can give a goroutine's ID to a later goroutine: the
// goroutines that run cgo callbacks on threads created in C reuse theirs.
// Each life is delivered as a goroutine of its own, Updated unset.
type Goroutine struct {
	ID        GoID
	StartFunc string // the function the goroutine was started with; "" if unknown
	Creator   GoID   // NoGoroutine if unknown or created outside Go code
	Label     string // the last label the runtime gave it, e.g. "GC (dedicated)"
	Created   Time   // creation time; the trace start (a Filter's window start) if it existed before
	Flags     Flags  // OpenStart if it existed before the trace (or a Filter's window) began
	Updated   bool   // a later delivery of a goroutine already delivered
}

// Name is how tools show a goroutine: "G<id> <start function>".
func (g *Goroutine) Name() string {
	// Called for each of possibly millions of goroutines: one allocation.
	b := make([]byte, 0, 1+20+1+len(g.StartFunc))
	b = append(b, 'G')
	b = strconv.AppendInt(b, int64(g.ID), 10)
	if g.StartFunc != "" {
		b = append(b, ' ')
		b = append(b, g.StartFunc...)
	}
	return string(b)
}

// Proc describes a P. It is delivered once, when the P is first seen.
type Proc struct {
	ID ProcID
}

// Thread describes an M. It is delivered once, when the M is first seen.
type Thread struct {
	ID ThreadID
}

// GoState is a goroutine's scheduling state.
type GoState uint8

const (
	GoRunnable GoState = iota // ready to run, waiting for a P
	GoRunning                 // running Go code on a P and an M
	GoWaiting                 // blocked; Reason says on what
	GoSyscall                 // in a system call or cgo call, holding its M
	numGoStates
)

var goStateNames = [...]string{
	GoRunnable: "runnable",
	GoRunning:  "running",
	GoWaiting:  "waiting",
	GoSyscall:  "syscall",
}

// String returns the state's lower-case name.
func (s GoState) String() string {
	if int(s) < len(goStateNames) {
		return goStateNames[s]
	}
	return fmt.Sprintf("GoState(%d)", uint8(s))
}

// GoroutineState is one interval a goroutine spent in one state. It is
// delivered when the interval ends.
//
// Stack is the goroutine's own stack as the state began, where the trace
// has it: where it blocked (waiting), entered the syscall, or was
// preempted or yielded (runnable); for a goroutine just created, its start
// function; none when another goroutine made it runnable (the unblocker's
// stack is on the GoroutineEvent and the Flow) or when a run began (the
// trace records no stack there). EndStack is the goroutine's stack as the
// state ended, where the event that ended it carries one.
type GoroutineState struct {
	G          GoID
	State      GoState
	Start, End Time
	P          ProcID   // the P it ran on (running), or held when a syscall began
	M          ThreadID // the M it ran on (running, syscall; NoThread for a blocked syscall of a trace before Go 1.22, which does not tell it)
	Reason     string   // why it is waiting, or why it stopped running (runnable)
	Stack      StackID  // the goroutine's stack as the state began (see above)
	EndStack   StackID  // the goroutine's stack as the state ended
	Blocked    bool     // syscall: it blocked long enough to lose its P
	Flags      Flags
}

// ProcRun is an interval during which a P was running, held by an M. A P
// that is not running is idle.
type ProcRun struct {
	P          ProcID
	M          ThreadID // the M that started (or held) it
	Start, End Time
	Flags      Flags
	// TakenFrom is the goroutine whose syscall held the P when the run
	// ended, the P taken from it while it was in the kernel (the syscall
	// is then Blocked); NoGoroutine if the run ended otherwise. Until
	// then the P was that goroutine's: go tool trace draws its run on
	// the P up to here.
	TakenFrom GoID
}

// RangeKind tells the runtime activity a Range covers.
type RangeKind uint8

const (
	RangeOther      RangeKind = iota // a range this version does not know
	RangeGCMark                      // GC concurrent mark phase (global)
	RangeSTW                         // stop-the-world (goroutine-scoped in the trace)
	RangeSweep                       // GC incremental sweep (per P)
	RangeMarkAssist                  // GC mark assist (per goroutine)
)

var rangeKindNames = [...]string{
	RangeOther:      "other",
	RangeGCMark:     "gc",
	RangeSTW:        "stw",
	RangeSweep:      "sweep",
	RangeMarkAssist: "mark assist",
}

// String returns a short name of the kind.
func (k RangeKind) String() string {
	if int(k) < len(rangeKindNames) {
		return rangeKindNames[k]
	}
	return fmt.Sprintf("RangeKind(%d)", uint8(k))
}

// Scope is the resource a range belongs to.
type Scope uint8

const (
	ScopeGlobal    Scope = iota // the whole process
	ScopeGoroutine              // one goroutine, in Range.G
	ScopeProc                   // one P, in Range.P
	ScopeThread                 // one M, in Range.M
)

// Attr is a named value the trace attaches to a range's end.
type Attr struct {
	Name  string
	Value uint64
}

// Range is a span of runtime activity: a GC cycle, a stop-the-world pause,
// a sweep, a mark assist. It is delivered when it ends.
type Range struct {
	Kind       RangeKind
	Name       string // the name the trace gives, e.g. "GC concurrent mark phase"
	Scope      Scope
	G          GoID     // for ScopeGoroutine
	P          ProcID   // for ScopeProc
	M          ThreadID // for ScopeThread
	Start, End Time
	Reason     string // RangeSTW: the reason in parentheses, e.g. "GC sweep termination"
	Cycle      int    // RangeGCMark: 1 for the first cycle begun in the trace; 0 if begun before
	Attrs      []Attr // e.g. "bytes swept" and "bytes reclaimed" of a sweep
	Stack      StackID
	EndStack   StackID
	Flags      Flags
}

// Task is a user task. It is delivered when it ends, or at the end of the
// trace if it never does.
type Task struct {
	ID     TaskID
	Parent TaskID // NoTask if it has none or it is unknown
	// Root is the outermost task it descends from, as far as the trace
	// tells: itself if it has no known parent, else its parent's root (a
	// parent never seen began before the trace and is its own root). It is
	// fixed when the task begins, so the regions and logs of a task that
	// are delivered before the task can say which tree they belong to.
	Root       TaskID
	Type       string // "" if its begin is not in the trace and the trace does not repeat it
	Start, End Time
	StartG     GoID // goroutine that began it; NoGoroutine if not in the trace
	EndG       GoID // goroutine that ended it; NoGoroutine if not in the trace
	Stack      StackID
	EndStack   StackID
	Goroutines []GoID // every goroutine that began, ended or logged in it or ran one of its regions, in order of first appearance
	Flags      Flags

	involved map[GoID]struct{} // Goroutines, as a set, while it is open and long
}

// Region is a user region on one goroutine. It is delivered when it ends.
type Region struct {
	ID     RegionID
	Parent RegionID // the enclosing region on the same goroutine, if any
	// ParentTask is the task of Parent, which may differ from Task: a
	// region of one task can enclose the regions of another.
	ParentTask TaskID
	G          GoID
	Task       TaskID
	Root       TaskID // Task's root (see Task.Root); NoTask with Task
	Type       string
	Depth      int // nesting depth among the goroutine's regions seen in the trace, from 0
	Start, End Time
	Stack      StackID
	EndStack   StackID
	Flags      Flags
	// Time is how long G spent in each state while the region was open,
	// if Timed: not for a region begun before the trace or the
	// generations a window reads (its start is not known), nor for one a
	// Filter cut.
	Time  StateTimes
	Timed bool
	// GoroutineEnded means G exited with the region open: End is when,
	// and Flags has OpenEnd, since the region's own end is not in the
	// trace.
	GoroutineEnded bool

	base StateTimes // G's state times when the region began (see gState.acc)
	// endsAt is, for a region the pass took as open from a Filter's
	// prepass (see regionSeeder), when it ends: the end of its type at
	// that time is its own, and none before. Never, if the prepass did
	// not see it end.
	endsAt Time
}

// StateTimes is how long a goroutine spent in each state over an
// interval, as its GoroutineState intervals tell: where a region's time
// went.
type StateTimes struct {
	Running, Runnable, Syscall, Waiting time.Duration
	// Network and Sync are the parts of Waiting blocked on the network
	// poller, and on channels, select or package sync: the waits of go
	// tool trace's network and synchronization profiles.
	Network, Sync time.Duration
	// STW and MarkAssist are the GC's work that fell to the goroutine:
	// the stop-the-world pauses it began and waited out (as an
	// allocation that begins or ends a GC cycle does), and its mark
	// assists (a wait for credit inside one included). They are parts of
	// the times above, mostly of Running, and count the ranges that ended
	// in the trace, as go tool trace's special ranges do.
	STW, MarkAssist time.Duration
	// Sweep is the GC's sweeping the goroutine did: a P's sweep begun
	// and ended while it ran there (an allocation that sweeps first), as
	// go tool trace counts it. It too is a part of Running.
	Sweep time.Duration
}

// Add adds o's times to st's.
func (st *StateTimes) Add(o StateTimes) {
	st.Running += o.Running
	st.Runnable += o.Runnable
	st.Syscall += o.Syscall
	st.Waiting += o.Waiting
	st.Network += o.Network
	st.Sync += o.Sync
	st.STW += o.STW
	st.MarkAssist += o.MarkAssist
	st.Sweep += o.Sweep
}

// addSince adds the times of now less those of base.
func (st *StateTimes) addSince(now, base StateTimes) {
	st.Running += now.Running - base.Running
	st.Runnable += now.Runnable - base.Runnable
	st.Syscall += now.Syscall - base.Syscall
	st.Waiting += now.Waiting - base.Waiting
	st.Network += now.Network - base.Network
	st.Sync += now.Sync - base.Sync
	st.STW += now.STW - base.STW
	st.MarkAssist += now.MarkAssist - base.MarkAssist
	st.Sweep += now.Sweep - base.Sweep
}

// add adds d in state s, for the reason given.
func (st *StateTimes) add(s GoState, reason string, d time.Duration) {
	switch s {
	case GoRunning:
		st.Running += d
	case GoRunnable:
		st.Runnable += d
	case GoSyscall:
		st.Syscall += d
	case GoWaiting:
		st.Waiting += d
		switch {
		case reason == "network":
			st.Network += d
		case strings.Contains(reason, "chan") || strings.Contains(reason, "sync") || strings.Contains(reason, "select"):
			st.Sync += d
		}
	}
}

// Log is a user log message (runtime/trace.Log). It is delivered when it
// happens.
type Log struct {
	Time     Time
	G        GoID
	P        ProcID
	M        ThreadID
	Task     TaskID
	Root     TaskID   // Task's root (see Task.Root); NoTask with Task
	Region   RegionID // innermost region open on G at the time, if any
	Category string
	Message  string
	Stack    StackID
}

// CategoryTraceparent is the category of the log in which a task records
// the W3C traceparent of the request it serves: the task's identity in the
// application's distributed trace. A [Filter] passes it on for every task
// it keeps, wherever the log itself falls.
const CategoryTraceparent = "traceparent"

// CategoryTaskType is the category of a log in which a task restates its
// type, for a trace that does not hold the task's begin (a window that
// began while the task was under way, as a flight-recorder snapshot
// does for a long request): a task that began before the trace takes
// its type from the first such log, as if the trace had held its begin.
// A task whose begin the trace holds keeps the begin's type.
const CategoryTaskType = "go.task.type"

// GoEventKind tells what happened to a goroutine in a GoroutineEvent.
type GoEventKind uint8

const (
	GoCreated            GoEventKind = iota // created by By
	GoEnded                                 // exited; the last item of the goroutine's own timeline
	GoUnblocked                             // made runnable by By
	GoSyscallExitBlocked                    // returned from a syscall that lost its P
)

var goEventNames = [...]string{
	GoCreated:            "create",
	GoEnded:              "end",
	GoUnblocked:          "unblock",
	GoSyscallExitBlocked: "syscall exit",
}

// String returns a short name of the kind.
func (k GoEventKind) String() string {
	if int(k) < len(goEventNames) {
		return goEventNames[k]
	}
	return fmt.Sprintf("GoEventKind(%d)", uint8(k))
}

// GoroutineEvent is an instant in a goroutine's life.
type GoroutineEvent struct {
	Kind   GoEventKind
	Time   Time
	G      GoID     // the goroutine it happened to
	By     GoID     // the goroutine that caused it (creator, unblocker); NoGoroutine if none
	P      ProcID   // the P of the causing execution context
	M      ThreadID // the M of the causing execution context
	Reason string   // GoUnblocked: what it had been waiting for
	Stack  StackID  // stack of the causing event
}

// Endpoint is one end of a Flow: a moment in an execution context.
type Endpoint struct {
	Time Time
	G    GoID
	P    ProcID
	M    ThreadID
}

// Flow is a causal link: a goroutine's creation or unblocking (or its
// return from a blocking syscall) leading to the moment it starts running.
// It is delivered when the target starts running.
type Flow struct {
	ID       uint64 // from 1, unique in the trace
	Kind     GoEventKind
	From, To Endpoint
	Stack    StackID // stack at the source
}

// CounterKind tells what a Counter measures.
type CounterKind uint8

const (
	CounterMetric             CounterKind = iota // a runtime metric the trace carries, named by Name
	CounterHeapLive                              // bytes in live heap objects
	CounterHeapGoal                              // heap goal, bytes
	CounterGOMAXPROCS                            // GOMAXPROCS
	CounterGoroutinesRunning                     // goroutines running
	CounterGoroutinesRunnable                    // goroutines runnable
	CounterGoroutinesWaiting                     // goroutines waiting
	CounterGoroutinesSyscall                     // goroutines in a syscall
	CounterThreadsRunning                        // Ms holding a running P
	CounterThreadsSyscall                        // Ms in a syscall
	numCounterKinds
)

var counterNames = [...]string{
	CounterMetric:             "metric",
	CounterHeapLive:           "Heap live",
	CounterHeapGoal:           "Heap goal",
	CounterGOMAXPROCS:         "GOMAXPROCS",
	CounterGoroutinesRunning:  "Goroutines running",
	CounterGoroutinesRunnable: "Goroutines runnable",
	CounterGoroutinesWaiting:  "Goroutines waiting",
	CounterGoroutinesSyscall:  "Goroutines in syscall",
	CounterThreadsRunning:     "Threads running",
	CounterThreadsSyscall:     "Threads in syscall",
}

// String returns the display name of the kind.
func (k CounterKind) String() string {
	if int(k) < len(counterNames) {
		return counterNames[k]
	}
	return fmt.Sprintf("CounterKind(%d)", uint8(k))
}

// Counter is a sample of a value over time. Derived counters (goroutines
// and threads by state) are delivered only when they change, and agree
// with the GoroutineStates delivered: a goroutine drawn waiting from the
// trace's start is counted waiting from there (see WithoutBackdatedCounts).
type Counter struct {
	Kind  CounterKind
	Name  string // display name; for CounterMetric the runtime/metrics name
	Unit  string // "bytes" or "count"
	Time  Time
	Value uint64
}

// CPUSample is a CPU profile sample taken while tracing.
type CPUSample struct {
	Time  Time
	G     GoID     // NoGoroutine if none was running, or if it had ended by the sample's time (a Summary anomaly)
	P     ProcID   // NoProc if the thread held none
	M     ThreadID // the sampled thread
	Stack StackID
}

// ExpArg is one argument of an experimental event.
type ExpArg struct {
	Name   string
	Value  uint64
	String string // for string-valued arguments
}

// Experimental is an event of a runtime experiment (e.g. the
// GODEBUG=traceallocfree=1 allocation events), passed on as it is when
// Map is given WithExperimentalEvents.
type Experimental struct {
	Time       Time
	Name       string
	Experiment string
	G          GoID
	P          ProcID
	M          ThreadID
	Args       []ExpArg
}
