package otel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace2x/trace2x/internal/oserr"
)

// exporter stands between the batch span processor and the caller's
// exporter: it counts what was accepted and rejected, retries batches that
// found no collector, and once a batch has failed for good, stops sending
// so that a dead endpoint does not cost a timeout per batch.
//
// It also keeps requests under the size receivers take. A span carries
// its stacks as text (code.stacktrace, up to 128 frames each), so 512
// spans of a service with deep stacks make 10 MB, where the OTLP/gRPC
// receivers of the Collector and Jaeger refuse a message over 4 MiB: a
// batch is cut into requests of at most maxBytes (estimated), and a
// request the endpoint still finds too large is sent again in halves,
// with the cut lowered for the batches after it.
//
// The batch span processor calls ExportSpans from its own goroutine; the
// counts are read from the sink's, hence the atomics.
type exporter struct {
	next    sdktrace.SpanExporter
	timeout time.Duration // per call of next; 0: none
	retry   time.Duration // how long to retry a batch; 0: never
	// stop is the sink's context: once it ends, the call under way is
	// cancelled and no more are made. The batch span processor calls
	// with contexts of its own, which the caller's never reaches.
	stop context.Context

	exported atomic.Int64
	failed   atomic.Int64
	fatal    atomic.Bool  // a batch failed for good; later ones are not sent
	maxBytes atomic.Int64 // the estimated size a request is cut at; 0: none
	// alone counts the spans refused as too large, each alone in its
	// request, since the endpoint last took one (see export).
	alone atomic.Int64

	mu       sync.Mutex
	err      error // the first error
	rejected error // the first partial success with spans rejected
}

var _ sdktrace.SpanExporter = (*exporter)(nil)

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.stop != nil && e.stop.Done() != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		defer context.AfterFunc(e.stop, func() { cancel(context.Cause(e.stop)) })()
	}
	var first error
	for len(spans) > 0 {
		if e.fatal.Load() || e.stop != nil && e.stop.Err() != nil {
			e.failed.Add(int64(len(spans)))
			break
		}
		n := e.fit(spans)
		if err := e.export(ctx, spans[:n]); err != nil && first == nil {
			first = err
		}
		spans = spans[n:]
	}
	if e.stop != nil && e.stop.Err() != nil {
		// Stopped: the spans count as failed, and the caller, who ended
		// the context, has no use for the SDK's global handler logging
		// it once a batch.
		return nil
	}
	return first
}

// fit returns how many spans from the front of spans go in one request:
// at least one, and as many as stay under maxBytes.
func (e *exporter) fit(spans []sdktrace.ReadOnlySpan) int {
	limit := e.maxBytes.Load()
	if limit <= 0 {
		return len(spans)
	}
	size := int64(requestOverhead)
	for i, s := range spans {
		size += spanSize(s)
		if size > limit && i > 0 {
			return i
		}
	}
	return len(spans)
}

// export sends one request and counts its spans.
func (e *exporter) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	n := int64(len(spans))
	if e.fatal.Load() {
		// An earlier part of the batch failed for good.
		e.failed.Add(n)
		return nil
	}
	err := e.send(ctx, spans)
	if err == nil {
		e.exported.Add(n)
		e.alone.Store(0)
		return nil
	}
	// A panic is a bug of the exporter, whatever its value says: it
	// fails for good.
	panicked := isPanic(err)
	if !panicked && tooLarge(err) {
		// The endpoint's limit is under the cut: cut later requests at
		// half this one, and send this one in halves.
		size := int64(requestOverhead)
		for _, s := range spans {
			size += spanSize(s)
		}
		lower := max(size/2, minCut)
		for {
			cur := e.maxBytes.Load()
			if cur > 0 && cur <= lower || e.maxBytes.CompareAndSwap(cur, lower) {
				break
			}
		}
		if n > 1 {
			h := len(spans) / 2
			err1 := e.export(ctx, spans[:h])
			err2 := e.export(ctx, spans[h:])
			return cmp.Or(err1, err2)
		}
		// One span alone is too large for the endpoint: it is rejected,
		// the others go on.
		e.reject(1, err)
		if e.alone.Add(1) < maxAlone {
			return nil
		}
		// So were the last ones, alone too: the endpoint's limit is
		// below what spans weigh (a proxy's), or it refuses every
		// request as too large, and halving each request down to single
		// spans costs about two requests a span. It fails for good.
		e.mu.Lock()
		if e.err == nil {
			e.err = &readableError{text: fmt.Sprintf("the endpoint refused %d spans in a row as too large, each alone in its request (its limit on a request's size is below what a span weighs; stacks weigh up to a third of it), the last with: %v",
				maxAlone, statusBody(err)), err: err}
		}
		e.mu.Unlock()
		e.fatal.Store(true)
		return err
	}
	if r, ok := partialSuccess(err); ok && !panicked {
		// The collector took the batch and refused some of its spans, for
		// reasons of its own: count them, report it, go on.
		r = min(r, n)
		e.exported.Add(n - r)
		e.reject(r, err)
		return nil
	}
	e.failed.Add(n)
	e.mu.Lock()
	if e.err == nil {
		e.err = e.readable(ctx, err)
	}
	e.mu.Unlock()
	e.fatal.Store(true)
	return err
}

// postURL matches the request net/http names in its errors.
var postURL = regexp.MustCompile(`^Post "[^"]*": `)

// readable returns the exporter's error err in words a user can act on:
// a body quoted as bytes decoded (statusBody), a call its timeout ended
// said to have had no answer in that time, without the SDK's repeated
// "context deadline exceeded".
func (e *exporter) readable(ctx context.Context, err error) error {
	if e.timeout <= 0 || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return statusBody(err)
	}
	text := err.Error()
	if i := strings.Index(text, retryable); i >= 0 {
		// Answers came, each asking to be tried again, until the time
		// ran out: not "no answer".
		return &readableError{text: fmt.Sprintf("the endpoint kept answering that it is busy or unavailable (HTTP 429, 502, 503 or 504) for the %v an export may take (body: %s)",
			e.timeout, readableBody(text[i+len(retryable):])), err: err}
	}
	for _, prefix := range []string{"traces export: ", "context deadline exceeded: ", "retry-able request failure: "} {
		text = strings.TrimPrefix(text, prefix)
	}
	// The HTTP exporter's words name the URL, which the error's context
	// names already.
	text = postURL.ReplaceAllString(text, "")
	if i := strings.Index(text, "rpc error: code = "); i >= 0 && !strings.HasPrefix(text[i:], "rpc error: code = DeadlineExceeded") {
		// The gRPC exporter retried an error that asks for it (the
		// endpoint answered Unavailable, or the connection broke) until
		// the time ran out: what it last got is the news.
		return &readableError{text: fmt.Sprintf("every attempt failed for the %v an export may take, the last with: %s", e.timeout, text[i:]), err: err}
	}
	return &readableError{text: fmt.Sprintf("no answer within %v (%s)", e.timeout, text), err: err}
}

// reject counts n spans the endpoint refused, and keeps the first such
// error for the report.
func (e *exporter) reject(n int64, err error) {
	e.failed.Add(n)
	if n > 0 {
		e.mu.Lock()
		if e.rejected == nil {
			e.rejected = err
		}
		e.mu.Unlock()
	}
}

const (
	// DefaultMaxRequestBytes is where requests are cut by default (see
	// WithMaxRequestBytes): under the 4 MiB that the OTLP/gRPC receivers
	// of the Collector and Jaeger take by default, with room for the
	// estimate's error.
	DefaultMaxRequestBytes = 3 << 20
	// requestOverhead is an estimate of a request's bytes besides its
	// spans: the resource and scope.
	requestOverhead = 1 << 10
	// minCut is the least a request is cut at after an endpoint refused
	// one as too large.
	minCut = 16 << 10
	// maxAlone is how many spans in a row, each alone in its request, an
	// endpoint may refuse as too large before the export fails for good.
	maxAlone = 16
)

// spanSize estimates the bytes of a span in an OTLP request: its IDs,
// times and name, and its attributes, events and links with theirs.
func spanSize(s sdktrace.ReadOnlySpan) int64 {
	n := int64(96 + len(s.Name()) + len(s.Status().Description))
	n += attrsSize(s.Attributes())
	for _, ev := range s.Events() {
		n += int64(24+len(ev.Name)) + attrsSize(ev.Attributes)
	}
	for _, l := range s.Links() {
		n += 48 + attrsSize(l.Attributes)
	}
	return n
}

func attrsSize(kvs []attribute.KeyValue) int64 {
	var n int64
	for _, kv := range kvs {
		n += int64(16 + len(kv.Key))
		switch kv.Value.Type() {
		case attribute.STRING:
			n += int64(len(kv.Value.AsString()))
		case attribute.STRINGSLICE:
			for _, v := range kv.Value.AsStringSlice() {
				n += int64(8 + len(v))
			}
		default:
			n += 16
		}
	}
	return n
}

// tooLarge reports whether err says the endpoint refused the request for
// its size: gRPC's limit on a message, HTTP's 413, or the 400 with
// http.MaxBytesReader's error that the Collector's OTLP/HTTP receiver
// answers past its max_request_body_size.
func tooLarge(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "code = ResourceExhausted") && strings.Contains(msg, "larger than max") ||
		strings.Contains(msg, "413 Request Entity Too Large") || strings.Contains(msg, "413 Payload Too Large") ||
		strings.Contains(msg, "413 Content Too Large") ||
		strings.Contains(msg, "400 Bad Request") && strings.Contains(msg, "request body too large")
}

// send exports one batch, retrying while the endpoint is unreachable.
func (e *exporter) send(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	start := time.Now()
	backoff := 100 * time.Millisecond
	for {
		err := e.call(ctx, spans)
		if err == nil || e.retry <= 0 || isPanic(err) || !unreachable(err) {
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

// call calls next. A panic of next becomes an *ExporterPanicError: it
// would be raised on the batch span processor's goroutine, where nothing
// of the program could recover it.
//
// Once the sink's context ends, or the export timeout a little after
// next was told of it, call returns, leaving a call of next that does
// not heed its context to return on its own: the batch span processor,
// waiting for it, would otherwise hold the pass and End, blocked on a
// full queue, for as long as next does. No call of next follows (see
// ExportSpans; an export that timed out fails for good), so next is
// never called twice at once.
func (e *exporter) call(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	var timedOut <-chan struct{}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
		timedOut = ctx.Done()
	}
	var stopped <-chan struct{}
	if e.stop != nil {
		stopped = e.stop.Done()
	}
	if timedOut == nil && stopped == nil {
		return e.callNext(ctx, spans)
	}
	done := make(chan error, 1)
	go func() { done <- e.callNext(ctx, spans) }()
	select {
	case err := <-done:
		return err
	case <-stopped:
	case <-timedOut:
	}
	// An exporter that heeds its context returns now, with words of its
	// own on what it was doing; one that writes to a file or a buffer
	// (the JSON exporter) finishes the batch it writes, which counts,
	// and writes nothing after the pass has returned.
	grace := time.NewTimer(exportGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
	}
	if e.stop == nil || e.stop.Err() == nil {
		return fmt.Errorf("the exporter (%T) had not returned %v after its context ended: %w", e.next, exportGrace, context.DeadlineExceeded)
	}
	return context.Cause(e.stop)
}

// exportGrace is how long an exporter is given to return once the
// export timeout has ended its context.
const exportGrace = time.Second

// callNext calls next, turning its panic into an error.
func (e *exporter) callNext(ctx context.Context, spans []sdktrace.ReadOnlySpan) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &ExporterPanicError{Value: p, Exporter: fmt.Sprintf("%T", e.next), Stack: debug.Stack()}
		}
	}()
	return e.next.ExportSpans(ctx, spans)
}

// ExporterPanicError is the error of an export whose SpanExporter
// panicked. The spans of that call and of every later one count as
// failed: a panic is a bug of the exporter, which trying again does not
// cure.
type ExporterPanicError struct {
	Value    any    // what ExportSpans panicked with
	Exporter string // the exporter's type, such as "*otlptrace.Exporter"
	Stack    []byte // the goroutine's stack where it was recovered
}

func isPanic(err error) bool {
	var p *ExporterPanicError
	return errors.As(err, &p)
}

// Error names the exporter and what it panicked with.
func (e *ExporterPanicError) Error() string {
	return fmt.Sprintf("the span exporter %s panicked: %v", e.Exporter, e.Value)
}

// unreachable reports whether err says the endpoint could not be reached
// or went away mid-request, which a restarted collector cures.
func unreachable(err error) bool {
	if oserr.ConnRefused(err) || oserr.ConnReset(err) {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	// The gRPC exporter reports a collector that is down as Unavailable,
	// after its own retries. Matching the status text keeps this package
	// free of gRPC, which only the gRPC exporter needs. A collector that
	// shuts down while a request is sent can leave the HTTP client
	// writing to a connection it closed, and the error's chain may be
	// lost on the way.
	msg := err.Error()
	return strings.Contains(msg, "code = Unavailable") || strings.Contains(msg, "use of closed network connection")
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

// firstError returns the error that stopped the export, or else a
// *RejectedError for the spans the endpoint refused.
func (e *exporter) firstError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	if e.rejected != nil {
		return &RejectedError{Spans: e.failed.Load(), Err: e.rejected}
	}
	return nil
}

// A RejectedError is the error of a conversion whose spans were all sent
// but some of which the endpoint refused (OTLP's partial success, or a
// span too large for it alone); the rest it took.
type RejectedError struct {
	Spans int64 // the spans refused
	Err   error // the first refusal
}

// Error says how many spans the endpoint refused, and why.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("the endpoint refused %d spans, the first with: %v", e.Spans, e.Err)
}

// Unwrap returns the endpoint's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// statusBody returns err with the body the OTLP/HTTP exporter quotes in
// it, "(body: ...)", made readable when it is a google.rpc.Status in
// protobuf, as the Collector answers a refusal: the exporter quotes its
// bytes as they are ("body: \b\b\x12%data refused due to high memory
// usage"). An error of answers it retried says what they were. Other
// errors are returned as they are.
func statusBody(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	// The exporter retries the answers that ask for it (429, 502, 503,
	// 504) and, when its time runs out, gives the last body but not its
	// status: say what it was.
	if i := strings.Index(text, retryable); i >= 0 {
		if strings.Contains(text[:i], "would elapse") {
			// The exporter gives up at once when the wait the answer
			// asks for (its Retry-After) goes past its timeout.
			return &readableError{text: text[:i] + "the endpoint answered that it is busy or unavailable (HTTP 429, 502, 503 or 504; body: " + readableBody(text[i+len(retryable):]) + ") and asked to be tried again later than the export's timeout allows: a longer timeout waits for it", err: err}
		}
		return &readableError{text: text[:i] + "the endpoint kept answering that it is busy or unavailable (HTTP 429, 502, 503 or 504; body: " + readableBody(text[i+len(retryable):]) + ")", err: err}
	}
	i := strings.Index(text, "(body: ")
	if i < 0 || !strings.HasSuffix(text, ")") {
		return err
	}
	body := text[i+len("(body: ") : len(text)-1]
	msg, ok := statusMessage([]byte(body))
	if !ok {
		return err
	}
	return &readableError{text: text[:i] + "(body: " + msg + ")", err: err}
}

// retryable begins the body of the last answer in the OTLP/HTTP
// exporter's error after answers it retried.
const retryable = "retry-able request failure: body: "

// readableBody is the message of a body that is a google.rpc.Status, or
// the body as it is.
func readableBody(body string) string {
	if msg, ok := statusMessage([]byte(body)); ok {
		return msg
	}
	return body
}

// statusMessage decodes b as a google.rpc.Status (code 1, message 2,
// details 3) and returns its message, if b is one with a printable
// message.
func statusMessage(b []byte) (string, bool) {
	var msg string
	found := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			n = protowire.ConsumeFieldValue(num, typ, b)
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || !utf8.Valid(v) {
				return "", false
			}
			msg, found, n = string(v), true, m
		case num == 3 && typ == protowire.BytesType:
			n = protowire.ConsumeFieldValue(num, typ, b)
		default:
			return "", false
		}
		if n < 0 {
			return "", false
		}
		b = b[n:]
	}
	if !found || strings.IndexFunc(msg, func(r rune) bool { return r < ' ' && r != '\t' }) >= 0 {
		return "", false
	}
	return msg, true
}

// readableError is an export error whose text has its quoted body made
// readable; it unwraps to the exporter's error.
type readableError struct {
	text string
	err  error
}

func (e *readableError) Error() string { return e.text }
func (e *readableError) Unwrap() error { return e.err }
