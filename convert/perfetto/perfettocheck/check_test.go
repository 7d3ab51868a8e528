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
