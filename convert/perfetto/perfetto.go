// Package perfetto writes the timeline model of a Go execution trace as a
// Perfetto protobuf trace (.pftrace), for ui.perfetto.dev and Perfetto's
// trace processor.
//
// The Writer is a mapping.Sink: it encodes each item as it arrives, packet
// by packet, so memory does not grow with the output.
//
// # Layout
//
// What a person waits for is not the file but the view: Perfetto's trace
// processor (in the browser, the UI) imports a trace at about 2 µs and
// 70-130 bytes of memory per row it builds (slice, counter value,
// argument, flow, track), on top of the file. So the layout draws
// everything a Go engineer reads once, in as few rows as carry it, under
// one track of the process, "Go runtime", in this order (the trace
// processor keeps the order of no process track's children: it gives
// them no parent, and the UI sorts them by name):
//
//   - Procs: a track per P, in P order, with the goroutines it ran
//     ("G42 main.worker"), and a child track with its GC sweeps. This is
//     the first screen, as in go tool trace.
//   - GC: GC cycles and stop-the-world pauses.
//   - Counters: heap live and goal on a shared axis, GOMAXPROCS,
//     goroutines and threads by state, every other runtime metric.
//   - Goroutines: lanes. A goroutine alive when the trace began (or whose
//     start function is unknown) has a track of its own; the goroutines
//     started during the trace share lanes by start function, grouped
//     under a track named after the function, a lane taken again once its
//     goroutine has ended (mapping.Lanes). Tracks then follow the peak
//     number of goroutines alive, not their total (a service under load:
//     about a thousand lanes for 30 thousand goroutines). A goroutine is
//     put on a lane when something is drawn there, so one that a filter
//     only names (the goroutine that began a kept task) has none. On a shared lane
//     each goroutine is a lifetime slice, "G42 main.handler", from its
//     creation to its end, and its states (running, runnable, the reason
//     it waited, syscall) nest in it; a track of a goroutine's own is
//     named after it ("G42 main.handler", renamed when a later stack
//     tells the start function) and holds its states directly. Each
//     state has the stack that began it (a run has none: its end stack
//     is the next state's). The goroutine's ID, the
//     argument "goroutine" = 42 for selection, search and SQL, is on its
//     lifetime slice on a shared lane (the states are its descendants)
//     and on each state on a track of its own. Its logs are instants there,
//     named "[category] message" as go tool trace names them (the UI's
//     search finds them by message), with their task as an argument; its
//     regions and mark assists are on child tracks of the lane. A region
//     names its task (ID and colour) unless the region it nests in is of
//     the same task.
//   - Tasks: lanes of the tasks of each type (mapping.SpanLanes), of the
//     first 256 types, the others sharing the lanes of one group, each
//     task a slice with its ID, its parent and the goroutines that began
//     and ended it as arguments.
//
// Beside them, each M is a thread of the process, with its OS thread ID,
// showing the P it held ("P3"), and a child track with its syscalls that
// lost their P. A thread track cannot be placed among a process's plain
// tracks: the UI puts each thread in a group of its own, in its own
// order. Where a filter selected goroutines, tasks or regions, which
// leaves out the Ps the Ms held, only the Ms with something drawn or
// sampled have a track.
//
// P and M tracks do not repeat each other. A P is what runs Go code: its
// track shows which goroutine ran on it when, which is what one reads to
// see whether the program kept its Ps busy. An M is an OS thread: what
// matters about it is which P it held (its thread ID is the one a system
// trace of the same process gives it) and when it sat
// in the kernel without one. So a running interval is drawn twice, on the
// goroutine's lane and on its P, and not a third time on the M.
//
// A syscall that keeps its P (the usual short read or write) does not cut
// a run in three: the run before it and the run after it are one running
// slice, on the lane and on the P's track, with the syscall nested in it
// on the lane; a syscall that lost its P is a state of its own, also on
// its M's syscall track, and the run before it stays on the P's track
// until the P was taken (mapping.ProcRun.TakenFrom), as go tool trace draws
// it: until then the P could run nothing else.
//
// Flows link a goroutine's creation, unblocking or blocking syscall exit
// (an instant where it happened, with the stack there; the goroutine it
// leads to is the flow's end) to its next run, and a task to the first
// region or log of each goroutine that worked in it. Every event with a
// stack carries it as an interned callstack; CPU profile samples become
// perf samples on their thread and instants on their goroutine's lane.
//
// # Size
//
// Arguments that differ per goroutine or per event cost a row each in the
// trace processor, equal argument sets nothing more: so a goroutine's
// slices carry its ID and nothing else that varies (its P and M are on the
// P's and M's tracks at the same time), and a state on a shared lane not
// even that, since beside the state's stack it would make a set of its own
// for nearly every waiting state: its lifetime slice, which shares its set
// with the goroutine's slices on P tracks, names it once. Counters are thinned upstream
// (mapping.ThinCounters, which the command applies by default). The
// packets are deflated in runs of up to 256 KB, each written as one
// compressed packet (TracePacket.compressed_packets), which the trace
// processor inflates as it reads; WithCompression(false) writes them
// plain. Timestamps are incremental: each event's is a delta from the
// one before, on a clock of the writer's own that the first clock
// snapshot declares. The model delivers items when they
// end, so events wait a little to go out in time order; those that come
// too late for it have an absolute timestamp. On a recorded service this
// takes timestamps from 6 bytes to 2.5 and the file a third smaller
// compressed (deltas deflate well), 13% plain.
//
// A Writer works on goroutines of its own beside the caller's, which
// encodes the packets: one puts them in time order and two deflate them.
// The encoding, the ordering and the deflating each take about a fifth of
// a conversion's CPU, on cores of their own where there are more than two.
package perfetto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace2x/trace2x/internal/gotable"
	"github.com/trace2x/trace2x/mapping"
)

// Option configures a Writer.
type Option interface{ apply(*config) }

type config struct {
	processName string
	pid         int32
	startTime   time.Time
	version     string
	plain       bool  // no in-format compression
	maxRows     int64 // see WithRowLimit; 0 for none
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProcessName names the process track. The default is the input's
// name.
func WithProcessName(name string) Option {
	return optionFunc(func(c *config) { c.processName = name })
}

// WithPID sets the process ID of the process and thread tracks, so that
// the trace lines up with a system trace (perf, ftrace) of the same process.
// Go execution traces do not record it; the default is 1, which an ID
// below 1 keeps: to the trace processor 0 is the kernel's idle process,
// and no process has a negative ID.
func WithPID(pid int32) Option {
	return optionFunc(func(c *config) {
		if pid > 0 {
			c.pid = pid
		}
	})
}

// WithStartTime sets the wall-clock time at which the trace started, for
// traces that carry no clock snapshot (those before Go 1.25), so that
// Perfetto can show real time. A trace's own snapshot takes precedence.
func WithStartTime(t time.Time) Option {
	return optionFunc(func(c *config) { c.startTime = t })
}

// WithCompression turns the in-format compression of packets on (the
// default) or off. Compressed, runs of packets of up to 256 KB are each
// written as one packet holding them deflated (TracePacket's
// compressed_packets), which Perfetto's trace processor and ui.perfetto.dev
// inflate as they read: the file is several times smaller, and loads
// faster from disk or over the network, for a few percent more time to
// write. Off, the file is a plain run of packets, for tools that do not
// read compressed packets.
func WithCompression(on bool) Option {
	return optionFunc(func(c *config) { c.plain = !on })
}

// WithRowLimit stops a Writer once the trace it writes makes more than n
// rows in Perfetto (as Rows counts them), for a viewer that holds no more:
// the item that goes past n is written, and it and every later one return
// an error that wraps ErrRowLimit, which stops the mapping. End and Close
// still end what is open, so the file is a valid trace of everything
// before the cut. 0, the default, sets no limit.
func WithRowLimit(n int64) Option {
	return optionFunc(func(c *config) { c.maxRows = max(n, 0) })
}

// ErrRowLimit is wrapped by the error of a Writer that went past its row
// limit (see WithRowLimit), a *RowLimitError.
var ErrRowLimit = errors.New("the Perfetto trace reached its row limit")

// RowLimitError tells where a Writer stopped at its row limit.
type RowLimitError struct {
	Limit int64 // the limit, in rows
	// Reached is the latest time of the events written, final once the
	// Writer has ended: the trace is whole up to about there.
	Reached mapping.Time
}

// Error says that the limit was reached, and what it was; Reached says
// where.
func (e *RowLimitError) Error() string {
	return fmt.Sprintf("%v: more than %d rows", ErrRowLimit, e.Limit)
}

// Unwrap returns ErrRowLimit.
func (e *RowLimitError) Unwrap() error { return ErrRowLimit }

// ErrClosed is wrapped by the error that the Sink methods of a Writer
// return once it is closed (by Close, or by End, which calls it): a
// Writer writes one trace, and its file is complete, or was never begun.
// So mapping a second trace into it fails at Begin and writes nothing.
// End, like Close, only returns the first write error again.
var ErrClosed = errors.New("use of a closed Writer")

var errClosed = fmt.Errorf("perfetto: %w: a Writer writes one trace, which its End or Close completed", ErrClosed)

// WithVersion records the version of the program that wrote the file in the
// trace's metadata.
func WithVersion(v string) Option {
	return optionFunc(func(c *config) { c.version = v })
}

const sequenceID = 1 // every packet is on one sequence, the writer's

// Fixed track UUIDs. Tracks made per resource get UUIDs above these, from
// a counter, so that they never collide.
const (
	uuidProcess = iota + 1
	uuidProcs
	uuidGoroutines
	uuidTasks
	uuidGC
	uuidGCCycles
	uuidSTW
	uuidCounters
	uuidRuntime
	uuidFirstFree
)

// The order of the process track's children, see Begin.
const (
	rankProcs = iota
	rankGC
	rankCounters
	rankGoroutines
	rankTasks
)

// Writer is a mapping.Sink that writes a Perfetto trace to an io.Writer. It
// is not safe for concurrent use; the mapping calls it from one goroutine.
type Writer struct {
	cfg      config
	out      io.Writer
	err      error         // the first write error; everything after it is dropped
	pkt      msg           // packets encoded since the last handover, ending with the one being encoded
	pktStart int           // where the body of the packet being encoded begins in pkt
	kind     int           // of the packet being encoded: staged, timed, untimed or base
	kindTime uint64        // its timestamp
	made     []chunkPacket // the packets in pkt
	ord      *orderer      // writes them (see order.go)
	meta     mapping.Meta
	off      mapping.Time // added to every timestamp, see Begin

	omittedFlows int64 // task flows past maxTaskFlows, see OmittedTaskFlows
	deepRegions  int64 // regions past maxRegionDepth, see OmittedDeepRegions
	first        bool  // the next packet is the sequence's first
	oldThreadIDs bool  // see tid
	nextUUID     uint64
	nextFlow     uint64
	ownNames     uint64            // names interned apart from the shared table so far (goroutines', logs'), see goName
	logNames     map[string]uint64 // recent log names, see logNameIID
	intern       interner
	stacks       map[mapping.StackID]bool             // callstacks already interned
	goroutine    gotable.Table[mapping.GoID, goTrack] // live goroutines, looked up for nearly every item
	procs        []*procTrack                         // by P ID
	farProcs     map[mapping.ProcID]*procTrack        // those of IDs past maxDenseProc
	lastGo       *goTrack                             // the goroutine looked up last
	lastM        mapping.ThreadID
	lastMTrack   *threadTrack
	noThread     bool                       // the stand-in thread of CPU samples without one is declared
	bigTIDs      map[mapping.ThreadID]int64 // thread IDs for Ms whose own do not fit 32 bits
	lanes        *mapping.Lanes
	laneTracks   []*laneTrack      // by lane ID
	funcGroups   map[string]uint64 // the group track of each start function's lanes
	stateIIDs    [5]uint64         // names of the goroutine states, and of a blocked syscall last
	threads      map[mapping.ThreadID]*threadTrack
	heldPs       mapping.HeldProcs // the P each M holds, see ProcRun
	taskLanes    *mapping.SpanLanes
	taskTracks   []uint64          // by task lane ID
	taskGroups   map[string]uint64 // the group track of each task type's lanes
	counters     map[string]uint64 // runtime metrics, by name
	derived      [16]uint64        // by kind, for the counters the mapping derives
	ranges       map[string]uint64 // child tracks for ranges of other kinds
	stw, cycles  flatTrack         // the GC tracks' slices, one at a time
	freeGo       []*goTrack        // tracks of ended goroutines, for reuse
	flowScratch  []uint64
	held         bool // the packet in pkt is held open, see holdOpen
	heldOff      int
	heldTime     mapping.Time
	heldExtra    int
	heldZero     bool                 // a zero rides on the held packet: nothing may follow it
	retired      recent[mapping.GoID] // tracks of goroutines that ended, see retire

	taskFlows  gotable.Table[taskKey, taskFlowSet] // flows to a task's goroutines, see taskFlow
	endedTasks recent[mapping.TaskID]
	freeFlows  []*taskFlowSet // flow sets of ended tasks, for reuse

	begun  bool // Begin came, see Begin
	closed bool // see Close; the Sink methods then return errClosed

	// Stats, for the caller to report.
	packets int64
	bytes   atomic.Int64
	rows    int64
	reached uint64 // the latest timestamp of an event packet
}

// goTrack is what the writer keeps about a goroutine.
type goTrack struct {
	info    mapping.Goroutine
	name    string        // "G<id> <start function> (<label>)"
	nameIID uint64        // name's interned ID, 0 until used
	uuid    uint64        // its lane's track, 0 until drawn
	lane    *laneTrack    // nil until drawn
	life    bool          // its lifetime slice is open, see draw
	last    mapping.Time  // the end of its latest item on the lane
	flowsIn []pendingFlow // flows that end where it next runs
	pend    pendingRun    // its last run, held, see GoroutineState
	// kids holds, by depth, the earliest drawn start of the regions
	// written that nest in a region not yet written (see regionStart).
	kids []nestedStart
}

// nestedStart is the earliest drawn start of the regions nested in
// region parent written so far.
type nestedStart struct {
	parent mapping.RegionID
	start  mapping.Time
}

// laneTrack is the track of a lane (see mapping.Lanes) and its child
// tracks, which its goroutines share in turn.
type laneTrack struct {
	lane    mapping.Lane
	uuid    uint64
	regions uint64 // child track for regions, 0 until needed
	assists uint64 // child track for GC mark assists
}

type procTrack struct {
	uuid   uint64
	sweeps uint64
}

// threadTrack is an M's thread track and its child track for syscalls.
type threadTrack struct {
	uuid, syscalls uint64
	procs          flatTrack // the Ps it held
	id             mapping.ThreadID
	declared       bool // see Writer.Thread
}

// flatTrack is a track of one slice at a time (the stop-the-world pauses,
// the GC cycles, the Ps an M held): a damaged trace can give two at once,
// whose ends the importer would pair with the wrong begins, so the later
// goes on a child track (see mapping.OneAtATime).
type flatTrack struct {
	one    mapping.OneAtATime
	spills []uint64 // the child tracks, as they are needed
}

// overlapSuffix names the child tracks of a flatTrack.
const overlapSuffix = " (overlapping: the trace is damaged)"

// overlapSuffixOldM names those of an M's track in a trace before Go
// 1.22: its format does not say which thread holds a P, and the parser's
// guess can give an M two at once.
const overlapSuffixOldM = " (overlapping: traces before Go 1.22 do not say which thread holds a P)"

// pendingFlow is a flow that ends where a goroutine next starts running.
type pendingFlow struct {
	id uint64
	at mapping.Time
}

var _ mapping.Sink = (*Writer)(nil)

// NewWriter returns a Writer that writes to w. Close (or the mapping's End)
// flushes it; the first error of any write is returned then. A Writer
// that is closed before Begin (the input was not a trace) writes nothing:
// the mapping's error says why, and the caller's output is left as it
// was, for the caller to remove.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	if w == nil {
		w = nilOutput{}
	}
	cfg := config{pid: 1}
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&cfg)
		}
	}
	wr := &Writer{
		cfg:        cfg,
		out:        w,
		pkt:        make(msg, 0, chunkSize+4096),
		made:       make([]chunkPacket, 0, 1<<13),
		first:      true,
		nextUUID:   uuidFirstFree,
		intern:     newInterner(),
		stacks:     make(map[mapping.StackID]bool),
		threads:    make(map[mapping.ThreadID]*threadTrack),
		lanes:      mapping.NewLanes(),
		funcGroups: make(map[string]uint64),
		taskLanes:  mapping.NewSpanLanes(),
		taskGroups: make(map[string]uint64),
		counters:   make(map[string]uint64),
		logNames:   make(map[string]uint64),
		ranges:     make(map[string]uint64),
	}
	wr.ord = newOrderer(w, cfg.plain, &wr.bytes)
	return wr
}

// Packets returns the number of packets written so far. Unlike Size, it
// is not safe to call while another goroutine (mapping.Async's) calls
// the Writer's methods: call it between them, or after End.
func (w *Writer) Packets() int64 { return w.packets }

// Size returns the number of bytes of trace written so far, after the
// in-format compression (see WithCompression) and before any compression
// of the io.Writer's.
func (w *Writer) Size() int64 { return w.bytes.Load() }

// Rows returns about how many rows Perfetto's trace processor builds from
// what was written so far: slices (instants included), counter values,
// flows and tracks, without the arguments. Its import time and memory
// follow them (see perfettocheck.Rows). Like Packets, it is not safe to
// call beside the Writer's other methods.
func (w *Writer) Rows() int64 { return w.rows }

func (w *Writer) uuid() uint64 {
	w.nextUUID++
	return w.nextUUID - 1
}

// ts converts a trace timestamp to the file's; see Begin for the offset.
func (w *Writer) ts(t mapping.Time) uint64 { return uint64(t + w.off) }

// startPacket begins an event packet at time t, which waits in the stage
// to be written in time order (see order.go).
func (w *Writer) startPacket(t mapping.Time) { w.begin(staged, w.ts(t)) }

// begin begins a packet of the given kind. The sequence's first packet
// clears its incremental state (the interned names and stacks), which
// makes that state valid, and makes clockDelta the default clock of the
// packets after it; later packets carry no flags. The trace processor
// reads SEQ_NEEDS_INCREMENTAL_STATE only to drop packets while the state
// is invalid, which never happens in a file of one sequence, so repeating
// it on every packet would cost two bytes each for nothing.
//
// A packet's body is encoded in place at the end of w.pkt; the packets
// go to the orderer a chunk at a time, handed over before an event packet
// begins, since what an event refers to (interned names, written after
// it) follows it before the next event.
func (w *Writer) begin(kind int, ts uint64) {
	w.flushHeld()
	if w.cfg.maxRows > 0 && w.rows > w.cfg.maxRows && w.err == nil {
		w.err = &RowLimitError{Limit: w.cfg.maxRows, Reached: mapping.Time(w.reached) - w.off}
	}
	if kind == staged {
		w.reached = max(w.reached, ts)
	}
	if kind == staged && len(w.pkt) >= chunkSize {
		w.pkt, w.made = w.ord.send(w.pkt, w.made)
		if err := w.ord.failed(); err != nil && (w.err == nil || errors.Is(w.err, ErrRowLimit)) {
			w.err = err // a write error matters more than the limit
		}
	}
	w.kind, w.kindTime, w.pktStart = kind, ts, len(w.pkt)
	p := w.pkt.uint(fPktSequenceID, sequenceID)
	if w.first {
		p = p.uint(fPktSequenceFlags, seqIncrementalStateCleared)
		p = p.bool(fPktFirstOnSequence, true)
		d, off := p.open(fPktDefaults)
		d = d.uint(fDefTimestampClockID, clockDelta)
		p = d.close(off)
		w.first = false
	}
	w.pkt = p
}

// flushAt is the size of output buffered before it is written.
const flushAt = 256 << 10

// endPacket ends the packet begun by begin.
func (w *Writer) endPacket() {
	w.packets++
	w.made = append(w.made, chunkPacket{ts: w.kindTime, off: w.pktStart, end: len(w.pkt), kind: w.kind})
}

// maxCompressed bounds a compressed packet: the trace processor takes
// packets of up to 512 KB whole.
const maxCompressed = 500 << 10

// compressor deflates runs of packets on goroutines of their own, two
// runs at a time, and writes each, in order, as one compressed packet
// (TracePacket.compressed_packets), or as it is if it does not compress
// within maxCompressed.
type compressor struct {
	out   io.Writer
	bytes *atomic.Int64
	work  chan *zjob // to the deflating goroutines
	order chan *zjob // to the writing goroutine, in order
	free  chan *zjob
	done  chan struct{}
	mu    sync.Mutex
	err   error // the first write error
}

// zjob is one run of packets and its compressed form.
type zjob struct {
	in   msg
	out  []byte
	zw   *gzip.Writer
	zbuf bytes.Buffer
	ok   chan struct{}
}

// zWorkers is how many runs are deflated at once.
const zWorkers = 2

func newCompressor(out io.Writer, n *atomic.Int64) *compressor {
	c := &compressor{out: out, bytes: n, work: make(chan *zjob, zWorkers), order: make(chan *zjob, zWorkers+1),
		free: make(chan *zjob, zWorkers+2), done: make(chan struct{})}
	for range zWorkers + 2 {
		j := &zjob{in: make(msg, 0, flushAt+4096), ok: make(chan struct{}, 1)}
		// gzip rather than zlib framing: the trace processor inflates either
		// (it detects the header), and gzip's CRC-32 runs on the CPU's own
		// instructions where zlib's Adler-32 costs a tenth of the deflating.
		j.zw, _ = gzip.NewWriterLevel(&j.zbuf, gzip.BestSpeed) // the level is valid
		c.free <- j
	}
	for range zWorkers {
		go c.deflate()
	}
	go c.write()
	return c
}

// send hands a buffer of packets over and returns an empty one.
func (c *compressor) send(b msg) msg {
	j := <-c.free
	b, j.in = j.in[:0], b
	c.order <- j
	c.work <- j
	return b
}

// failed returns the first write error so far.
func (c *compressor) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// close waits for what was sent to be written and returns the first
// write error.
func (c *compressor) close() error {
	close(c.work)
	close(c.order)
	<-c.done
	return c.failed()
}

func (c *compressor) deflate() {
	for j := range c.work {
		j.zbuf.Reset()
		j.zw.Reset(&j.zbuf)
		j.zw.Write(j.in) // a bytes.Buffer does not fail
		j.zw.Close()
		j.out = j.in
		if z := j.zbuf.Bytes(); len(z) <= maxCompressed {
			// Trace.packet { compressed_packets: z }, in one write, so
			// that a write error leaves whole packets.
			inner := protowire.SizeTag(fPktCompressedPackets) + protowire.SizeBytes(len(z))
			var hdr [16]byte
			p := protowire.AppendTag(hdr[:0], fTracePacket, protowire.BytesType)
			p = protowire.AppendVarint(p, uint64(inner))
			p = protowire.AppendTag(p, fPktCompressedPackets, protowire.BytesType)
			p = protowire.AppendVarint(p, uint64(len(z)))
			// The header goes in front of z in the buffer's spare room.
			j.zbuf.Write(p) // grows the buffer once, if at all
			raw := j.zbuf.Bytes()
			n := len(raw) - len(p)
			copy(raw[len(p):], raw[:n])
			copy(raw, p)
			j.out = raw
		}
		j.ok <- struct{}{}
	}
}

func (c *compressor) write() {
	defer close(c.done)
	for j := range c.order {
		<-j.ok
		if c.failed() == nil {
			_, err := c.out.Write(j.out)
			c.bytes.Add(int64(len(j.out)))
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
		j.out = nil
		c.free <- j
	}
}

// OmittedTaskFlows returns how many flows from a task to the goroutines
// that worked in it were not drawn because the task already had the most
// flows one task is given (1024). The regions and logs are all there;
// only the arrows to them from their task are left out.
func (w *Writer) OmittedTaskFlows() int64 { return w.omittedFlows }

// OmittedDeepRegions returns how many regions were left out for being
// nested deeper than 500 in their goroutine's regions (recursion
// annotated with trace.WithRegion): Perfetto's trace processor keeps 512
// levels of slices on a track, and a region it dropped would also close
// the region it nests in, since a slice's end names none.
func (w *Writer) OmittedDeepRegions() int64 { return w.deepRegions }

// Close flushes the output and returns the first write error. Calling it
// (or End) again does nothing more; the other Sink methods then return an
// error that wraps ErrClosed. Closed before Begin, it writes nothing and
// returns nil (Packets is 0): the mapping's error, if any, says what went
// wrong, once, and the output is left as it was.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.flushHeld()
	if err := w.ord.close(w.pkt, w.made); err != nil && (w.err == nil || errors.Is(w.err, ErrRowLimit)) {
		w.err = err
	}
	return w.err
}

// errNotMade refuses a Writer that NewWriter did not make.
var errNotMade = errors.New("perfetto: the Writer was not made by NewWriter")

// errBegunTwice refuses a second pass while one is under way.
var errBegunTwice = errors.New("perfetto: Begin called twice: a Writer writes one trace")

// Begin writes the trace's metadata and the fixed tracks. A Writer takes
// one trace: a second Begin is refused.
func (w *Writer) Begin(m *mapping.Meta) error {
	if w.stacks == nil {
		return errNotMade
	}
	if w.closed {
		return errClosed
	}
	if w.begun {
		// A second trace would declare the same tracks again, which
		// makes the file invalid.
		return errBegunTwice
	}
	if m == nil {
		return errors.New("perfetto: Begin given no Meta")
	}
	w.begun = true
	w.meta = *m
	// Timestamps are in Perfetto's default clock, BOOTTIME, and are the
	// machine's monotonic clock where the trace tells it: a trace with a
	// snapshot of that clock (Go 1.25+) is moved onto it, and the clock of
	// traces from Go 1.22 on is that clock already (but on Windows). On a
	// machine that never suspended BOOTTIME is the monotonic clock, so the
	// trace lines up with a system trace of the same machine. Traces in
	// the old formats count from near zero and get 2^30 ns (about a
	// second), so that no timestamp is near zero.
	switch {
	case m.Clock != nil && m.Clock.Mono >= 1<<30 && m.Clock.Mono < 1<<62 && m.Clock.Trace-m.Start < 1<<29:
		w.off = mapping.Time(m.Clock.Mono) - m.Clock.Trace
	case m.Start < 1<<30:
		w.off = 1 << 30
	}
	switch m.FormatVersion {
	case "go1.11", "go1.19", "go1.21":
		w.oldThreadIDs = true
	}
	if w.cfg.processName == "" {
		w.cfg.processName = m.Input
	}
	// The clock snapshot must come first: the trace processor converts
	// every timestamp after it.
	switch {
	case m.Clock != nil:
		w.clockSnapshot(m.Clock.Trace, m.Clock.Wall, m.Clock.Mono)
	case !w.cfg.startTime.IsZero():
		w.clockSnapshot(m.Start, w.cfg.startTime, 0)
	default:
		w.clockSnapshot(m.Start, time.Time{}, 0)
	}
	w.declare(m.Start, uuidProcess, 0, "", func(b msg) msg {
		b, off := b.open(fTdProcess)
		b = b.int(fProcPID, int64(w.cfg.pid))
		b = b.str(fProcName, w.cfg.processName)
		b = b.close(off)
		return b
	})
	// The first screen is what go tool trace shows first: what ran on each
	// P, then GC and the counters (heap, goroutines by state); the threads,
	// the goroutines' lanes and the tasks come after, one click away. The
	// trace processor gives no parent to the children of a process track
	// (the UI then sorts them by name), so they have one of their own, a
	// plain track, which orders them.
	for _, g := range []struct {
		uuid, parent uint64
		name         string
		rank         int
	}{
		{uuidRuntime, uuidProcess, "Go runtime", -1}, // alone: no rank
		{uuidProcs, uuidRuntime, "Procs", rankProcs},
		{uuidGC, uuidRuntime, "GC", rankGC},
		{uuidCounters, uuidRuntime, "Counters", rankCounters},
		{uuidGoroutines, uuidRuntime, "Goroutines", rankGoroutines},
		{uuidTasks, uuidRuntime, "Tasks", rankTasks},
		{uuidGCCycles, uuidGC, "GC cycles", 0},
		{uuidSTW, uuidGC, "Stop-the-world", 1},
	} {
		w.declare(m.Start, g.uuid, g.parent, g.name, func(b msg) msg {
			// Not merged by name (the default): the importer would make
			// the track a factory that spreads slices that overlap
			// (a damaged trace's GC cycles) over tracks of one name.
			b = b.uint(fTdSiblingMergeBehavior, siblingMergeNone)
			b = b.uint(fTdChildOrdering, childOrderingExplicit)
			if g.rank < 0 {
				return b
			}
			return b.int(fTdSiblingOrderRank, int64(g.rank))
		})
	}
	w.metadata()
	return w.err
}

// metadata records the trace's provenance as instants on the process track:
// a file has no better place for it that the UI shows.
func (w *Writer) metadata() {
	w.startPacket(w.meta.Start)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, evInstant)
	ev = ev.uint(fEvTrackUUID, uuidProcess)
	ev = w.name(ev, "trace metadata")
	ev = w.annStr(ev, "go trace format", w.meta.FormatVersion)
	if w.cfg.version != "" {
		ev = w.annStr(ev, "trace2x version", w.cfg.version)
	}
	ev = w.annStr(ev, "input", w.meta.Input)
	switch {
	case w.meta.Clock != nil:
		ev = w.annStr(ev, "wall clock at start", w.meta.Clock.WallTime(w.meta.Start).UTC().Format(time.RFC3339Nano))
	case !w.cfg.startTime.IsZero():
		// Given by the user (the clock snapshot has it too), which
		// the trace cannot confirm.
		ev = w.annStr(ev, "wall clock at start", w.cfg.startTime.UTC().Format(time.RFC3339Nano))
		ev = w.annStr(ev, "wall clock source", "given (WithStartTime, --start-time)")
	}
	w.pkt = ev.close(off)
	w.flushInterned()
}

// clockSnapshot relates the file's timestamps (in the default clock,
// BOOTTIME) to wall time when it is known, so that the UI can show real
// time, and records the OS monotonic clock at that instant when the trace
// has it; and it starts the writer's incremental clock at
// the same instant. The file's BOOTTIME is the monotonic clock where the
// trace tells it (see Begin).
func (w *Writer) clockSnapshot(trace mapping.Time, wall time.Time, mono uint64) {
	w.begin(base, w.ts(trace))
	p, off := w.pkt.open(fPktClockSnapshot)
	clock := func(p msg, id, ts uint64) msg {
		c, coff := p.open(fCsClocks)
		c = c.uint(fCsClockID, id)
		c = c.uint(fCsClockTs, ts)
		if id == clockDelta {
			c = c.bool(fCsIncremental, true)
		}
		return c.close(coff)
	}
	p = clock(p, clockBoottime, w.ts(trace))
	if !wall.IsZero() {
		p = clock(p, clockRealtime, uint64(wall.UnixNano()))
	}
	if mono != 0 {
		p = clock(p, clockMonotonic, mono)
	}
	p = clock(p, clockDelta, w.ts(trace))
	p = p.uint(fCsPrimaryClock, clockBoottime)
	w.pkt = p.close(off)
	w.endPacket()
}

// declare writes a track descriptor; extra adds fields to it.
func (w *Writer) declare(t mapping.Time, uuid, parent uint64, name string, extra func(msg) msg) {
	w.rows++
	w.begin(timed, w.ts(t))
	d, off := w.pkt.open(fPktTrackDescriptor)
	d = d.uint(fTdUUID, uuid)
	if parent != 0 {
		d = d.uint(fTdParentUUID, parent)
	}
	if name != "" {
		d = d.str(fTdName, name)
	}
	if extra != nil {
		d = extra(d)
	}
	w.pkt = d.close(off)
	w.endPacket()
}

// End ends the lifetime slices of the goroutines still alive and flushes
// the trace. A trace cut short by an error is still a valid file: every
// packet written is complete.
func (w *Writer) End(sum *mapping.Summary) error {
	if w.stacks == nil {
		return errNotMade
	}
	if w.closed {
		return w.err // as Close again
	}
	if sum != nil && errors.Is(sum.Err, errBegunTwice) {
		// The End of a pass that Begin refused (a Writer given to two
		// at once): the pass under way is not ended by it.
		return nil
	}
	if sum == nil {
		// Ended by hand, without the pass's summary: what was written
		// ends at the latest event written.
		sum = &mapping.Summary{}
		if w.reached > 0 {
			sum.End = mapping.Time(w.reached) - w.off
		}
	}
	end := sum.End
	limit, cut := w.err.(*RowLimitError)
	if cut {
		// The mapping went on a little past the item that went over the
		// limit: what was written ends at the latest event written.
		limit.Reached = mapping.Time(w.reached) - w.off
		end = limit.Reached
	}
	// In goroutine ID order, so that the output is the same every time.
	ids := make([]mapping.GoID, 0, w.goroutine.Len())
	for id, gt := range w.goroutine.All() {
		if gt.life || gt.pend.held || len(gt.flowsIn) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		gt := w.goroutine.Get(id)
		w.flushRun(gt)
		// A pass stopped early (see WithRowLimit) can leave flows to runs
		// that began and were never delivered: each ends on an instant
		// where its run began, so that no flow is left with one end.
		for _, f := range gt.flowsIn {
			w.instant(gt.uuid, f.at, mapping.NoStack, nil, []uint64{f.id}, func(ev msg) msg {
				return w.name(w.category(ev, catGoroutine), "running")
			})
		}
		gt.flowsIn = gt.flowsIn[:0]
		w.endLife(gt, max(end, gt.last), true)
	}
	// So can flows from tasks never delivered to their regions and logs:
	// each task's start just before its earliest flow ends, on the Tasks
	// track.
	tasks := make([]taskKey, 0, w.taskFlows.Len())
	for id := range w.taskFlows.All() {
		tasks = append(tasks, id)
	}
	slices.Sort(tasks)
	for _, id := range tasks {
		tf := w.taskFlows.Get(id)
		// Just before it: an end the trace processor reads first is lost.
		w.instant(uuidTasks, tf.first-1, mapping.NoStack, tf.flows, nil, func(ev msg) msg {
			return w.name(w.category(ev, catTask), fmt.Sprintf("task %d", id))
		})
		w.taskFlows.Delete(id)
	}
	// A trace cut at the row limit says so where it was cut, on the
	// process's track, for whoever opens it.
	if cut {
		w.instant(uuidProcess, limit.Reached, mapping.NoStack, nil, nil, func(ev msg) msg {
			ev = w.name(ev, "cut here: the row limit")
			return w.annInt(ev, "row limit", limit.Limit)
		})
	} else if sum.Err != nil {
		// So does a trace that breaks off, or a pass that was stopped:
		// the file is valid, and would pass for the whole trace's.
		w.instant(uuidProcess, end, mapping.NoStack, nil, nil, func(ev msg) msg {
			ev = w.name(ev, "cut here: the conversion ends early")
			return w.annStr(ev, "error", sum.Err.Error())
		})
	}
	return w.Close()
}

// nilOutput stands for the nil io.Writer a Writer was given: its writes
// fail with an error that says so, where a nil Writer would panic, on a
// goroutine of the Writer's own where no caller could recover it.
type nilOutput struct{}

func (nilOutput) Write([]byte) (int, error) {
	return 0, errors.New("perfetto: NewWriter was given a nil io.Writer")
}
