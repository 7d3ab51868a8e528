package gotracereceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/mapping"
)

// startUpload starts the HTTP endpoint for trace files.
func (r *gotraceReceiver) startUpload(ctx context.Context, host component.Host) error {
	cfg := r.uploadConfig
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("gotrace receiver: upload endpoint %s: %w", cfg.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(uploadPath, r.handleUpload)
	srv, err := cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		ln.Close()
		return fmt.Errorf("gotrace receiver: upload endpoint: %w", err)
	}
	r.upload, r.uploadAddr = srv, ln.Addr()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.set.Logger.Error("upload endpoint stopped", zap.Error(err))
		}
	}()
	return nil
}

// handleUpload converts a trace file POSTed to the upload endpoint. It
// answers 200 with the count of spans handed on (and of those sampled_only
// left out), 400 for a body that is not a whole trace (the spans before
// the break are handed on), 413 for
// one over max_request_body_size (likewise), and 503
// when the pipeline refused the spans or the Collector is shutting down.
func (r *gotraceReceiver) handleUpload(w http.ResponseWriter, req *http.Request) {
	// A request refused before its body is read is answered at once, and
	// its connection closed: the server would otherwise read the rest of
	// the body first, as long as a client that stalls takes to send it.
	refuse := func(msg string, status int) {
		w.Header().Set("Connection", "close")
		http.Error(w, msg, status)
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse("POST a Go execution trace to "+uploadPath+"?service_name=NAME", http.StatusMethodNotAllowed)
		return
	}
	// The upload's name, with its client's address, is in the messages of
	// its log lines, as a target's name is in a capture's: the
	// Collector's logger samples repeated messages, and would hide most
	// of the failures of uploads that fail at once.
	name := "upload from " + req.RemoteAddr
	began := time.Now()
	service := req.URL.Query().Get("service_name")
	if strings.TrimSpace(service) == "" {
		// Logged and counted: a client set up without it fails every
		// upload, which only its own logs would say. A blank name is
		// none: a backend would list a service of spaces.
		msg := "service_name: missing; POST to " + uploadPath + "?service_name=NAME"
		if service != "" {
			msg = "service_name: blank; POST to " + uploadPath + "?service_name=NAME"
		}
		r.set.Logger.Warn(name+" failed", zap.String("remote", req.RemoteAddr), zap.Error(errors.New(msg)))
		r.countUpload("failed", began)
		refuse(msg, http.StatusBadRequest)
		return
	}
	// A trace before Go 1.25 holds no clock snapshot: its client can
	// tell when it began, as trace2x's --start-time does; else its spans
	// are placed at the time of the upload, and the answer says so.
	var startTime time.Time
	if v := req.URL.Query().Get("start_time"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			msg := fmt.Sprintf("start_time: %q is not an RFC 3339 time, such as 2026-12-07T10:00:00Z", v)
			r.set.Logger.Warn(name+" failed", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Error(errors.New(msg)))
			r.countUpload("failed", began)
			refuse(msg, http.StatusBadRequest)
			return
		}
		startTime = t
	}
	if limit := r.uploadConfig.MaxRequestBodySize; limit > 0 && req.ContentLength > limit {
		// Said before a byte of it is read, as the reading would end.
		msg := fmt.Sprintf("%s: the trace, of %d bytes, is larger than the upload endpoint's max_request_body_size (%d bytes)", name, req.ContentLength, limit)
		r.set.Logger.Warn(name+" failed", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Error(errors.New(msg)))
		r.countUpload("failed", began)
		refuse(msg, http.StatusRequestEntityTooLarge)
		return
	}
	// Not the request's context: a client that stalls ends that too (its
	// read deadline does), and the conversion must fail with the stall,
	// which the body's read says, not with the context's end. Once the
	// body is in, a client that goes away ends the upload's wait for the
	// pipeline; before, the reads of the body fail.
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)()
	// A cancelled context does not interrupt a read of the body that
	// waits for a client that sends nothing; a read deadline does. So the
	// end of ctx (a shutdown, a refusing pipeline) sets one, and so does
	// a client that stalls (see stallReader).
	rc := http.NewResponseController(w)
	body := &stallReader{ctx: ctx, req: req.Context(), r: req.Body, rc: rc, stall: uploadStall, min: uploadMinBytes}
	defer context.AfterFunc(req.Context(), func() {
		if body.eof.Load() {
			cancel()
		}
	})()
	defer context.AfterFunc(ctx, func() {
		// Not once the body is in: the server then reads on to see the
		// client go, and a deadline there would end the request's
		// context, as if the client had gone.
		if !body.eof.Load() {
			rc.SetReadDeadline(time.Now())
		}
	})()
	defer func() {
		if !body.eof.Load() {
			// What is left of the body is not waited for: the server
			// reads it after the handler, and a client that stalled
			// would hold the connection, and a shutdown, that long.
			w.Header().Set("Connection", "close")
			rc.SetReadDeadline(time.Now())
		}
	}()

	start := time.Now()
	if n := r.held.Load(); n >= int64(cap(r.slots)) {
		err := fmt.Errorf("%s: %s: try again later", name, pipelineHolds(n))
		r.set.Logger.Warn(name+" failed", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Error(err))
		r.countUpload("failed", began)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	r.resumeHeld()
	// The slots are shared with the targets' captures, which a pipeline
	// that holds their spans can hold for as long as their timeouts: an
	// upload waits for one no longer than it would for the pipeline.
	slotWait := time.NewTimer(uploadRefusal)
	defer slotWait.Stop()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		// Counted as a shutdown that stops an upload under way is: an
		// upload answered is an upload counted.
		r.set.Logger.Info("upload stopped by shutdown while it waited for a slot", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Duration("elapsed", time.Since(start)))
		r.countUpload("cancelled", began)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, name+": the Collector is shutting down", http.StatusServiceUnavailable)
		return
	case <-req.Context().Done():
		// The client is gone, as one that goes while it sends its trace
		// is: a failed upload, which its client may not have logged.
		err := fmt.Errorf("%s: the client went away while the upload waited for one of the receiver's max_concurrent_captures (%d)", name, cap(r.slots))
		r.set.Logger.Warn(name+" failed", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Duration("elapsed", time.Since(start)), zap.Error(err))
		r.countUpload("failed", began)
		return
	case <-slotWait.C:
		err := fmt.Errorf("%s: every one of the receiver's max_concurrent_captures (%d) was busy for %v: try again later", name, cap(r.slots), uploadRefusal)
		r.set.Logger.Warn(name+" failed", zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Duration("elapsed", time.Since(start)), zap.Error(err))
		r.countUpload("failed", began)
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	// No export timeout: a pipeline that pushes back makes the upload
	// wait, as it makes a capture wait; the client, a shutdown, or a
	// refusal that lasts uploadRefusal ends the wait.
	// A compressed trace is decompressed here, so that the limit counts
	// what it expands to: a few hundred KB of zstd can expand to
	// gigabytes, which the parser holds a generation of (and the whole of
	// a trace before Go 1.22).
	var in io.Reader = body
	if limit := r.uploadConfig.MaxRequestBodySize; limit > 0 {
		in = &expandLimit{src: body, left: limit, limit: limit}
	}
	opts := []otel.Option{otel.WithInputName(name), otel.WithServiceName(service), otel.WithExportTimeout(0), otel.WithoutEnvResource()}
	if r.uploadConfig.SampledOnly {
		opts = append(opts, otel.WithSampledOnly())
	}
	if !startTime.IsZero() {
		opts = append(opts, otel.WithStartTime(startTime))
	}
	spans, res, err := r.convert(ctx, cancel, in, uploadRefusal, opts)
	fields := []zap.Field{zap.String("service.name", service), zap.String("remote", req.RemoteAddr), zap.Duration("elapsed", time.Since(start)), zap.Int64("spans", spans)}
	if res != nil && res.Summary != nil {
		fields = append(fields, zap.Int64("bytes", res.Summary.BytesRead))
	}
	if res != nil && res.TimeSource != otel.TimeFromClock {
		fields = append(fields, zap.Stringer("time_source", res.TimeSource))
	}
	if res != nil && res.Unsampled > 0 {
		// sampled_only left them out: the count says why there are few.
		fields = append(fields, zap.Int64("unsampled_spans_left_out", res.Unsampled))
	}
	outcome := "ok"
	status := http.StatusOK
	switch {
	case err == nil:
		r.set.Logger.Debug("upload done", fields...)
	case r.ctx.Err() != nil:
		outcome, status = "cancelled", http.StatusServiceUnavailable
		msg := "upload stopped by shutdown"
		if pb := (*pushedBack)(nil); errors.As(err, &pb) {
			msg += ", " + pb.why
		}
		r.set.Logger.Info(msg, fields...)
		// Whatever read or write it interrupted, the shutdown is why.
		err = fmt.Errorf("%s: the Collector is shutting down; %d spans from before were handed on", name, spans)
	default:
		outcome, status = "failed", http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		var expands *expandError
		switch {
		case errors.As(err, &tooLarge):
			// The reader's own account (a read that failed inside a
			// generation) would hide the one thing to change.
			status = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("%s: the trace is larger than the upload endpoint's max_request_body_size (%d bytes); "+
				"%d spans from before it were handed on", name, tooLarge.Limit, spans)
		case errors.As(err, &expands):
			status = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("%s: the trace decompresses to more than the upload endpoint's max_request_body_size (%d bytes); "+
				"%d spans from before it were handed on", name, expands.limit, spans)
		case errors.As(err, new(*stalled)):
			status = http.StatusRequestTimeout
		case errors.As(err, new(refusal)) || ctx.Err() != nil && req.Context().Err() == nil:
			status = http.StatusServiceUnavailable // the pipeline refused
		}
		if !strings.HasPrefix(err.Error(), name+":") {
			// The conversion's errors name the upload; the pipeline's
			// refusals do not.
			err = fmt.Errorf("%s: %w", name, err)
		}
		if status != http.StatusRequestEntityTooLarge && spans > 0 {
			// A client that sends the trace again would send these
			// twice.
			err = fmt.Errorf("%w; %d spans from before were handed on", err, spans)
		}
		r.set.Logger.Warn(name+" failed", append(fields, zap.Error(err))...)
	}
	r.countUpload(outcome, began)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			// The pipeline or the Collector may take it later: when to
			// try again, as every 503 of the endpoint says.
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, err.Error(), status)
		return
	}
	answer := fmt.Sprintf("%d spans", spans)
	if res != nil && res.Unsampled > 0 {
		// Said as the CLI says it: a client that counts the spans would
		// otherwise take the few for a loss.
		answer += fmt.Sprintf("; %d spans of requests the application did not sample are left out (sampled_only)", res.Unsampled)
	}
	if !startTime.IsZero() && res != nil && res.TimeSource == otel.TimeFromClock {
		// Said as the CLI says it: the client would take its start_time
		// for where the spans are.
		answer += "; start_time is not used: the trace records its own wall clock"
	}
	if res != nil && res.TimeSource == otel.TimeFromConversion && spans > 0 {
		answer += "; placed at the time of the upload: the trace (before Go 1.25) has no clock snapshot; give start_time=RFC3339 to place it"
	}
	fmt.Fprintln(w, answer)
}

// retryAfter is the Retry-After of the endpoint's 503s, in seconds.
const retryAfter = "60"

// uploadStall is how long an upload may send less than uploadMinBytes,
// counting only the time spent waiting for its bytes, before it is cut
// off: a client that stalls, or trickles a byte now and then, would
// otherwise hold a capture slot, which the targets' captures share, for
// as long as its connection lasts.
var (
	uploadStall    = 30 * time.Second
	uploadMinBytes = int64(1 << 10)
)

// uploadRefusal is how long the pipeline may refuse a batch of an
// upload's spans, for reasons that may pass (a memory limiter, an
// exporter's full queue or dead backend), before the upload is answered
// 503: a capture gives up at its timeout, and an upload has none, so it
// would otherwise hold its slot, and its client, for as long as the
// refusal lasts.
var uploadRefusal = 2 * time.Minute

// expandLimit decompresses an upload, when it is compressed, and fails a
// read past limit bytes of what it expands to. It decompresses at its
// first read, in the conversion, whose errors say what went wrong
// (a client that stalls, a body cut short).
type expandLimit struct {
	src, r      io.Reader
	left, limit int64
}

// expandError is expandLimit's error.
type expandError struct{ limit int64 }

func (e *expandError) Error() string {
	return fmt.Sprintf("the trace decompresses to more than %d bytes", e.limit)
}

func (l *expandLimit) Read(p []byte) (int, error) {
	if l.r == nil {
		r, err := mapping.Decompress(l.src)
		if err != nil {
			return 0, err
		}
		l.r = r
	}
	if l.left <= 0 {
		// A trace of exactly limit bytes is whole.
		var b [1]byte
		if n, err := l.r.Read(b[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, &expandError{l.limit}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// stallReader reads an upload's body, giving each read stall to bring
// bytes, and the reads of each stall's worth of waiting min bytes: a
// deadline on the whole body would cut off a large, slow upload that is
// still coming, and the time the conversion spends waiting for the
// pipeline is not the client's.
type stallReader struct {
	ctx   context.Context // its end ends the reads
	req   context.Context // the request's, which a failed read ends
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
	min   int64

	waited time.Duration // in reads, since the last check
	got    int64         // bytes read since then
	eof    atomic.Bool   // the body is in
}

func (s *stallReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.rc.SetReadDeadline(time.Now().Add(s.stall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	// Checked again after the deadline is set: the end of ctx sets one
	// too (see handleUpload), which this read must not undo, or the
	// server's reading of what is left of the body after the handler
	// would wait the whole stall time (and a shutdown with it).
	if err := s.ctx.Err(); err != nil {
		s.rc.SetReadDeadline(time.Now())
		return 0, err
	}
	start := time.Now()
	n, err := s.r.Read(p)
	s.waited += time.Since(start)
	s.got += int64(n)
	switch {
	case n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && s.ctx.Err() != nil && s.req.Err() == nil:
		// The deadline that the end of ctx set (a shutdown, a refusing
		// pipeline); a stall's ends the request's context too.
		err = s.ctx.Err()
	case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
		err = &stalled{fmt.Errorf("the client sent nothing for %v: %w", s.stall, err)}
	case err == io.EOF:
		s.eof.Store(true)
		// The body is in. The server now watches the connection for
		// the client's going away, under the read deadline, which must
		// not end an upload that waits for the pipeline.
		s.rc.SetReadDeadline(time.Time{})
	case s.waited >= s.stall:
		if s.got < s.min {
			return n, &stalled{fmt.Errorf("the client sent %d bytes in %v, under %d", s.got, s.waited.Round(time.Second), s.min)}
		}
		s.waited, s.got = 0, 0
	}
	return n, err
}

// stalled is the error of an upload whose client sent too little for
// too long: answered 408, the client's doing.
type stalled struct{ err error }

func (s *stalled) Error() string { return s.err.Error() }
func (s *stalled) Unwrap() error { return s.err }

// countUpload counts an upload under outcome, as a capture of the
// target "upload", and how long it took since began: both metrics count
// every upload, refused at once or not.
func (r *gotraceReceiver) countUpload(outcome string, began time.Time) {
	attrs := metric.WithAttributes(
		attribute.String("receiver", r.set.ID.String()),
		attribute.String("target", uploadTarget),
		attribute.String("outcome", outcome))
	r.captures.Add(context.Background(), 1, attrs)
	r.duration.Record(context.Background(), time.Since(began).Seconds(), attrs)
}
