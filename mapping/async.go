package mapping

import (
	"errors"
	"sync"
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
func Async(sink Sink) Sink {
	return &asyncSink{sink: sink}
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
	a.cur = <-a.free
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
	sink       Sink
	cur        *asyncBatch
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
			if err := a.replay(b); err != nil {
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

func (a *asyncSink) Begin(m *Meta) error {
	a.start()
	c := *m
	if m.Clock != nil {
		clock := *m.Clock
		c.Clock = &clock
	}
	a.cur.metas = append(a.cur.metas, c)
	return a.add(opBegin, len(a.cur.metas)-1)
}

func (a *asyncSink) Stack(s *Stack) error {
	b := a.cur
	b.stacks = append(b.stacks, Stack{ID: s.ID, Frames: arena(&b.frames, s.Frames)})
	return a.add(opStack, len(b.stacks)-1)
}

func (a *asyncSink) Goroutine(g *Goroutine) error {
	a.cur.gs = append(a.cur.gs, *g)
	return a.add(opGoroutine, len(a.cur.gs)-1)
}

func (a *asyncSink) Proc(p *Proc) error {
	a.cur.procs = append(a.cur.procs, *p)
	return a.add(opProc, len(a.cur.procs)-1)
}

func (a *asyncSink) Thread(t *Thread) error {
	a.cur.threads = append(a.cur.threads, *t)
	return a.add(opThread, len(a.cur.threads)-1)
}

func (a *asyncSink) GoroutineState(s *GoroutineState) error {
	a.cur.states = append(a.cur.states, *s)
	return a.add(opGoroutineState, len(a.cur.states)-1)
}

func (a *asyncSink) ProcRun(r *ProcRun) error {
	a.cur.runs = append(a.cur.runs, *r)
	return a.add(opProcRun, len(a.cur.runs)-1)
}

func (a *asyncSink) Range(r *Range) error {
	b := a.cur
	c := *r
	c.Attrs = arena(&b.attrs, r.Attrs)
	b.ranges = append(b.ranges, c)
	return a.add(opRange, len(b.ranges)-1)
}

func (a *asyncSink) Task(t *Task) error {
	b := a.cur
	c := *t
	c.Goroutines = arena(&b.goids, t.Goroutines)
	b.tasks = append(b.tasks, c)
	return a.add(opTask, len(b.tasks)-1)
}

func (a *asyncSink) Region(r *Region) error {
	a.cur.regions = append(a.cur.regions, *r)
	return a.add(opRegion, len(a.cur.regions)-1)
}

func (a *asyncSink) Log(l *Log) error {
	a.cur.logs = append(a.cur.logs, *l)
	return a.add(opLog, len(a.cur.logs)-1)
}

func (a *asyncSink) GoroutineEvent(e *GoroutineEvent) error {
	a.cur.gevents = append(a.cur.gevents, *e)
	return a.add(opGoroutineEvent, len(a.cur.gevents)-1)
}

func (a *asyncSink) Flow(f *Flow) error {
	a.cur.flows = append(a.cur.flows, *f)
	return a.add(opFlow, len(a.cur.flows)-1)
}

func (a *asyncSink) Counter(c *Counter) error {
	a.cur.ctrs = append(a.cur.ctrs, *c)
	return a.add(opCounter, len(a.cur.ctrs)-1)
}

func (a *asyncSink) CPUSample(c *CPUSample) error {
	a.cur.samples = append(a.cur.samples, *c)
	return a.add(opCPUSample, len(a.cur.samples)-1)
}

func (a *asyncSink) Experimental(x *Experimental) error {
	b := a.cur
	c := *x
	c.Args = arena(&b.args, x.Args)
	b.exps = append(b.exps, c)
	return a.add(opExperimental, len(b.exps)-1)
}

// End hands over what is left, waits for the sink to have taken it, and
// then calls the sink's End, from this goroutine.
func (a *asyncSink) End(s *Summary) error {
	if a.cur == nil {
		return a.sink.End(s) // never begun
	}
	if len(a.cur.ops) > 0 {
		a.full <- a.cur
		a.cur = nil
	}
	close(a.full)
	<-a.done
	err := a.failed()
	return errors.Join(err, a.sink.End(s))
}
