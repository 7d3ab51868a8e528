package mapping

import (
	"errors"
	"sync"

	"github.com/trace2x/trace2x/internal/errjoin"
)

// Async returns a Sink that passes everything to sink on a goroutine of
// its own, so that a sink that does much work per item (an encoder) runs
// beside the mapping instead of after it, as the parser already does.
// Items are copied into batches on the way, so sink sees them under the
// same contract as from Map: valid during the call only, in the same
// order, one call at a time.
//
// An error of sink reaches the mapping at a later call, which stops it;
// End waits for sink to have been given everything before it returns.
// It takes one pass: items outside it, and a second Begin, are refused
// with an error, as the converters refuse them.
// A nil sink fails the pass with [ErrNilSink] before any input is read,
// not on Async's goroutine, where no caller could recover.
func Async(sink Sink) Sink {
	// Counters thinned before the hand-over, not after: most counter
	// samples are thinned out, and copying them to the other goroutine
	// first would cost more than the thinning.
	if t, ok := sink.(*thinSink); ok && t != nil && t.seq == 0 {
		return &thinSink{Sink: &asyncSink{sink: t.Sink, cur: &asyncBatch{}, idle: true}, period: t.period, joint: t.joint}
	}
	return &asyncSink{sink: sink, cur: &asyncBatch{}, idle: true}
}

// start makes the batches and the sink's goroutine. It waits for Begin:
// the mapping calls End only on a trace that began, and a goroutine
// started before would wait for it forever.
func (a *asyncSink) start() {
	a.full = make(chan *asyncBatch, asyncInFlight)
	a.free = make(chan *asyncBatch, asyncInFlight+1)
	a.done = make(chan struct{})
	for range asyncInFlight + 1 {
		a.free <- &asyncBatch{}
	}
	a.cur, a.idle = <-a.free, false
	go a.work()
}

const (
	asyncBatchOps = 1024 // items in a batch
	asyncInFlight = 4    // batches queued for the sink
)

type asyncKind uint8

const (
	opBegin asyncKind = iota
	opStack
	opGoroutine
	opProc
	opThread
	opGoroutineState
	opProcRun
	opRange
	opTask
	opRegion
	opLog
	opGoroutineEvent
	opFlow
	opCounter
	opCPUSample
	opExperimental
)

type asyncOp struct {
	kind asyncKind
	i    int32 // index into the batch's slice of that kind
}

// asyncBatch holds copies of items, by kind, and the order they came in.
// Its slices are reused from batch to batch.
type asyncBatch struct {
	ops     []asyncOp
	metas   []Meta
	stacks  []Stack
	frames  []Frame
	gs      []Goroutine
	procs   []Proc
	threads []Thread
	states  []GoroutineState
	runs    []ProcRun
	ranges  []Range
	attrs   []Attr
	tasks   []Task
	goids   []GoID
	regions []Region
	logs    []Log
	gevents []GoroutineEvent
	flows   []Flow
	ctrs    []Counter
	samples []CPUSample
	exps    []Experimental
	args    []ExpArg
}

func (b *asyncBatch) reset() {
	b.ops = b.ops[:0]
	b.metas, b.stacks = b.metas[:0], b.stacks[:0]
	clear(b.frames) // drop references to strings of old stacks
	b.frames = b.frames[:0]
	b.gs, b.procs, b.threads = b.gs[:0], b.procs[:0], b.threads[:0]
	b.states, b.runs, b.ranges, b.attrs = b.states[:0], b.runs[:0], b.ranges[:0], b.attrs[:0]
	b.tasks, b.goids, b.regions, b.logs = b.tasks[:0], b.goids[:0], b.regions[:0], b.logs[:0]
	b.gevents, b.flows, b.ctrs, b.samples = b.gevents[:0], b.flows[:0], b.ctrs[:0], b.samples[:0]
	b.exps, b.args = b.exps[:0], b.args[:0]
}

type asyncSink struct {
	sink Sink
	// cur is the batch items go to; outside Begin and End, one that is
	// never handed over, and idle is set.
	cur        *asyncBatch
	idle       bool
	begun      bool
	ended      bool
	full, free chan *asyncBatch
	done       chan struct{}

	mu  sync.Mutex
	err error // the sink's first error
}

// failed returns the sink's error, if it has failed.
func (a *asyncSink) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// add records an op and sends the batch on when it is full.
func (a *asyncSink) add(kind asyncKind, i int) error {
	b := a.cur
	if a.idle {
		b.reset()
		return a.refuse()
	}
	b.ops = append(b.ops, asyncOp{kind, int32(i)})
	if len(b.ops) < asyncBatchOps {
		return nil
	}
	a.full <- b
	a.cur = <-a.free
	return a.failed()
}

// work gives the sink the batches, in order, until the channel closes.
func (a *asyncSink) work() {
	defer close(a.done)
	failed := false
	for b := range a.full {
		if !failed {
			if err := a.replaySafe(b); err != nil {
				failed = true
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		b.reset()
		a.free <- b
	}
}

// replaySafe replays b, and turns a panic of the sink, which on this
// goroutine no caller could recover, into its error (see SinkPanicError).
func (a *asyncSink) replaySafe(b *asyncBatch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = sinkPanic(p)
		}
	}()
	return a.replay(b)
}

func (a *asyncSink) replay(b *asyncBatch) error {
	s := a.sink
	for _, op := range b.ops {
		var err error
		switch op.kind {
		case opBegin:
			err = s.Begin(&b.metas[op.i])
		case opStack:
			err = s.Stack(&b.stacks[op.i])
		case opGoroutine:
			err = s.Goroutine(&b.gs[op.i])
		case opProc:
			err = s.Proc(&b.procs[op.i])
		case opThread:
			err = s.Thread(&b.threads[op.i])
		case opGoroutineState:
			err = s.GoroutineState(&b.states[op.i])
		case opProcRun:
			err = s.ProcRun(&b.runs[op.i])
		case opRange:
			err = s.Range(&b.ranges[op.i])
		case opTask:
			err = s.Task(&b.tasks[op.i])
		case opRegion:
			err = s.Region(&b.regions[op.i])
		case opLog:
			err = s.Log(&b.logs[op.i])
		case opGoroutineEvent:
			err = s.GoroutineEvent(&b.gevents[op.i])
		case opFlow:
			err = s.Flow(&b.flows[op.i])
		case opCounter:
			err = s.Counter(&b.ctrs[op.i])
		case opCPUSample:
			err = s.CPUSample(&b.samples[op.i])
		case opExperimental:
			err = s.Experimental(&b.exps[op.i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// The copies of slices in items (frames, attributes, goroutines,
// arguments) go into arenas of the batch, three-index sliced so that later
// appends never write into them; an arena that grows leaves the earlier
// copies where they were, still whole.

// arena copies s to the end of *a and returns the copy.
func arena[T any](a *[]T, s []T) []T {
	if len(s) == 0 {
		return s[:0:0] // nil stays nil, empty stays empty
	}
	lo := len(*a)
	*a = append(*a, s...)
	return (*a)[lo:len(*a):len(*a)]
}

func (a *asyncSink) nilSink() error { return checkNext(a.sink, "the sink given to Async") }

func (a *asyncSink) Begin(m *Meta) error {
	if err := a.nilSink(); err != nil {
		return err
	}
	if m == nil {
		return errNoMeta
	}
	if a.begun {
		return errAsyncTwice
	}
	a.begun = true
	a.start()
	c := *m
	if m.Clock != nil {
		clock := *m.Clock
		c.Clock = &clock
	}
	return push(a, opBegin, &a.cur.metas, c)
}

// errNoMeta refuses a Begin without the trace's Meta, which no pass gives.
var errNoMeta = errors.New("mapping: Begin given no Meta")

// errAsyncTwice refuses a second pass: the sink is given one.
var errAsyncTwice = errors.New("mapping: Begin called again on the Sink of Async, which is given one pass")

// refuse refuses an item outside Begin and End, as the converters do,
// rather than queue it for a sink that will not be given it.
func (a *asyncSink) refuse() error {
	if err := a.nilSink(); err != nil {
		return err
	}
	if a.ended {
		return errors.New("mapping: an item given to the Sink of Async after its End")
	}
	return errors.New("mapping: an item given to the Sink of Async before its Begin")
}

// push appends the copy v of an item to list, a slice of the current
// batch, and records its op.
func push[T any](a *asyncSink, kind asyncKind, list *[]T, v T) error {
	*list = append(*list, v)
	return a.add(kind, len(*list)-1)
}

func (a *asyncSink) Stack(s *Stack) error {
	return push(a, opStack, &a.cur.stacks, Stack{ID: s.ID, Frames: arena(&a.cur.frames, s.Frames)})
}

func (a *asyncSink) Goroutine(g *Goroutine) error { return push(a, opGoroutine, &a.cur.gs, *g) }
func (a *asyncSink) Proc(p *Proc) error           { return push(a, opProc, &a.cur.procs, *p) }
func (a *asyncSink) Thread(t *Thread) error       { return push(a, opThread, &a.cur.threads, *t) }
func (a *asyncSink) ProcRun(r *ProcRun) error     { return push(a, opProcRun, &a.cur.runs, *r) }
func (a *asyncSink) Region(r *Region) error       { return push(a, opRegion, &a.cur.regions, *r) }
func (a *asyncSink) Log(l *Log) error             { return push(a, opLog, &a.cur.logs, *l) }
func (a *asyncSink) Flow(f *Flow) error           { return push(a, opFlow, &a.cur.flows, *f) }
func (a *asyncSink) Counter(c *Counter) error     { return push(a, opCounter, &a.cur.ctrs, *c) }
func (a *asyncSink) CPUSample(c *CPUSample) error { return push(a, opCPUSample, &a.cur.samples, *c) }

func (a *asyncSink) GoroutineState(s *GoroutineState) error {
	return push(a, opGoroutineState, &a.cur.states, *s)
}

func (a *asyncSink) GoroutineEvent(e *GoroutineEvent) error {
	return push(a, opGoroutineEvent, &a.cur.gevents, *e)
}

func (a *asyncSink) Range(r *Range) error {
	c := *r
	c.Attrs = arena(&a.cur.attrs, r.Attrs)
	return push(a, opRange, &a.cur.ranges, c)
}

func (a *asyncSink) Task(t *Task) error {
	c := *t
	c.Goroutines = arena(&a.cur.goids, t.Goroutines)
	return push(a, opTask, &a.cur.tasks, c)
}

func (a *asyncSink) Experimental(x *Experimental) error {
	c := *x
	c.Args = arena(&a.cur.args, x.Args)
	return push(a, opExperimental, &a.cur.exps, c)
}

// End hands over what is left, waits for the sink to have taken it, and
// then calls the sink's End, from this goroutine.
func (a *asyncSink) End(s *Summary) error {
	if a.sink == nil {
		return a.nilSink()
	}
	if s != nil && errors.Is(s.Err, errAsyncTwice) {
		// The End of a pass whose Begin was refused: the pass under way
		// is not ended by it.
		return nil
	}
	if a.idle {
		// Never begun, or ended again: the sink answers as it does,
		// and no pass begins after.
		a.ended, a.begun = true, true
		return a.sink.End(s)
	}
	a.ended = true
	if len(a.cur.ops) > 0 {
		a.full <- a.cur
		a.cur = &asyncBatch{}
	} else {
		a.cur.reset()
	}
	a.idle = true
	close(a.full)
	<-a.done
	err := a.failed()
	// A sink that failed gives its error again from End.
	return errjoin.Join(err, a.sink.End(s))
}
