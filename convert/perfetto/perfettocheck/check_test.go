package perfettocheck

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
)

// TestCompressedFraming checks that compressed packets are read in both
// framings the trace processor inflates, zlib and gzip, and that anything
// else is refused.
func TestCompressedFraming(t *testing.T) {
	inner, err := proto.Marshal(&pb.TracePacket{
		OptionalTrustedPacketSequenceId: &pb.TracePacket_TrustedPacketSequenceId{TrustedPacketSequenceId: 1},
		SequenceFlags:                   proto.Uint32(uint32(pb.TracePacket_SEQ_INCREMENTAL_STATE_CLEARED)),
		Data: &pb.TracePacket_TrackDescriptor{TrackDescriptor: &pb.TrackDescriptor{
			Uuid: proto.Uint64(7), StaticOrDynamicName: &pb.TrackDescriptor_Name{Name: "a track"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	packets := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), inner)
	frame := func(newWriter func(io.Writer) io.WriteCloser) []byte {
		var z bytes.Buffer
		w := newWriter(&z)
		w.Write(packets)
		w.Close()
		outer, err := proto.Marshal(&pb.TracePacket{Data: &pb.TracePacket_CompressedPackets{CompressedPackets: z.Bytes()}})
		if err != nil {
			t.Fatal(err)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), outer)
	}
	for name, newWriter := range map[string]func(io.Writer) io.WriteCloser{
		"zlib": func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
		"gzip": func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
	} {
		rep, err := Check(bytes.NewReader(frame(newWriter)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Rows.Tracks != 1 || rep.Rows.Packets != 1 {
			t.Errorf("%s: %d tracks in %d packets, want the 1 track and packet inside", name, rep.Rows.Tracks, rep.Rows.Packets)
		}
	}
	raw := frame(func(w io.Writer) io.WriteCloser { return nopCloser{w} })
	if _, err := Check(bytes.NewReader(raw)); err == nil || !strings.Contains(err.Error(), "compressed packets") {
		t.Errorf("packets stored without compression in compressed_packets: error %v, want one about compressed packets", err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// TestArgRows checks that arguments are counted as the trace processor
// stores them: a set once however many slices share it, the correlation
// ID one of its arguments.
func TestArgRows(t *testing.T) {
	var trace []byte
	add := packetAdder(t, &trace)
	add(&pb.TracePacket{
		SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_INCREMENTAL_STATE_CLEARED)),
		InternedData: &pb.InternedData{
			EventNames:           []*pb.EventName{{Iid: proto.Uint64(1), Name: proto.String("region")}},
			DebugAnnotationNames: []*pb.DebugAnnotationName{{Iid: proto.Uint64(1), Name: proto.String("task")}},
		},
		Data: &pb.TracePacket_TrackDescriptor{TrackDescriptor: &pb.TrackDescriptor{Uuid: proto.Uint64(7)}},
	})
	slice := func(at uint64, task uint64, corr bool) {
		ev := &pb.TrackEvent{
			Type:      pb.TrackEvent_TYPE_SLICE_BEGIN.Enum(),
			TrackUuid: proto.Uint64(7),
			NameField: &pb.TrackEvent_NameIid{NameIid: 1},
			DebugAnnotations: []*pb.DebugAnnotation{{
				NameField: &pb.DebugAnnotation_NameIid{NameIid: 1},
				Value:     &pb.DebugAnnotation_UintValue{UintValue: task},
			}},
		}
		if corr {
			ev.CorrelationIdField = &pb.TrackEvent_CorrelationId{CorrelationId: task}
		}
		add(&pb.TracePacket{Timestamp: proto.Uint64(at), SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
			Data: &pb.TracePacket_TrackEvent{TrackEvent: ev}})
		add(&pb.TracePacket{Timestamp: proto.Uint64(at + 1), SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
			Data: &pb.TracePacket_TrackEvent{TrackEvent: &pb.TrackEvent{Type: pb.TrackEvent_TYPE_SLICE_END.Enum(), TrackUuid: proto.Uint64(7)}}})
	}
	slice(10, 5, true)  // {task 5, correlation 5}: a set of 2
	slice(20, 5, true)  // the same set
	slice(30, 5, false) // {task 5}: a set of 1
	slice(40, 6, true)  // {task 6, correlation 6}: a set of 2
	rows, err := Count(bytes.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	if rows.Slices != 4 || rows.ArgSets != 3 || rows.Args != 5 {
		t.Errorf("%d slices, %d argument sets of %d arguments; want 4, 3 and 5", rows.Slices, rows.ArgSets, rows.Args)
	}
}

// TestFlowOrder checks that a flow is refused when its terminating end
// comes before its start in the order the trace processor reads events:
// by time, and at equal times in file order, whatever order the packets'
// times would give.
func TestFlowOrder(t *testing.T) {
	build := func(outAt, inAt uint64, outFirst bool) []byte {
		var trace []byte
		add := packetAdder(t, &trace)
		add(&pb.TracePacket{
			SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_INCREMENTAL_STATE_CLEARED)),
			Data:          &pb.TracePacket_TrackDescriptor{TrackDescriptor: &pb.TrackDescriptor{Uuid: proto.Uint64(7)}},
		})
		add(&pb.TracePacket{
			SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
			Data:          &pb.TracePacket_TrackDescriptor{TrackDescriptor: &pb.TrackDescriptor{Uuid: proto.Uint64(8)}},
		})
		instant := func(track, at uint64, out bool) {
			ev := &pb.TrackEvent{Type: pb.TrackEvent_TYPE_INSTANT.Enum(), TrackUuid: proto.Uint64(track)}
			if out {
				ev.FlowIds = []uint64{3}
			} else {
				ev.TerminatingFlowIds = []uint64{3}
			}
			add(&pb.TracePacket{Timestamp: proto.Uint64(at), SequenceFlags: proto.Uint32(uint32(pb.TracePacket_SEQ_NEEDS_INCREMENTAL_STATE)),
				Data: &pb.TracePacket_TrackEvent{TrackEvent: ev}})
		}
		if outFirst {
			instant(7, outAt, true)
			instant(8, inAt, false)
		} else {
			instant(8, inAt, false)
			instant(7, outAt, true)
		}
		return trace
	}
	for _, c := range []struct {
		name          string
		outAt, inAt   uint64
		outFirst, bad bool
	}{
		{"start first, same time", 10, 10, true, false},
		{"end first, same time", 10, 10, false, true},
		{"end written first, later", 10, 11, false, false},
		{"start written first, end earlier", 11, 10, true, true},
	} {
		rep, err := Check(bytes.NewReader(build(c.outAt, c.inAt, c.outFirst)))
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "before it starts") {
				t.Errorf("%s: error %v, want one about the flow ending before it starts", c.name, err)
			}
			continue
		}
		if err != nil || rep.Flows != 1 {
			t.Errorf("%s: %d flows, error %v; want the flow and no error", c.name, rep.Flows, err)
		}
	}
}

// packetAdder returns a function that appends a packet, on sequence 1, to
// the trace in *trace.
func packetAdder(t *testing.T, trace *[]byte) func(*pb.TracePacket) {
	seq := &pb.TracePacket_TrustedPacketSequenceId{TrustedPacketSequenceId: 1}
	return func(p *pb.TracePacket) {
		p.OptionalTrustedPacketSequenceId = seq
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		*trace = protowire.AppendBytes(protowire.AppendTag(*trace, 1, protowire.BytesType), b)
	}
}
