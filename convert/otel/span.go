package otel

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// span is a finished span as exporters read it.
//
// The SDK makes its ReadOnlySpans inside a tracer, from spans that live
// while the program runs; here every span is finished before it is made,
// with times and IDs that come from the trace. So spans are built
// directly, as the SDK's own tracetest.SpanStub does, and handed to the
// batch span processor: one allocation per span instead of the tracer's
// copies, locks and limits, at a third of the cost.
type span struct {
	// The interface is embedded for its unexported method, which marks
	// implementations; nothing calls it.
	sdktrace.ReadOnlySpan

	name          string
	sc, parent    trace.SpanContext
	start, end    time.Time
	attrs         []attribute.KeyValue
	events        []sdktrace.Event
	links         []sdktrace.Link
	droppedEvents int
	droppedAttrs  int
	droppedLinks  int
	status        sdktrace.Status
	common        *spanCommon
}

// spanCommon is what all spans of a conversion share.
type spanCommon struct {
	res   *resource.Resource
	scope instrumentation.Scope
}

var _ sdktrace.ReadOnlySpan = (*span)(nil)

func (s *span) Name() string                                { return s.name }
func (s *span) SpanContext() trace.SpanContext              { return s.sc }
func (s *span) Parent() trace.SpanContext                   { return s.parent }
func (s *span) SpanKind() trace.SpanKind                    { return trace.SpanKindInternal }
func (s *span) StartTime() time.Time                        { return s.start }
func (s *span) EndTime() time.Time                          { return s.end }
func (s *span) Attributes() []attribute.KeyValue            { return s.attrs }
func (s *span) Links() []sdktrace.Link                      { return s.links }
func (s *span) Events() []sdktrace.Event                    { return s.events }
func (s *span) Status() sdktrace.Status                     { return s.status }
func (s *span) Resource() *resource.Resource                { return s.common.res }
func (s *span) DroppedAttributes() int                      { return s.droppedAttrs }
func (s *span) DroppedLinks() int                           { return s.droppedLinks }
func (s *span) DroppedEvents() int                          { return s.droppedEvents }
func (s *span) ChildSpanCount() int                         { return 0 }
func (s *span) InstrumentationScope() instrumentation.Scope { return s.common.scope }

// InstrumentationLibrary is the deprecated name of InstrumentationScope.
//
//nolint:staticcheck // The interface still requires it.
func (s *span) InstrumentationLibrary() instrumentation.Library { return s.common.scope }
