package otel

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// TestJSONEncoding checks the hand-written OTLP JSON against protojson's
// rendering of the same messages (with the IDs turned to hex, as OTLP
// wants), compared as parsed JSON, for the spans of every trace, with
// runtime and goroutine spans.
func TestJSONEncoding(t *testing.T) {
	for _, file := range testtraces.All(t, "../..") {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		exp := tracetest.NewInMemoryExporter()
		s := NewSink(context.Background(), exp, WithRuntimeSpans(), WithGoroutineSpans())
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			t.Fatal(err)
		}
		spans := exp.GetSpans().Snapshots()
		if len(spans) == 0 {
			continue
		}
		rss := ToOTLP(spans)
		ref, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rss})
		if err != nil {
			t.Fatal(err)
		}
		var want, got any
		if err := json.Unmarshal(hexIDs(ref), &want); err != nil {
			t.Fatal(err)
		}
		out := appendRequestJSON(nil, rss)
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: not JSON: %v", file, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: the JSON differs from protojson's", file)
		}
	}
}

// hexIDs rewrites, for the reference, the trace and span ID fields of protojson output from
// the base64 protojson writes to the hex OTLP wants. The keys are found
// by their closing `Id":`, which cannot occur inside a JSON string, where
// a quote is escaped; protojson varies its whitespace on purpose, so
// spaces after the colon are allowed (and dropped).
func hexIDs(b []byte) []byte {
	const tail = `Id":`
	out := make([]byte, 0, len(b)+len(b)/8)
	var raw [32]byte
	for {
		j := bytes.Index(b, []byte(tail))
		if j < 0 {
			return append(out, b...)
		}
		end := j + len(tail)
		if !isIDKey(b[:end]) {
			out, b = append(out, b[:end]...), b[end:]
			continue
		}
		p := end
		for p < len(b) && b[p] == ' ' {
			p++
		}
		q := -1
		if p < len(b) && b[p] == '"' {
			q = bytes.IndexByte(b[p+1:], '"')
		}
		if q < 0 {
			out, b = append(out, b[:end]...), b[end:] // cannot happen: protojson wrote it
			continue
		}
		val := b[p+1 : p+1+q]
		if base64.StdEncoding.DecodedLen(len(val)) > len(raw) {
			out, b = append(out, b[:end]...), b[end:]
			continue
		}
		n, err := base64.StdEncoding.Decode(raw[:], val)
		if err != nil {
			out, b = append(out, b[:end]...), b[end:]
			continue
		}
		out = append(out, b[:end]...)
		out = append(out, '"')
		out = hex.AppendEncode(out, raw[:n])
		out = append(out, '"')
		b = b[p+1+q+1:]
	}
}

// isIDKey reports whether b ends with one of the ID keys.
func isIDKey(b []byte) bool {
	for _, k := range []string{`"traceId":`, `"spanId":`, `"parentSpanId":`} {
		if bytes.HasSuffix(b, []byte(k)) {
			return true
		}
	}
	return false
}
