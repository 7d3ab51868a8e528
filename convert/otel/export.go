package otel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporter stands between the batch span processor and the caller's
// exporter: it counts what was accepted and rejected, retries batches that
// found no collector, and once a batch has failed for good, stops sending
// so that a dead endpoint does not cost a timeout per batch.
//
// The batch span processor calls ExportSpans from its own goroutine; the
// counts are read from the sink's, hence the atomics.
type exporter struct {
	next    sdktrace.SpanExporter
	timeout time.Duration // per call of next; 0: none
	retry   time.Duration // how long to retry a batch; 0: never

	exported atomic.Int64
	failed   atomic.Int64
	fatal    atomic.Bool // a batch failed for good; later ones are not sent

	mu       sync.Mutex
	err      error // the first error
	rejected error // the first partial success with spans rejected
}

var _ sdktrace.SpanExporter = (*exporter)(nil)

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	n := int64(len(spans))
	if e.fatal.Load() {
		e.failed.Add(n)
		return nil
	}
	err := e.send(ctx, spans)
	if err == nil {
		e.exported.Add(n)
		return nil
	}
	if r, ok := partialSuccess(err); ok {
		// The collector took the batch and refused some of its spans, for
		// reasons of its own: count them, report it, go on.
		r = min(r, n)
		e.exported.Add(n - r)
		e.failed.Add(r)
		if r > 0 {
			e.mu.Lock()
			if e.rejected == nil {
				e.rejected = err
			}
			e.mu.Unlock()
		}
		return nil
	}
	e.failed.Add(n)
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
	e.fatal.Store(true)
	return err
}

// send exports one batch, retrying while the endpoint is unreachable.
func (e *exporter) send(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	start := time.Now()
	backoff := 100 * time.Millisecond
	for {
		err := e.call(ctx, spans)
		if err == nil || e.retry <= 0 || !unreachable(err) {
			return err
		}
		wait := min(backoff, e.retry-time.Since(start))
		if wait <= 0 {
			return fmt.Errorf("gave up after retrying for %v: %w", e.retry, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (e *exporter) call(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	return e.next.ExportSpans(ctx, spans)
}

// unreachable reports whether err says the endpoint could not be reached
// or went away mid-request, which a restarted collector cures.
func unreachable(err error) bool {
	for _, target := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, target) {
			return true
		}
	}
	// The gRPC exporter reports a collector that is down as Unavailable,
	// after its own retries. Matching the status text keeps this package
	// free of gRPC, which only the gRPC exporter needs.
	return strings.Contains(err.Error(), "code = Unavailable")
}

// partialSuccessRE matches the error the OTLP exporters return for a
// response that accepted the request but rejected some spans. Its type is
// internal to the exporters, so its text is all there is to go on.
var partialSuccessRE = regexp.MustCompile(`OTLP partial success: .*\((\d+) spans rejected\)`)

func partialSuccess(err error) (int64, bool) {
	m := partialSuccessRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	n, perr := strconv.ParseInt(m[1], 10, 64)
	return n, perr == nil
}

// Shutdown does nothing: the exporter belongs to the caller, who may go
// on using it.
func (e *exporter) Shutdown(context.Context) error { return nil }

// firstError returns the error that stopped the export, or else the first
// rejection.
func (e *exporter) firstError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	return e.rejected
}
