package otel

import (
	"context"
	"io"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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

// ExportSpans writes spans as one line.
func (e *JSONExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	rss := ToOTLP(spans)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	b := append(appendRequestJSON(e.buf[:0], rss), '\n')
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
