package flight

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path"
	"runtime"
	"runtime/trace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/mapping"
)

// Outcome is what became of a request, for the triggers to judge.
type Outcome struct {
	// Status is the response's status code: 200 if the handler set none,
	// 500 if it panicked before it set one. When the handler aborted the
	// response (Aborted), it is the status the handler had set, or 0; when
	// it hijacked the connection before it set one (Hijacked), 0.
	Status   int
	Duration time.Duration // from the start of the middleware to the handler's return
	Panicked bool          // the handler panicked (other than with http.ErrAbortHandler)
	// Aborted says the handler panicked with http.ErrAbortHandler, which
	// cuts the response off: httputil.ReverseProxy does so when the
	// client went away; or that it called runtime.Goexit, which does too. It is not a failure of the server: no status is
	// made up for it, and it triggers a snapshot only if it was slow, its
	// status fails (FailedWhen), or TriggerWhen says so.
	Aborted bool
	// Hijacked says the handler took the connection over
	// (http.Hijacker), as a WebSocket's does: what it wrote there is its
	// own, and the request's duration is the connection's, so it is not
	// slow (SlowerThan); TriggerWhen still judges it.
	Hijacked bool
}

// MiddlewareOption configures a Middleware.
type MiddlewareOption interface{ applyMW(*mwConfig) }

type mwConfig struct {
	slow     time.Duration
	failed   func(status int) bool
	when     func(r *http.Request, o Outcome) bool
	taskName func(r *http.Request) string
}

type mwOptionFunc func(*mwConfig)

func (f mwOptionFunc) applyMW(c *mwConfig) { f(c) }

// DefaultSlow is the duration over which a request triggers a snapshot,
// unless SlowerThan says otherwise.
const DefaultSlow = time.Second

// SlowerThan triggers a snapshot for a request that takes longer than d;
// zero turns this trigger off. The default is DefaultSlow, a second.
func SlowerThan(d time.Duration) MiddlewareOption {
	return mwOptionFunc(func(c *mwConfig) { c.slow = d })
}

// FailedWhen says which status codes are failures that trigger a
// snapshot; nil turns this trigger off. The default is a status of 500 or
// more. A handler that panics always triggers one; f is not asked about
// a response aborted before it had a status (see Outcome.Aborted).
func FailedWhen(f func(status int) bool) MiddlewareOption {
	return mwOptionFunc(func(c *mwConfig) { c.failed = f })
}

// TriggerWhen triggers a snapshot for the requests for which f returns
// true, besides the slow and failed ones. f is called after every
// request, whatever the other triggers decide (so that it may also count
// or log them), on the request's goroutine: it must be quick. A request
// that several triggers choose is one trigger, named after the first of
// panic, failed, slow and f's ("request").
func TriggerWhen(f func(r *http.Request, o Outcome) bool) MiddlewareOption {
	return mwOptionFunc(func(c *mwConfig) { c.when = f })
}

// TaskName names each request's task (its span's name). By default it is
// the request's route: the pattern of the http.ServeMux that serves it,
// with the method ("GET /users/{id}"), else the method alone ("GET"), as
// OpenTelemetry's HTTP conventions name a span without a route: the path
// would make a name per URL (a scanner's every probe, each user's ID).
func TaskName(f func(r *http.Request) string) MiddlewareOption {
	return mwOptionFunc(func(c *mwConfig) { c.taskName = f })
}

func defaultFailed(status int) bool { return status >= 500 }

// Middleware wraps next so that each request runs in a runtime/trace task
// named after its route, which logs the request's W3C trace context
// (category "traceparent": the OpenTelemetry span in the request's
// context if there is one, else the request's traceparent header). The
// task's spans then join the request's distributed trace when a snapshot
// is exported. Put it inside an OpenTelemetry handler (otelhttp), if
// there is one, so that its span is in the context (Stats.HeaderTraceparents
// counts the requests whose traceparent came from their header). A
// request of a millisecond or more restates both at its end (categories
// "traceparent" and mapping.CategoryTaskType), so that a snapshot whose
// window began after the request did, as a slow request's often does,
// still names its span and joins it to the request's trace.
//
// A request slower than SlowerThan, failed (FailedWhen, or a panic, which
// is passed on), or chosen by TriggerWhen triggers a snapshot; the
// request does not wait for it. A request that the Recorder's own Handler
// serves (a capture, a window's conversion), or that calls its Snapshot
// with the request's context, triggers none: it is slow for the snapshot.
// A response
// aborted with http.ErrAbortHandler (a client gone) is not a failure: it
// triggers no snapshot by itself. Its span still gets the status Error,
// since the client did not get the response whole, and the panic is
// passed on.
//
// When next is an *http.ServeMux, its pattern for the request names the
// task; otherwise, for routes, wrap each handler in the mux
// (mux.Handle("GET /x", rec.Middleware(h))), or give TaskName.
//
// A nil next panics at once, as http.Handle does, rather than in every
// request.
func (r *Recorder) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	if next == nil {
		panic("flight: Middleware of a nil handler")
	}
	if r.off() {
		return next // no recorder: nothing to record
	}
	c := mwConfig{slow: DefaultSlow, failed: defaultFailed}
	for _, o := range opts {
		if o != nil {
			o.applyMW(&c)
		}
	}
	r.wrapped.Store(true)
	m := &middleware{rec: r, next: next, cfg: c}
	m.mux, _ = next.(*http.ServeMux)
	return m
}

type middleware struct {
	rec  *Recorder
	next http.Handler
	mux  *http.ServeMux
	cfg  mwConfig
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := m.rec.clk.Now()
	if !m.rec.stopped.Load() {
		m.rec.stats.requests.Add(1)
	}
	name := m.taskName(req)
	ctx, task := trace.NewTask(req.Context(), name)
	// The Recorder's own Handler, mounted behind the middleware, marks
	// its requests: a capture or a window's conversion takes seconds, and
	// would trigger the snapshot it is not.
	own := &ownRequest{rec: m.rec}
	ctx = context.WithValue(ctx, ownRequestKey{}, own)
	// The traceparent comes first, before any region of the task ends:
	// the conversion fixes a task's trace when its first span is sent.
	tp := traceparent(req)
	if tp != "" {
		trace.Log(ctx, mapping.CategoryTraceparent, tp)
		if !m.rec.stopped.Load() && !oteltrace.SpanContextFromContext(req.Context()).IsValid() {
			m.rec.stats.headerTraceparents.Add(1)
		}
	}
	sw, hw := wrap(w)
	sw.srv, _ = req.Context().Value(http.ServerContextKey).(*http.Server)
	panicked := true
	defer func() {
		var p any
		if panicked {
			p = recover()
		}
		// A handler that panics, even with nil, is recovered with a
		// value (since Go 1.21, a *runtime.PanicNilError): nothing
		// recovered is runtime.Goexit, which goes on after this.
		goexit := panicked && p == nil
		o := Outcome{Status: sw.status, Duration: m.rec.clk.Now().Sub(start), Hijacked: sw.hijacked}
		o.Aborted = p == http.ErrAbortHandler || goexit
		o.Panicked = p != nil && !o.Aborted
		if o.Status == 0 && !o.Aborted && !o.Hijacked {
			o.Status = http.StatusOK
			if o.Panicked {
				o.Status = http.StatusInternalServerError
			}
		}
		// A snapshot whose window began after the request did holds
		// neither the task's begin, which names it, nor its first log:
		// the task restates both, so that its span is named and joins
		// the request's trace all the same (see mapping.CategoryTaskType
		// and otel.WithTraceparentsExpected). A request under a
		// millisecond, which the window can hardly cut, is spared the
		// two logs' cost, under a microsecond.
		if o.Duration >= restateAfter {
			if tp != "" {
				trace.Log(ctx, mapping.CategoryTraceparent, tp)
			}
			trace.Log(ctx, mapping.CategoryTaskType, name)
		}
		// How the request ended, for its span (see
		// otel.CategoryHTTPStatus): its status, Error for a panic or an
		// abort, whose response the client did not get whole.
		if !o.Aborted && o.Status != 0 {
			trace.Log(ctx, otel.CategoryHTTPStatus, strconv.Itoa(o.Status))
		}
		switch {
		case o.Panicked:
			trace.Log(ctx, otel.CategoryError, fmt.Sprintf("panic: %v", p))
		case o.Aborted:
			trace.Log(ctx, otel.CategoryError, "the handler aborted the response")
		}
		task.End()
		// After the task's end, so that the snapshot holds it whole.
		if reason := m.trigger(req, o); reason != "" && !own.served.Load() {
			m.rec.Trigger(reason)
		}
		if panicked && !goexit {
			// Passed on as it came, http.ErrAbortHandler too, for
			// net/http to close the connection (and log nothing for it).
			panic(p) // within the deferred call: the stack still shows where
		}
	}()
	m.next.ServeHTTP(hw, req.WithContext(ctx))
	panicked = false
}

// restateAfter is how long a request lasts before its task restates its
// traceparent and name at its end.
const restateAfter = time.Millisecond

// ownRequest is in the context of a request the middleware passes on;
// the Recorder's Handler sets served when it serves it.
type ownRequest struct {
	rec    *Recorder
	served atomic.Bool
}

type ownRequestKey struct{}

// markOwn notes that r's Handler serves req, if r's middleware passed it.
func (r *Recorder) markOwn(req *http.Request) { r.markOwnCtx(req.Context()) }

// markOwnCtx notes that r exports for the request of ctx, if r's
// middleware passed it: it triggers nothing of its own.
func (r *Recorder) markOwnCtx(ctx context.Context) {
	if ctx == nil {
		return
	}
	if o, ok := ctx.Value(ownRequestKey{}).(*ownRequest); ok && o.rec == r {
		o.served.Store(true)
	}
}

// trigger returns why the request triggers a snapshot, or "".
func (m *middleware) trigger(req *http.Request, o Outcome) string {
	// Asked first, and always, as its documentation says.
	chosen := m.cfg.when != nil && m.cfg.when(req, o)
	switch {
	case o.Panicked:
		return "panic"
	case m.cfg.failed != nil && o.Status != 0 && m.cfg.failed(o.Status):
		return "failed"
	case m.cfg.slow > 0 && o.Duration > m.cfg.slow && !o.Hijacked:
		return "slow"
	case chosen:
		return "request"
	}
	return ""
}

func (m *middleware) taskName(req *http.Request) string {
	if m.cfg.taskName != nil {
		return m.cfg.taskName(req)
	}
	// The route of the mux the middleware wraps is the request's,
	// rather than that of a mux the middleware is mounted in
	// ("/checkout/", which req.Pattern holds then).
	pattern := ""
	if m.mux != nil {
		_, pattern = m.mux.Handler(req)
	}
	if pattern == "" {
		pattern = req.Pattern
	}
	if pattern == "" {
		return req.Method
	}
	// A pattern that starts with a method ("GET /x") is the route as is.
	if i := strings.IndexAny(pattern, " /"); i > 0 && pattern[i] == ' ' {
		return pattern
	}
	return req.Method + " " + pattern
}

// traceparent returns the W3C traceparent of the request's span: the
// OpenTelemetry span in its context, else its traceparent header if it
// is valid, else "".
func traceparent(req *http.Request) string {
	if sc := oteltrace.SpanContextFromContext(req.Context()); sc.IsValid() {
		return formatTraceparent(sc)
	}
	h := req.Header["Traceparent"]
	if len(h) != 1 {
		return "" // none, or several, which the specification rejects
	}
	return validTraceparent(h[0])
}

// validTraceparent returns h as a version 00 traceparent if it is valid by
// the W3C Trace Context rules, else "". A valid version 00 header is
// returned as it is, without a copy.
func validTraceparent(h string) string {
	// version "-" trace-id "-" parent-id "-" flags, all lower-case hex.
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return ""
	}
	if !lowerHex(h[0:2]) || h[0:2] == "ff" || !lowerHex(h[3:35]) || !lowerHex(h[36:52]) || !lowerHex(h[53:55]) {
		return ""
	}
	if allZero(h[3:35]) || allZero(h[36:52]) {
		return ""
	}
	if h[0:2] == "00" {
		if len(h) != 55 {
			return ""
		}
		return h
	}
	// A later version may add fields after a dash; its first fields are
	// read as version 00's.
	if len(h) > 55 && h[55] != '-' {
		return ""
	}
	return "00" + h[2:55]
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}

// formatTraceparent writes sc as a version 00 traceparent.
func formatTraceparent(sc oteltrace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// statusWriter notes the status of the response. It passes ReadFrom on
// and unwraps for http.ResponseController; wrap gives it the Flush and
// Hijack methods of the writer it wraps, and only those.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
	srv      *http.Server // the server's, for its error log; nil outside one
}

// wrap returns a writer that notes w's status, for the handler: one
// that is an http.Flusher or http.Hijacker where w is, and not where w is
// not, since handlers choose what to do by asking (a WebSocket library
// falls back where the writer cannot be hijacked, as under HTTP/2).
func wrap(w http.ResponseWriter) (*statusWriter, http.ResponseWriter) {
	sw := &statusWriter{ResponseWriter: w}
	_, fl := w.(http.Flusher)
	_, hj := w.(http.Hijacker)
	switch {
	case fl && hj:
		return sw, flushHijackWriter{sw}
	case fl:
		return sw, flushWriter{sw}
	case hj:
		return sw, hijackWriter{sw}
	}
	return sw, sw
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx responses are interim; the final status comes later.
	final := code >= 200 || code == http.StatusSwitchingProtocols
	if w.status != 0 && final && !w.hijacked {
		// net/http would log this call as the middleware's; it is the
		// handler's.
		w.superfluous()
		return
	}
	if w.status == 0 && final {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// superfluous logs a second final WriteHeader as net/http does, in the
// server's error log, but naming the handler's call, the first outside
// net/http and this package.
func (w *statusWriter) superfluous() {
	pc := make([]uintptr, 16)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	var caller runtime.Frame
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "net/http.") && !strings.HasPrefix(f.Function, thisPackage) {
			caller = f
			break
		}
		if !more {
			break
		}
	}
	msg := fmt.Sprintf("http: superfluous response.WriteHeader call from %s (%s:%d)", caller.Function, path.Base(caller.File), caller.Line)
	if w.srv != nil && w.srv.ErrorLog != nil {
		w.srv.ErrorLog.Print(msg)
	} else {
		log.Print(msg)
	}
}

// thisPackage prefixes the names of this package's functions.
const thisPackage = "github.com/trace2x/trace2x/flight."

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) flush() { w.ResponseWriter.(http.Flusher).Flush() }

func (w *statusWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := w.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil && w.status == 0 {
		// What the handler writes on the connection is its own: net/http
		// writes no status for it.
		w.hijacked = true
	}
	return c, rw, err
}

type flushWriter struct{ *statusWriter }

// Flush flushes the underlying writer.
func (w flushWriter) Flush() { w.flush() }

type hijackWriter struct{ *statusWriter }

// Hijack hijacks the underlying writer's connection.
func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }

type flushHijackWriter struct{ *statusWriter }

// Flush flushes the underlying writer.
func (w flushHijackWriter) Flush() { w.flush() }

// Hijack hijacks the underlying writer's connection.
func (w flushHijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
