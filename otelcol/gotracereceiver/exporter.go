package gotracereceiver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/convert/otel"
)

// pdataExporter hands the spans of one capture to the next consumer of
// the pipeline, as pdata. It is the sdktrace.SpanExporter that
// otel.Convert exports to, so the spans are exactly those of trace2x's
// conversion: otel.ToOTLP gives their OTLP form, which pdata reads.
//
// The batch span processor of the conversion calls ExportSpans from one
// goroutine, and the conversion waits while the queue before it is full,
// so a consumer that blocks or refuses for a while slows the capture down
// rather than losing spans. A consumer that refuses for good ends the
// capture: the exporter keeps the error and cancels the capture's
// context, which stops the conversion.
type pdataExporter struct {
	ctx context.Context // ends flushGrace after the capture: its end stops retries
	// capture is the capture's own context. Once it has ended, a call's
	// context cut short is the flush grace running out, not a refusal:
	// the capture reports its end, with the pipeline's refusal beside it.
	capture context.Context
	fail    func() // cancels capture
	next    consumer.Traces
	obs     *receiverhelper.ObsReport
	// giveUp, if not 0, is how long a batch may be refused, for reasons
	// that may pass, before the refusal ends the conversion, and how long
	// the calls of the consumer may hold the spans in all: an upload has
	// no timeout of its own (see uploadRefusal).
	giveUp time.Duration
	// stalled is the time the calls of the consumer that held their
	// spans stallCall or more took, in all: a pipeline that takes a batch
	// now and then (an exporter's blocking queue that drops one as its
	// retries run out) holds an upload on as surely as one that takes
	// none.
	stalled atomic.Int64

	accepted atomic.Int64 // spans the consumer took
	// calling is when the call of the consumer under way began (Unix
	// nanoseconds; 0 between calls), and callSpans how many spans it
	// offers; waited is the time the calls before it took. A pipeline
	// that blocks rather than refuse (an exporter's sending queue with
	// block_on_overflow) shows only there.
	calling   atomic.Int64
	callSpans atomic.Int64
	waited    atomic.Int64
	// refusing is the consumer's last refusal while it refuses for a
	// reason that may pass; nil once it takes spans again.
	refusing atomic.Pointer[error]
	// held counts, receiver-wide, the calls left under way when their
	// capture ended (see orphan); orphaned is 1 while this exporter's
	// is counted there, 2 once it is not any more.
	held     *atomic.Int64
	orphaned atomic.Int32

	mu  sync.Mutex
	err error // the first refusal for good
	// offered counts the spans offered to the consumer, each of which the
	// receiver's metrics count once, as accepted or refused; closed is
	// set once the capture has counted the rest as refused (see
	// countUnoffered), after which no span is offered.
	offered int64
	closed  bool
}

var _ sdktrace.SpanExporter = (*pdataExporter)(nil)

// orphan counts, when the capture has ended, a call of the consumer
// still under way in held, until it returns.
func (e *pdataExporter) orphan() {
	if e.held == nil || e.calling.Load() == 0 || !e.orphaned.CompareAndSwap(0, 1) {
		return
	}
	e.held.Add(1)
	if e.calling.Load() == 0 {
		e.unorphan() // it returned meanwhile
	}
}

// unorphan uncounts the call orphan counted, once.
func (e *pdataExporter) unorphan() {
	if e.orphaned.CompareAndSwap(1, 2) {
		e.held.Add(-1)
	}
}

// dataFormat names the form spans arrive in, for the receiver's metrics.
const dataFormat = "go_execution_trace"

// ExportSpans hands spans on. It returns no error: a failure is kept for
// the capture to report, so that the SDK's global error handler does not
// print it a second time.
func (e *pdataExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 || e.failed() {
		return nil
	}
	err := e.export(ctx, spans)
	if err != nil {
		e.keep(err)
		e.fail()
	}
	return nil
}

// keep keeps err as the capture's refusal, unless one came first.
func (e *pdataExporter) keep(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func (e *pdataExporter) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otel.ToOTLP(spans)}
	b, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding spans: %w", err)
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		return fmt.Errorf("decoding spans as pdata: %w", err)
	}
	return e.consume(ctx, td)
}

// consume hands td on, retrying while the consumer refuses it for a
// reason that may pass (a memory limiter, a full queue), until the
// capture ends. A permanent refusal is returned at once. The receiver's
// metrics count td once, however many tries it took: accepted if one
// was, refused otherwise, as the OTLP receiver counts a request whose
// client retries.
func (e *pdataExporter) consume(ctx context.Context, td ptrace.Traces) error {
	n := td.SpanCount()
	if !e.offer(n) {
		return nil // counted as refused already
	}
	// The consumer is told when the capture ends, also while the batch
	// span processor flushes with a context of its own.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.ctx, cancel)()
	backoff := 50 * time.Millisecond
	octx := e.obs.StartTracesOp(ctx)
	start := time.Now()
	// A pipeline that holds the spans rather than refuse them (an
	// exporter's sending queue that blocks when full, behind a backend
	// that is down) is given up on as one that refuses them is.
	var gaveUp atomic.Bool
	held := func() error {
		return refusal{fmt.Errorf("the pipeline did not take %d spans in %v of waiting (it held them, as an exporter's queue that blocks when full does while its backend is down, taking a batch now and then at most)", n, e.giveUp)}
	}
	if e.giveUp > 0 {
		// What is left of giveUp, which the call under way counts
		// towards once it has held its spans stallCall.
		left := e.giveUp
		if stalled := time.Duration(e.stalled.Load()); stalled > 0 {
			left = max(e.giveUp-stalled, stallCall)
		}
		t := time.AfterFunc(left, func() {
			gaveUp.Store(true)
			cancel()
			// A consumer that holds the call and does not heed its
			// context (a batch processor) would hold the capture on: it
			// ends all the same, and the call is counted as held (see
			// orphan). One that refuses is answered by the loop.
			if e.calling.Load() != 0 && e.refusal() == nil {
				e.keep(held())
				e.fail()
			}
		})
		defer t.Stop()
	}
	for {
		called := time.Now()
		e.callSpans.Store(int64(n))
		e.calling.Store(called.UnixNano())
		err := e.next.ConsumeTraces(octx, td)
		e.calling.Store(0)
		e.unorphan()
		took := time.Since(called)
		e.waited.Add(int64(took))
		if took >= stallCall {
			e.stalled.Add(int64(took))
		}
		if err == nil {
			e.obs.EndTracesOp(octx, dataFormat, n, nil)
			e.accepted.Add(int64(n))
			e.refusing.Store(nil)
			return nil
		}
		if gaveUp.Load() && e.ctx.Err() == nil && e.capture.Err() == nil && e.refusal() == nil {
			e.obs.EndTracesOp(octx, dataFormat, n, err)
			return held()
		}
		if ctx.Err() != nil && (e.ctx.Err() != nil || e.capture.Err() != nil) {
			// The call gave up as the capture ended, not because the
			// pipeline refused the spans.
			e.obs.EndTracesOp(octx, dataFormat, n, err)
			return nil
		}
		e.refusing.Store(&err)
		if consumererror.IsPermanent(err) {
			e.obs.EndTracesOp(octx, dataFormat, n, err)
			return refusal{fmt.Errorf("the pipeline refused %d spans: %w", n, err)}
		}
		if e.giveUp > 0 && time.Since(start) >= e.giveUp {
			e.obs.EndTracesOp(octx, dataFormat, n, err)
			return refusal{fmt.Errorf("the pipeline refused %d spans for %v: %w", n, e.giveUp, err)}
		}
		select {
		case <-ctx.Done():
			e.obs.EndTracesOp(octx, dataFormat, n, err)
			if e.ctx.Err() != nil || e.capture.Err() != nil {
				return nil // the capture ended for reasons of its own
			}
			if gaveUp.Load() {
				return refusal{fmt.Errorf("the pipeline refused %d spans for %v: %w", n, e.giveUp, err)}
			}
			return refusal{fmt.Errorf("the pipeline refused %d spans: %w", n, err)}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// offer counts n spans as offered to the consumer, unless the capture
// has counted what it did not offer already.
func (e *pdataExporter) offer(n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.offered += int64(n)
	return true
}

// countUnoffered counts as refused, in the receiver's metrics, those of
// the made spans of the conversion that were never offered to the
// consumer: those still queued when the capture ended and the flush grace
// ran out, behind a batch the pipeline did not take, and those after a
// refusal for good. Counted nowhere else, they would be lost unsaid. It
// returns how many there were; no span is offered after it.
func (e *pdataExporter) countUnoffered(made int64) int64 {
	e.mu.Lock()
	e.closed = true
	lost := made - e.offered
	e.mu.Unlock()
	if lost <= 0 {
		return 0
	}
	// Downstream: the pipeline did not take them, whether it refused or
	// held what came before them, as for the spans it refused itself.
	ctx := e.obs.StartTracesOp(context.Background())
	e.obs.EndTracesOp(ctx, dataFormat, int(lost), consumererror.NewDownstream(fmt.Errorf("%d spans converted were never offered to the pipeline", lost)))
	return lost
}

// stallCall is how long a call of the consumer must hold its spans to
// count as stalled: a pipeline that pushes back but works takes a batch
// in well under that.
var stallCall = 5 * time.Second

// refusal is the error of spans the pipeline refused: the Collector's
// fault, or its backend's, not the input's.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

func (e *pdataExporter) failed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err != nil
}

// refusal returns the consumer's refusal if it is refusing the spans at
// the moment, for a reason that may pass.
func (e *pdataExporter) refusal() error {
	if p := e.refusing.Load(); p != nil {
		return *p
	}
	return nil
}

// holding returns how many spans the call of the consumer under way
// offers, and for how long it has held them; and how long the calls took
// in all, that one included.
func (e *pdataExporter) holding() (spans int64, held, waited time.Duration) {
	waited = time.Duration(e.waited.Load())
	if c := e.calling.Load(); c != 0 {
		held = time.Since(time.Unix(0, c))
		spans = e.callSpans.Load()
	}
	return spans, held, waited + held
}

// error returns the refusal that ended the capture, if one did.
func (e *pdataExporter) error() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Shutdown does nothing: the exporter lives as long as its capture.
func (e *pdataExporter) Shutdown(context.Context) error { return nil }
