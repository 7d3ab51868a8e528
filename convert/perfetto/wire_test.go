package perfetto

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
)

// TestFieldNumbers checks every field number the writer encodes by hand
// against the generated descriptors, which carry upstream's numbers, and
// that the wire type the writer uses fits the field's kind.
func TestFieldNumbers(t *testing.T) {
	const (
		varint = iota
		fixed64
		bytes
	)
	md := func(m interface{ ProtoReflect() protoreflect.Message }) protoreflect.MessageDescriptor {
		return m.ProtoReflect().Descriptor()
	}
	for _, c := range []struct {
		msg   protoreflect.MessageDescriptor
		field protoreflect.Name
		num   int
		wire  int
	}{
		{md(&pb.Trace{}), "packet", fTracePacket, bytes},
		{md(&pb.TracePacket{}), "timestamp", fPktTimestamp, varint},
		{md(&pb.TracePacket{}), "trusted_packet_sequence_id", fPktSequenceID, varint},
		{md(&pb.TracePacket{}), "sequence_flags", fPktSequenceFlags, varint},
		{md(&pb.TracePacket{}), "interned_data", fPktInternedData, bytes},
		{md(&pb.TracePacket{}), "track_event", fPktTrackEvent, bytes},
		{md(&pb.TracePacket{}), "track_descriptor", fPktTrackDescriptor, bytes},
		{md(&pb.TracePacket{}), "clock_snapshot", fPktClockSnapshot, bytes},
		{md(&pb.TracePacket{}), "perf_sample", fPktPerfSample, bytes},
		{md(&pb.TracePacket{}), "first_packet_on_sequence", fPktFirstOnSequence, varint},
		{md(&pb.TracePacket{}), "timestamp_clock_id", fPktTimestampClockID, varint},
		{md(&pb.TracePacket{}), "trace_packet_defaults", fPktDefaults, bytes},
		{md(&pb.TracePacketDefaults{}), "timestamp_clock_id", fDefTimestampClockID, varint},
		{md(&pb.ClockSnapshot_Clock{}), "is_incremental", fCsIncremental, varint},
		{md(&pb.TrackEvent{}), "type", fEvType, varint},
		{md(&pb.TrackEvent{}), "track_uuid", fEvTrackUUID, varint},
		{md(&pb.TrackEvent{}), "name_iid", fEvNameIID, varint},
		{md(&pb.TrackEvent{}), "category_iids", fEvCategoryIIDs, varint},
		{md(&pb.TrackEvent{}), "counter_value", fEvCounterValue, varint},
		{md(&pb.TrackEvent{}), "extra_counter_track_uuids", fEvExtraCounterTrackUUIDs, varint},
		{md(&pb.TrackEvent{}), "extra_counter_values", fEvExtraCounterValues, varint},
		{md(&pb.TrackEvent{}), "debug_annotations", fEvDebugAnnotations, bytes},
		{md(&pb.TrackEvent{}), "flow_ids", fEvFlowIDs, fixed64},
		{md(&pb.TrackEvent{}), "terminating_flow_ids", fEvTerminatingFlowIDs, fixed64},
		{md(&pb.TrackEvent{}), "correlation_id", fEvCorrelationID, varint},
		{md(&pb.TrackEvent{}), "callstack_iid", fEvCallstackIID, varint},
		{md(&pb.DebugAnnotation{}), "name_iid", fDaNameIID, varint},
		{md(&pb.DebugAnnotation{}), "bool_value", fDaBoolValue, varint},
		{md(&pb.DebugAnnotation{}), "uint_value", fDaUintValue, varint},
		{md(&pb.DebugAnnotation{}), "int_value", fDaIntValue, varint},
		{md(&pb.DebugAnnotation{}), "string_value", fDaStringValue, bytes},
		{md(&pb.InternedData{}), "event_categories", fIntEventCategories, bytes},
		{md(&pb.InternedData{}), "event_names", fIntEventNames, bytes},
		{md(&pb.InternedData{}), "debug_annotation_names", fIntDebugAnnotationNames, bytes},
		{md(&pb.InternedData{}), "function_names", fIntFunctionNames, bytes},
		{md(&pb.InternedData{}), "frames", fIntFrames, bytes},
		{md(&pb.InternedData{}), "callstacks", fIntCallstacks, bytes},
		{md(&pb.InternedData{}), "source_paths", fIntSourcePaths, bytes},
		{md(&pb.InternedData{}), "mappings", fIntMappings, bytes},
		{md(&pb.InternedData{}), "mapping_paths", fIntMappingPaths, bytes},
		{md(&pb.EventName{}), "iid", fIIDIID, varint},
		{md(&pb.EventName{}), "name", fIIDName, bytes},
		{md(&pb.EventCategory{}), "iid", fIIDIID, varint},
		{md(&pb.EventCategory{}), "name", fIIDName, bytes},
		{md(&pb.DebugAnnotationName{}), "iid", fIIDIID, varint},
		{md(&pb.DebugAnnotationName{}), "name", fIIDName, bytes},
		{md(&pb.InternedString{}), "iid", fIIDIID, varint},
		{md(&pb.InternedString{}), "str", fIIDName, bytes},
		{md(&pb.Frame{}), "iid", fFrameIID, varint},
		{md(&pb.Frame{}), "function_name_id", fFrameFunctionNameID, varint},
		{md(&pb.Frame{}), "mapping_id", fFrameMappingID, varint},
		{md(&pb.Frame{}), "rel_pc", fFrameRelPC, varint},
		{md(&pb.Frame{}), "source_path_iid", fFrameSourcePathIID, varint},
		{md(&pb.Frame{}), "line_number", fFrameLineNumber, varint},
		{md(&pb.Mapping{}), "iid", fMappingIID, varint},
		{md(&pb.Mapping{}), "path_string_ids", fMappingPathStringIDs, varint},
		{md(&pb.Callstack{}), "iid", fCallstackIID, varint},
		{md(&pb.Callstack{}), "frame_ids", fCallstackFrameIDs, varint},
		{md(&pb.TrackDescriptor{}), "uuid", fTdUUID, varint},
		{md(&pb.TrackDescriptor{}), "parent_uuid", fTdParentUUID, varint},
		{md(&pb.TrackDescriptor{}), "name", fTdName, bytes},
		{md(&pb.TrackDescriptor{}), "process", fTdProcess, bytes},
		{md(&pb.TrackDescriptor{}), "thread", fTdThread, bytes},
		{md(&pb.TrackDescriptor{}), "counter", fTdCounter, bytes},
		{md(&pb.TrackDescriptor{}), "child_ordering", fTdChildOrdering, varint},
		{md(&pb.TrackDescriptor{}), "sibling_order_rank", fTdSiblingOrderRank, varint},
		{md(&pb.TrackDescriptor{}), "sibling_merge_behavior", fTdSiblingMergeBehavior, varint},
		{md(&pb.ProcessDescriptor{}), "pid", fProcPID, varint},
		{md(&pb.ProcessDescriptor{}), "process_name", fProcName, bytes},
		{md(&pb.ThreadDescriptor{}), "pid", fThreadPID, varint},
		{md(&pb.ThreadDescriptor{}), "tid", fThreadTID, varint},
		{md(&pb.ThreadDescriptor{}), "thread_name", fThreadName, bytes},
		{md(&pb.CounterDescriptor{}), "unit", fCounterUnit, varint},
		{md(&pb.CounterDescriptor{}), "y_axis_share_key", fCounterShareKey, bytes},
		{md(&pb.ClockSnapshot{}), "clocks", fCsClocks, bytes},
		{md(&pb.ClockSnapshot{}), "primary_trace_clock", fCsPrimaryClock, varint},
		{md(&pb.ClockSnapshot_Clock{}), "clock_id", fCsClockID, varint},
		{md(&pb.ClockSnapshot_Clock{}), "timestamp", fCsClockTs, varint},
		{md(&pb.PerfSample{}), "pid", fPsPID, varint},
		{md(&pb.PerfSample{}), "tid", fPsTID, varint},
		{md(&pb.PerfSample{}), "callstack_iid", fPsCallstackIID, varint},
	} {
		f := c.msg.Fields().ByName(c.field)
		if f == nil {
			t.Errorf("%s has no field %s", c.msg.FullName(), c.field)
			continue
		}
		if int(f.Number()) != c.num {
			t.Errorf("%s.%s is field %d, the writer uses %d", c.msg.FullName(), c.field, f.Number(), c.num)
		}
		var wire int
		switch f.Kind() {
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			wire = fixed64
		case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
			wire = bytes
		default:
			wire = varint
		}
		if wire != c.wire {
			t.Errorf("%s.%s is a %v, which the writer encodes with the wrong wire type", c.msg.FullName(), c.field, f.Kind())
		}
	}
	for _, c := range []struct {
		name      string
		got, want int32
	}{
		{"TYPE_SLICE_BEGIN", evSliceBegin, int32(pb.TrackEvent_TYPE_SLICE_BEGIN)},
		{"TYPE_SLICE_END", evSliceEnd, int32(pb.TrackEvent_TYPE_SLICE_END)},
		{"TYPE_INSTANT", evInstant, int32(pb.TrackEvent_TYPE_INSTANT)},
		{"TYPE_COUNTER", evCounter, int32(pb.TrackEvent_TYPE_COUNTER)},
		{"SEQ_INCREMENTAL_STATE_CLEARED", seqIncrementalStateCleared, int32(pb.TracePacket_SEQ_INCREMENTAL_STATE_CLEARED)},
		{"EXPLICIT", childOrderingExplicit, int32(pb.TrackDescriptor_EXPLICIT)},
		{"SIBLING_MERGE_BEHAVIOR_NONE", siblingMergeNone, int32(pb.TrackDescriptor_SIBLING_MERGE_BEHAVIOR_NONE)},
		{"UNIT_COUNT", unitCount, int32(pb.CounterDescriptor_UNIT_COUNT)},
		{"UNIT_SIZE_BYTES", unitBytes, int32(pb.CounterDescriptor_UNIT_SIZE_BYTES)},
		{"BUILTIN_CLOCK_REALTIME", clockRealtime, int32(pb.BuiltinClock_BUILTIN_CLOCK_REALTIME)},
		{"BUILTIN_CLOCK_BOOTTIME", clockBoottime, int32(pb.BuiltinClock_BUILTIN_CLOCK_BOOTTIME)},
		{"BUILTIN_CLOCK_MONOTONIC", clockMonotonic, int32(pb.BuiltinClock_BUILTIN_CLOCK_MONOTONIC)},
	} {
		if c.got != c.want {
			t.Errorf("%s: the writer uses %d, upstream %d", c.name, c.got, c.want)
		}
	}
}

// TestFixedAnnIIDs checks that the switch in fixedAnnIID gives each name
// of fixedAnnNames the ID the interner assigns it, its place plus one.
func TestFixedAnnIIDs(t *testing.T) {
	in := newInterner()
	for i, n := range fixedAnnNames {
		if got, want := fixedAnnIID(n), uint64(i+1); got != want || in.anns[n] != want {
			t.Errorf("%q: switch says %d, interner %d, want %d", n, got, in.anns[n], want)
		}
	}
	for name, iid := range map[string]uint64{"P": annP, "M": annM, "goroutine": annGoroutine, "blocked": annBlocked} {
		if in.anns[name] != iid {
			t.Errorf("%q: constant %d, interner %d", name, iid, in.anns[name])
		}
	}
	if fixedAnnIID("not fixed") != 0 {
		t.Error("an unknown name has a fixed ID")
	}
}

// TestStrNUL checks that a string field carries no NUL, which the trace
// processor's strings for the UI end at, and no invalid UTF-8.
func TestStrNUL(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"a\x00b\x00":    "a\uFFFDb\uFFFD",
		"\xffx\x00":     "\uFFFDx\uFFFD",
		"caf\u00e9\x00": "caf\u00e9\uFFFD",
	} {
		m := msg(nil).str(1, in)
		// Tag (1 byte), length (1 byte), then the string.
		if got := string(m[2:]); got != want {
			t.Errorf("str(%q) wrote %q, want %q", in, got, want)
		}
	}
}
