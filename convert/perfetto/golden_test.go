package perfetto_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// TestGolden compares the conversion of the smallest sample with a golden
// file kept as protobuf text, packet by packet as decoded messages: the
// text form's whitespace is not stable, so files are never compared as
// bytes. Run with -update to accept a change.
func TestGolden(t *testing.T) {
	const sample = "openstartend.go1.26.trace"
	golden := filepath.Join("testdata", sample+".pftrace.txt")
	data, _ := convert(t, filepath.Join("..", "..", "testdata", sample))
	got := decodeTrace(t, data)
	if *update {
		text, err := prototext.MarshalOptions{Multiline: true}.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, text, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want := new(pb.Trace)
	if err := prototext.Unmarshal(text, want); err != nil {
		t.Fatal(err)
	}
	if len(got.Packet) != len(want.Packet) {
		t.Errorf("%d packets, golden has %d", len(got.Packet), len(want.Packet))
	}
	shown := 0
	for i := range min(len(got.Packet), len(want.Packet)) {
		if !proto.Equal(got.Packet[i], want.Packet[i]) {
			t.Errorf("packet %d differs:\ngot:  %v\nwant: %v", i, prototext.Format(got.Packet[i]), prototext.Format(want.Packet[i]))
			if shown++; shown == 3 {
				t.Fatal("too many differences (run go test -update if the change is intended)")
			}
		}
	}
}

// decodeTrace decodes a whole trace, checking first that the file is a
// plain sequence of Trace.packet fields as the writer promises.
func decodeTrace(t *testing.T, data []byte) *pb.Trace {
	t.Helper()
	for rest := data; len(rest) > 0; {
		num, typ, n := protowire.ConsumeField(rest)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("at byte %d: field %d of type %d, want a packet", len(data)-len(rest), num, typ)
		}
		rest = rest[n:]
	}
	tr := new(pb.Trace)
	if err := proto.Unmarshal(data, tr); err != nil {
		t.Fatal(err)
	}
	return tr
}
