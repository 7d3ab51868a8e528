package otel

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// JSONExporter is an sdktrace.SpanExporter that writes spans as OTLP JSON:
// one ExportTraceServiceRequest per line, per batch, in the protobuf JSON
// mapping with the OTLP rules (trace and span IDs in hex, enums as
// numbers), as the Collector's file exporter writes and its otlpjsonfile
// receiver reads.
//
// It is safe for concurrent use. It keeps the first write error and
// returns it from every later call; it never closes the writer.
type JSONExporter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
	buf []byte
}

var _ sdktrace.SpanExporter = (*JSONExporter)(nil)

// NewJSONExporter returns a JSONExporter writing to w.
func NewJSONExporter(w io.Writer) *JSONExporter { return &JSONExporter{w: w} }

var jsonOptions = protojson.MarshalOptions{UseEnumNumbers: true}

// ExportSpans writes spans as one line.
func (e *JSONExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: toOTLP(spans)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	b, err := jsonOptions.MarshalAppend(e.buf[:0], req)
	if err != nil {
		return fmt.Errorf("encoding OTLP JSON: %w", err)
	}
	b = append(hexIDs(b), '\n')
	e.buf = b[:0]
	if _, err := e.w.Write(b); err != nil {
		e.err = err
	}
	return e.err
}

// Shutdown returns the first write error.
func (e *JSONExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// idFieldRE matches the trace and span ID fields in protojson's output,
// whose bytes it writes in base64 where OTLP wants hex. Inside a JSON
// string a quote is escaped, so the pattern can only match a real key.
// protojson varies its whitespace on purpose, hence the \s*.
var idFieldRE = regexp.MustCompile(`"(traceId|spanId|parentSpanId)":\s*"([A-Za-z0-9+/=]*)"`)

// hexIDs rewrites the ID fields of protojson output from base64 to hex.
func hexIDs(b []byte) []byte {
	return idFieldRE.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := idFieldRE.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[2]))
		if err != nil {
			return m // cannot happen: protojson wrote it
		}
		out := append([]byte(nil), '"')
		out = append(out, sub[1]...)
		out = append(out, `":"`...)
		out = hex.AppendEncode(out, raw)
		return append(out, '"')
	})
}
