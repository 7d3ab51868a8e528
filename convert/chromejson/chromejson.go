// Package chromejson writes the timeline model of a Go execution trace as
// a Chrome trace-event JSON file, the format chrome://tracing (catapult),
// Go's own trace viewer, ui.perfetto.dev and many other tools read.
//
// The Writer is a mapping.Sink: it encodes each item as it arrives and
// streams it out, so memory does not grow with the output. It writes
// every counter sample it is given: the goroutine and thread counters
// change at nearly every event, and on a long trace outnumber everything
// else. Put mapping.ThinCounterGroups in front of it (as trace2x chrome
// does, with mapping.DefaultCounterResolution) to keep, per period, only
// the samples a viewer draws differently. The file is in the object form:
//
//	{"traceEvents":[...],"displayTimeUnit":"ns","metadata":{...},"stackFrames":{...}}
//
// Timestamps are microseconds from a microsecond before the trace's
// start (room for the items open at the start, placed just before it to
// keep their nesting), with every nanosecond kept in the decimals; the
// metadata gives the wall-clock time of timestamp 0 when the trace records
// one (Go 1.25 and later).
// "displayTimeUnit":"ns" makes catapult compare times to the nanosecond,
// which keeps back-to-back slices from being read as overlapping. The
// events come first: some past versions of Perfetto's importer took a
// displayTimeUnit found in the file's first chunk as the unit of the
// timestamps (reading these microseconds as nanoseconds), which after
// the events only a small file's holds (current versions ignore it),
// and some stopped at the first key they did not know. The stackFrames table comes after the
// events because stacks are discovered as the trace is read.
//
// # Layout
//
// Five processes, each row a thread with a name and a sort index:
//
//   - Procs: a row per P with the goroutines it ran, a row per P with its
//     GC sweeps, and the GOMAXPROCS counter.
//   - Threads: a row per M, whose tid is the OS thread ID, with the P it
//     held ("P3"), and CPU profile samples; a row under it with its
//     syscalls that lost their P; the counter of threads by state. As in
//     the Perfetto output, a running interval is drawn on its goroutine's
//     row and on its P's, not a third time on its M's: the P shows what
//     ran where, the M which P it held and when it sat in the kernel
//     without one.
//   - Goroutines: lanes, as in the Perfetto output (see mapping.Lanes): a
//     row of its own, "G<id> <start function>", for a goroutine alive when
//     the trace began, and rows shared by the goroutines of one start
//     function that began during it, "<start function> #<n>", a row taken
//     again once its goroutine has ended; each goroutine a lifetime slice
//     ("G<id> <start function>", argument goroutine) with its states
//     (argument goroutine too), logs and end nested in it, from a
//     nanosecond before the first state (catapult nests slices that begin
//     together in file order, and the lifetime is written last), for a
//     goroutine with something drawn (one that a filter only names has no
//     row); a row for the
//     lane's user regions and one for its GC mark assists where it has any
//     (regions need not nest with the states); the counter of goroutines
//     by state.
//   - Tasks: user tasks as async slices, with their parent in the
//     arguments.
//   - GC: GC cycles, stop-the-world pauses and other runtime ranges; heap
//     live, heap goal and other runtime metrics as counters.
//
// Rows other than the OS threads have tids from a private range (from
// 2^31 up), unique across processes: Perfetto's importer names threads by
// tid alone, so a tid shared by two processes could get the wrong name.
//
// Goroutine states and the P and M occupancy are complete ("X") events,
// written when the interval ends; as in the Perfetto output, a syscall
// that keeps its P nests in one running slice with the runs before and
// after it, on the goroutine's row and on the P's, which holds a run back
// until the goroutine's next state (see Writer.GoroutineState); a run
// before a syscall that blocked stays on the P's row until the P was
// taken. Instants
// are thread-scoped "i" events,
// which catapult treats as zero-length slices. A goroutine's creation,
// unblocking or return from a blocking syscall is an instant on whatever
// caused it (a goroutine, else its P, else its M) with a flow ("s"/"f")
// to the slice where the goroutine next runs. The finish binds to the
// enclosing slice ("bp":"e") and is placed a nanosecond into the running
// slice: at its very start catapult would pick the slice that ends there.
// Both ends are written with the running slice, so a flow is never split
// between two parts of a split output.
//
// # Memory
//
// The writer keeps what is live: goroutines until they end and, for a
// while after, so that a late item about one still finds
// its row; a goroutine ID reused by the runtime (cgo callbacks on C
// threads) keeps its row. Beyond that it holds the tree of stack frames,
// which grows with the distinct stacks of the trace, not its length.
//
// # Splitting
//
// catapult fails on files of several hundred megabytes. NewSplitWriter
// writes numbered parts that each load alone: since slices are complete
// when written, a part can end between any two items. Each part repeats
// the process and thread names it uses, carries the stack frames its
// events refer to, and restates the last value of every counter before
// it (marked "restated": true, on the row of the part's own values), just
// before its own earliest item, or at the
// value's own time if later. A slice is in the part where it ended, or, for a run
// held for a syscall in it, in one up to 10 ms of trace time later, so
// parts overlap in time at their edges. A split output holds a run no
// longer than that, and with at most 16 syscalls in it, so it can draw as
// several slices a run that the whole draws as one (back to back: the P
// stays busy through the syscalls that kept it, but for one longer than
// 10 ms, which is drawn after the run's slice). Rows get their tids in
// the order of the items, so a row has the same tid in every part and in
// the whole.
package chromejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/trace2x/trace2x/internal/jsonstr"
	"github.com/trace2x/trace2x/mapping"
)

// Option configures a Writer.
type Option interface{ apply(*config) }

type config struct {
	pretty  bool
	version string
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPretty indents the output for people to read. The default is
// compact: one event per line.
func WithPretty(pretty bool) Option {
	return optionFunc(func(c *config) { c.pretty = pretty })
}

// WithVersion records the version of the program that wrote the file in
// its metadata.
func WithVersion(v string) Option {
	return optionFunc(func(c *config) { c.version = v })
}

// Process IDs. They are small and fixed, so that every part of a split
// output uses the same ones.
const (
	pidProcs = iota + 1
	pidThreads
	pidGoroutines
	pidTasks
	pidGC
	numPIDs = pidGC
)

var processNames = [numPIDs + 1]string{
	pidProcs:      "Procs",
	pidThreads:    "Threads",
	pidGoroutines: "Goroutines",
	pidTasks:      "Tasks",
	pidGC:         "GC",
}

// firstTID is the first tid of the rows that are not OS threads. OS
// thread IDs are below it on every system Go traces: Linux's are at most
// 2^22.
const firstTID = 1 << 31

const (
	flushAt = 192 << 10 // bytes buffered before a write to the output
	bufCap  = 256 << 10
)

// ErrClosed is wrapped by the error that the Sink methods of a Writer
// return once it is closed (by Close, or by End, which calls it): a
// Writer writes one trace, and its output is complete, or was never begun.
// So mapping a second trace into it fails at Begin and writes nothing.
// End, like Close, only returns the first write error again.
var ErrClosed = errors.New("use of a closed Writer")

var errClosed = fmt.Errorf("chromejson: %w: a Writer writes one trace, which its End or Close completed", ErrClosed)

// Writer is a mapping.Sink that writes Chrome trace-event JSON. It is not
// safe for concurrent use; the mapping calls it from one goroutine.
type Writer struct {
	cfg config

	out     io.Writer
	closer  io.Closer // the current part's, when the Writer opened it
	create  func(part int) (io.WriteCloser, error)
	limit   int64 // bytes per part; 0 for one part
	buf     []byte
	written int64 // bytes of the current part written to out
	err     error
	closed  bool // see Close; the Sink methods then return errClosed

	part     int  // the current part, from 1
	first    bool // the next event is the part's first
	evStart  int  // where the event being built starts in buf
	indent   bytes.Buffer
	frameLen int64 // bytes the part's stackFrames table will take

	// The part's CPU samples, for its samples array, which catapult turns
	// into a sampling profile of any selection; see CPUSample.
	samples        []sampleRef
	samplesOmitted int64 // past maxSamples in a part

	meta  mapping.Meta
	base  mapping.Time // the trace time of timestamp 0
	begun bool

	nextTID    uint64
	goroutines map[mapping.GoID]*goState
	lanes      *mapping.Lanes
	laneRows   []*laneRows // by lane ID
	lastG      *goState
	retired    map[mapping.GoID]*goState
	retiredQ   []retiredEntry // ring of retirements, oldest at retiredAt
	retiredAt  int
	retireSeq  uint64
	freeG      []*goState
	procs      map[mapping.ProcID]*procState
	lastP      *procState // the P looked up last
	threads    map[mapping.ThreadID]*threadState
	lastM      *threadState // the M looked up last, lastMID
	lastMID    mapping.ThreadID
	// oldThreadIDs: the trace names Ms by number, not OS thread ID.
	oldThreadIDs bool
	held         mapping.HeldProcs // the P each M holds, see ProcRun
	holdScratch  []*goState        // see flushAll
	freePend     []*pendingRun
	flowBuf      pendingFlow
	// A split output's queue of held runs (see expire), from queueAt.
	queue   []heldStamp
	queueAt int
	stamps  uint64
	now     mapping.Time // the latest end of a goroutine state
	// The earliest time of an event of the current part, for the
	// counters it restates when it closes (see counterState.restate).
	partMin     mapping.Time
	partMinSet  bool
	restating   bool // the counter events written are restated ones
	fixed       [numFixedRows]row
	others      map[string]*row // rows of ranges of kinds this version does not know
	counters    counterState
	stacks      stackTable
	scratch     []byte
	haveSummary bool // End was given a summary
	summaryEnd  mapping.Time
	summaryErr  error
}

var _ mapping.Sink = (*Writer)(nil)

// NewWriter returns a Writer that writes one JSON file to w. End (or
// Close) completes it; the first write error is returned then, and from
// every method after it, which stops the mapping. A Writer closed before
// Begin (the input was not a trace) writes nothing (see Close).
func NewWriter(w io.Writer, opts ...Option) *Writer {
	if w == nil {
		w = nilOutput{}
	}
	x := newWriter(opts)
	x.out = w
	return x
}

// NewSplitWriter returns a Writer that writes parts of at most about
// size bytes each, every one a complete JSON file that loads alone.
// create opens part n (from 1); the Writer closes each part when it is
// complete. A part ends at the first point past size bytes, counting the
// stack frames it will carry, so it exceeds size by at most one item.
// Part 1 is opened at Begin: a Writer closed before it opens none. A
// size of 0 or less sets no limit: one part.
func NewSplitWriter(size int64, create func(part int) (io.WriteCloser, error), opts ...Option) *Writer {
	if create == nil {
		// Said at Begin, as a nil io.Writer is (see nilOutput).
		create = func(int) (io.WriteCloser, error) {
			return nil, errors.New("chromejson: NewSplitWriter was given a nil create function")
		}
	}
	x := newWriter(opts)
	x.create = create
	x.limit = size
	if size <= 0 {
		// Not a part per item, which no one would ask for.
		x.limit = math.MaxInt64
	}
	return x
}

func newWriter(opts []Option) *Writer {
	var cfg config
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&cfg)
		}
	}
	w := &Writer{
		cfg:        cfg,
		buf:        make([]byte, 0, bufCap),
		nextTID:    firstTID,
		goroutines: make(map[mapping.GoID]*goState),
		lanes:      mapping.NewLanes(),
		retired:    make(map[mapping.GoID]*goState),
		procs:      make(map[mapping.ProcID]*procState),
		threads:    make(map[mapping.ThreadID]*threadState),
		others:     make(map[string]*row),
		stacks:     newStackTable(),
		counters:   newCounterState(),
	}
	for k := range w.fixed {
		w.fixed[k].setTID(w.allocTID())
	}
	return w
}

// Parts returns the number of parts begun so far, counting one that the
// create function failed to open: 0 until Begin, and for good if the
// Writer was closed before it, having written nothing.
func (w *Writer) Parts() int { return w.part }

// fail records the first error.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// flush writes the buffered bytes to the current part.
func (w *Writer) flush() {
	if len(w.buf) == 0 {
		return
	}
	if w.err == nil {
		n, err := w.out.Write(w.buf)
		w.written += int64(n)
		if err != nil {
			w.fail(err)
		}
	}
	w.buf = w.buf[:0]
}

// size is how big the current part would be if it ended now.
func (w *Writer) size() int64 {
	return w.written + int64(len(w.buf)) + w.frameLen + int64(len(w.samples))*sampleBytes
}

// openPart starts a part: the file's head and the names of the
// processes.
func (w *Writer) openPart() {
	w.part++
	w.first = true
	w.written, w.frameLen = 0, 0
	if w.create != nil {
		f, err := w.create(w.part)
		if err == nil && f == nil {
			err = fmt.Errorf("chromejson: the split writer's create function gave no writer for part %d, and no error", w.part)
		}
		if err != nil {
			w.fail(err)
			w.out, w.closer = io.Discard, nil
		} else {
			w.out, w.closer = f, f
		}
	}
	w.stacks.newPart(w.part)
	b := append(w.buf, '{')
	b = w.nl(b, 1)
	w.buf = append(b, `"traceEvents":[`...)
	for pid := 1; pid <= numPIDs; pid++ {
		w.begin('M', pid)
		w.buf = append(w.buf, `,"name":"process_name","args":{"name":`...)
		w.buf = jsonstr.Append(w.buf, processNames[pid])
		w.buf = append(w.buf, "}"...)
		w.end()
		w.begin('M', pid)
		w.buf = appendKeyInt(append(w.buf, `,"name":"process_sort_index","args":`...), `{"sort_index":`, int64(pid))
		w.buf = append(w.buf, "}"...)
		w.end()
	}
	w.partMinSet = false
	if w.part > 1 {
		w.counters.snapshot()
	}
}

// metadata appends the trace's metadata object.
func (w *Writer) metadata(b []byte) []byte {
	start := len(b)
	b = appendKeyString(append(b, '{'), `"source":`, "trace2x")
	if w.cfg.version != "" {
		b = appendKeyString(b, `,"trace2x-version":`, w.cfg.version)
	}
	b = appendKeyString(b, `,"input":`, w.meta.Input)
	b = appendKeyString(b, `,"go-trace-format":`, w.meta.FormatVersion)
	if c := w.meta.Clock; c != nil {
		wall := c.WallTime(w.base)
		b = appendKeyString(b, `,"wall-clock-at-ts-0":`, wall.UTC().Format(time.RFC3339Nano))
		b = appendKeyInt(b, `,"unix-ns-at-ts-0":`, wall.UnixNano())
	}
	if w.create != nil {
		b = appendKeyInt(b, `,"part":`, int64(w.part))
	}
	b = append(b, '}')
	if w.cfg.pretty {
		return w.reindent(b, start, "  ")
	}
	return b
}

// reindent indents b[start:], a JSON value, with prefix before every
// line but the first.
func (w *Writer) reindent(b []byte, start int, prefix string) []byte {
	w.indent.Reset()
	if err := json.Indent(&w.indent, b[start:], prefix, "  "); err != nil {
		panic("invariant violation: the writer built invalid JSON: " + err.Error())
	}
	return append(b[:start], w.indent.Bytes()...)
}

// nl starts a new line at the given depth in pretty output.
func (w *Writer) nl(b []byte, depth int) []byte {
	if !w.cfg.pretty {
		return b
	}
	b = append(b, '\n')
	for range depth {
		b = append(b, ' ', ' ')
	}
	return b
}

// closePart ends the current part: the events array, the stack frames
// its events refer to, and the file. The final part also tells where the
// trace ended, and the error that cut it short, if any: catapult lists
// such extra keys as metadata, and Perfetto ignores them at the end.
func (w *Writer) closePart(final bool) {
	w.counters.flush(w)
	at := w.now
	if w.partMinSet {
		at = w.partMin
	}
	w.counters.restate(w, at)
	b := append(w.buf, '\n')
	if w.cfg.pretty {
		b = append(b, ' ', ' ')
	}
	b = append(b, "],"...)
	b = w.nl(b, 1)
	w.buf = b
	w.appendSamples()
	b = w.buf
	b = append(b, `"displayTimeUnit":"ns",`...)
	b = w.nl(b, 1)
	b = append(b, `"metadata":`...)
	b = append(w.metadata(b), ',')
	b = w.nl(b, 1)
	b = append(b, `"stackFrames":{`...)
	w.buf = b
	for i, n := range w.stacks.partNodes {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = w.nl(w.buf, 2)
		if !w.cfg.pretty {
			w.buf = append(w.buf, '\n')
		}
		w.buf = w.stacks.appendNode(w.buf, n, w.cfg.pretty)
		if len(w.buf) >= flushAt {
			w.flush()
		}
	}
	b = w.buf
	if len(w.stacks.partNodes) > 0 {
		b = w.nl(b, 1)
	}
	b = append(b, '}')
	if final && w.haveSummary {
		b = append(b, ',')
		b = w.nl(b, 1)
		b = append(b, `"trace2x-end":{"ts":`...)
		b = appendMicros(b, int64(w.summaryEnd-w.base))
		if w.summaryErr != nil {
			b = appendKeyString(b, `,"error":`, w.summaryErr.Error())
		}
		b = append(b, '}')
	}
	w.buf = append(b, "}\n"...)
	w.flush()
	if w.closer != nil {
		if err := w.closer.Close(); err != nil {
			w.fail(err)
		}
		w.closer = nil
	}
}

// begin starts an event of phase ph in process pid.
func (w *Writer) begin(ph byte, pid int) {
	b := w.buf
	if w.first {
		w.first = false
	} else {
		b = append(b, ',')
	}
	b = append(b, '\n')
	if w.cfg.pretty {
		b = append(b, ' ', ' ')
	}
	w.evStart = len(b)
	b = append(b, `{"ph":"`...)
	b = append(b, ph, '"', ',', '"', 'p', 'i', 'd', '"', ':', byte('0'+pid))
	w.buf = b
}

// end completes the event begun last.
func (w *Writer) end() {
	w.buf = append(w.buf, '}')
	if w.cfg.pretty {
		w.buf = w.reindent(w.buf, w.evStart, "  ")
	}
	if len(w.buf) >= flushAt {
		w.flush()
	}
}

// Close completes the output and returns the first error. It is called by
// End; calling it (or End) again does nothing more, and the other Sink
// methods then return an error that wraps ErrClosed.
//
// Closed before Begin (the input was not a trace, or nothing was mapped),
// it writes nothing, opens no part and returns nil: the mapping's error
// says what went wrong, once, and the output is left as it was. A
// document with no events would be valid JSON, but would pass for the
// conversion of an empty trace. A caller that made the output removes it
// when Parts is 0 (trace2x then leaves no file).
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.flushAll()
	w.closed = true
	if w.part == 0 {
		return w.err
	}
	w.closePart(true)
	return w.err
}

// errNotMade refuses a Writer that NewWriter did not make.
var errNotMade = errors.New("chromejson: the Writer was not made by NewWriter")

// errBegunTwice refuses a second pass while one is under way.
var errBegunTwice = errors.New("chromejson: Begin called twice")

// Begin starts the output.
func (w *Writer) Begin(m *mapping.Meta) error {
	if w.goroutines == nil {
		return errNotMade
	}
	if w.closed {
		// Closed before Begin: a part opened now would never be ended.
		return errClosed
	}
	if w.begun {
		return errBegunTwice
	}
	if m == nil {
		return errors.New("chromejson: Begin given no Meta")
	}
	w.begun = true
	w.meta = *m
	w.meta.Clock = nil
	if m.Clock != nil {
		c := *m.Clock
		w.meta.Clock = &c
	}
	// Timestamp 0 is a microsecond before the trace's start: regions open
	// at the start are placed a few nanoseconds before it to keep their
	// nesting, and Perfetto's JSON importer drops negative timestamps.
	w.base = m.Start - baseLead
	switch m.FormatVersion {
	case "go1.11", "go1.19", "go1.21":
		w.oldThreadIDs = true
	}
	w.openPart()
	return w.err
}

// baseLead is how long before the trace's start timestamp 0 lies.
const baseLead = 1000

// End completes the output, noting in it where the trace ended and why,
// if it broke off.
func (w *Writer) End(s *mapping.Summary) error {
	if w.goroutines == nil {
		return errNotMade
	}
	if w.closed {
		return w.err // as Close again
	}
	if s != nil && errors.Is(s.Err, errBegunTwice) {
		// The End of a pass that Begin refused (a Writer given to two
		// at once): the pass under way is not ended by it.
		return nil
	}
	w.flushAll()
	if s != nil {
		w.haveSummary, w.summaryEnd, w.summaryErr = true, s.End, s.Err
		// The goroutines still alive end their lifetime slices with the
		// trace, in ID order so that the output is the same every time.
		ids := make([]mapping.GoID, 0, len(w.goroutines))
		for id, g := range w.goroutines {
			if g.life {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			if w.err == nil {
				w.checkSplit()
				g := w.goroutines[id]
				w.endLife(g, max(s.End, g.last), true)
			}
		}
	}
	return w.Close()
}

// checkSplit starts a new part if the current one is full. It is called
// between items, where no event is half written.
func (w *Writer) checkSplit() {
	if w.limit == 0 || w.size() < w.limit || w.first {
		return
	}
	w.closePart(false)
	w.openPart()
}

// sampleRef is a CPU sample in a part's samples array.
type sampleRef struct {
	tid uint64
	ts  int64 // nanoseconds after base
	sf  uint32
}

// maxSamples bounds the samples array of a part, and so the memory it
// takes until the part ends (24 bytes a sample); the samples past it are
// still in the part as instants. sampleBytes is about what one takes in
// the file.
var maxSamples = 1 << 20 // a variable for tests

const sampleBytes = 64

// SamplesOmitted returns how many CPU samples were left out of the
// samples arrays because a part had as many as a viewer takes already. They are all in
// the file as instants with their stacks.
func (w *Writer) SamplesOmitted() int64 { return w.samplesOmitted }

// appendSamples writes the part's samples array, if it has samples.
func (w *Writer) appendSamples() {
	if len(w.samples) == 0 {
		return
	}
	w.buf = append(w.buf, `"samples":[`...)
	for i, s := range w.samples {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = w.nl(w.buf, 2)
		if !w.cfg.pretty {
			w.buf = append(w.buf, '\n')
		}
		b := appendKeyUint(w.buf, `{"tid":`, s.tid)
		b = appendMicros(append(b, `,"ts":`...), s.ts)
		b = appendKeyUint(append(b, `,"name":"CPU sample"`...), `,"sf":`, uint64(s.sf))
		w.buf = append(b, `,"weight":1}`...)
		if len(w.buf) >= flushAt {
			w.flush()
		}
	}
	w.buf = append(w.buf, "],"...)
	w.buf = w.nl(w.buf, 1)
	w.samples = w.samples[:0]
}

// nilOutput stands for the nil io.Writer a Writer was given: its writes
// fail with an error that says so, where a nil Writer would panic, on a
// goroutine of the Writer's own where no caller could recover it.
type nilOutput struct{}

func (nilOutput) Write([]byte) (int, error) {
	return 0, errors.New("chromejson: NewWriter was given a nil io.Writer")
}
