package mapping

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/trace2x/trace2x/internal/errjoin"
)

// Sink consumes the timeline model as the mapping produces it.
//
// The mapping calls a Sink's methods from one goroutine, one at a time, in
// this order: Begin once; then any of the item methods; then End once, also
// when the trace breaks off (End's Summary then carries the error). Input
// that is not a trace gets no call at all (see Map). A Sink
// never sees an item that names a stack, goroutine, P or thread before it
// was delivered through Stack, Goroutine, Proc or Thread.
//
// Intervals (GoroutineState, ProcRun, Range, Task, Region) are delivered
// when they end, so they do not come in order of their start; instants,
// counters and samples come in time order.
//
// The pointers passed are valid only during the call: the mapping reuses
// them and the slices in them (Stack.Frames, Range.Attrs,
// Experimental.Args). A Sink that keeps an item copies it deeply. An error returned by any
// method stops the mapping, which then calls no method but End; so does a
// panic, which Map returns as a SinkPanicError.
type Sink interface {
	Begin(*Meta) error
	Stack(*Stack) error
	Goroutine(*Goroutine) error
	Proc(*Proc) error
	Thread(*Thread) error
	GoroutineState(*GoroutineState) error
	ProcRun(*ProcRun) error
	Range(*Range) error
	Task(*Task) error
	Region(*Region) error
	Log(*Log) error
	GoroutineEvent(*GoroutineEvent) error
	Flow(*Flow) error
	Counter(*Counter) error
	CPUSample(*CPUSample) error
	Experimental(*Experimental) error
	End(*Summary) error
}

// ErrNilSink is wrapped by the error of a pass given a nil Sink, or one
// of this package's sinks (FanOut, FanOutIndependent, ThinCounters, Async,
// Filter.Sink) built on a nil Sink: Map, MapFile and MapWindow return it
// before they read any input, and the sink gets no call. Called by
// another driver, such a sink of this package fails at Begin with it.
var ErrNilSink = errors.New("mapping: the sink is nil")

// nilSinkError says which sink is nil: where is the way to it, such as
// "sink 2 given to FanOut".
type nilSinkError struct{ where string }

func (e *nilSinkError) Error() string { return "mapping: " + e.where + " is nil" }
func (e *nilSinkError) Unwrap() error { return ErrNilSink }

// chain is implemented by the sinks of this package that pass items on to
// other sinks.
type chain interface {
	// nilSink returns an error wrapping ErrNilSink if a sink it passes
	// items to is nil or, in turn, passes them to a nil one.
	nilSink() error
}

// checkSink returns an error wrapping ErrNilSink if s is nil or passes
// items to a nil sink: a nil interface's method would panic in the
// mapping, far from the mistake.
func checkSink(s Sink) error {
	if s == nil {
		return ErrNilSink
	}
	if c, ok := s.(chain); ok {
		return c.nilSink()
	}
	return nil
}

// checkNext is checkSink for next, a sink that one of this package's
// sinks, described by where, passes items to.
func checkNext(next Sink, where string) error {
	if next == nil {
		return &nilSinkError{where}
	}
	return checkSink(next)
}

// NopSink ignores everything. Embed it in a sink that wants only some
// items.
type NopSink struct{}

var _ Sink = NopSink{}

// Begin ignores the Meta.
func (NopSink) Begin(*Meta) error { return nil }

// Stack ignores the Stack.
func (NopSink) Stack(*Stack) error { return nil }

// Goroutine ignores the Goroutine.
func (NopSink) Goroutine(*Goroutine) error { return nil }

// Proc ignores the Proc.
func (NopSink) Proc(*Proc) error { return nil }

// Thread ignores the Thread.
func (NopSink) Thread(*Thread) error { return nil }

// GoroutineState ignores the GoroutineState.
func (NopSink) GoroutineState(*GoroutineState) error { return nil }

// ProcRun ignores the ProcRun.
func (NopSink) ProcRun(*ProcRun) error { return nil }

// Range ignores the Range.
func (NopSink) Range(*Range) error { return nil }

// Task ignores the Task.
func (NopSink) Task(*Task) error { return nil }

// Region ignores the Region.
func (NopSink) Region(*Region) error { return nil }

// Log ignores the Log.
func (NopSink) Log(*Log) error { return nil }

// GoroutineEvent ignores the GoroutineEvent.
func (NopSink) GoroutineEvent(*GoroutineEvent) error { return nil }

// Flow ignores the Flow.
func (NopSink) Flow(*Flow) error { return nil }

// Counter ignores the Counter.
func (NopSink) Counter(*Counter) error { return nil }

// CPUSample ignores the CPUSample.
func (NopSink) CPUSample(*CPUSample) error { return nil }

// Experimental ignores the Experimental.
func (NopSink) Experimental(*Experimental) error { return nil }

// End ignores the Summary.
func (NopSink) End(*Summary) error { return nil }

// FanOut returns a Sink that passes everything to each of sinks in turn,
// so one pass over a trace feeds several outputs. The first error stops
// the pass; End is still called on every sink, and its errors are joined.
func FanOut(sinks ...Sink) Sink {
	if len(sinks) == 1 && sinks[0] != nil {
		return sinks[0]
	}
	return &fanOut{sinks: slices.Clone(sinks)}
}

// FanOutIndependent is FanOut for sinks that do not depend on each other,
// such as the files of one conversion to several formats: a sink that
// fails, with an error or a panic (a *SinkPanicError), is left out for
// the rest of the pass, which goes on for the others, so that a full disk
// or a closed pipe under one output does not cut the rest short (a trace
// read from a pipe cannot be read again). The pass stops once every sink
// has failed. End is called on every sink, the failed ones too, and
// returns each sink's first error and End's, each once.
func FanOutIndependent(sinks ...Sink) Sink {
	return &fanOut{sinks: slices.Clone(sinks), failed: make([]error, len(sinks)), live: len(sinks)}
}

type fanOut struct {
	sinks []Sink
	// failed holds, for FanOutIndependent, the error each sink failed
	// with; nil for FanOut.
	failed []error
	live   int // sinks not failed
}

func each[T any](f *fanOut, x T, call func(Sink, T) error) error {
	if f.failed == nil {
		for _, s := range f.sinks {
			if err := call(s, x); err != nil {
				return err
			}
		}
		return nil
	}
	return eachLive(f, 0, x, call)
}

// eachLive calls the sinks of FanOutIndependent from sinks[from] on that
// have not failed. A sink that panics has failed, its panic the error (a
// *SinkPanicError), and the call goes on with the next: one recovery for
// them all, as one for each call would cost the pass more than the
// calls.
func eachLive[T any](f *fanOut, from int, x T, call func(Sink, T) error) (err error) {
	i := from
	defer func() {
		if p := recover(); p != nil {
			err = sinkPanic(p)
			if err = f.fail(i, err); err == nil {
				err = eachLive(f, i+1, x, call)
			}
		}
	}()
	for ; i < len(f.sinks); i++ {
		if f.failed[i] != nil {
			continue
		}
		if err := call(f.sinks[i], x); err != nil {
			if err := f.fail(i, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// fail leaves sink i of FanOutIndependent out with err, and returns the
// error that stops the pass once every sink has failed.
func (f *fanOut) fail(i int, err error) error {
	f.failed[i] = err
	if f.live--; f.live == 0 {
		return errjoin.Join(f.failed...)
	}
	return nil
}

func (f *fanOut) nilSink() error {
	name := "FanOut"
	if f.failed != nil {
		name = "FanOutIndependent"
	}
	for i, s := range f.sinks {
		if err := checkNext(s, fmt.Sprintf("sink %d given to %s", i+1, name)); err != nil {
			return err
		}
	}
	return nil
}

func (f *fanOut) Begin(x *Meta) error {
	if err := f.nilSink(); err != nil {
		return err
	}
	return each(f, x, Sink.Begin)
}

func (f *fanOut) Stack(x *Stack) error         { return each(f, x, Sink.Stack) }
func (f *fanOut) Goroutine(x *Goroutine) error { return each(f, x, Sink.Goroutine) }
func (f *fanOut) Proc(x *Proc) error           { return each(f, x, Sink.Proc) }
func (f *fanOut) Thread(x *Thread) error       { return each(f, x, Sink.Thread) }
func (f *fanOut) ProcRun(x *ProcRun) error     { return each(f, x, Sink.ProcRun) }
func (f *fanOut) Range(x *Range) error         { return each(f, x, Sink.Range) }
func (f *fanOut) Task(x *Task) error           { return each(f, x, Sink.Task) }
func (f *fanOut) Region(x *Region) error       { return each(f, x, Sink.Region) }
func (f *fanOut) Log(x *Log) error             { return each(f, x, Sink.Log) }
func (f *fanOut) Flow(x *Flow) error           { return each(f, x, Sink.Flow) }
func (f *fanOut) Counter(x *Counter) error     { return each(f, x, Sink.Counter) }
func (f *fanOut) CPUSample(x *CPUSample) error { return each(f, x, Sink.CPUSample) }
func (f *fanOut) GoroutineState(x *GoroutineState) error {
	return each(f, x, Sink.GoroutineState)
}
func (f *fanOut) GoroutineEvent(x *GoroutineEvent) error {
	return each(f, x, Sink.GoroutineEvent)
}
func (f *fanOut) Experimental(x *Experimental) error {
	return each(f, x, Sink.Experimental)
}

// sinkPanic is the error of p, a sink's panic recovered where no pass
// stands between: the *SinkPanicError itself, not the pass's wrapper.
func sinkPanic(p any) error {
	err := recovered(p, "")
	var se sinkError
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// endSafe returns s.End(x), or the panic of s as its error, a
// *SinkPanicError.
func endSafe(s Sink, x *Summary) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = sinkPanic(p)
		}
	}()
	return s.End(x)
}

func (f *fanOut) End(x *Summary) error {
	errs := slices.Clone(f.failed)
	for _, s := range f.sinks {
		switch {
		case s == nil:
			errs = append(errs, f.nilSink()) // it failed Begin
		case f.failed != nil:
			// A sink's panic in End does not keep the others from
			// theirs.
			errs = append(errs, endSafe(s, x))
		default:
			errs = append(errs, s.End(x))
		}
	}
	// A sink that failed gives its error again from End, and sinks that
	// share an output fail with the same one.
	return errjoin.Join(errs...)
}

// Summary is what the mapping knows once the pass is over. It is passed to
// Sink.End and returned by Map.
type Summary struct {
	Meta
	End         Time // timestamp of the trace's last event
	Generations int  // generations read (one per Sync event after the first)
	// Spans places the generations of a Go 1.22+ trace in the input and
	// in time, as their batch headers do: for a file, every generation
	// of its index (a window's pass reads some of them); for a stream,
	// those that passed whole. A pass that failed (Err) lists those
	// before the generation it failed in, and that one if it is the last,
	// Unfinished, and the parser read to the input's end (as it does to
	// refuse it for that). A trace before Go 1.22, or one whose batch headers
	// stop making sense, has none, or those before.
	Spans        []GenerationSpan
	Events       int64            // events read from the trace
	EventsByKind map[string]int64 // events read, by x/exp/trace event kind name
	BytesRead    int64            // bytes of input consumed
	// Compressed says the input was gzip- or zstd-compressed: BytesRead
	// counts its bytes, and the offsets of Spans and of errors are those
	// of the trace decompressed.
	Compressed    bool
	ExpBatches    map[string]int   // experimental batches, by experiment
	ExpEvents     map[string]int64 // experimental events, by experiment
	ExpBatchBytes int64            // bytes in experimental batches
	Goroutines    int              // goroutines seen (a reused ID counts once per life)
	Procs         int              // distinct Ps seen
	Threads       int              // distinct Ms seen
	// Anomalies counts oddities the mapping repaired rather than failing
	// on, such as a region end with no matching begin, by description.
	Anomalies map[string]int
	// UnmatchedFlows counts creations and unblocks whose goroutine never ran
	// again before the trace ended: they have no target and so no Flow. A
	// pass over a window's generations (MapWindow) that stops before the
	// trace's last does not count those still to run at its end.
	UnmatchedFlows int
	// Unfinished says that the trace's writer stopped inside the last
	// generation (a Go 1.26+ trace, which marks each generation's end,
	// whose process was killed while it traced): the runtime had not
	// written the rest of that generation, and what it recorded after End
	// is not in the trace. The pass itself is whole: Err is nil.
	Unfinished bool
	// Err is the error that cut the trace short, or nil. Everything before
	// it was delivered.
	Err error
}

// GenerationSpan is where a generation lies in a trace and when. Start is
// the time its first batch began and End the time of its last, when the
// runtime wrote its tables: the events of the generation lie between the
// two, and the next generation begins a little before End.
type GenerationSpan struct {
	Number       uint64 // the runtime's number for it
	Offset, Size int64  // its bytes in the input, from its first batch's header
	Start, End   Time
	// Unfinished marks a last generation whose writer stopped inside it
	// (see Summary.Unfinished).
	Unfinished bool
}

// EventKinds returns the keys of EventsByKind in order.
func (s *Summary) EventKinds() []string {
	return slices.Sorted(maps.Keys(s.EventsByKind))
}
