package perfettopb

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const seqID = 7

// sampleTrace builds a small trace touching every message kind: a clock
// snapshot, process and thread track descriptors, interned names and a
// callstack, a slice begin/end pair with a debug annotation, a flow and a
// callstack, a counter, and a PerfSample.
func sampleTrace() *Trace {
	seq := func() *TracePacket_TrustedPacketSequenceId {
		return &TracePacket_TrustedPacketSequenceId{TrustedPacketSequenceId: seqID}
	}
	return &Trace{Packet: []*TracePacket{
		{
			Timestamp:                       proto.Uint64(1000),
			OptionalTrustedPacketSequenceId: seq(),
			SequenceFlags:                   proto.Uint32(uint32(TracePacket_SEQ_INCREMENTAL_STATE_CLEARED)),
			FirstPacketOnSequence:           proto.Bool(true),
			TracePacketDefaults:             &TracePacketDefaults{TimestampClockId: proto.Uint32(uint32(BuiltinClock_BUILTIN_CLOCK_BOOTTIME))},
			Data: &TracePacket_ClockSnapshot{ClockSnapshot: &ClockSnapshot{
				Clocks: []*ClockSnapshot_Clock{
					{ClockId: proto.Uint32(uint32(BuiltinClock_BUILTIN_CLOCK_BOOTTIME)), Timestamp: proto.Uint64(1000)},
					{ClockId: proto.Uint32(uint32(BuiltinClock_BUILTIN_CLOCK_REALTIME)), Timestamp: proto.Uint64(1_700_000_000_000_000_000)},
				},
				PrimaryTraceClock: BuiltinClock_BUILTIN_CLOCK_BOOTTIME.Enum(),
			}},
		},
		{
			OptionalTrustedPacketSequenceId: seq(),
			Data: &TracePacket_TrackDescriptor{TrackDescriptor: &TrackDescriptor{
				Uuid:                proto.Uint64(1),
				Process:             &ProcessDescriptor{Pid: proto.Int32(42), ProcessName: proto.String("server")},
				ChildOrdering:       TrackDescriptor_EXPLICIT.Enum(),
				SiblingOrderRank:    proto.Int32(-1),
				StaticOrDynamicName: &TrackDescriptor_Name{Name: "server"},
			}},
		},
		{
			OptionalTrustedPacketSequenceId: seq(),
			Data: &TracePacket_TrackDescriptor{TrackDescriptor: &TrackDescriptor{
				Uuid:                 proto.Uint64(2),
				ParentUuid:           proto.Uint64(1),
				Thread:               &ThreadDescriptor{Pid: proto.Int32(42), Tid: proto.Int32(43), ThreadName: proto.String("worker")},
				Description:          proto.String("the worker thread"),
				SiblingMergeBehavior: TrackDescriptor_SIBLING_MERGE_BEHAVIOR_NONE.Enum(),
				SiblingMergeKeyField: &TrackDescriptor_SiblingMergeKey{SiblingMergeKey: "k"},
			}},
		},
		{
			OptionalTrustedPacketSequenceId: seq(),
			Data: &TracePacket_TrackDescriptor{TrackDescriptor: &TrackDescriptor{
				Uuid:                proto.Uint64(3),
				ParentUuid:          proto.Uint64(1),
				StaticOrDynamicName: &TrackDescriptor_Name{Name: "queue depth"},
				Counter: &CounterDescriptor{
					Unit:          CounterDescriptor_UNIT_COUNT.Enum(),
					UnitName:      proto.String("items"),
					YAxisShareKey: proto.String("queues"),
				},
			}},
		},
		{
			Timestamp:                       proto.Uint64(2000),
			OptionalTrustedPacketSequenceId: seq(),
			SequenceFlags:                   proto.Uint32(uint32(TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
			InternedData: &InternedData{
				EventCategories:      []*EventCategory{{Iid: proto.Uint64(1), Name: proto.String("rpc")}},
				EventNames:           []*EventName{{Iid: proto.Uint64(1), Name: proto.String("handle")}},
				DebugAnnotationNames: []*DebugAnnotationName{{Iid: proto.Uint64(1), Name: proto.String("bytes")}},
				FunctionNames:        []*InternedString{{Iid: proto.Uint64(1), Str: []byte("main")}, {Iid: proto.Uint64(2), Str: []byte("handle")}},
				MappingPaths:         []*InternedString{{Iid: proto.Uint64(1), Str: []byte("server")}},
				Mappings:             []*Mapping{{Iid: proto.Uint64(1), PathStringIds: []uint64{1}}},
				Frames: []*Frame{
					{Iid: proto.Uint64(1), FunctionNameId: proto.Uint64(1), MappingId: proto.Uint64(1), RelPc: proto.Uint64(0x10)},
					{Iid: proto.Uint64(2), FunctionNameId: proto.Uint64(2), MappingId: proto.Uint64(1), RelPc: proto.Uint64(0x20)},
				},
				Callstacks: []*Callstack{{Iid: proto.Uint64(1), FrameIds: []uint64{1, 2}}},
			},
			Data: &TracePacket_TrackEvent{TrackEvent: &TrackEvent{
				CategoryIids: []uint64{1},
				NameField:    &TrackEvent_NameIid{NameIid: 1},
				Type:         TrackEvent_TYPE_SLICE_BEGIN.Enum(),
				TrackUuid:    proto.Uint64(2),
				FlowIds:      []uint64{0xDEADBEEF},
				DebugAnnotations: []*DebugAnnotation{
					{NameField: &DebugAnnotation_NameIid{NameIid: 1}, Value: &DebugAnnotation_IntValue{IntValue: -5}},
					{NameField: &DebugAnnotation_Name{Name: "peer"}, Value: &DebugAnnotation_StringValue{StringValue: "10.0.0.1"}},
				},
				CallstackField: &TrackEvent_CallstackIid{CallstackIid: 1},
			}},
		},
		{
			Timestamp:                       proto.Uint64(2500),
			OptionalTrustedPacketSequenceId: seq(),
			SequenceFlags:                   proto.Uint32(uint32(TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
			Data: &TracePacket_PerfSample{PerfSample: &PerfSample{
				Cpu: proto.Uint32(0), Pid: proto.Uint32(42), Tid: proto.Uint32(43),
				CpuMode:      Profiling_MODE_USER.Enum(),
				CallstackIid: proto.Uint64(1),
			}},
		},
		{
			Timestamp:                       proto.Uint64(2600),
			OptionalTrustedPacketSequenceId: seq(),
			Data: &TracePacket_TrackEvent{TrackEvent: &TrackEvent{
				Type:              TrackEvent_TYPE_COUNTER.Enum(),
				TrackUuid:         proto.Uint64(3),
				CounterValueField: &TrackEvent_DoubleCounterValue{DoubleCounterValue: 1.5},
			}},
		},
		{
			Timestamp:                       proto.Uint64(3000),
			OptionalTrustedPacketSequenceId: seq(),
			Data: &TracePacket_TrackEvent{TrackEvent: &TrackEvent{
				Type:      TrackEvent_TYPE_SLICE_END.Enum(),
				TrackUuid: proto.Uint64(2),
				CallstackField: &TrackEvent_Callstack_{Callstack: &TrackEvent_Callstack{Frames: []*TrackEvent_Callstack_Frame{
					{FunctionName: proto.String("main"), SourceFile: proto.String("main.go"), LineNumber: proto.Uint32(10)},
				}}},
			}},
		},
	}}
}

func TestRoundTrip(t *testing.T) {
	in := sampleTrace()
	b, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &Trace{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip mismatch:\n in: %v\nout: %v", in, out)
	}
}

// wireField is one field of an encoded message.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	raw []byte // the value's bytes (for BytesType, the payload)
	v   uint64 // varint / fixed value
}

func parseWire(t *testing.T, b []byte) []wireField {
	t.Helper()
	var fs []wireField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := wireField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.v = uint64(v)
		case protowire.BytesType:
			f.raw, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
		if n < 0 {
			t.Fatalf("bad value for field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		fs = append(fs, f)
	}
	return fs
}

// find returns the only field num in fs, failing if it is absent, repeated or
// of another wire type.
func find(t *testing.T, fs []wireField, num protowire.Number, typ protowire.Type) wireField {
	t.Helper()
	var got []wireField
	for _, f := range fs {
		if f.num == num {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("field %d: found %d times in %v, want once", num, len(got), fs)
	}
	if got[0].typ != typ {
		t.Fatalf("field %d: wire type %v, want %v", num, got[0].typ, typ)
	}
	return got[0]
}

// TestWireNumbers checks raw tags against the numbers read upstream, so a
// wrong number in perfetto.proto fails here rather than in the Perfetto UI.
func TestWireNumbers(t *testing.T) {
	b, err := proto.Marshal(sampleTrace())
	if err != nil {
		t.Fatal(err)
	}
	top := parseWire(t, b)
	var packets [][]wireField
	for _, f := range top {
		if f.num != 1 || f.typ != protowire.BytesType { // Trace.packet = 1
			t.Fatalf("Trace: unexpected field %d type %v", f.num, f.typ)
		}
		packets = append(packets, parseWire(t, f.raw))
	}
	if len(packets) != 8 {
		t.Fatalf("got %d packets, want 8", len(packets))
	}

	// Packet 0: clock snapshot.
	p := packets[0]
	if find(t, p, 8, protowire.VarintType).v != 1000 { // timestamp
		t.Error("TracePacket.timestamp != 8")
	}
	if find(t, p, 10, protowire.VarintType).v != seqID { // trusted_packet_sequence_id
		t.Error("TracePacket.trusted_packet_sequence_id != 10")
	}
	if find(t, p, 13, protowire.VarintType).v != 1 { // sequence_flags
		t.Error("TracePacket.sequence_flags != 13")
	}
	find(t, p, 87, protowire.VarintType) // first_packet_on_sequence
	defs := parseWire(t, find(t, p, 59, protowire.BytesType).raw)
	if find(t, defs, 58, protowire.VarintType).v != 6 { // timestamp_clock_id = BOOTTIME(6)
		t.Error("TracePacketDefaults.timestamp_clock_id != 58 or BOOTTIME != 6")
	}
	cs := parseWire(t, find(t, p, 6, protowire.BytesType).raw) // clock_snapshot
	if find(t, cs, 2, protowire.VarintType).v != 6 {           // primary_trace_clock
		t.Error("ClockSnapshot.primary_trace_clock != 2")
	}
	var realtime bool
	for _, f := range cs {
		if f.num == 1 { // clocks
			c := parseWire(t, f.raw)
			if find(t, c, 1, protowire.VarintType).v == 1 && find(t, c, 2, protowire.VarintType).v == 1_700_000_000_000_000_000 {
				realtime = true
			}
		}
	}
	if !realtime {
		t.Error("ClockSnapshot.Clock{clock_id=1, timestamp=2} REALTIME entry not found")
	}

	// Packet 1: process track.
	td := parseWire(t, find(t, packets[1], 60, protowire.BytesType).raw) // track_descriptor
	find(t, td, 1, protowire.VarintType)                                 // uuid
	if string(find(t, td, 2, protowire.BytesType).raw) != "server" {     // name
		t.Error("TrackDescriptor.name != 2")
	}
	if find(t, td, 11, protowire.VarintType).v != 3 { // child_ordering = EXPLICIT(3)
		t.Error("TrackDescriptor.child_ordering != 11")
	}
	if int64(find(t, td, 12, protowire.VarintType).v) != -1 { // sibling_order_rank, sign-extended
		t.Error("TrackDescriptor.sibling_order_rank != 12")
	}
	pd := parseWire(t, find(t, td, 3, protowire.BytesType).raw) // process
	if find(t, pd, 1, protowire.VarintType).v != 42 {           // pid
		t.Error("ProcessDescriptor.pid != 1")
	}
	if string(find(t, pd, 6, protowire.BytesType).raw) != "server" { // process_name
		t.Error("ProcessDescriptor.process_name != 6")
	}

	// Packet 2: thread track.
	td = parseWire(t, find(t, packets[2], 60, protowire.BytesType).raw)
	if find(t, td, 5, protowire.VarintType).v != 1 { // parent_uuid
		t.Error("TrackDescriptor.parent_uuid != 5")
	}
	if string(find(t, td, 14, protowire.BytesType).raw) != "the worker thread" {
		t.Error("TrackDescriptor.description != 14")
	}
	if find(t, td, 15, protowire.VarintType).v != 2 { // sibling_merge_behavior = NONE(2)
		t.Error("TrackDescriptor.sibling_merge_behavior != 15")
	}
	if string(find(t, td, 16, protowire.BytesType).raw) != "k" {
		t.Error("TrackDescriptor.sibling_merge_key != 16")
	}
	th := parseWire(t, find(t, td, 4, protowire.BytesType).raw) // thread
	if find(t, th, 1, protowire.VarintType).v != 42 || find(t, th, 2, protowire.VarintType).v != 43 {
		t.Error("ThreadDescriptor pid/tid != 1/2")
	}
	if string(find(t, th, 5, protowire.BytesType).raw) != "worker" {
		t.Error("ThreadDescriptor.thread_name != 5")
	}

	// Packet 3: counter track.
	td = parseWire(t, find(t, packets[3], 60, protowire.BytesType).raw)
	cd := parseWire(t, find(t, td, 8, protowire.BytesType).raw) // counter
	if find(t, cd, 3, protowire.VarintType).v != 2 {            // unit = UNIT_COUNT(2)
		t.Error("CounterDescriptor.unit != 3")
	}
	if string(find(t, cd, 6, protowire.BytesType).raw) != "items" {
		t.Error("CounterDescriptor.unit_name != 6")
	}
	if string(find(t, cd, 7, protowire.BytesType).raw) != "queues" {
		t.Error("CounterDescriptor.y_axis_share_key != 7")
	}

	// Packet 4: interned data + slice begin.
	p = packets[4]
	if find(t, p, 13, protowire.VarintType).v != 2 { // SEQ_NEEDS_INCREMENTAL_STATE
		t.Error("SEQ_NEEDS_INCREMENTAL_STATE != 2")
	}
	id := parseWire(t, find(t, p, 12, protowire.BytesType).raw) // interned_data
	en := parseWire(t, find(t, id, 2, protowire.BytesType).raw) // event_names
	if find(t, en, 1, protowire.VarintType).v != 1 || string(find(t, en, 2, protowire.BytesType).raw) != "handle" {
		t.Error("InternedData.event_names != 2 or EventName{iid=1,name=2} wrong")
	}
	find(t, id, 1, protowire.BytesType)  // event_categories
	find(t, id, 3, protowire.BytesType)  // debug_annotation_names
	find(t, id, 17, protowire.BytesType) // mapping_paths
	find(t, id, 19, protowire.BytesType) // mappings
	find(t, id, 7, protowire.BytesType)  // callstacks
	var frames, fnames int
	for _, f := range id {
		switch f.num {
		case 6: // frames
			frames++
			fr := parseWire(t, f.raw)
			find(t, fr, 2, protowire.VarintType) // function_name_id
			find(t, fr, 3, protowire.VarintType) // mapping_id
			find(t, fr, 4, protowire.VarintType) // rel_pc
		case 5: // function_names
			fnames++
			s := parseWire(t, f.raw)
			find(t, s, 2, protowire.BytesType) // InternedString.str
		}
	}
	if frames != 2 || fnames != 2 {
		t.Errorf("InternedData.frames(6)=%d function_names(5)=%d, want 2 and 2", frames, fnames)
	}
	te := parseWire(t, find(t, p, 11, protowire.BytesType).raw) // track_event
	if find(t, te, 9, protowire.VarintType).v != 1 {            // type = TYPE_SLICE_BEGIN(1)
		t.Error("TrackEvent.type != 9")
	}
	if find(t, te, 11, protowire.VarintType).v != 2 { // track_uuid
		t.Error("TrackEvent.track_uuid != 11")
	}
	if find(t, te, 10, protowire.VarintType).v != 1 { // name_iid
		t.Error("TrackEvent.name_iid != 10")
	}
	// proto2 repeated scalars are unpacked (upstream sets no [packed = true]):
	// each category iid is its own varint field and each flow id its own
	// fixed64 field.
	if find(t, te, 3, protowire.VarintType).v != 1 { // category_iids
		t.Error("TrackEvent.category_iids != 3")
	}
	if find(t, te, 47, protowire.Fixed64Type).v != 0xDEADBEEF {
		t.Error("TrackEvent.flow_ids != 47 (fixed64)")
	}
	if find(t, te, 56, protowire.VarintType).v != 1 { // callstack_iid
		t.Error("TrackEvent.callstack_iid != 56")
	}
	var annNames []string
	for _, f := range te {
		if f.num != 4 { // debug_annotations
			continue
		}
		da := parseWire(t, f.raw)
		for _, g := range da {
			switch {
			case g.num == 1 && g.typ == protowire.VarintType: // name_iid
				annNames = append(annNames, "iid")
				if int64(find(t, da, 4, protowire.VarintType).v) != -5 { // int_value
					t.Error("DebugAnnotation.int_value != 4")
				}
			case g.num == 10 && g.typ == protowire.BytesType: // name
				annNames = append(annNames, string(g.raw))
				if string(find(t, da, 6, protowire.BytesType).raw) != "10.0.0.1" { // string_value
					t.Error("DebugAnnotation.string_value != 6")
				}
			}
		}
	}
	if len(annNames) != 2 || annNames[0] != "iid" || annNames[1] != "peer" {
		t.Errorf("DebugAnnotation names (name_iid=1, name=10) = %v", annNames)
	}

	// Packet 5: PerfSample.
	ps := parseWire(t, find(t, packets[5], 66, protowire.BytesType).raw) // perf_sample
	if find(t, ps, 2, protowire.VarintType).v != 42 || find(t, ps, 3, protowire.VarintType).v != 43 {
		t.Error("PerfSample pid/tid != 2/3")
	}
	if find(t, ps, 4, protowire.VarintType).v != 1 { // callstack_iid
		t.Error("PerfSample.callstack_iid != 4")
	}
	if find(t, ps, 5, protowire.VarintType).v != 2 { // cpu_mode = MODE_USER(2)
		t.Error("PerfSample.cpu_mode != 5")
	}

	// Packet 6: double counter value.
	te = parseWire(t, find(t, packets[6], 11, protowire.BytesType).raw)
	if find(t, te, 9, protowire.VarintType).v != 4 { // TYPE_COUNTER
		t.Error("TYPE_COUNTER != 4")
	}
	find(t, te, 44, protowire.Fixed64Type) // double_counter_value

	// Packet 7: slice end with inline callstack.
	te = parseWire(t, find(t, packets[7], 11, protowire.BytesType).raw)
	if find(t, te, 9, protowire.VarintType).v != 2 { // TYPE_SLICE_END
		t.Error("TYPE_SLICE_END != 2")
	}
	ic := parseWire(t, find(t, te, 55, protowire.BytesType).raw) // callstack
	fr := parseWire(t, find(t, ic, 1, protowire.BytesType).raw)  // frames
	if string(find(t, fr, 1, protowire.BytesType).raw) != "main" ||
		string(find(t, fr, 2, protowire.BytesType).raw) != "main.go" ||
		find(t, fr, 3, protowire.VarintType).v != 10 {
		t.Error("TrackEvent.Callstack.Frame{function_name=1, source_file=2, line_number=3} wrong")
	}
}

// upstreamNumbers is every field of perfetto.proto with the number found
// upstream (see README.md). It is a second copy on purpose: an edit to
// perfetto.proto that changes a number, or a field added without a line
// here, fails TestDescriptorNumbers.
var upstreamNumbers = map[string]map[string]protoreflect.FieldNumber{
	"Trace": {"packet": 1},
	"TracePacket": {
		"timestamp": 8, "timestamp_clock_id": 58, "track_event": 11, "track_descriptor": 60,
		"clock_snapshot": 6, "streaming_profile_packet": 54, "perf_sample": 66, "compressed_packets": 50,
		"trusted_packet_sequence_id": 10, "interned_data": 12, "sequence_flags": 13,
		"incremental_state_cleared": 41, "trace_packet_defaults": 59, "first_packet_on_sequence": 87,
	},
	"TracePacketDefaults": {"timestamp_clock_id": 58, "track_event_defaults": 11},
	"ClockSnapshot":       {"clocks": 1, "primary_trace_clock": 2},
	"ClockSnapshot.Clock": {"clock_id": 1, "timestamp": 2, "is_incremental": 3, "unit_multiplier_ns": 4},
	"TrackDescriptor": {
		"uuid": 1, "parent_uuid": 5, "name": 2, "static_name": 10, "atrace_name": 13, "description": 14,
		"process": 3, "thread": 4, "counter": 8, "disallow_merging_with_system_tracks": 9,
		"child_ordering": 11, "sibling_order_rank": 12, "sibling_merge_behavior": 15,
		"sibling_merge_key": 16, "sibling_merge_key_int": 17,
	},
	"ProcessDescriptor": {"pid": 1, "cmdline": 2, "process_name": 6, "start_timestamp_ns": 7},
	"ThreadDescriptor": {
		"pid": 1, "tid": 2, "thread_name": 5, "reference_timestamp_us": 6, "reference_thread_time_us": 7,
	},
	"CounterDescriptor": {
		"type": 1, "categories": 2, "unit": 3, "unit_name": 6, "unit_multiplier": 4,
		"is_incremental": 5, "y_axis_share_key": 7,
	},
	"TrackEvent": {
		"category_iids": 3, "categories": 22, "name_iid": 10, "name": 23, "type": 9, "track_uuid": 11,
		"counter_value": 30, "double_counter_value": 44, "extra_counter_track_uuids": 31,
		"extra_counter_values": 12, "extra_double_counter_track_uuids": 45,
		"extra_double_counter_values": 46, "flow_ids": 47, "terminating_flow_ids": 48,
		"correlation_id": 52, "correlation_id_str": 53, "correlation_id_str_iid": 54,
		"callstack": 55, "callstack_iid": 56, "debug_annotations": 4, "log_message": 21,
		"source_location": 33, "source_location_iid": 34,
	},
	"TrackEvent.Callstack":       {"frames": 1},
	"TrackEvent.Callstack.Frame": {"function_name": 1, "source_file": 2, "line_number": 3},
	"TrackEventDefaults": {
		"track_uuid": 11, "extra_counter_track_uuids": 31, "extra_double_counter_track_uuids": 45,
	},
	"EventCategory": {"iid": 1, "name": 2},
	"EventName":     {"iid": 1, "name": 2},
	"DebugAnnotation": {
		"name_iid": 1, "name": 10, "bool_value": 2, "uint_value": 3, "int_value": 4,
		"double_value": 5, "pointer_value": 7, "string_value": 6, "string_value_iid": 17,
		"dict_entries": 11, "array_values": 12,
	},
	"DebugAnnotationName": {"iid": 1, "name": 2},
	"SourceLocation":      {"iid": 1, "file_name": 2, "function_name": 3, "line_number": 4},
	"LogMessage":          {"source_location_iid": 1, "body_iid": 2},
	"LogMessageBody":      {"iid": 1, "body": 2},
	"InternedData": {
		"event_categories": 1, "event_names": 2, "debug_annotation_names": 3, "source_locations": 4,
		"log_message_body": 20, "build_ids": 16, "mapping_paths": 17, "source_paths": 18,
		"function_names": 5, "mappings": 19, "frames": 6, "callstacks": 7,
		"debug_annotation_string_values": 29, "correlation_id_str": 43,
	},
	"InternedString": {"iid": 1, "str": 2},
	"Mapping": {
		"iid": 1, "build_id": 2, "exact_offset": 8, "start_offset": 3, "start": 4, "end": 5,
		"load_bias": 6, "path_string_ids": 7,
	},
	"Frame": {
		"iid": 1, "function_name_id": 2, "mapping_id": 3, "rel_pc": 4, "source_path_iid": 5,
		"line_number": 6, "kind": 7, "kind_str": 8,
	},
	"Callstack":              {"iid": 1, "frame_ids": 2},
	"StreamingProfilePacket": {"callstack_iid": 1, "timestamp_delta_us": 2},
	"Profiling":              {},
	"PerfSample":             {"cpu": 1, "pid": 2, "tid": 3, "cpu_mode": 5, "callstack_iid": 4},
}

func TestDescriptorNumbers(t *testing.T) {
	fd := File_convert_perfetto_perfettopb_perfetto_proto
	if fd.Package() != "perfetto.protos" {
		t.Fatalf("package %q, want perfetto.protos", fd.Package())
	}
	seen := map[string]bool{}
	var walk func(protoreflect.MessageDescriptors, string)
	walk = func(ms protoreflect.MessageDescriptors, prefix string) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			name := prefix + string(m.Name())
			seen[name] = true
			want, ok := upstreamNumbers[name]
			if !ok {
				t.Errorf("message %s has no entry in upstreamNumbers", name)
			}
			fs := m.Fields()
			for j := 0; j < fs.Len(); j++ {
				f := fs.Get(j)
				n, ok := want[string(f.Name())]
				switch {
				case !ok:
					t.Errorf("%s.%s (= %d) has no entry in upstreamNumbers", name, f.Name(), f.Number())
				case n != f.Number():
					t.Errorf("%s.%s = %d, upstream has %d", name, f.Name(), f.Number(), n)
				}
			}
			if fs.Len() != len(want) {
				t.Errorf("%s has %d fields, upstreamNumbers lists %d", name, fs.Len(), len(want))
			}
			walk(m.Messages(), name+".")
		}
	}
	walk(fd.Messages(), "")
	for name := range upstreamNumbers {
		if !seen[name] {
			t.Errorf("upstreamNumbers lists %s, which perfetto.proto lacks", name)
		}
	}
}

// TestEnumValues pins the enum values the converter relies on.
func TestEnumValues(t *testing.T) {
	checks := []struct {
		name string
		got  int32
		want int32
	}{
		{"BUILTIN_CLOCK_REALTIME", int32(BuiltinClock_BUILTIN_CLOCK_REALTIME), 1},
		{"BUILTIN_CLOCK_MONOTONIC", int32(BuiltinClock_BUILTIN_CLOCK_MONOTONIC), 3},
		{"BUILTIN_CLOCK_BOOTTIME", int32(BuiltinClock_BUILTIN_CLOCK_BOOTTIME), 6},
		{"SEQ_INCREMENTAL_STATE_CLEARED", int32(TracePacket_SEQ_INCREMENTAL_STATE_CLEARED), 1},
		{"SEQ_NEEDS_INCREMENTAL_STATE", int32(TracePacket_SEQ_NEEDS_INCREMENTAL_STATE), 2},
		{"TYPE_SLICE_BEGIN", int32(TrackEvent_TYPE_SLICE_BEGIN), 1},
		{"TYPE_SLICE_END", int32(TrackEvent_TYPE_SLICE_END), 2},
		{"TYPE_INSTANT", int32(TrackEvent_TYPE_INSTANT), 3},
		{"TYPE_COUNTER", int32(TrackEvent_TYPE_COUNTER), 4},
		{"LEXICOGRAPHIC", int32(TrackDescriptor_LEXICOGRAPHIC), 1},
		{"CHRONOLOGICAL", int32(TrackDescriptor_CHRONOLOGICAL), 2},
		{"EXPLICIT", int32(TrackDescriptor_EXPLICIT), 3},
		{"SIBLING_MERGE_BEHAVIOR_BY_TRACK_NAME", int32(TrackDescriptor_SIBLING_MERGE_BEHAVIOR_BY_TRACK_NAME), 1},
		{"SIBLING_MERGE_BEHAVIOR_NONE", int32(TrackDescriptor_SIBLING_MERGE_BEHAVIOR_NONE), 2},
		{"SIBLING_MERGE_BEHAVIOR_BY_SIBLING_MERGE_KEY", int32(TrackDescriptor_SIBLING_MERGE_BEHAVIOR_BY_SIBLING_MERGE_KEY), 3},
		{"UNIT_TIME_NS", int32(CounterDescriptor_UNIT_TIME_NS), 1},
		{"UNIT_COUNT", int32(CounterDescriptor_UNIT_COUNT), 2},
		{"UNIT_SIZE_BYTES", int32(CounterDescriptor_UNIT_SIZE_BYTES), 3},
		{"MODE_KERNEL", int32(Profiling_MODE_KERNEL), 1},
		{"MODE_USER", int32(Profiling_MODE_USER), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, upstream has %d", c.name, c.got, c.want)
		}
	}
}
