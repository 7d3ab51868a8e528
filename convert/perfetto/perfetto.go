// Package perfetto writes the timeline model of a Go execution trace as a
// Perfetto protobuf trace (.pftrace), for ui.perfetto.dev and Perfetto's
// trace processor.
//
// The Writer is a mapping.Sink: it encodes each item as it arrives, packet
// by packet, so memory does not grow with the output. Its layout, under one
// process track:
//
//   - Procs: a track per P, in P order, with the goroutines it ran, and a
//     child track with its GC sweeps.
//   - a thread track per M, with the OS thread ID, with the
//     goroutines it ran and their syscalls.
//   - Goroutines: a track per goroutine, "G<id> <start function>", with its
//     states, logs and creations; child tracks for its user regions and GC
//     mark assists, where it has any.
//   - Tasks: an async track per user task, nested under its parent task.
//   - GC: GC cycles and stop-the-world pauses.
//   - Counters: heap live and goal on a shared axis, GOMAXPROCS,
//     goroutines and threads by state, and every other runtime metric.
//
// Flows link a goroutine's creation, unblocking or blocking syscall exit
// to its next run, and a task to its regions and logs. Every event with a
// stack carries it as an interned callstack; CPU profile samples become
// perf samples on their thread and instants on their goroutine's track.
package perfetto

import (
	"bytes"
	"compress/zlib"
	"io"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace2x/trace2x/mapping"
)

// Option configures a Writer.
type Option interface{ apply(*config) }

type config struct {
	processName string
	pid         int32
	startTime   time.Time
	version     string
	plain       bool // no in-format compression
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
// Go execution traces do not record it; the default is 1.
func WithPID(pid int32) Option {
	return optionFunc(func(c *config) { c.pid = pid })
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
	uuidFirstFree
)

// The order of the process track's children, see Begin.
const (
	rankProcs = iota
	rankGC
	rankCounters
	rankThreads
	rankGoroutines
	rankTasks
)

// Writer is a mapping.Sink that writes a Perfetto trace to an io.Writer. It
// is not safe for concurrent use; the mapping calls it from one goroutine.
type Writer struct {
	cfg              config
	out              io.Writer
	err              error // the first write error; everything after it is dropped
	pkt              msg   // output not yet written, ending with the packet being encoded
	pktStart, pktOff int   // where the packet and its body begin in pkt
	meta             mapping.Meta
	off              mapping.Time // added to every timestamp, see Begin

	omittedFlows int64 // task flows past maxTaskFlows, see OmittedTaskFlows
	first        bool  // the next packet is the sequence's first
	oldThreadIDs bool  // see tid
	nextUUID     uint64
	nextFlow     uint64
	goNames      uint64 // goroutine names interned so far
	intern       interner
	stacks       map[mapping.StackID]bool // callstacks already interned
	goroutine    map[mapping.GoID]*goTrack
	procs        []*procTrack // by P ID
	lastGo       *goTrack     // the goroutine looked up last
	lastM        mapping.ThreadID
	lastMTrack   *threadTrack
	lanes        *mapping.Lanes
	laneTracks   []*laneTrack      // by lane ID
	funcGroups   map[string]uint64 // the group track of each start function's lanes
	stateIIDs    [5]uint64         // names of the goroutine states, and of a blocked syscall last
	threads      map[mapping.ThreadID]*threadTrack
	taskLanes    *mapping.SpanLanes
	taskTracks   []uint64          // by task lane ID
	taskGroups   map[string]uint64 // the group track of each task type's lanes
	counters     map[string]uint64 // runtime metrics, by name
	derived      [16]uint64        // by kind, for the counters the mapping derives
	ranges       map[string]uint64 // child tracks for ranges of other kinds
	freeGo       []*goTrack        // tracks of ended goroutines, for reuse
	flowScratch  []uint64
	held         bool // the packet in pkt is held open, see holdOpen
	heldOff      int
	heldTime     mapping.Time
	heldExtra    int
	retired      map[mapping.GoID]uint64 // tracks of goroutines that ended, see retire
	retiredQ     ring[mapping.GoID]

	taskFlows  map[mapping.TaskID]taskFlowSet // flows to a task's goroutines, see taskFlow
	endedTasks map[mapping.TaskID]bool
	endedTaskQ ring[mapping.TaskID]
	freeFlows  []taskFlowSet // flow slices of ended tasks, for reuse

	zw   *zlib.Writer // compresses runs of packets, see flushOut
	zbuf bytes.Buffer
	zpkt []byte

	// Stats, for the caller to report.
	packets int64
	bytes   int64
	rows    int64
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
	ranUntil       mapping.Time // the end of the last P it held
	ran            bool         // whether it held one yet
}

// pendingFlow is a flow that ends where a goroutine next starts running.
type pendingFlow struct {
	id uint64
	at mapping.Time
}

var _ mapping.Sink = (*Writer)(nil)

// NewWriter returns a Writer that writes to w. Close (or the mapping's End)
// flushes it; the first error of any write is returned then.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	cfg := config{pid: 1}
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &Writer{
		cfg:        cfg,
		out:        w,
		pkt:        make(msg, 0, flushAt+4096),
		first:      true,
		nextUUID:   uuidFirstFree,
		intern:     newInterner(),
		stacks:     make(map[mapping.StackID]bool),
		goroutine:  make(map[mapping.GoID]*goTrack),
		threads:    make(map[mapping.ThreadID]*threadTrack),
		lanes:      mapping.NewLanes(),
		funcGroups: make(map[string]uint64),
		taskLanes:  mapping.NewSpanLanes(),
		taskGroups: make(map[string]uint64),
		counters:   make(map[string]uint64),
		ranges:     make(map[string]uint64),
		retired:    make(map[mapping.GoID]uint64),

		taskFlows:  make(map[mapping.TaskID]taskFlowSet),
		endedTasks: make(map[mapping.TaskID]bool),
	}
}

// Packets returns the number of packets written so far.
func (w *Writer) Packets() int64 { return w.packets }

// Size returns the number of bytes of trace written so far, after the
// in-format compression (see WithCompression) and before any compression
// of the io.Writer's.
func (w *Writer) Size() int64 { return w.bytes }

// Rows returns about how many rows Perfetto's trace processor builds from
// what was written so far: slices (instants included), counter values,
// flows and tracks, without the arguments. Its import time and memory
// follow them (see perfettocheck.Rows).
func (w *Writer) Rows() int64 { return w.rows }

func (w *Writer) uuid() uint64 {
	w.nextUUID++
	return w.nextUUID - 1
}

// ts converts a trace timestamp to the file's; see Begin for the offset.
func (w *Writer) ts(t mapping.Time) uint64 { return uint64(t + w.off) }

// startPacket begins a packet at time t. Packets that refer to interned
// data say so, so that the trace processor can drop them if the data was
// lost, which never happens in a file but is the protocol.
//
// Packets are encoded in place at the end of the output buffer, w.pkt, as
// elements of Trace.packet: nothing is copied on the way out.
func (w *Writer) startPacket(t mapping.Time, interned bool) {
	w.flushHeld()
	if len(w.pkt) >= flushAt {
		w.flushOut()
	}
	w.pktStart = len(w.pkt)
	p, off := w.pkt.open(fTracePacket)
	w.pktOff = off
	p = p.uint(fPktTimestamp, w.ts(t))
	p = p.uint(fPktSequenceID, sequenceID)
	switch {
	case w.first:
		p = p.uint(fPktSequenceFlags, seqIncrementalStateCleared)
		p = p.bool(fPktFirstOnSequence, true)
		w.first = false
	case interned:
		p = p.uint(fPktSequenceFlags, seqNeedsIncrementalState)
	}
	w.pkt = p
}

// flushAt is the size of output buffered before it is written.
const flushAt = 256 << 10

// endPacket ends the packet begun by startPacket.
func (w *Writer) endPacket() {
	w.packets++
	w.pkt = w.pkt.close(w.pktOff)
}

// maxCompressed bounds a compressed packet: the trace processor takes
// packets of up to 512 KB whole.
const maxCompressed = 500 << 10

// flushOut writes the buffered packets, compressed into one packet unless
// compression is off or does not fit them in maxCompressed, or drops them
// after a write error.
func (w *Writer) flushOut() {
	if w.err != nil || len(w.pkt) == 0 {
		w.pkt = w.pkt[:0]
		return
	}
	out := []byte(w.pkt)
	var hdr [16]byte
	var head []byte
	if !w.cfg.plain {
		w.zbuf.Reset()
		if w.zw == nil {
			w.zw, _ = zlib.NewWriterLevel(&w.zbuf, zlib.BestSpeed) // the level is valid
		} else {
			w.zw.Reset(&w.zbuf)
		}
		w.zw.Write(w.pkt) // a bytes.Buffer does not fail
		w.zw.Close()
		if z := w.zbuf.Bytes(); len(z) <= maxCompressed {
			// Trace.packet { compressed_packets: z }
			inner := protowire.SizeTag(fPktCompressedPackets) + protowire.SizeBytes(len(z))
			head = protowire.AppendTag(hdr[:0], fTracePacket, protowire.BytesType)
			head = protowire.AppendVarint(head, uint64(inner))
			head = protowire.AppendTag(head, fPktCompressedPackets, protowire.BytesType)
			head = protowire.AppendVarint(head, uint64(len(z)))
			out = z
		}
	}
	if head != nil {
		// One write, so that a write error leaves whole packets.
		w.zpkt = append(append(w.zpkt[:0], head...), out...)
		out = w.zpkt
	}
	_, w.err = w.out.Write(out)
	w.bytes += int64(len(out))
	w.pkt = w.pkt[:0]
}

// OmittedTaskFlows returns how many flows from a task to the goroutines
// that worked in it were not drawn because the task already had the most
// flows one task is given (1024). The regions and logs are all there;
// only the arrows to them from their task are left out.
func (w *Writer) OmittedTaskFlows() int64 { return w.omittedFlows }

// Close flushes the output and returns the first write error.
func (w *Writer) Close() error {
	w.flushHeld()
	w.flushOut()
	return w.err
}

// Begin writes the trace's metadata and the fixed tracks.
func (w *Writer) Begin(m *mapping.Meta) error {
	w.meta = *m
	// Timestamps are in Perfetto's default clock, BOOTTIME. A trace with a
	// snapshot of the monotonic clock (Go 1.25+) is tied to the machine's
	// clocks by the snapshot, so its timestamps can count from the trace's
	// start, which saves two of the seven bytes of most; 2^30 ns (about a
	// second) is added so that none is near zero. Others keep the trace's
	// clock, which since Go 1.22 is the monotonic one, and so stays
	// roughly in line with a system trace of the same machine; traces in
	// the old formats start near zero and get the 2^30 ns too.
	switch {
	case m.Clock != nil && m.Clock.Mono != 0:
		w.off = 1<<30 - min(m.Start, m.Clock.Trace)
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
	if m.Clock != nil {
		w.clockSnapshot(m.Clock.Trace, m.Clock.Wall, m.Clock.Mono)
	} else if !w.cfg.startTime.IsZero() {
		w.clockSnapshot(m.Start, w.cfg.startTime, 0)
	}
	w.declare(m.Start, uuidProcess, 0, "", func(b msg) msg {
		b, off := b.open(fTdProcess)
		b = b.int(fProcPID, int64(w.cfg.pid))
		b = b.str(fProcName, w.cfg.processName)
		b = b.close(off)
		return b.uint(fTdChildOrdering, childOrderingExplicit)
	})
	// The first screen is what go tool trace shows first: what ran on each
	// P, then GC and the counters (heap, goroutines by state); the threads,
	// the goroutines' lanes and the tasks come after, one click away.
	for _, g := range []struct {
		uuid, parent uint64
		name         string
		rank         int
	}{
		{uuidProcs, uuidProcess, "Procs", rankProcs},
		{uuidGC, uuidProcess, "GC", rankGC},
		{uuidCounters, uuidProcess, "Counters", rankCounters},
		{uuidGoroutines, uuidProcess, "Goroutines", rankGoroutines},
		{uuidTasks, uuidProcess, "Tasks", rankTasks},
		{uuidGCCycles, uuidGC, "GC cycles", 0},
		{uuidSTW, uuidGC, "Stop-the-world", 1},
	} {
		w.declare(m.Start, g.uuid, g.parent, g.name, func(b msg) msg {
			b = b.uint(fTdChildOrdering, childOrderingExplicit)
			return b.int(fTdSiblingOrderRank, int64(g.rank))
		})
	}
	w.metadata()
	return w.err
}

// metadata records the trace's provenance as instants on the process track:
// a file has no better place for it that the UI shows.
func (w *Writer) metadata() {
	w.startPacket(w.meta.Start, true)
	ev, off := w.pkt.open(fPktTrackEvent)
	ev = ev.uint(fEvType, evInstant)
	ev = ev.uint(fEvTrackUUID, uuidProcess)
	ev = w.name(ev, "trace metadata")
	ev = w.annStr(ev, "go trace format", w.meta.FormatVersion)
	if w.cfg.version != "" {
		ev = w.annStr(ev, "trace2x version", w.cfg.version)
	}
	ev = w.annStr(ev, "input", w.meta.Input)
	if w.meta.Clock != nil {
		ev = w.annStr(ev, "wall clock at start", w.meta.Clock.WallTime(w.meta.Start).UTC().Format(time.RFC3339Nano))
	}
	w.pkt = ev.close(off)
	w.flushInterned()
}

// clockSnapshot relates the file's timestamps (in the default clock,
// BOOTTIME) to wall time, and to the OS monotonic clock when the trace
// recorded it, so that the UI can show real time and the trace can be lined
// up with others of the same machine.
func (w *Writer) clockSnapshot(trace mapping.Time, wall time.Time, mono uint64) {
	w.startPacket(trace, false)
	p, off := w.pkt.open(fPktClockSnapshot)
	clock := func(p msg, id, ts uint64) msg {
		c, coff := p.open(fCsClocks)
		c = c.uint(fCsClockID, id)
		c = c.uint(fCsClockTs, ts)
		return c.close(coff)
	}
	p = clock(p, clockBoottime, w.ts(trace))
	p = clock(p, clockRealtime, uint64(wall.UnixNano()))
	if mono != 0 {
		p = clock(p, clockMonotonic, mono)
	}
	p = p.uint(fCsPrimaryClock, clockBoottime)
	w.pkt = p.close(off)
	w.endPacket()
}

// declare writes a track descriptor; extra adds fields to it.
func (w *Writer) declare(t mapping.Time, uuid, parent uint64, name string, extra func(msg) msg) {
	w.rows++
	w.startPacket(t, false)
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
	// In goroutine ID order, so that the output is the same every time.
	ids := make([]mapping.GoID, 0, len(w.goroutine))
	for id, gt := range w.goroutine {
		if gt.life || gt.pend.held {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		gt := w.goroutine[id]
		w.flushRun(gt)
		w.endLife(gt, max(sum.End, gt.last))
	}
	return w.Close()
}
