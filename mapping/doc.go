// Package mapping reads a Go execution trace in one streaming pass and
// turns the runtime's state machine into a neutral timeline model that
// output formats consume through the [Sink] interface.
//
// It is the only package of trace2x that knows golang.org/x/exp/trace; the
// converters know only the model. [Map] is the entry point, [FanOut] and
// [FanOutIndependent] feed several sinks from one pass, [Tally] counts what
// it is given.
//
// # The model
//
// Resources are delivered before anything names them: the trace's [Meta],
// interned [Stack]s, [Goroutine]s, [Proc]s and [Thread]s. Intervals are
// delivered when they end: a goroutine's [GoroutineState]s (runnable,
// running, waiting with the reason, syscall), a P's [ProcRun]s, runtime
// [Range]s (GC mark phase, stop-the-world, sweep, mark assist), user
// [Task]s and [Region]s. Instants come in time order: [Log]s,
// [GoroutineEvent]s (creation, end, unblock), [Counter]s, [CPUSample]s and
// [Experimental] events (on request: [WithExperimentalEvents]). A [Flow] links a goroutine's creation or unblock
// to the moment it next runs.
//
// # What the trace does not say
//
// A trace starts and stops while the program runs, so many things are in
// progress at either end. Nothing is dropped for that; it is marked:
//
//   - An item already in progress when the trace starts (a goroutine
//     blocked before tracing began, a GC cycle the trace reports as
//     RangeActive, a task or region whose begin came before trace.Start or
//     before a flight-recorder window) is given [OpenStart] and starts at
//     the trace's first timestamp. The goroutine counters count such a
//     goroutine from there too, though Go's tracer states it only when it
//     next moves or at the end of the first generation (see
//     [WithoutBackdatedCounts]). An item first seen in progress in a
//     later generation (a P added by GOMAXPROCS) starts where it is first
//     seen, also marked OpenStart.
//   - An item still in progress at the end, or when a broken trace breaks
//     off, is given [OpenEnd] and ends at the last timestamp read.
//   - A task referred to by a region or log but never begun in the trace
//     is made up with OpenStart and an empty type, unless its end, which
//     repeats the type in Go 1.22+ traces, tells it.
//   - Regions of a goroutine that ends are closed when it ends, marked
//     OpenEnd and [Region.GoroutineEnded].
//
// # Generations
//
// Go 1.22+ traces come in generations, each about a second long, each
// restating the state of every goroutine and P at its start. The mapping
// ignores a restated state that matches what it knows, so an interval
// never breaks at a generation boundary. Stack handles belong to one
// generation; the mapping interns them by their program counters into
// StackIDs that last the whole trace, and forgets the handles at every
// boundary so that an old generation's tables can be freed.
//
// # Goroutines
//
// A goroutine's start function comes from the stack of its creation, which
// names the function the go statement started; for a goroutine that
// existed before the trace, from the outermost frame of the first stack
// seen for it. A syscall that lasted long enough for its P to be taken
// away ends in Runnable rather than Running: the syscall interval is then
// marked Blocked, and a Flow of kind [GoSyscallExitBlocked] leads to the
// goroutine's next run. Flows of creation and unblock lead from the
// creating or unblocking execution context (which may have no goroutine,
// e.g. the network poller on a P) to the goroutine's next run; a goroutine
// that never runs again has no flow, counted in Summary.UnmatchedFlows.
//
// # Counters
//
// Goroutines by state (running, runnable, waiting, in syscall) and threads
// by state (holding a running P, in a syscall) are derived from the state
// machine and delivered when they change. The metrics the trace carries
// (heap live, heap goal, GOMAXPROCS, and any other) are passed on when
// they change, with their runtime/metrics names.
//
// # Filters
//
// A [Filter] passes on part of the model: a time window, goroutines,
// tasks, regions. What it cuts it clips to the cut and marks OpenStart or
// OpenEnd, as it does what the trace itself cuts (a run it cuts loses the
// stack of the end cut, see Filter), and Meta.Filtered tells
// a sink that these marks may come from a filter. A goroutine is declared
// only when something kept names it; counters open the window with the
// values they had at its start. Selections by task or region, and of the
// goroutines related to selected ones, need the whole trace to be known
// first: [Filter.Prepass] reads it once before the filtered pass
// ([Filter.PrepassFile], of a file with a window that ends, only as much
// of it as the window needs).
//
// # Streaming
//
// Parsing runs on its own goroutine, a few hundred events ahead of the
// mapping, so that both cores of a machine are used; [Async] puts a sink
// that does much work per item, an encoder, on a third. [MapFile] and
// [MapWindow], given a file and [WithWorkers] of 2 or more (the default is
// one parser beside the mapping), parse groups of generations on several
// goroutines, each parser starting one
// generation early so that its state is that of a parser that read
// everything before, and map them in order: the sink gets exactly what
// Map gives it (parallel.go says why). The mapping holds
// only what is live: goroutines until they end, open ranges, tasks and
// regions, and one table of every distinct stack. Memory follows the
// largest generation, not the length of the trace. Traces in the old
// formats (Go 1.11 to 1.21) are an exception the parser imposes: they
// have no generations and are read whole before the first event.
package mapping
