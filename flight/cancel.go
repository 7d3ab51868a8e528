package flight

import (
	"context"
	"fmt"
	"io"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/trace2x/trace2x/mapping"
)

// The conversions take no context themselves: these wrappers stop them
// when their context ends, so that an export cut short by its timeout,
// its caller or Stop ends at once instead of after the whole window.

// ctxReader fails its reads once ctx is done: it stops the parser, which
// otherwise reads a whole generation (a second of trace, several MB)
// before the sink sees its first item.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxSink fails the mapping at the first item after ctx is done; the
// mapping then stops and returns that error. A look at the Done channel
// (no lock while it is open) costs next to nothing beside an item's
// encoding.
type ctxSink struct {
	mapping.Sink
	ctx  context.Context
	done <-chan struct{}
}

func withContext(ctx context.Context, sink mapping.Sink) *ctxSink {
	return &ctxSink{Sink: sink, ctx: ctx, done: ctx.Done()}
}

func (s *ctxSink) err() error {
	select {
	case <-s.done:
		return s.ctx.Err()
	default:
		return nil
	}
}

func (s *ctxSink) Begin(m *mapping.Meta) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Begin(m)
}

func (s *ctxSink) Stack(x *mapping.Stack) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Stack(x)
}

func (s *ctxSink) Goroutine(x *mapping.Goroutine) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Goroutine(x)
}

func (s *ctxSink) Proc(x *mapping.Proc) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Proc(x)
}

func (s *ctxSink) Thread(x *mapping.Thread) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Thread(x)
}

func (s *ctxSink) GoroutineState(x *mapping.GoroutineState) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.GoroutineState(x)
}

func (s *ctxSink) ProcRun(x *mapping.ProcRun) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.ProcRun(x)
}

func (s *ctxSink) Range(x *mapping.Range) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Range(x)
}

func (s *ctxSink) Task(x *mapping.Task) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Task(x)
}

func (s *ctxSink) Region(x *mapping.Region) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Region(x)
}

func (s *ctxSink) Log(x *mapping.Log) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Log(x)
}

func (s *ctxSink) GoroutineEvent(x *mapping.GoroutineEvent) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.GoroutineEvent(x)
}

func (s *ctxSink) Flow(x *mapping.Flow) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Flow(x)
}

func (s *ctxSink) Counter(x *mapping.Counter) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Counter(x)
}

func (s *ctxSink) CPUSample(x *mapping.CPUSample) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.CPUSample(x)
}

func (s *ctxSink) Experimental(x *mapping.Experimental) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Sink.Experimental(x)
}

// End is passed on as it is: the writer closes what it opened, which
// takes no longer than the items it holds.

// boundExporter ties the exporter's calls to the export's context. The
// span processor of the conversion calls the exporter with a context of
// its own, which the export's end does not cancel: without this, an
// export cut short would still wait for every batch already queued to be
// sent, each up to convert/otel's timeout.
type boundExporter struct {
	sdktrace.SpanExporter
	ctx context.Context
}

func (b boundExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.ctx, func() { cancel(context.Cause(b.ctx)) })
	defer stop()
	return b.SpanExporter.ExportSpans(ctx, spans)
}

// Shutdown does nothing: the exporter is the program's, which shuts it
// down (see WithExporter).
func (boundExporter) Shutdown(context.Context) error { return nil }

// timeoutError is the cause of an export's end when WithExportTimeout
// ran out.
func timeoutError(d time.Duration) error {
	return fmt.Errorf("the export timeout of %v (WithExportTimeout) ran out: %w", d, context.DeadlineExceeded)
}

// cutShort is the error of a part of an export (what) that ctx ended:
// why it ended, for the error to say (the timeout, Stop, the caller's
// context), rather than the mapping's complaint about a read that failed.
func cutShort(ctx context.Context, what string) error {
	return fmt.Errorf("flight: %s: cut short: %w", what, context.Cause(ctx))
}
