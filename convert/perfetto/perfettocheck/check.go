// Package perfettocheck decodes a Perfetto trace with the generated protobuf
// types and checks what Perfetto's trace processor does not all report as
// errors: that every track is declared before use, every interned ID is
// defined before use, slices balance and nest on every track, and flows
// have both ends. It also tallies what the trace holds, so tests can
// compare it with the timeline it was made from.
package perfettocheck

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
)

// Slice is a decoded slice.
type Slice struct {
	Track      uint64
	Name       string
	Category   string
	Start, End uint64
	Args       map[string]any
	Callstack  uint64
}

// Instant is a decoded instant event.
type Instant struct {
	Track    uint64
	Name     string
	Category string
	Time     uint64
	Args     map[string]any
}

// FlowEnd is a flow: where it starts and where it terminates.
type FlowEnd struct {
	ID       uint64
	From, To uint64 // timestamps of the events that start and end it
	// FromName and FromCategory name the event it starts on.
	FromName, FromCategory string
}

// Track is a declared track.
type Track struct {
	UUID, Parent uint64
	Name         string
	Thread       *pb.ThreadDescriptor
	Process      *pb.ProcessDescriptor
	Counter      *pb.CounterDescriptor
}

// Report is what a trace holds.
type Report struct {
	Packets  int
	Tracks   map[uint64]*Track
	Slices   []Slice
	Instants []Instant
	Counters map[uint64][]int64 // values by track, in packet order
	// CounterTimes holds the times of the values in Counters, index for
	// index.
	CounterTimes map[uint64][]uint64
	Flows        int // flow IDs with both ends
	// FlowEnds describes those flows, in no particular order.
	FlowEnds    []FlowEnd
	PerfSamples int
	Callstacks  int
	Clock       *pb.ClockSnapshot
	// Frames maps an interned callstack to its frames' function names,
	// root first.
	Frames map[uint64][]string
	// Rows estimates what Perfetto's trace processor builds from the trace.
	Rows Rows
}

// Rows counts the rows Perfetto's trace processor builds from a trace, by
// table: its import time and memory follow their total (about 2 µs and
// 70-130 bytes a row), more than the file's size.
type Rows struct {
	Slices        int64 // slices, instants included (the slice table holds both)
	Instants      int64 // of which instants
	CounterValues int64
	Flows         int64
	Tracks        int64
	// ArgSets is the number of distinct argument sets, and Args the
	// arguments they hold: equal sets are stored once.
	ArgSets, Args int64
	Samples       int64 // perf samples
	Bytes         int64 // the trace's size as read
	// Packets is the number of trace packets, those inside compressed
	// packets included.
	Packets int64
}

// Total is the number of rows of every table.
func (r *Rows) Total() int64 {
	return r.Slices + r.CounterValues + r.Flows + r.Tracks + r.Args + r.Samples
}

// readAt places an event in the order the trace processor's sorter
// delivers events: by time, and equal times in the order of the packets.
type readAt struct {
	ts  uint64
	seq int
}

func (a readAt) before(b readAt) bool {
	return a.ts < b.ts || a.ts == b.ts && a.seq < b.seq
}

type event struct {
	seq   int // packet order, to keep sorting stable
	ts    uint64
	typ   pb.TrackEvent_Type
	slice int // index into Report.Slices for a begin
	// args are an end's arguments, which the trace processor adds to the
	// slice it ends.
	args map[string]any
}

// Check decodes and checks the trace read from r.
func Check(r io.Reader) (*Report, error) {
	c := newChecker(false)
	err := c.run(r)
	return c.rep, err
}

// Count decodes the trace read from r and counts the rows Perfetto's trace
// processor would build from it, checking what it can without holding the
// trace's events: that tracks and interned data are defined before use.
// It holds little more than a Report's maps, so it suits traces of any
// size.
func Count(r io.Reader) (Rows, error) {
	c := newChecker(true)
	err := c.run(r)
	return c.rep.Rows, err
}

func newChecker(countOnly bool) *checker {
	rep := &Report{Tracks: map[uint64]*Track{}, Counters: map[uint64][]int64{}, CounterTimes: map[uint64][]uint64{}, Frames: map[uint64][]string{}}
	return &checker{
		rep: rep, countOnly: countOnly, names: map[uint64]string{}, cats: map[uint64]string{}, anns: map[uint64]string{},
		funcs: map[uint64]string{}, files: map[uint64]bool{}, mappings: map[uint64]bool{}, paths: map[uint64]bool{},
		frames: map[uint64]string{}, callstacks: map[uint64]bool{}, events: map[uint64][]event{},
		flowOut: map[uint64]int{}, flowIn: map[uint64]int{},
		flowFrom: map[uint64]FlowEnd{}, flowTo: map[uint64]uint64{}, argSets: map[string]struct{}{},
		flowFromAt: map[uint64]readAt{}, flowToAt: map[uint64]readAt{},
	}
}

func (c *checker) run(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		data, err := readPacket(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("packet %d: %w", c.rep.Packets, err)
		}
		c.rep.Rows.Bytes += int64(protowire.SizeTag(1) + protowire.SizeBytes(len(data)))
		if err := c.decode(data, false); err != nil {
			return fmt.Errorf("packet %d: %w", c.rep.Packets, err)
		}
	}
	return c.finish()
}

// decode checks one encoded packet; inner is set for the packets of a
// compressed packet, which cannot hold another.
func (c *checker) decode(data []byte, inner bool) error {
	var p pb.TracePacket
	if err := proto.Unmarshal(data, &p); err != nil {
		return err
	}
	if err := unknownFields(p.ProtoReflect()); err != nil {
		return err
	}
	if z := p.GetCompressedPackets(); z != nil {
		if inner {
			return errors.New("compressed packets inside compressed packets")
		}
		return c.compressed(z)
	}
	if err := c.packet(&p); err != nil {
		return err
	}
	c.rep.Packets++
	c.rep.Rows.Packets++
	return nil
}

// maxCompressed is the most a compressed packet may hold once
// decompressed: the trace processor's limit is about 512 KB per packet
// on the way in, and its decompressor works in chunks of that size.
const maxCompressed = 512 << 10

// compressed checks the packets of a compressed_packets field: a zlib or
// gzip stream (the trace processor inflates both) of Trace.packet fields.
func (c *checker) compressed(z []byte) error {
	if len(z) > maxCompressed {
		return fmt.Errorf("compressed packet of %d bytes, over %d", len(z), maxCompressed)
	}
	var zr io.Reader
	var err error
	if len(z) >= 2 && z[0] == 0x1f && z[1] == 0x8b {
		zr, err = gzip.NewReader(bytes.NewReader(z))
	} else {
		zr, err = zlib.NewReader(bytes.NewReader(z))
	}
	if err != nil {
		return fmt.Errorf("compressed packets: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return fmt.Errorf("compressed packets: %w", err)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		data, err := readPacket(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("in compressed packets: %w", err)
		}
		if err := c.decode(data, true); err != nil {
			return fmt.Errorf("in compressed packets: %w", err)
		}
	}
}

// maxExtraCounters is how many extra counter values the trace processor
// keeps for one event.
const maxExtraCounters = 8

// readPacket reads one Trace.packet field.
func readPacket(br *bufio.Reader) ([]byte, error) {
	tag, err := binaryUvarint(br)
	if err != nil {
		return nil, err
	}
	num, typ := protowire.DecodeTag(tag)
	if num != 1 || typ != protowire.BytesType {
		return nil, fmt.Errorf("field %d of type %d in Trace, want packets (1, bytes)", num, typ)
	}
	n, err := binaryUvarint(br)
	if err != nil {
		return nil, errors.Join(err, io.ErrUnexpectedEOF)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, err
	}
	return data, nil
}

func binaryUvarint(br *bufio.Reader) (uint64, error) {
	var x uint64
	for s := 0; s < 64; s += 7 {
		b, err := br.ReadByte()
		if err != nil {
			if s > 0 && err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		x |= uint64(b&0x7f) << s
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("varint overflows")
}

type checker struct {
	rep                      *Report
	countOnly                bool                // keep no events, see Count
	argSets                  map[string]struct{} // distinct argument sets
	argKey                   []byte
	seqID                    uint32
	cleared                  bool
	names, cats, anns, funcs map[uint64]string
	files, mappings, paths   map[uint64]bool
	frames                   map[uint64]string
	callstacks               map[uint64]bool
	events                   map[uint64][]event
	flowOut, flowIn          map[uint64]int
	flowFrom                 map[uint64]FlowEnd
	flowTo                   map[uint64]uint64
	// flowFromAt and flowToAt place each end of a flow in the order the
	// trace processor reads events (time, then packet order).
	flowFromAt, flowToAt map[uint64]readAt

	// Timestamps: the sequence's default clock (TracePacketDefaults),
	// and the clocks that clock snapshots declared, as the trace
	// processor keeps them.
	defaultClock uint32
	clocks       map[uint32]*clock
}

// clock is a clock a snapshot declared: BOOTTIME is its value at snapshot
// minus its own, and an incremental clock's value moves by each delta.
type clock struct {
	offset      int64
	incremental bool
	last        uint64
}

func (c *checker) packet(p *pb.TracePacket) error {
	seq := p.GetTrustedPacketSequenceId()
	if seq == 0 {
		return errors.New("no trusted_packet_sequence_id")
	}
	if c.seqID != 0 && seq != c.seqID {
		return fmt.Errorf("sequence %d after %d: the writer uses one sequence", seq, c.seqID)
	}
	c.seqID = seq
	if p.GetSequenceFlags()&uint32(pb.TracePacket_SEQ_INCREMENTAL_STATE_CLEARED) != 0 {
		c.cleared = true
		c.defaultClock = 0
	}
	if d := p.GetTracePacketDefaults(); d != nil {
		if !c.cleared {
			return errors.New("packet defaults before any packet cleared the incremental state")
		}
		c.defaultClock = d.GetTimestampClockId()
	}
	if p.GetSequenceFlags()&uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE) != 0 && !c.cleared {
		return errors.New("needs incremental state before any packet cleared it")
	}
	// The trace processor ignores interned data until a packet of the
	// sequence has cleared its incremental state.
	if p.GetInternedData() != nil && !c.cleared {
		return errors.New("interned data before any packet cleared the incremental state")
	}
	if err := c.interned(p.GetInternedData()); err != nil {
		return err
	}
	if cs := p.GetClockSnapshot(); cs != nil {
		return c.clockSnapshot(cs)
	}
	ts, err := c.timestamp(p)
	if err != nil {
		return err
	}
	switch d := p.GetData().(type) {
	case *pb.TracePacket_TrackDescriptor:
		return c.track(d.TrackDescriptor)
	case *pb.TracePacket_TrackEvent:
		if p.Timestamp == nil {
			return errors.New("a track event without a timestamp")
		}
		return c.event(ts, d.TrackEvent)
	case *pb.TracePacket_PerfSample:
		if id := d.PerfSample.GetCallstackIid(); id != 0 && !c.callstacks[id] {
			return fmt.Errorf("perf sample uses callstack %d before it is interned", id)
		}
		if d.PerfSample.GetTid() == 0 {
			return errors.New("a perf sample without a thread: the trace processor puts it on thread 0, the kernel's idle thread")
		}
		c.rep.PerfSamples++
		c.rep.Rows.Samples++
	}
	return nil
}

// clockSnapshot records the clocks of a snapshot. The trace processor
// takes the first for the trace's clock, relating every clock to BOOTTIME,
// and starts an incremental clock at its value in the snapshot.
func (c *checker) clockSnapshot(cs *pb.ClockSnapshot) error {
	var boot uint64
	found := false
	for _, k := range cs.GetClocks() {
		if k.GetClockId() == bootTime {
			boot, found = k.GetTimestamp(), true
		}
	}
	if !found {
		return errors.New("a clock snapshot without BOOTTIME")
	}
	if c.rep.Clock == nil {
		c.rep.Clock = cs
	}
	if c.clocks == nil {
		c.clocks = map[uint32]*clock{}
	}
	for _, k := range cs.GetClocks() {
		id := k.GetClockId()
		if k.GetIsIncremental() && (id < 64 || id >= 128) {
			return fmt.Errorf("clock %d is incremental but not scoped to its sequence (64-127)", id)
		}
		if old := c.clocks[id]; old != nil && old.incremental != k.GetIsIncremental() {
			return fmt.Errorf("clock %d declared again with other properties", id)
		}
		c.clocks[id] = &clock{offset: int64(boot - k.GetTimestamp()), incremental: k.GetIsIncremental(), last: k.GetTimestamp()}
	}
	return nil
}

// bootTime is BUILTIN_CLOCK_BOOTTIME, the clock of timestamps given in no
// other.
const bootTime = uint32(pb.BuiltinClock_BUILTIN_CLOCK_BOOTTIME)

// timestamp returns a packet's timestamp on BOOTTIME, resolving its clock
// (its own, else the sequence's default, else BOOTTIME) as the trace
// processor does: a timestamp on an incremental clock is a delta from the
// one before on that clock.
func (c *checker) timestamp(p *pb.TracePacket) (uint64, error) {
	if p.Timestamp == nil {
		return 0, nil
	}
	id := p.GetTimestampClockId()
	if id == 0 {
		id = c.defaultClock
	}
	if id == 0 || id == bootTime && c.clocks[bootTime] == nil {
		return p.GetTimestamp(), nil
	}
	k := c.clocks[id]
	if k == nil {
		return 0, fmt.Errorf("timestamp on clock %d, which no clock snapshot before it declared", id)
	}
	v := p.GetTimestamp()
	if k.incremental {
		k.last += v
		v = k.last
	}
	return uint64(int64(v) + k.offset), nil
}

func (c *checker) interned(d *pb.InternedData) error {
	if d == nil {
		return nil
	}
	def := func(kind string, m map[uint64]string, iid uint64, name string) error {
		if iid == 0 {
			return fmt.Errorf("interned %s with ID 0", kind)
		}
		if old, ok := m[iid]; ok && old != name {
			return fmt.Errorf("interned %s %d redefined from %q to %q", kind, iid, old, name)
		}
		m[iid] = name
		return nil
	}
	for _, e := range d.GetEventNames() {
		if err := def("event name", c.names, e.GetIid(), e.GetName()); err != nil {
			return err
		}
	}
	for _, e := range d.GetEventCategories() {
		if err := def("category", c.cats, e.GetIid(), e.GetName()); err != nil {
			return err
		}
	}
	for _, e := range d.GetDebugAnnotationNames() {
		if err := def("annotation name", c.anns, e.GetIid(), e.GetName()); err != nil {
			return err
		}
	}
	for _, s := range d.GetFunctionNames() {
		if err := def("function name", c.funcs, s.GetIid(), string(s.GetStr())); err != nil {
			return err
		}
	}
	for _, s := range d.GetSourcePaths() {
		c.files[s.GetIid()] = true
	}
	for _, s := range d.GetMappingPaths() {
		c.paths[s.GetIid()] = true
	}
	for _, m := range d.GetMappings() {
		for _, p := range m.GetPathStringIds() {
			if !c.paths[p] {
				return fmt.Errorf("mapping %d uses path %d before it is interned", m.GetIid(), p)
			}
		}
		c.mappings[m.GetIid()] = true
	}
	for _, f := range d.GetFrames() {
		fn, ok := c.funcs[f.GetFunctionNameId()]
		if !ok {
			return fmt.Errorf("frame %d uses function name %d before it is interned", f.GetIid(), f.GetFunctionNameId())
		}
		if !c.mappings[f.GetMappingId()] {
			return fmt.Errorf("frame %d uses mapping %d before it is interned", f.GetIid(), f.GetMappingId())
		}
		if id := f.GetSourcePathIid(); id != 0 && !c.files[id] {
			return fmt.Errorf("frame %d uses source path %d before it is interned", f.GetIid(), id)
		}
		c.frames[f.GetIid()] = fn
	}
	for _, cs := range d.GetCallstacks() {
		var fns []string
		for _, f := range cs.GetFrameIds() {
			fn, ok := c.frames[f]
			if !ok {
				return fmt.Errorf("callstack %d uses frame %d before it is interned", cs.GetIid(), f)
			}
			fns = append(fns, fn)
		}
		if c.callstacks[cs.GetIid()] {
			return fmt.Errorf("callstack %d interned twice", cs.GetIid())
		}
		c.callstacks[cs.GetIid()] = true
		c.rep.Callstacks++
		c.rep.Frames[cs.GetIid()] = fns
	}
	return nil
}

func (c *checker) track(d *pb.TrackDescriptor) error {
	uuid := d.GetUuid()
	if uuid == 0 {
		return errors.New("track descriptor with uuid 0")
	}
	if t, ok := c.rep.Tracks[uuid]; ok {
		// The trace processor takes a track declared again as the same
		// track, and its new name, only if nothing else about it changed
		// and it is not merged with its siblings by name.
		switch {
		case d.GetParentUuid() != t.Parent || d.GetThread() != nil || d.GetProcess() != nil || d.GetCounter() != nil ||
			t.Thread != nil || t.Process != nil || t.Counter != nil:
			return fmt.Errorf("track %d declared twice, not as the same plain track", uuid)
		case d.GetSiblingMergeBehavior() != pb.TrackDescriptor_SIBLING_MERGE_BEHAVIOR_NONE:
			return fmt.Errorf("track %d (%q) declared again but merged by name: the trace processor keeps its first name", uuid, d.GetName())
		}
		t.Name = d.GetName()
		return nil
	}
	if p := d.GetParentUuid(); p != 0 {
		if _, ok := c.rep.Tracks[p]; !ok {
			return fmt.Errorf("track %d (%q) declared before its parent %d", uuid, d.GetName(), p)
		}
	}
	if th := d.GetThread(); th != nil && (th.GetPid() == 0 || th.GetTid() == 0) {
		// The trace processor refuses the events of such a track: pid
		// and tid 0 are the kernel's idle thread.
		return fmt.Errorf("thread track %d with pid %d, tid %d: 0 is the kernel's idle thread to the trace processor", uuid, th.GetPid(), th.GetTid())
	}
	c.rep.Rows.Tracks++
	c.rep.Tracks[uuid] = &Track{UUID: uuid, Parent: d.GetParentUuid(), Name: d.GetName(),
		Thread: d.GetThread(), Process: d.GetProcess(), Counter: d.GetCounter()}
	return nil
}

func (c *checker) event(ts uint64, e *pb.TrackEvent) error {
	uuid := e.GetTrackUuid()
	t, ok := c.rep.Tracks[uuid]
	if !ok {
		return fmt.Errorf("event on track %d before it is declared", uuid)
	}
	if e.GetName() != "" {
		return fmt.Errorf("event with an inline name %q: names are interned", e.GetName())
	}
	name := ""
	if iid := e.GetNameIid(); iid != 0 {
		if name, ok = c.names[iid]; !ok {
			return fmt.Errorf("event name %d used before it is interned", iid)
		}
	}
	cat := ""
	for _, iid := range e.GetCategoryIids() {
		if cat, ok = c.cats[iid]; !ok {
			return fmt.Errorf("category %d used before it is interned", iid)
		}
	}
	if id := e.GetCallstackIid(); id != 0 && !c.callstacks[id] {
		return fmt.Errorf("callstack %d used before it is interned", id)
	}
	args := map[string]any{}
	// The trace processor stores a slice's callstack as an argument too.
	key := c.argKey[:0]
	nargs := int64(0)
	if id := e.GetCallstackIid(); id != 0 && e.GetType() != pb.TrackEvent_TYPE_SLICE_END {
		key = fmt.Appendf(key, "callsite\x00%d\x01", id)
		nargs++
	}
	// So is a correlation ID, as the argument "correlation_id".
	if _, ok := e.GetCorrelationIdField().(*pb.TrackEvent_CorrelationId); ok {
		key = fmt.Appendf(key, "correlation_id\x00%d\x01", e.GetCorrelationId())
		nargs++
	}
	for _, a := range e.GetDebugAnnotations() {
		n, ok := c.anns[a.GetNameIid()]
		if !ok {
			return fmt.Errorf("annotation name %d used before it is interned", a.GetNameIid())
		}
		switch v := a.GetValue().(type) {
		case *pb.DebugAnnotation_BoolValue:
			args[n] = v.BoolValue
		case *pb.DebugAnnotation_UintValue:
			args[n] = v.UintValue
		case *pb.DebugAnnotation_IntValue:
			args[n] = v.IntValue
		case *pb.DebugAnnotation_StringValue:
			args[n] = v.StringValue
		default:
			return fmt.Errorf("annotation %q of unexpected type %T", n, v)
		}
		key = fmt.Appendf(key, "%s\x00%v\x01", n, args[n])
		nargs++
	}
	c.argKey = key
	if nargs > 0 {
		if _, ok := c.argSets[string(key)]; !ok {
			c.argSets[string(key)] = struct{}{}
			c.rep.Rows.ArgSets++
			c.rep.Rows.Args += nargs
		}
	}
	// Counter values for other tracks can ride on any event.
	extraTracks, extraValues := e.GetExtraCounterTrackUuids(), e.GetExtraCounterValues()
	if len(extraTracks) != len(extraValues) {
		return fmt.Errorf("%d extra counter tracks for %d extra counter values", len(extraTracks), len(extraValues))
	}
	if len(extraValues) > maxExtraCounters {
		return fmt.Errorf("%d extra counter values; the trace processor takes %d", len(extraValues), maxExtraCounters)
	}
	for i, v := range extraValues {
		// The trace processor's sorter keeps an event's extra values up
		// to the first zero, and the parser reads the rest as zero.
		if v != 0 && slices.Contains(extraValues[:i], 0) {
			return fmt.Errorf("extra counter value %d after a zero on one event: the trace processor reads it as 0", v)
		}
	}
	for i, uuid := range extraTracks {
		ct, ok := c.rep.Tracks[uuid]
		if !ok || ct.Counter == nil {
			return fmt.Errorf("extra counter value for track %d, which is not a declared counter track", uuid)
		}
		c.rep.Rows.CounterValues++
		if c.countOnly {
			continue
		}
		c.rep.Counters[uuid] = append(c.rep.Counters[uuid], extraValues[i])
		c.rep.CounterTimes[uuid] = append(c.rep.CounterTimes[uuid], ts)
	}
	for _, f := range e.GetFlowIds() {
		c.flowOut[f]++
		if !c.countOnly {
			c.flowFrom[f] = FlowEnd{ID: f, From: ts, FromName: name, FromCategory: cat}
			c.flowFromAt[f] = readAt{ts, c.rep.Packets}
		}
	}
	for _, f := range e.GetTerminatingFlowIds() {
		c.flowIn[f]++
		if !c.countOnly {
			c.flowTo[f] = ts
			c.flowToAt[f] = readAt{ts, c.rep.Packets}
		}
	}
	ev := event{seq: c.rep.Packets, ts: ts, typ: e.GetType(), slice: -1}
	switch e.GetType() {
	case pb.TrackEvent_TYPE_COUNTER:
		if t.Counter == nil {
			return fmt.Errorf("counter value on track %d (%q), which is not a counter track", uuid, t.Name)
		}
		c.rep.Rows.CounterValues++
		if !c.countOnly {
			c.rep.Counters[uuid] = append(c.rep.Counters[uuid], e.GetCounterValue())
			c.rep.CounterTimes[uuid] = append(c.rep.CounterTimes[uuid], ts)
		}
		return nil
	case pb.TrackEvent_TYPE_INSTANT, pb.TrackEvent_TYPE_SLICE_BEGIN:
		c.rep.Rows.Slices++
		if e.GetType() == pb.TrackEvent_TYPE_INSTANT {
			c.rep.Rows.Instants++
		}
	}
	if c.countOnly {
		if e.GetType() != pb.TrackEvent_TYPE_SLICE_END && e.GetType() != pb.TrackEvent_TYPE_INSTANT && e.GetType() != pb.TrackEvent_TYPE_SLICE_BEGIN {
			return fmt.Errorf("event of type %v", e.GetType())
		}
		if t.Counter != nil {
			return fmt.Errorf("%v event on counter track %q", e.GetType(), t.Name)
		}
		return nil
	}
	switch e.GetType() {
	case pb.TrackEvent_TYPE_INSTANT:
		c.rep.Instants = append(c.rep.Instants, Instant{Track: uuid, Name: name, Category: cat, Time: ts, Args: args})
	case pb.TrackEvent_TYPE_SLICE_BEGIN:
		ev.slice = len(c.rep.Slices)
		c.rep.Slices = append(c.rep.Slices, Slice{Track: uuid, Name: name, Category: cat, Start: ts, Args: args, Callstack: e.GetCallstackIid()})
	case pb.TrackEvent_TYPE_SLICE_END:
		if len(args) > 0 {
			ev.args = args
		}
	default:
		return fmt.Errorf("event of type %v", e.GetType())
	}
	if t.Counter != nil {
		return fmt.Errorf("%v event on counter track %q", e.GetType(), t.Name)
	}
	c.events[uuid] = append(c.events[uuid], ev)
	return nil
}

// finish checks that slices balance and nest on every track, in timestamp
// order as the trace processor sorts them, and that flows have both ends.
func (c *checker) finish() error {
	var errs []error
	for _, uuid := range slices.Sorted(mapsKeys(c.events)) {
		evs := c.events[uuid]
		slices.SortStableFunc(evs, func(a, b event) int {
			return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.seq, b.seq))
		})
		var stack []int
		for _, e := range evs {
			switch e.typ {
			case pb.TrackEvent_TYPE_SLICE_BEGIN:
				stack = append(stack, e.slice)
			case pb.TrackEvent_TYPE_SLICE_END:
				if len(stack) == 0 {
					errs = append(errs, fmt.Errorf("track %d (%q): slice end at %d with no slice open", uuid, c.rep.Tracks[uuid].Name, e.ts))
					continue
				}
				s := &c.rep.Slices[stack[len(stack)-1]]
				s.End = e.ts
				for k, v := range e.args {
					if s.Args == nil {
						s.Args = map[string]any{}
					}
					s.Args[k] = v
				}
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) > 0 {
			s := c.rep.Slices[stack[len(stack)-1]]
			errs = append(errs, fmt.Errorf("track %d (%q): %d slices never end, e.g. %q at %d", uuid, c.rep.Tracks[uuid].Name, len(stack), s.Name, s.Start))
		}
		if len(errs) > 10 {
			break
		}
	}
	for id, n := range c.flowIn {
		if c.flowOut[id] == 0 {
			errs = append(errs, fmt.Errorf("flow %d terminates (%d times) but never starts", id, n))
		}
	}
	for id, n := range c.flowOut {
		if n+c.flowIn[id] < 2 {
			errs = append(errs, fmt.Errorf("flow %d has only one end", id))
			continue
		}
		// The trace processor skips a terminating flow ID it has not
		// seen begin, and the begin then opens a flow nothing ends: no
		// flow, no arrow, and no error.
		if to, ok := c.flowToAt[id]; ok && n == 1 && c.flowIn[id] == 1 && to.before(c.flowFromAt[id]) {
			errs = append(errs, fmt.Errorf("flow %d ends (at %d) before it starts (at %d) in the order the trace processor reads events, which drops it", id, to.ts, c.flowFromAt[id].ts))
			continue
		}
		c.rep.Flows++
		c.rep.Rows.Flows++
		if end, ok := c.flowFrom[id]; ok && n == 1 && c.flowIn[id] == 1 {
			end.To = c.flowTo[id]
			c.rep.FlowEnds = append(c.rep.FlowEnds, end)
		}
	}
	return errors.Join(errs...)
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// unknownFields reports a field the schema does not know, or one written
// with a wire type that does not fit its declared kind (protobuf keeps such
// a field as unknown rather than failing). The trace processor would
// ignore it silently.
func unknownFields(m protoreflect.Message) error {
	if u := m.GetUnknown(); len(u) > 0 {
		num, typ, _ := protowire.ConsumeTag(u)
		return fmt.Errorf("%s has an unknown field %d (wire type %d)", m.Descriptor().FullName(), num, typ)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = unknownFields(l.Get(i).Message())
			}
		} else {
			err = unknownFields(v.Message())
		}
		return err == nil
	})
	return err
}
