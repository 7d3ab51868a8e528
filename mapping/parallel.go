package mapping

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/ctxio"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// A pass over a file parses groups of consecutive generations on several
// goroutines, each with its own trace.Reader, and maps their events on
// one goroutine, in order. The mapping sees the very events one reader
// would have given it; what follows is why.
//
// A group's reader reads the header, the generation before the group
// (the lead-in) and the group's generations. The lead-in's events are
// parsed and dropped: they bring the reader's state to what a reader
// from the start has when the group begins. The reader's state across
// generations (x/exp/trace's Reader and its ordering) is:
//
//   - Reader.lastTs, the last timestamp returned: every event is moved
//     to lastTs+1 if it is not later. The join compares the time of the
//     lead-in's last event with the time of the same generation's last
//     event in the previous group's output; equal, the two readers give
//     the same times from there, since nothing else feeds the fix-up.
//   - The Sync events: one opens each generation, at the later of the
//     generation's first timestamp and lastTs+1, with that generation's
//     clock snapshot and experimental batches; a last one follows the
//     last generation. A group keeps the Sync that opens its first
//     generation and drops its last one unless it ends the trace. Only
//     Sync.N, its count, differs, and the mapping counts Syncs itself.
//   - The states of goroutines, Ps and threads, and the ranges bound to
//     them (sweeps, mark assists): the runtime restates every live
//     goroutine and every P at the start of every generation (GoStatus,
//     ProcStatus, and GCSweepActive and GCMarkAssistActive for what is
//     under way), so after the lead-in the fresh reader knows each of
//     them as the reader from the start does. A reader treats its first
//     generation as the one where states are first learnt
//     (initialGen): that is the lead-in, whose events are dropped. The
//     join checks that every P and live goroutine the mapping knows was
//     restated in the lead-in; a P or goroutine the lead-in missed would
//     be new to the fresh reader and not to the other.
//   - The GC's sequence number and state: a GC in progress is restated
//     (GCActive) at every generation start, so after a lead-in with any
//     GC event the states agree. After a lead-in without one, the fresh
//     reader takes the next GC's number as given where the other checks
//     it follows the last: only a corrupted number tells them apart.
//   - Tasks begun and not ended (activeTasks), which a task's end reads
//     its parent and type from: the join keeps them itself, in the order
//     of the joined stream, and puts them into each task end, as the
//     reader from the start would (see join).
//   - Each goroutine's stack of open regions, which a region's end is
//     checked against: the join keeps it too and leaves the split for one
//     reader where the reader from the start would find a mismatch.
//   - Everything else (string, stack and CPU-sample tables, batches,
//     frequency, the batch read ahead of a generation before Go 1.26)
//     belongs to one generation.
//
// What a join cannot prove, a parser's error (whose offset and event
// count must be a single reader's) and anything a check above refuses
// end the split: the pass goes on with one reader from the first
// generation of the pass, skipping the events already mapped, which by
// the argument above are that reader's first events.

// WithWorkers sets the number of goroutines that parse a trace file (see
// MapFile). The default, 1 (as is any n below 2), reads it with one parser beside the mapping,
// as Map does, and keeps a pass's memory to what its largest generation
// needs. With n of 2 or more, up to n groups of about 8 MB of trace (at
// least two generations each) are parsed at once, and each group's
// events wait, decoded, until the mapping reaches them: about 30 bytes
// of memory per byte of trace in each group, 0.5 GB a group for
// generations of 9 MB. That buys little: the mapping costs nearly as
// much as the parse and is the serial stage, so more parsers gain at
// most about 15% over one beside it (n = GOMAXPROCS-1 leaves a core to
// the mapping).
func WithWorkers(n int) Option {
	return optionFunc(func(c *config) { c.workers = n })
}

// defaultGroupBytes is the size of the groups of generations parsed on
// one goroutine: each group parses one generation more than it maps, and
// its events wait, decoded, until the mapping reaches them, so that
// memory follows the groups in flight.
const defaultGroupBytes = 8 << 20

// negativeSize is the error of a call of fn, MapFile or MapWindow, with a
// negative size: an io.SectionReader of one reads to the end of the file,
// which would hide the mistake.
func negativeSize(fn string, size int64) error {
	return fmt.Errorf("mapping.%s: the size of the trace is %d, below 0", fn, size)
}

// MapFile is Map for a trace of size bytes in r, a file. With
// WithWorkers of 2 or more, a Go 1.22+ trace of several generations is
// parsed on several goroutines, in groups of consecutive generations, and
// mapped on one: the sink receives exactly what Map delivers, item for
// item. Other traces (older formats, compressed, or one whose batch
// headers do not index cleanly) are read as Map reads them.
//
// Memory grows with the parsing goroutines: each group's events wait,
// decoded, until the mapping reaches them (see WithWorkers).
//
// A size of 0 is empty input, as for Map; a negative size is an error,
// and the sink gets no call.
func MapFile(r io.ReaderAt, size int64, sink Sink, opts ...Option) (*Summary, error) {
	if err := checkSink(sink); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, negativeSize("MapFile", size)
	}
	if r == nil {
		return nil, errors.New("mapping: MapFile of a nil io.ReaderAt")
	}
	cfg := newConfig(opts)
	if cfg.ctx != nil {
		r = ctxio.ReaderAt{Ctx: cfg.ctx, R: r}
	}
	idx, err := tracefile.Read(r, size)
	if err != nil || idx.Size != size {
		cfg.index, cfg.indexErr = idx, err
		return mapStream(io.NewSectionReader(r, 0, size), sink, &cfg)
	}
	return mapRange(r, idx, 0, len(idx.Generations)-1, sink, &cfg)
}

// mapRange maps the header and generations first to last of r.
func mapRange(r io.ReaderAt, idx *tracefile.Index, first, last int, sink Sink, cfg *config) (*Summary, error) {
	gens := idx.Generations[first : last+1]
	cfg.index, cfg.firstGen = idx, first
	cfg.scanFile, cfg.scanGen = r, gens[0]
	begin := gens[0].Offset
	end := gens[len(gens)-1].Offset + gens[len(gens)-1].Size
	p := &parallelPass{r: r, gens: gens, begin: begin, end: end}
	workers := max(cfg.workers, 1)
	p.groups = planGroups(gens, cfg)
	workers = min(workers, len(p.groups))
	if workers < 2 || !knownVersions[strconv.Itoa(idx.Version)] {
		return mapStream(p.stream(), sink, cfg)
	}
	p.workers, p.stats = workers, cfg.stats
	m := newMapper(sink, cfg)
	m.counter = &countingReader{}
	m.sum.FormatVersion = "go1." + strconv.Itoa(idx.Version)
	return m.complete(func() error {
		if err := m.prescanFile(); err != nil {
			return err
		}
		return m.runParallel(p)
	})
}

// planGroups splits gens into groups of consecutive generations.
func planGroups(gens []tracefile.Generation, cfg *config) []*group {
	var groups []*group
	target := cfg.groupBytes
	if target <= 0 {
		target = defaultGroupBytes
	}
	start, bytes := 0, int64(0)
	for i, g := range gens {
		bytes += g.Size
		n := i + 1 - start
		full := bytes >= target && n >= 2
		if cfg.groupGens > 0 {
			full = n == cfg.groupGens
		}
		if full || i == len(gens)-1 {
			groups = append(groups, &group{first: start, end: i + 1})
			start, bytes = i+1, 0
		}
	}
	// A short last group costs a lead-in for little: it joins the one
	// before.
	if n := len(groups); n > 1 && cfg.groupGens == 0 && groups[n-1].end-groups[n-1].first < 2 {
		groups[n-2].end = groups[n-1].end
		groups = groups[:n-1]
	}
	for i, g := range groups {
		g.lead = i > 0
		g.last = i == len(groups)-1
	}
	return groups
}

// parallelPass is a pass over the generations gens, bytes [begin, end) of
// r, in groups.
type parallelPass struct {
	r          io.ReaderAt
	gens       []tracefile.Generation
	begin, end int64
	groups     []*group
	workers    int
	stats      *passStats
}

// stream is the input one reader of the whole pass reads: the header and
// the pass's generations.
func (p *parallelPass) stream() io.Reader {
	if p.begin == headerSize {
		// The whole trace, read as Map reads a file, so that offsets in
		// errors are the same.
		return io.NewSectionReader(p.r, 0, p.end)
	}
	return io.MultiReader(io.NewSectionReader(p.r, 0, headerSize), io.NewSectionReader(p.r, p.begin, p.end-p.begin))
}

// group is the generations gens[first:end] of a pass, parsed by one
// goroutine into out.
type group struct {
	first, end int
	lead       bool // the group is read after a lead-in generation
	last       bool // the group ends the pass
	out        chan *batch

	// Set by the parsing goroutine before it sends the first batch: the
	// time of the lead-in's last event, and the Ps and the goroutines
	// alive at its end, as the lead-in stated them.
	leadSeen bool
	leadLast trace.Time
	leadPs   map[trace.ProcID]bool
	leadGs   map[trace.GoID]bool
}

// passStats is where a parallel pass spent its time, for benchmarks: on
// the parsing goroutines (and of that, on lead-ins), on the mapping
// goroutine mapping, and waiting for parsed events.
type passStats struct {
	parse, leadIn, mapping, wait atomic.Int64 // nanoseconds
	groups, fallbacks            atomic.Int64
}

// errSplit says a join could not be proven: the pass goes on with one
// reader.
var errSplit = errors.New("the split of the trace could not be proven")

var batchPool = sync.Pool{New: func() any { return &batch{events: make([]trace.Event, 0, batchSize)} }}

// runParallel parses the groups on p.workers goroutines and maps their
// events in order.
func (m *mapper) runParallel(p *parallelPass) error {
	m.join = &join{tasks: make(map[trace.TaskID]trace.Task), regions: make(map[trace.GoID][]regionKey)}
	// Where each generation ends, in the bytes a single reader counts:
	// a pass stopped inside a generation is placed at its start (see
	// mapper.sync), not at the start of its group.
	m.genEnds = make([]int64, len(p.gens))
	for k, g := range p.gens {
		m.genEnds[k] = headerSize + g.Offset + g.Size - p.begin
	}
	done := make(chan struct{})
	// tokens bound the groups in flight: parsed or being parsed and not
	// yet mapped.
	tokens := make(chan struct{}, p.workers)
	for range p.workers {
		tokens <- struct{}{}
	}
	next := make(chan *group)
	for _, g := range p.groups {
		// A group's events wait whole until the mapping reaches them;
		// a few bytes of trace make an event.
		size := p.gens[g.end-1].Offset + p.gens[g.end-1].Size - p.gens[g.first].Offset
		g.out = make(chan *batch, size/(4*batchSize)+4)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(next)
		for _, g := range p.groups {
			select {
			case <-tokens:
			case <-done:
				return
			}
			select {
			case next <- g:
			case <-done:
				return
			}
		}
	}()
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range next {
				p.parse(g, done)
			}
		}()
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(done)
			wg.Wait()
		}
	}
	defer stop()

	var lastTime trace.Time
	for k, g := range p.groups {
		// A pass stopped inside the group (its context ended) is placed
		// at the group's start, the end of what was mapped whole.
		m.counter.n.Store(headerSize + p.gens[g.first].Offset - p.begin)
		m.mappedTo = m.counter.n.Load()
		first := true
		for {
			t0 := time.Now()
			b := <-g.out
			t1 := time.Now()
			if first && g.lead && (!m.join.joins(m, g, lastTime) || m.cfg.refuse != nil && m.cfg.refuse(k)) {
				stop()
				return m.fallback(p)
			}
			first = false
			ready := m.hold(b)
			for _, b := range ready {
				if err := m.mapBatch(b); err != nil {
					if errors.Is(err, errSplit) {
						stop()
						return m.fallback(p)
					}
					return err
				}
			}
			if st := m.cfg.stats; st != nil {
				st.wait.Add(int64(t1.Sub(t0)))
				st.mapping.Add(int64(time.Since(t1)))
			}
			if n := len(b.events); n > 0 {
				lastTime = b.events[n-1].Time()
			}
			err := b.err
			for _, b := range ready {
				b.reset()
				batchPool.Put(b)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				// The error and where it is reported are one reader's.
				stop()
				return m.fallback(p)
			}
		}
		m.counter.n.Store(headerSize + p.gens[g.end-1].Offset + p.gens[g.end-1].Size - p.begin)
		tokens <- struct{}{}
	}
	return nil
}

// parse reads group g's generations, after its lead-in, into g.out.
func (p *parallelPass) parse(g *group, done <-chan struct{}) {
	from := p.gens[g.first].Offset
	if g.lead {
		from = p.gens[g.first-1].Offset
	}
	to := p.gens[g.end-1].Offset + p.gens[g.end-1].Size
	in := io.MultiReader(io.NewSectionReader(p.r, 0, headerSize), io.NewSectionReader(p.r, from, to-from))
	start := time.Now()
	var blocked, lead time.Duration
	send := func(b *batch) bool {
		t := time.Now()
		defer func() { blocked += time.Since(t) }()
		select {
		case g.out <- b:
			return true
		case <-done:
			return false
		}
	}
	if st := p.stats; st != nil {
		defer func() {
			st.parse.Add(int64(time.Since(start) - blocked))
			st.leadIn.Add(int64(lead))
			st.groups.Add(1)
		}()
	}
	b := batchPool.Get().(*batch)
	tr, err := trace.NewReader(in)
	if err != nil {
		b.err = err
		send(b)
		return
	}
	// The Syncs the reader gives: one per generation and a last one.
	want := g.end - g.first + 1
	if g.lead {
		want++
		g.leadPs, g.leadGs = make(map[trace.ProcID]bool), make(map[trace.GoID]bool)
	}
	syncs := 0
	stacks := newStackCache()
	noting := false
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				if noting {
					// The event was read whole, its details were not:
					// the mapping falls back to one reader before it,
					// which meets the panic, or not, where one reader
					// alone would (see batch.leave).
					b.events = b.events[:len(b.events)-1]
				}
				err = fmt.Errorf("the parser failed: %v", p)
			}
		}()
		for {
			ev, err := tr.ReadEvent()
			if err != nil {
				return err
			}
			kind := ev.Kind()
			if kind == trace.EventSync {
				syncs++
				if syncs > want {
					return errSplit
				}
			}
			if g.lead && syncs == 1 {
				g.leadSeen, g.leadLast = true, ev.Time()
				g.restated(&ev)
				continue
			}
			if g.lead && lead == 0 {
				lead = time.Since(start)
			}
			if syncs == want && !g.last {
				continue // the Sync after the group; the next group has the one that opens it
			}
			noting = true
			b.add(&ev, stacks, true)
			noting = false
			if len(b.events) == batchSize {
				if !send(b) {
					return nil
				}
				b = batchPool.Get().(*batch)
			}
		}
	}()
	if err == io.EOF && syncs != want {
		err = errSplit
	}
	b.err = err
	send(b)
}

// restated notes the Ps and goroutines a lead-in event states.
func (g *group) restated(ev *trace.Event) {
	if ev.Kind() != trace.EventStateTransition {
		return
	}
	st := ev.StateTransition()
	switch st.Resource.Kind {
	case trace.ResourceProc:
		g.leadPs[st.Resource.Proc()] = true
	case trace.ResourceGoroutine:
		id := st.Resource.Goroutine()
		if _, to := st.Goroutine(); to == trace.GoNotExist {
			delete(g.leadGs, id)
		} else {
			g.leadGs[id] = true
		}
	}
}

// fallback goes on with one reader of the whole pass, from the event
// after the last one mapped.
func (m *mapper) fallback(p *parallelPass) error {
	m.join = nil
	m.genEnds = nil // one reader counts its own bytes
	m.unhold()
	if m.cfg.fallbacks != nil {
		m.cfg.fallbacks()
	}
	if m.cfg.stats != nil {
		m.cfg.stats.fallbacks.Add(1)
	}
	cr := &countingReader{r: p.stream()}
	m.counter = cr
	br, version, err := openInput(cr)
	if err != nil {
		return err
	}
	var in io.Reader = br
	if minor, _ := strconv.Atoi(strings.TrimPrefix(version, "go1.")); minor >= 22 {
		// Followed as one reader's pass follows them, so that an error
		// names the same generation and counts the same complete ones.
		m.scan = &scanReader{r: br, s: tracefile.NewScanner(minor), v: minor}
		in = m.scan.parserInput()
	}
	tr, err := trace.NewReader(in)
	if err != nil {
		return err
	}
	m.scan.shared()
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("the parser failed: %v", p)
			}
		}()
		for range m.sum.Events {
			if _, err := tr.ReadEvent(); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		m.parserFailed = true
		return err
	}
	return m.run(tr)
}

// join is what the mapping of a parallel pass keeps to make the events
// of fresh readers those of one reader.
type join struct {
	// tasks are the tasks begun and not yet ended, as the parser keeps
	// them: a reader started after a task's begin does not know it.
	tasks map[trace.TaskID]trace.Task
	// regions are the regions open on each goroutine, innermost last.
	regions map[trace.GoID][]regionKey
}

type regionKey struct {
	task trace.TaskID
	typ  string
}

// joins reports whether group g, after its lead-in, goes on where the
// events mapped so far stop: its reader's last timestamp is the one the
// reader of the previous group had at the end of the same generation,
// and it has seen every P and every live goroutine.
func (j *join) joins(m *mapper, g *group, last trace.Time) bool {
	if !g.leadSeen || g.leadLast != last {
		return false
	}
	for id := range m.ps {
		if !g.leadPs[trace.ProcID(id)] {
			return false
		}
	}
	for id := range m.gs.All() {
		if !g.leadGs[trace.GoID(id)] {
			return false
		}
	}
	return true
}

// admit makes the next event the one a single reader gives, or returns
// errSplit if that cannot be done. For a task's end, a single reader
// gives the parent and type of the task's begin if it saw the begin, and
// none otherwise; a reader started later may not have seen it.
func (j *join) admit(m *mapper, ev *trace.Event) (err error) {
	defer func() {
		if recover() != nil {
			err = errSplit // the single reader reports it, with its offset
		}
	}()
	switch ev.Kind() {
	case trace.EventTaskBegin:
		t := m.curTask
		if _, ok := j.tasks[t.ID]; ok {
			return errSplit // a single reader finds the ID in use
		}
		j.tasks[t.ID] = t
	case trace.EventTaskEnd:
		t := &m.curTask
		if begin, ok := j.tasks[t.ID]; ok {
			t.Parent, t.Type = begin.Parent, begin.Type
			delete(j.tasks, t.ID)
		} else {
			t.Parent, t.Type = trace.NoTask, ""
		}
	case trace.EventRegionBegin:
		r := ev.Region()
		id := ev.Goroutine()
		j.regions[id] = append(j.regions[id], regionKey{r.Task, r.Type})
	case trace.EventRegionEnd:
		r := ev.Region()
		id := ev.Goroutine()
		open := j.regions[id]
		if len(open) == 0 {
			return nil // begun before the trace, for a single reader too
		}
		if open[len(open)-1] != (regionKey{r.Task, r.Type}) {
			return errSplit // a single reader reports a misuse
		}
		j.regions[id] = open[:len(open)-1]
	}
	return nil
}

// goroutineEnded forgets the regions of a goroutine that ended, as the
// parser forgets the goroutine.
func (j *join) goroutineEnded(id GoID) { delete(j.regions, trace.GoID(id)) }
