// Package perfettocheck decodes a Perfetto trace with the generated protobuf
// types and checks what Perfetto's trace processor does not all report as
// errors: that every track is declared before use, every interned ID is
// defined before use, slices balance and nest on every track, and flows
// have both ends. It also tallies what the trace holds, so tests can
// compare it with the timeline it was made from.
package perfettocheck

import (
	"bufio"
	"cmp"
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
}

type event struct {
	seq   int // packet order, to keep sorting stable
	ts    uint64
	typ   pb.TrackEvent_Type
	slice int // index into Report.Slices for a begin
}

// Check decodes and checks the trace read from r.
func Check(r io.Reader) (*Report, error) {
	rep := &Report{Tracks: map[uint64]*Track{}, Counters: map[uint64][]int64{}, CounterTimes: map[uint64][]uint64{}, Frames: map[uint64][]string{}}
	c := &checker{
		rep: rep, names: map[uint64]string{}, cats: map[uint64]string{}, anns: map[uint64]string{},
		funcs: map[uint64]string{}, files: map[uint64]bool{}, mappings: map[uint64]bool{}, paths: map[uint64]bool{},
		frames: map[uint64]string{}, callstacks: map[uint64]bool{}, events: map[uint64][]event{},
		flowOut: map[uint64]int{}, flowIn: map[uint64]int{},
		flowFrom: map[uint64]FlowEnd{}, flowTo: map[uint64]uint64{},
	}
	br := bufio.NewReader(r)
	for {
		data, err := readPacket(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("packet %d: %w", rep.Packets, err)
		}
		var p pb.TracePacket
		if err := proto.Unmarshal(data, &p); err != nil {
			return rep, fmt.Errorf("packet %d: %w", rep.Packets, err)
		}
		if err := unknownFields(p.ProtoReflect()); err != nil {
			return rep, fmt.Errorf("packet %d: %w", rep.Packets, err)
		}
		if err := c.packet(&p); err != nil {
			return rep, fmt.Errorf("packet %d: %w", rep.Packets, err)
		}
		rep.Packets++
	}
	return rep, c.finish()
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
	}
	if p.GetSequenceFlags()&uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE) != 0 && !c.cleared {
		return errors.New("needs incremental state before any packet cleared it")
	}
	if err := c.interned(p.GetInternedData()); err != nil {
		return err
	}
	switch d := p.GetData().(type) {
	case *pb.TracePacket_TrackDescriptor:
		return c.track(d.TrackDescriptor)
	case *pb.TracePacket_TrackEvent:
		return c.event(p.GetTimestamp(), d.TrackEvent)
	case *pb.TracePacket_ClockSnapshot:
		c.rep.Clock = d.ClockSnapshot
	case *pb.TracePacket_PerfSample:
		if id := d.PerfSample.GetCallstackIid(); id != 0 && !c.callstacks[id] {
			return fmt.Errorf("perf sample uses callstack %d before it is interned", id)
		}
		c.rep.PerfSamples++
	}
	return nil
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
	if _, ok := c.rep.Tracks[uuid]; ok {
		return fmt.Errorf("track %d declared twice", uuid)
	}
	if p := d.GetParentUuid(); p != 0 {
		if _, ok := c.rep.Tracks[p]; !ok {
			return fmt.Errorf("track %d (%q) declared before its parent %d", uuid, d.GetName(), p)
		}
	}
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
	}
	// Counter values for other tracks can ride on any event.
	extraTracks, extraValues := e.GetExtraCounterTrackUuids(), e.GetExtraCounterValues()
	if len(extraTracks) != len(extraValues) {
		return fmt.Errorf("%d extra counter tracks for %d extra counter values", len(extraTracks), len(extraValues))
	}
	if len(extraValues) > maxExtraCounters {
		return fmt.Errorf("%d extra counter values; the trace processor takes %d", len(extraValues), maxExtraCounters)
	}
	for i, uuid := range extraTracks {
		ct, ok := c.rep.Tracks[uuid]
		if !ok || ct.Counter == nil {
			return fmt.Errorf("extra counter value for track %d, which is not a declared counter track", uuid)
		}
		c.rep.Counters[uuid] = append(c.rep.Counters[uuid], extraValues[i])
		c.rep.CounterTimes[uuid] = append(c.rep.CounterTimes[uuid], ts)
	}
	for _, f := range e.GetFlowIds() {
		c.flowOut[f]++
		c.flowFrom[f] = FlowEnd{ID: f, From: ts, FromName: name, FromCategory: cat}
	}
	for _, f := range e.GetTerminatingFlowIds() {
		c.flowIn[f]++
		c.flowTo[f] = ts
	}
	ev := event{seq: c.rep.Packets, ts: ts, typ: e.GetType(), slice: -1}
	switch e.GetType() {
	case pb.TrackEvent_TYPE_COUNTER:
		if t.Counter == nil {
			return fmt.Errorf("counter value on track %d (%q), which is not a counter track", uuid, t.Name)
		}
		c.rep.Counters[uuid] = append(c.rep.Counters[uuid], e.GetCounterValue())
		c.rep.CounterTimes[uuid] = append(c.rep.CounterTimes[uuid], ts)
		return nil
	case pb.TrackEvent_TYPE_INSTANT:
		c.rep.Instants = append(c.rep.Instants, Instant{Track: uuid, Name: name, Category: cat, Time: ts, Args: args})
	case pb.TrackEvent_TYPE_SLICE_BEGIN:
		ev.slice = len(c.rep.Slices)
		c.rep.Slices = append(c.rep.Slices, Slice{Track: uuid, Name: name, Category: cat, Start: ts, Args: args, Callstack: e.GetCallstackIid()})
	case pb.TrackEvent_TYPE_SLICE_END:
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
		c.rep.Flows++
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
