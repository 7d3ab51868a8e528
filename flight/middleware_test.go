package flight

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/convert/otel"
)

// TestTriggers: which requests trigger a snapshot, and why.
func TestTriggers(t *testing.T) {
	clk := newFakeClock()
	r, exports := testRecorder(t, &fakeSource{}, clk, WithCoalesce(0), WithMinInterval(0))
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/slow":
			clk.Advance(2 * time.Second)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/404":
			http.NotFound(w, req)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/abort-slow":
			w.WriteHeader(http.StatusOK)
			clk.Advance(2 * time.Second)
			panic(http.ErrAbortHandler)
		case "/goexit":
			runtime.Goexit()
		case "/early":
			w.WriteHeader(http.StatusEarlyHints) // interim: the final status is 200
			w.Write([]byte("ok"))
		}
	})
	seen := map[string]Outcome{} // what TriggerWhen was asked about
	mw := r.Middleware(h,
		SlowerThan(time.Second),
		TriggerWhen(func(req *http.Request, o Outcome) bool {
			seen[req.URL.Path] = o
			return o.Status == http.StatusTeapot
		}))
	for _, tc := range []struct {
		path, reason string
		panics       bool
	}{
		{"/fast", "", false},
		{"/404", "", false},
		{"/early", "", false},
		{"/slow", "slow", false},
		{"/503", "failed", false},
		{"/teapot", "request", false},
		{"/panic", "panic", true},
		{"/abort", "", true},          // a client gone: not a failure, and still passed on
		{"/abort-slow", "slow", true}, // but it can be slow
	} {
		before := r.Stats().Triggers
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			mw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tc.path, nil))
			return false
		}()
		if panicked != tc.panics {
			t.Errorf("%s: panicked %v, want %v (the middleware passes panics on)", tc.path, panicked, tc.panics)
		}
		triggered := r.Stats().Triggers - before
		if tc.reason == "" {
			if triggered != 0 {
				t.Errorf("%s triggered a snapshot", tc.path)
			}
			continue
		}
		if triggered != 1 {
			t.Errorf("%s: %d triggers, want 1", tc.path, triggered)
			continue
		}
		if e := receive(t, exports); e.Reason != tc.reason {
			t.Errorf("%s: snapshot reason %q, want %q", tc.path, e.Reason, tc.reason)
		}
	}
	if n := r.Stats().Requests; n != 9 {
		t.Errorf("%d requests counted, want 9", n)
	}
	// TriggerWhen sees every request, those the other triggers chose too.
	if len(seen) != 9 {
		t.Errorf("TriggerWhen was asked about %d requests, want all 9: %v", len(seen), seen)
	}
	if o := seen["/abort"]; !o.Aborted || o.Panicked || o.Status != 0 {
		t.Errorf("/abort: outcome %+v; want aborted, not panicked, no status made up", o)
	}
	if o := seen["/abort-slow"]; !o.Aborted || o.Status != http.StatusOK {
		t.Errorf("/abort-slow: outcome %+v; want aborted with the status it had set", o)
	}
	if o := seen["/panic"]; !o.Panicked || o.Aborted || o.Status != http.StatusInternalServerError {
		t.Errorf("/panic: outcome %+v", o)
	}

	// runtime.Goexit in a handler (t.FailNow in a test server) goes on
	// as it came: no panic is made of it, and the response is aborted.
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		mw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/goexit", nil))
		done <- "returned"
	}()
	if p := <-done; p != nil {
		t.Errorf("a handler's runtime.Goexit came out of the middleware as %v", p)
	}
	if o := seen["/goexit"]; !o.Aborted || o.Panicked {
		t.Errorf("/goexit: outcome %+v; want aborted, not panicked", o)
	}

	// Thresholds and predicates off: nothing triggers but a panic.
	off := r.Middleware(h, SlowerThan(0), FailedWhen(nil))
	before := r.Stats().Triggers
	for _, p := range []string{"/slow", "/503"} {
		off.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if n := r.Stats().Triggers - before; n != 0 {
		t.Errorf("%d triggers with the triggers off", n)
	}
}

func TestTaskName(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/static/", func(http.ResponseWriter, *http.Request) {})
	r, _ := testRecorder(t, &fakeSource{}, newFakeClock())
	for _, tc := range []struct {
		h          http.Handler
		method, to string
		want       string
	}{
		{mux, "GET", "/users/42", "GET /users/{id}"},
		{mux, "HEAD", "/static/a.css", "HEAD /static/"},
		// No route: the method alone, not a name per URL.
		{mux, "GET", "/nowhere", "GET"},
		{http.NotFoundHandler(), "POST", "/users/42", "POST"},
	} {
		m := r.Middleware(tc.h).(*middleware)
		if got := m.taskName(httptest.NewRequest(tc.method, tc.to, nil)); got != tc.want {
			t.Errorf("%s %s: task %q, want %q", tc.method, tc.to, got, tc.want)
		}
	}
	// Mounted in another mux, which set its own pattern: the wrapped
	// mux's route names the task.
	inner := r.Middleware(mux).(*middleware)
	req := httptest.NewRequest("GET", "/users/7", nil)
	req.Pattern = "/users/" // as the outer mux sets it
	if got := inner.taskName(req); got != "GET /users/{id}" {
		t.Errorf("in a mux mounted in another: task %q, want GET /users/{id}", got)
	}
	m := r.Middleware(mux, TaskName(func(*http.Request) string { return "mine" })).(*middleware)
	if got := m.taskName(httptest.NewRequest("GET", "/users/1", nil)); got != "mine" {
		t.Errorf("TaskName: %q", got)
	}
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
)

func TestTraceparent(t *testing.T) {
	tp := "00-" + clientTrace + "-" + clientSpan + "-01"
	tid, _ := oteltrace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := oteltrace.SpanIDFromHex("b7ad6b7169203331")
	span := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: tid, SpanID: sid})
	for _, tc := range []struct {
		name, header string
		ctx          oteltrace.SpanContext
		want         string
	}{
		{"header", tp, oteltrace.SpanContext{}, tp},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", oteltrace.SpanContext{}, ""},
		{"zero trace ID", "00-00000000000000000000000000000000-" + clientSpan + "-01", oteltrace.SpanContext{}, ""},
		{"short", "00-" + clientTrace + "-00f067aa-01", oteltrace.SpanContext{}, ""},
		{"junk", "hello", oteltrace.SpanContext{}, ""},
		{"none", "", oteltrace.SpanContext{}, ""},
		{"zero span ID", "00-" + clientTrace + "-0000000000000000-01", oteltrace.SpanContext{}, ""},
		{"version ff", "ff-" + clientTrace + "-" + clientSpan + "-01", oteltrace.SpanContext{}, ""},
		{"version 00, too long", tp + "-x", oteltrace.SpanContext{}, ""},
		{"later version with more fields", "cc-" + clientTrace + "-" + clientSpan + "-01-what-not", oteltrace.SpanContext{}, tp},
		{"later version, no dash", "cc-" + clientTrace + "-" + clientSpan + "-01x", oteltrace.SpanContext{}, ""},
		{"bad flags", "00-" + clientTrace + "-" + clientSpan + "-0g", oteltrace.SpanContext{}, ""},
		{"no dashes", "00_" + clientTrace + "_" + clientSpan + "_01", oteltrace.SpanContext{}, ""},
		{"span in context wins", tp, span, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			req.Header.Set("traceparent", tc.header)
		}
		if tc.ctx.IsValid() {
			req = req.WithContext(oteltrace.ContextWithSpanContext(req.Context(), tc.ctx))
		}
		if got := traceparent(req); got != tc.want {
			t.Errorf("%s: traceparent %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMiddlewareJoinsTrace runs requests through the middleware on the
// runtime's flight recorder and converts a snapshot: each request's task
// is a child of the span its client sent, with its regions under it, and
// a request with a traceparent that does not parse stays out of any
// remote trace.
func TestMiddlewareJoinsTrace(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	rec, err := Start(WithExporter(mem), WithServiceName("joins"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /work/{n}", func(w http.ResponseWriter, req *http.Request) {
		trace.WithRegion(req.Context(), "compute", func() { time.Sleep(time.Millisecond) })
	})
	h := rec.Middleware(mux)
	// A request inside an OpenTelemetry server span, as otelhttp makes.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "server")
	span.End()

	reqs := map[string]*http.Request{
		"header":  httptest.NewRequest("GET", "/work/1", nil),
		"context": httptest.NewRequestWithContext(ctx, "GET", "/work/2", nil),
		"bad":     httptest.NewRequest("GET", "/work/3", nil),
	}
	reqs["header"].Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	reqs["bad"].Header.Set("traceparent", "00-"+clientTrace+"-0000000000000000-01")
	for _, name := range []string{"header", "context", "bad"} {
		h.ServeHTTP(httptest.NewRecorder(), reqs[name])
	}
	// Only the header's came from a header: a Middleware outside
	// otelhttp would count every request.
	if n := rec.Stats().HeaderTraceparents; n != 1 {
		t.Errorf("%d requests took their header's traceparent, want 1", n)
	}
	e, err := rec.Snapshot(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Joined < 2 {
		t.Errorf("%d tasks joined a remote trace, want 2 at least", e.Joined)
	}
	spans := mem.GetSpans()
	check := func(task tracetest.SpanStub, wantParent string) {
		t.Helper()
		if task.Parent.SpanID().String() != wantParent || !task.Parent.IsRemote() {
			t.Errorf("task in trace %s: parent %s (remote %v), want the remote %s", task.SpanContext.TraceID(), task.Parent.SpanID(), task.Parent.IsRemote(), wantParent)
		}
		// Its region is its child, in its trace.
		found := false
		for _, r := range spans {
			if r.Name == "compute" && r.Parent.SpanID() == task.SpanContext.SpanID() {
				found = true
				if r.SpanContext.TraceID() != task.SpanContext.TraceID() {
					t.Errorf("task in trace %s: its region is in trace %s", task.SpanContext.TraceID(), r.SpanContext.TraceID())
				}
			}
		}
		if !found {
			t.Errorf("task in trace %s: no region span under it", task.SpanContext.TraceID())
		}
	}
	// The mux's pattern names all three tasks alike; tell them apart by
	// their trace.
	byTrace := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		if s.Name == "GET /work/{n}" {
			tid := s.SpanContext.TraceID().String()
			byTrace[tid] = append(byTrace[tid], s)
		}
	}
	ctxTrace := span.SpanContext().TraceID().String()
	if len(byTrace) != 3 || len(byTrace[clientTrace]) != 1 || len(byTrace[ctxTrace]) != 1 {
		t.Fatalf("tasks by trace: %d traces, %d in the header's, %d in the context's; want 3, 1 and 1", len(byTrace), len(byTrace[clientTrace]), len(byTrace[ctxTrace]))
	}
	check(byTrace[clientTrace][0], clientSpan)
	check(byTrace[ctxTrace][0], span.SpanContext().SpanID().String())
}

// TestMiddlewareAfterStop: after Stop the middleware still serves, but
// counts no request nor trigger, as nothing can be snapshotted.
func TestMiddlewareAfterStop(t *testing.T) {
	r, _ := testRecorder(t, &fakeSource{}, newFakeClock(), WithCoalesce(0))
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if st := r.Stats(); st.Requests != 1 || st.Triggers != 1 {
		t.Fatalf("stats %+v; want 1 request, 1 trigger", st)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	r.Trigger("after")
	if _, err := r.Snapshot(context.Background(), "after"); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Snapshot after Stop: %v, want an error saying the recorder is stopped", err)
	}
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("after Stop the handler answered %d", rec.Code)
	}
	if st := r.Stats(); st.Requests != 1 || st.Triggers != 1 || st.SnapshotErrors != 0 {
		t.Errorf("stats after Stop %+v; want still 1 request, 1 trigger, no snapshot error", st)
	}
}

// TestMiddlewareSnapshotRoute: a route of the program's own that takes a
// snapshot (for a watchdog) is slow for the snapshot: it triggers no
// second one through the middleware, where another slow request does.
func TestMiddlewareSnapshotRoute(t *testing.T) {
	clk := newFakeClock()
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, clk, WithCoalesce(0))
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/snap" {
			if _, err := r.Snapshot(req.Context(), "ondemand"); err != nil {
				t.Error(err)
			}
		}
		clk.Advance(2 * time.Second) // slower than the default, a second
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/snap", nil))
	if st := r.Stats(); st.Requests != 1 || st.Triggers != 1 {
		t.Errorf("after the snapshot route: stats %+v; want 1 request, 1 trigger (the snapshot's own)", st)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
	if st := r.Stats(); st.Requests != 2 || st.Triggers != 2 {
		t.Errorf("after a slow request: stats %+v; want 2 requests, 2 triggers", st)
	}
}

// TestMiddlewareNilHandler checks that a nil handler is refused where the
// middleware is made, as http.Handle refuses one, not in every request.
func TestMiddlewareNilHandler(t *testing.T) {
	r, _ := testRecorder(t, &fakeSource{}, newFakeClock())
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "nil handler") {
			t.Errorf("Middleware(nil): recovered %v, want a panic naming the nil handler", p)
		}
	}()
	r.Middleware(nil)
}

// TestOwnHandlerNoTrigger mounts the Recorder's Handler behind its
// Middleware, as a service does: a slow request to it (a capture takes
// seconds) triggers no snapshot, while one to another Recorder's does.
func TestOwnHandlerNoTrigger(t *testing.T) {
	clk := newFakeClock()
	r, _ := testRecorder(t, &fakeSource{}, clk, WithCoalesce(0), WithMinInterval(0))
	other := &Recorder{}
	slowly := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			clk.Advance(2 * time.Second)
			h.ServeHTTP(w, req)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/trace2x/", slowly(r.Handler()))
	mux.Handle("/other/", slowly(other.Handler()))
	mw := r.Middleware(mux, SlowerThan(time.Second))
	for _, tc := range []struct {
		path    string
		trigger int64
	}{{"/debug/trace2x/", 0}, {"/other/", 1}} {
		before := r.Stats().Triggers
		// POST: the handler refuses it at once, after marking it its own.
		mw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", tc.path, nil))
		if n := r.Stats().Triggers - before; n != tc.trigger {
			t.Errorf("%s: %d triggers, want %d", tc.path, n, tc.trigger)
		}
	}
}

// TestNilRecorder: the nil Recorder that a failed Start returns serves a
// program that goes on without it: requests pass through the middleware
// as they are, the handler says the recorder did not start, and the
// other methods do nothing or fail. So does a zero Recorder, which Start
// did not make. A nil option is ignored.
func TestNilRecorder(t *testing.T) {
	for _, r := range []*Recorder{nil, new(Recorder)} {
		nilRecorder(t, r)
	}
}

// nilRecorder checks that r, a nil Recorder or a zero one, does nothing.
func nilRecorder(t *testing.T, r *Recorder) {
	var opt MiddlewareOption // left unset
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), opt)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("through a nil recorder's middleware: %d, want the handler's %d", rec.Code, http.StatusTeapot)
	}
	rec = httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "did not start") {
		t.Errorf("a nil recorder's handler: %d %q, want 503 saying why", rec.Code, rec.Body)
	}
	r.Trigger("nil")
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := r.Snapshot(context.Background(), "nil"); err == nil {
		t.Error("Snapshot of a nil recorder succeeded")
	}
	if _, err := r.WriteTo(io.Discard); err == nil {
		t.Error("WriteTo of a nil recorder succeeded")
	}
	if st := r.Stats(); st != (Stats{}) {
		t.Errorf("Stats %+v, want none", st)
	}
	var o Option
	if c := newConfig([]Option{o}); c.interval != DefaultMinInterval {
		t.Errorf("a nil option changed the configuration: %+v", c)
	}
	// A nil exporter is most likely one whose making failed: refused
	// before the runtime's recorder starts, not a recorder that sends
	// nothing without a word.
	if rec, err := Start(WithExporter(nil)); err == nil || !strings.Contains(err.Error(), "WithExporter") {
		rec.Stop(context.Background())
		t.Errorf("Start(WithExporter(nil)): %v, want it refused", err)
	}
}

// TestMiddlewareOutcome: a request's span says how it ended: its status
// code as http.response.status_code, and the status Error for a server
// error, a panic or an abort, with what happened as its description and
// error.type (the status code, else the conventions' "_OTHER").
func TestMiddlewareOutcome(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	rec, err := Start(WithExporter(mem), WithServiceName("outcome"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	mux.HandleFunc("GET /unavailable", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("out of cheese") })
	mux.HandleFunc("GET /abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h := rec.Middleware(mux)
	for _, path := range []string{"/ok", "/missing", "/unavailable", "/panic", "/abort"} {
		func() {
			defer func() { recover() }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		}()
	}
	if _, err := rec.Snapshot(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	got := map[string]tracetest.SpanStub{}
	for _, s := range mem.GetSpans() {
		got[s.Name] = s
	}
	for _, c := range []struct {
		name   string
		status int64 // 0: none
		code   codes.Code
		desc   string
		errTyp string
	}{
		{"GET /ok", 200, codes.Unset, "", ""},
		{"GET /missing", 404, codes.Unset, "", ""},
		{"GET /unavailable", 503, codes.Error, "", "503"},
		{"GET /panic", 500, codes.Error, "panic: out of cheese", "500"},
		{"GET /abort", 0, codes.Error, "the handler aborted the response", "_OTHER"},
	} {
		s, ok := got[c.name]
		if !ok {
			t.Errorf("no span %q", c.name)
			continue
		}
		var status int64
		errTyp := ""
		for _, a := range s.Attributes {
			switch a.Key {
			case "http.response.status_code":
				status = a.Value.AsInt64()
			case "error.type":
				errTyp = a.Value.AsString()
			}
		}
		if status != c.status || s.Status.Code != c.code || s.Status.Description != c.desc || errTyp != c.errTyp {
			t.Errorf("%s: status code %d, span status %v %q, error.type %q; want %d, %v %q, %q", c.name, status, s.Status.Code, s.Status.Description, errTyp, c.status, c.code, c.desc, c.errTyp)
		}
	}
}

// TestMiddlewareSampledOnly: with otel.WithSampledOnly, a request whose
// traceparent says the application did not sample it makes no spans, and
// Stats counts what was left out.
func TestMiddlewareSampledOnly(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	rec, err := Start(WithExporter(mem), WithServiceName("sampled"), WithOTelOptions(otel.WithSampledOnly()))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop(context.Background())
	h := rec.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		trace.WithRegion(req.Context(), "compute", func() {})
	}))
	for _, tp := range []string{
		"00-" + clientTrace + "-" + clientSpan + "-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", // not sampled
	} {
		req := httptest.NewRequest("GET", "/work", nil)
		req.Header.Set("traceparent", tp)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	e, err := rec.Snapshot(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mem.GetSpans() {
		if s.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("span %q of the unsampled request sent", s.Name)
		}
	}
	if st := rec.Stats(); st.SpansUnsampled != 2 {
		t.Errorf("%d spans counted as left out, want the unsampled request's task and region", st.SpansUnsampled)
	}
	if e.SpansUnsampled != 2 || e.Spans == 0 {
		t.Errorf("the export says %d spans sent, %d left out; want the sampled request's and 2", e.Spans, e.SpansUnsampled)
	}
}
