package gotracereceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.uber.org/zap"

	"github.com/trace2x/trace2x/capture"
	"github.com/trace2x/trace2x/convert/otel"
)

// serviceInstanceID is the resource attribute that tells apart instances
// of one service (OpenTelemetry's semantic conventions).
const serviceInstanceID = "service.instance.id"

// gotraceReceiver captures traces from its targets on their schedules.
type gotraceReceiver struct {
	set     receiver.Settings
	next    consumer.Traces
	targets []*target
	obs     *receiverhelper.ObsReport
	connect time.Duration // the targets' connect_timeout
	// maxCapture is max_capture_size.
	maxCapture int64
	slots      chan struct{} // one per capture that may run at once
	// held counts the calls of the next consumer still under way after
	// the capture or upload that made them ended: a batch processor
	// does not let go of a call when its caller gives up, so while an
	// exporter's queue that blocks when full waits for a backend that is
	// down, each keeps its batch. Past max_concurrent_captures of them,
	// captures and uploads wait for the pipeline to take them (see
	// pipelineHolds), so that they do not pile up.
	held atomic.Int64
	// heldSaid is whether captures skipped for held calls were said, and
	// their resuming not yet.
	heldSaid atomic.Bool

	captures metric.Int64Counter
	duration metric.Float64Histogram

	upload       *http.Server // nil unless configured
	uploadConfig *UploadConfig
	uploadAddr   net.Addr // where it listens, once started

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// spooled, if set (by tests), is given each capture's spool.
	spooled func(*spool)
}

var _ receiver.Traces = (*gotraceReceiver)(nil)

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Traces) (*gotraceReceiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &gotraceReceiver{
		set:        set,
		next:       next,
		connect:    cfg.ConnectTimeout,
		maxCapture: cfg.MaxCaptureSize,
		slots:      make(chan struct{}, cfg.MaxConcurrentCaptures),
	}
	if cfg.Upload.HasValue() {
		r.uploadConfig = cfg.Upload.Get()
	}
	for _, tc := range cfg.Targets {
		t, err := tc.resolve()
		if err != nil {
			return nil, err
		}
		r.targets = append(r.targets, t)
	}
	var err error
	r.obs, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "http",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	meter := set.MeterProvider.Meter("github.com/trace2x/trace2x/otelcol/gotracereceiver")
	r.captures, err = meter.Int64Counter("otelcol_gotrace_captures",
		metric.WithDescription("Captures of Go execution traces, by target (\"upload\" for uploads) and outcome (ok, failed, cancelled; skipped for a turn that passed while the capture before it ran or waited for a slot)."),
		metric.WithUnit("{capture}"))
	if err != nil {
		return nil, err
	}
	r.duration, err = meter.Float64Histogram("otelcol_gotrace_capture_duration",
		metric.WithDescription("Time, in seconds, from a capture's request to its last span handed on, by target (\"upload\" for uploads, from the request to its answer, also for those refused at once) and outcome, as otelcol_gotrace_captures counts them, but for the turns skipped."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
	if err != nil {
		return nil, err
	}
	heldAttrs := metric.WithAttributes(attribute.String("receiver", set.ID.String()))
	_, err = meter.Int64ObservableGauge("otelcol_gotrace_held_batches",
		metric.WithDescription("Batches of spans the pipeline holds without taking them, after the capture or upload that handed them on gave up (a sending queue that blocks while its backend is down): from max_concurrent_captures of them, turns are skipped and uploads answered 503 until it takes them."),
		metric.WithUnit("{batch}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			// By receiver, as the other metrics are: a Collector can run
			// several, each with its own pipeline.
			o.Observe(r.held.Load(), heldAttrs)
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Start starts a loop per target and the upload endpoint; it returns at
// once.
func (r *gotraceReceiver) Start(startCtx context.Context, host component.Host) error {
	// The captures outlive Start's context, which only bounds starting.
	if len(r.targets) > 0 {
		// Every capture is taken into a temporary file (see spool): a
		// Collector that cannot make one would fail every capture after
		// asking its target for a trace.
		if err := checkSpoolDir(""); err != nil {
			return fmt.Errorf("gotrace receiver: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx, r.cancel = ctx, cancel
	for _, t := range r.targets {
		if err := r.startTarget(startCtx, t); err != nil {
			cancel()
			return fmt.Errorf("gotrace receiver: target %s: %w", t.name, err)
		}
	}
	if r.uploadConfig != nil {
		if err := r.startUpload(startCtx, host); err != nil {
			cancel()
			return err
		}
	}
	r.claimEndpoints()
	for _, t := range r.targets {
		// What runs is said once at start: a log that shows nothing
		// until something fails leaves a rollout unchecked.
		// The target is in the message: the Collector's logger samples
		// repeated messages, which would keep the first few of many.
		r.set.Logger.Info("capturing Go execution traces from "+t.name,
			zap.String("target", t.name), zap.String("endpoint", capture.Redact(t.url)),
			zap.Duration("interval", t.Interval), zap.Duration("duration", t.length))
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.loop(ctx, t)
		}()
	}
	if r.uploadAddr != nil {
		r.set.Logger.Info("taking Go execution trace uploads", zap.String("address", r.uploadAddr.String()), zap.String("path", uploadPath))
	}
	return nil
}

// Shutdown cancels the captures under way and waits for them to end.
func (r *gotraceReceiver) Shutdown(ctx context.Context) error {
	if r.cancel == nil {
		return nil // never started
	}
	r.cancel()
	r.releaseEndpoints()
	var errs []error
	if r.upload != nil {
		// Uploads under way see the cancellation and end.
		if err := r.upload.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gotrace receiver: upload endpoint: %w", err))
		}
	}
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("gotrace receiver: captures still ending at shutdown: %w", ctx.Err())
	}
	for _, t := range r.targets {
		if t.client != nil {
			t.client.CloseIdleConnections()
		}
	}
	return errors.Join(errs...)
}

// capturing is, by endpointKey, the receiver of this process that
// captures from each endpoint, and its target. The configuration of one
// receiver refuses two targets on an endpoint; this tells of two
// receivers (gotrace and gotrace/b) that share one.
var capturing = struct {
	sync.Mutex
	by map[string]capturer
}{by: make(map[string]capturer)}

type capturer struct {
	r      *gotraceReceiver
	target string
}

// claimEndpoints records r's targets' endpoints as captured, and warns
// of each that another receiver captures already: a program serves one
// trace at a time, so the captures of both would fail whenever the
// other's runs. Only a warning: the Collector could not say which
// receiver to stop, and refusing to start would stop them all.
func (r *gotraceReceiver) claimEndpoints() {
	capturing.Lock()
	defer capturing.Unlock()
	for _, t := range r.targets {
		key := endpointKey(t.Endpoint)
		other, taken := capturing.by[key]
		if !taken {
			capturing.by[key] = capturer{r: r, target: t.name}
			continue
		}
		r.set.Logger.Warn(fmt.Sprintf("the endpoint of target %s, %s, is captured by receiver %s too (its target %s), and a program serves one trace at a time: the captures of each fail while the other's run; capture it from one receiver",
			t.name, capture.Redact(t.url), other.r.set.ID, other.target),
			zap.String("target", t.name), zap.String("other_receiver", other.r.set.ID.String()), zap.String("other_target", other.target))
	}
}

// releaseEndpoints frees the endpoints r claimed.
func (r *gotraceReceiver) releaseEndpoints() {
	capturing.Lock()
	defer capturing.Unlock()
	for key, c := range capturing.by {
		if c.r == r {
			delete(capturing.by, key)
		}
	}
}

// startTarget makes t's HTTP client, with its TLS settings, and says
// once that a cpu_profile it has does nothing.
func (r *gotraceReceiver) startTarget(ctx context.Context, t *target) error {
	t.client = capture.NewClient(r.connect)
	if t.url.Scheme == "https" {
		tlsCfg, err := t.TLS.LoadTLSConfig(ctx)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		t.client.Transport.(*http.Transport).TLSClientConfig = tlsCfg
	}
	if t.CPUProfile {
		r.set.Logger.Warn("cpu_profile has no effect and is ignored: the spans carry no CPU samples, and a CPU profile would keep the target's own profilers out",
			zap.String("target", t.name))
	}
	return nil
}

// loop captures from t at every interval until ctx is cancelled. A
// capture that outlasts the interval makes the turns it overlaps be
// skipped: a slow target is not asked for two traces at once, nor again
// as soon as it answers.
func (r *gotraceReceiver) loop(ctx context.Context, t *target) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	for first := true; ; first = false {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if !r.takeSlot(ctx, t, next, first) {
			return
		}
		// The schedule goes on from when the capture began: targets
		// that waited for a slot as they all began together keep apart
		// after, rather than wait again at every turn.
		began := time.Now()
		if n := r.held.Load(); n >= int64(cap(r.slots)) {
			r.skipHeld(t, n)
		} else {
			r.resumeHeld()
			r.scrape(ctx, t)
		}
		<-r.slots
		next = nextTurn(began, t.Interval, time.Now())
		if ctx.Err() == nil {
			r.checkSkipped(t, began, next)
		}
		timer.Reset(time.Until(next))
	}
}

// takeSlot waits for one of max_concurrent_captures for the capture of
// t whose turn came at turn, and reports whether it got one before ctx
// ended. While it waits, each turn that passes is counted as skipped, and
// a wait of half an interval is said (see checkLate); on the first turn,
// when every target begins at once, only a wait that loses a turn is.
func (r *gotraceReceiver) takeSlot(ctx context.Context, t *target, turn time.Time, first bool) bool {
	select {
	case r.slots <- struct{}{}:
		return true
	default:
	}
	said := t.Interval / 2
	if first {
		said = t.Interval
	}
	late := time.NewTimer(time.Until(turn.Add(said)))
	defer late.Stop()
	missed := time.NewTimer(time.Until(turn.Add(t.Interval)))
	defer missed.Stop()
	for n := int64(1); ; {
		select {
		case r.slots <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		case <-late.C:
			r.checkLate(t, time.Since(turn))
		case <-missed.C:
			r.countSkipped(t, 1)
			n++
			missed.Reset(time.Until(turn.Add(time.Duration(n) * t.Interval)))
		}
	}
}

// checkLate says, once per target, when its capture has waited half an
// interval or more after its turn because the other captures held every
// one of max_concurrent_captures: the schedule then stretches, and turns
// are skipped, which nothing else would show.
func (r *gotraceReceiver) checkLate(t *target, late time.Duration) {
	if late < t.Interval/2 || t.lateSaid {
		return
	}
	t.lateSaid = true
	r.set.Logger.Warn(fmt.Sprintf("capture of %s has waited %v after its turn for one of max_concurrent_captures (%d), held by other captures: its turns are late or skipped (counted under outcome \"skipped\"); raise max_concurrent_captures, or lengthen the intervals or shorten the durations of the targets",
		t.name, late.Round(time.Millisecond), cap(r.slots)),
		zap.String("target", t.name), zap.Duration("late", late), zap.Duration("interval", t.Interval))
}

// checkSkipped counts the turns of t skipped because its capture, begun
// at began, ended after them (next is the turn it takes next), and says
// so once per target: a schedule that silently takes one capture in two
// would read as a target that is captured as configured.
func (r *gotraceReceiver) checkSkipped(t *target, began, next time.Time) {
	skipped := int64(next.Sub(began)/t.Interval) - 1
	if skipped < 1 {
		return
	}
	r.countSkipped(t, skipped)
	if t.skipSaid {
		return
	}
	t.skipSaid = true
	took := time.Since(began)
	what := "the turn it overlapped was"
	if skipped > 1 {
		what = fmt.Sprintf("the %d turns it overlapped were", skipped)
	}
	r.set.Logger.Warn(fmt.Sprintf("capture of %s took %v, past its interval of %v, so %s skipped; turns are skipped while captures take this long, and counted under outcome \"skipped\"; lengthen interval, or shorten duration or timeout",
		t.name, took.Round(time.Millisecond), t.Interval, what),
		zap.String("target", t.name), zap.Duration("took", took), zap.Duration("interval", t.Interval), zap.Int64("skipped", skipped))
}

// skipHeld skips the turn of t while the pipeline holds n batches of
// earlier captures without taking them (see held), and says so once
// until t captures again.
func (r *gotraceReceiver) skipHeld(t *target, n int64) {
	r.countSkipped(t, 1)
	if !r.heldSaid.CompareAndSwap(false, true) {
		return
	}
	// Said once for the receiver, whose targets all wait for the same
	// pipeline, and again when it takes them back (see resumeHeld).
	r.set.Logger.Warn(fmt.Sprintf("captures skipped: %s; every target's turns are skipped, counted under outcome \"skipped\", and uploads answered 503, until it takes them", pipelineHolds(n)),
		zap.String("target", t.name), zap.Int64("held_batches", n))
}

// resumeHeld says, once, that the pipeline took the batches that made
// captures be skipped.
func (r *gotraceReceiver) resumeHeld() {
	if r.heldSaid.CompareAndSwap(true, false) {
		r.set.Logger.Info("the pipeline took the batches it held: captures and uploads resume", zap.Int64("held_batches", r.held.Load()))
	}
}

// pipelineHolds says why a capture or upload is not made while the
// pipeline holds n batches that earlier ones gave up on.
func pipelineHolds(n int64) string {
	return fmt.Sprintf("the pipeline still holds %d batches of earlier captures or uploads that gave up on it, without taking them (an exporter's sending queue that blocks when full, while its backend is down)", n)
}

// countSkipped counts n turns of t skipped, under outcome "skipped".
func (r *gotraceReceiver) countSkipped(t *target, n int64) {
	r.captures.Add(context.Background(), n, metric.WithAttributes(
		attribute.String("receiver", r.set.ID.String()),
		attribute.String("target", t.name),
		attribute.String("outcome", "skipped")))
}

// nextTurn is the first turn after now of the schedule that had a turn
// at last and has one every interval.
func nextTurn(last time.Time, interval time.Duration, now time.Time) time.Time {
	next := last.Add(interval)
	if !next.After(now) {
		next = next.Add((now.Sub(next)/interval + 1) * interval)
	}
	return next
}

// scrape makes one capture from t and hands its spans on. Failures are
// logged and counted, never returned: the next turn tries again.
func (r *gotraceReceiver) scrape(ctx context.Context, t *target) {
	start := time.Now()
	spans, received, res, err := r.capture(ctx, t)
	elapsed := time.Since(start)
	fields := []zap.Field{zap.String("target", t.name), zap.String("url", capture.Redact(t.url)), zap.Duration("elapsed", elapsed), zap.Int64("spans", spans)}
	if res != nil && res.Summary != nil {
		fields = append(fields, zap.Int64("bytes", res.Summary.BytesRead))
	}
	// What the target sent, which may be more than was converted by the
	// timeout.
	fields = append(fields, zap.Int64("received", received))
	if res != nil && res.Unsampled > 0 {
		// sampled_only left them out: the count says why there are few.
		fields = append(fields, zap.Int64("unsampled_spans_left_out", res.Unsampled))
	}
	// The target is in the message too: the Collector's logger samples
	// repeated messages, which would hide all but the first few targets
	// failing at once.
	outcome := "ok"
	switch {
	case err != nil && ctx.Err() != nil:
		// The Collector is shutting down: not the target's fault.
		outcome = "cancelled"
		msg := "capture of " + t.name + " stopped by shutdown"
		if pb := (*pushedBack)(nil); errors.As(err, &pb) {
			// The spans not taken are counted as refused: the log says
			// why there are few.
			msg += ", " + pb.why
		}
		r.set.Logger.Info(msg, fields...)
	default:
		if err != nil {
			outcome = "failed"
		}
		r.logOutcome(t, start, spans, err, fields)
	}
	r.checkOverlap(t, res)
	attrs := metric.WithAttributes(
		attribute.String("receiver", r.set.ID.String()),
		attribute.String("target", t.name),
		attribute.String("outcome", outcome))
	r.captures.Add(context.Background(), 1, attrs)
	r.duration.Record(context.Background(), elapsed.Seconds(), metric.WithAttributes(
		attribute.String("receiver", r.set.ID.String()),
		attribute.String("target", t.name),
		attribute.String("outcome", outcome)))
}

// failureRepeat is how often a target that keeps failing for the same
// cause is said again at Warn, with the count of its failures: at every
// turn, a target that is down for a day would fill the log with the
// same line, 1,440 times at the default interval.
var failureRepeat = 10 * time.Minute

// logOutcome logs a capture that did not end in a shutdown: a failure
// at Warn the first time, when its cause changes and every
// failureRepeat while it lasts (at Debug in between), a target that
// succeeds again at Info, with how long it failed, and once per target a
// capture that made no span, which a target that records no task or
// region makes without failing.
func (r *gotraceReceiver) logOutcome(t *target, start time.Time, spans int64, err error, fields []zap.Field) {
	log := r.set.Logger
	if err != nil {
		cause := causeOf(err)
		t.failures++
		fields = append(fields, zap.Error(err))
		switch {
		case t.failures == 1 || cause != t.failCause:
			if t.failures == 1 {
				t.failedSince = start
			}
			t.failCause, t.failSaid = cause, time.Now()
			log.Warn("capture of "+t.name+" failed", fields...)
		case time.Since(t.failSaid) >= failureRepeat:
			t.failSaid = time.Now()
			log.Warn(fmt.Sprintf("capture of %s still fails: %d failed captures since %s", t.name, t.failures, t.failedSince.Format(time.RFC3339)),
				append(fields, zap.Int("failures", t.failures), zap.Time("since", t.failedSince))...)
		default:
			log.Debug("capture of "+t.name+" failed again", fields...)
		}
		return
	}
	if t.failures > 0 {
		log.Info(fmt.Sprintf("capture of %s succeeds again, after %d failed captures since %s", t.name, t.failures, t.failedSince.Format(time.RFC3339)),
			append(fields, zap.Int("failures", t.failures), zap.Time("since", t.failedSince))...)
		t.failures, t.failCause = 0, ""
		return
	}
	if spans == 0 && !t.noSpansSaid {
		t.noSpansSaid = true
		log.Info("capture of "+t.name+" made no span: the program records no task or region in it (runtime/trace.NewTask, WithRegion), or the endpoint is another program's; said once", fields...)
		return
	}
	log.Debug("capture of "+t.name+" done", fields...)
}

// causeOf is what tells one cause of failure from another: the error's
// text without its numbers, which change from one capture to the next
// (times, sizes, ports of the connection), nor what it quotes (the first
// bytes of a body that is not a trace, which a target that sends noise
// or another format changes at every capture).
func causeOf(err error) string {
	var b strings.Builder
	quoted, escaped := false, false
	for _, r := range err.Error() {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case quoted, r >= '0' && r <= '9':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkOverlap says, once per target, when a capture began before the one
// before it ended, as a flight-recorder window polled more often than it
// turns over does: what lies in both is exported twice, under other span
// IDs (a capture's IDs follow from its first generation), and a backend
// shows it twice.
// Only a trace with a wall clock (Go 1.25+) tells.
func (r *gotraceReceiver) checkOverlap(t *target, res *otel.Result) {
	if res == nil || res.Summary == nil || res.TimeSource != otel.TimeFromClock {
		return
	}
	start := res.Start
	end := start.Add(time.Duration(res.Summary.End - res.Summary.Start))
	if over := t.lastEnd.Sub(start); over > 0 && !t.overlapSaid {
		t.overlapSaid = true
		r.set.Logger.Warn("captures of "+t.name+" overlap: the spans of the time in both are exported twice, under other IDs unless both begin with the same generation; make interval at least as long as the window the target serves, and a second more",
			zap.String("target", t.name), zap.Duration("overlap", over), zap.Duration("interval", t.Interval))
	}
	if end.After(t.lastEnd) {
		t.lastEnd = end
	}
}

// capture fetches one trace from t and converts it while it streams in.
// It returns the spans the pipeline accepted.
func (r *gotraceReceiver) capture(ctx context.Context, t *target) (spans, received int64, res *otel.Result, err error) {
	cctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	// A trace without a wall clock (before Go 1.25) is placed from when
	// it was asked for, when /debug/pprof/trace starts tracing, rather
	// than from when its conversion began: after its first generation,
	// or after the whole of a Go 1.21 trace.
	asked := time.Now()
	c, err := capture.Open(cctx, t.url, capture.Options{Client: t.client, Header: t.header})
	if err != nil {
		if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded) {
			// The request itself ended with the timeout: the target
			// never answered it (or never took its connection), which
			// "context deadline exceeded" does not say.
			return 0, 0, nil, fmt.Errorf("timed out after %v (timeout) with no response from the target: its response headers did not come in that time", t.Timeout)
		}
		return 0, 0, nil, r.why(ctx, cctx, t, err)
	}
	// Taken as fast as the target sends it, converted at its own pace.
	sp, err := newSpool(c, "", r.maxCapture)
	if err != nil {
		c.Close()
		return 0, 0, nil, err
	}
	if r.spooled != nil {
		r.spooled(sp)
	}
	spans, res, err = r.convert(cctx, cancel, sp, 0, append(r.convertOptions(t), otel.WithStartTime(asked)))
	sp.Close(c.Close)
	received = sp.taken()
	var large *captureTooLarge
	if errors.As(err, &large) {
		// Said first: the reader's account of where the trace broke off
		// would hide the one thing to change.
		err = fmt.Errorf("%w; %d spans from before it were handed on", large, spans)
	}
	if err != nil && c.Redirected != "" {
		// A login page behind an auth proxy, most often.
		err = fmt.Errorf("%w (the target redirected the request to %s)", err, c.Redirected)
	}
	return spans, received, res, r.why(ctx, cctx, t, err)
}

// convert converts the trace in and hands its spans to the pipeline; ctx
// bounds it, and cancel ends ctx (a pipeline that refuses for good stops
// the conversion with it). It returns the spans the pipeline accepted.
func (r *gotraceReceiver) convert(ctx context.Context, cancel context.CancelFunc, in io.Reader, giveUp time.Duration, opts []otel.Option) (int64, *otel.Result, error) {
	// What was converted when ctx ends (a timeout, a shutdown, a client
	// gone) is still handed on for flushGrace: the pipeline is given a
	// context that ends then, not with ctx.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	exp := &pdataExporter{ctx: hctx, capture: ctx, fail: cancel, next: r.next, obs: r.obs, giveUp: giveUp, held: &r.held}
	start := time.Now()
	var grace *time.Timer
	var mu sync.Mutex
	// What the pipeline held when ctx ended, and for how long.
	var heldSpans int64
	var held, waited, ran time.Duration
	defer context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		heldSpans, held, waited = exp.holding()
		ran = time.Since(start)
		grace = time.AfterFunc(flushGrace, hcancel)
	})()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if grace != nil {
			grace.Stop()
		}
	}()
	res, err := otel.Convert(ctx, in, exp, append(opts, otel.WithFlushTimeout(flushGrace))...)
	exp.orphan()
	if res != nil {
		exp.countUnoffered(res.Spans())
	}
	eerr := exp.error()
	if eerr != nil {
		err = eerr // the conversion stopped because of it
	} else if err == nil && ctx.Err() != nil {
		// Spans of the end may have been dropped as the conversion ended.
		err = ctx.Err()
	}
	if eerr == nil && err != nil && ctx.Err() != nil {
		// A capture that ran out of time while the pipeline pushed back
		// is not the target's fault: say so, whether the pipeline
		// refused the spans or held them (a sending queue that blocks
		// when full, and what waits behind it).
		mu.Lock()
		heldSpans, held, waited, ran := heldSpans, held, waited, ran
		mu.Unlock()
		switch refusal := exp.refusal(); {
		case refusal != nil:
			err = &pushedBack{err, fmt.Sprintf("while the pipeline refused the spans (%v)", refusal)}
		case held >= heldLong:
			err = &pushedBack{err, fmt.Sprintf("while the pipeline pushed back: it held a batch of %d spans, without taking it, for %v (the conversion waited for the pipeline %v in all, of %v)",
				heldSpans, held.Round(time.Millisecond), waited.Round(time.Millisecond), ran.Round(time.Millisecond))}
		case waited >= ran/2 && waited >= heldLong:
			err = &pushedBack{err, fmt.Sprintf("while the pipeline pushed back: the conversion waited for it to take the spans %v in all, of %v",
				waited.Round(time.Millisecond), ran.Round(time.Millisecond))}
		}
	}
	return exp.accepted.Load(), res, err
}

// pushedBack is the error of a capture or upload that ended (its
// timeout, a shutdown) while the pipeline pushed back: why says how, for
// a shutdown's log line too, which gives no error of its own.
type pushedBack struct {
	err error
	why string
}

func (p *pushedBack) Error() string { return p.err.Error() + ", " + p.why }
func (p *pushedBack) Unwrap() error { return p.err }

// heldLong is how long a pipeline must have held a capture's spans, when
// the capture ended, for the capture's error to name it: a call of the
// next consumer that takes the spans lasts milliseconds.
const heldLong = time.Second

// why words a capture's error: one that its timeout caused says so,
// whatever read or write it interrupted, and a connection that took too
// long names connect_timeout.
func (r *gotraceReceiver) why(ctx, cctx context.Context, t *target, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" && oe.Timeout() && cctx.Err() == nil {
		return fmt.Errorf("no connection within connect_timeout (%v): %w", r.connect, err)
	}
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		if err == nil {
			err = cctx.Err()
		}
		return fmt.Errorf("timed out after %v (timeout): %w", t.Timeout, err)
	}
	return err
}

// instanceOf is the host and port of u, the port its scheme's if it
// gives none, as the Prometheus receiver names an instance.
func instanceOf(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func (r *gotraceReceiver) convertOptions(t *target) []otel.Option {
	opts := []otel.Option{
		otel.WithInputName(capture.Redact(t.url)),
		otel.WithServiceName(t.ServiceName),
		// The Collector's own resource variables describe the Collector.
		otel.WithoutEnvResource(),
		// The capture's timeout bounds the hand-over of its spans; what
		// was converted when it ends (at the timeout, or at a shutdown)
		// is still handed on, for up to flushGrace.
		otel.WithExportTimeout(0),
	}
	// Replicas of one service are told apart by their endpoint, as the
	// Collector's Prometheus receiver tells its targets' instances.
	kvs := make([]attribute.KeyValue, 0, len(t.ResourceAttributes)+1)
	if _, ok := t.ResourceAttributes[serviceInstanceID]; !ok {
		kvs = append(kvs, attribute.String(serviceInstanceID, instanceOf(t.url)))
	}
	for k, v := range t.ResourceAttributes {
		kvs = append(kvs, attribute.String(k, v))
	}
	opts = append(opts, otel.WithResource(resource.NewSchemaless(kvs...)))
	if t.RuntimeSpans {
		opts = append(opts, otel.WithRuntimeSpans())
	}
	if t.NoStacktraces {
		opts = append(opts, otel.WithoutStacktraces())
	}
	if t.SampledOnly {
		opts = append(opts, otel.WithSampledOnly())
	}
	return opts
}

// flushGrace is how long the spans a capture or an upload converted
// before it ended (a timeout, a shutdown, a client gone) are still handed
// to the pipeline: long enough for a pipeline that takes them, short
// enough that one that blocks does not hold a shutdown.
const flushGrace = 5 * time.Second
