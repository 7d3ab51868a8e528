package gotracereceiver

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trace2x/trace2x/internal/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sampleTrace is a trace recorded by testdata/gen with 12 user tasks.
func sampleTrace(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "annotations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// harness is a receiver under test with its logs and telemetry.
type harness struct {
	t    testing.TB
	r    *gotraceReceiver
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
}

func newHarness(t testing.TB, cfg *Config, next consumer.Traces) *harness {
	t.Helper()
	return newHarnessID(t, component.NewID(componentType), cfg, next)
}

// newHarnessID is newHarness for the receiver of the ID given.
func newHarnessID(t testing.TB, id component.ID, cfg *Config, next consumer.Traces) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	set := receiver.Settings{ID: id, TelemetrySettings: tel.NewTelemetrySettings()}
	set.Logger = zap.New(core)
	rcv, err := NewFactory().CreateTraces(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, r: rcv.(*gotraceReceiver), logs: logs, tel: tel}
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { h.stop() })
}

func (h *harness) stop() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.r.Shutdown(ctx); err != nil {
		h.t.Error(err)
	}
}

// captures returns the otelcol_gotrace_captures count for target and
// outcome.
func (h *harness) captures(target, outcome string) int64 {
	m, err := h.tel.GetMetric("otelcol_gotrace_captures")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		tv, _ := dp.Attributes.Value("target")
		ov, _ := dp.Attributes.Value("outcome")
		if tv.AsString() == target && ov.AsString() == outcome {
			n += dp.Value
		}
	}
	return n
}

// spans returns the receiver's otelcol_receiver_<outcome>_spans count.
func (h *harness) spans(outcome string) int64 {
	m, err := h.tel.GetMetric("otelcol_receiver_" + outcome + "_spans")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// durations returns how many otelcol_gotrace_capture_duration values
// target has, of the outcome given ("" for all).
func (h *harness) durations(target, outcome string) uint64 {
	m, err := h.tel.GetMetric("otelcol_gotrace_capture_duration")
	if err != nil {
		return 0
	}
	var n uint64
	for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		tv, _ := dp.Attributes.Value("target")
		ov, _ := dp.Attributes.Value("outcome")
		if tv.AsString() == target && (outcome == "" || ov.AsString() == outcome) {
			n += dp.Count
		}
	}
	return n
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// spansByService counts the spans a sink holds by service.name.
func spansByService(sink *consumertest.TracesSink) map[string]int {
	n := make(map[string]int)
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				n[svc.AsString()] += rs.ScopeSpans().At(j).Spans().Len()
			}
		}
	}
	return n
}

// fakeTargets serves the sample trace at /good/debug/pprof/trace, and
// at other paths what real servers do wrong.
func fakeTargets(t *testing.T, trace []byte) (*httptest.Server, *sync.Map) {
	var hits sync.Map // path -> *atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		switch r.URL.Path {
		case "/good/debug/pprof/trace":
			if r.URL.Query().Get("seconds") != "0.5" {
				http.Error(w, "want seconds=0.5, got "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			w.Write(trace)
		case "/good/debug/pprof/profile":
			w.Write([]byte("profile"))
		case "/busy/debug/pprof/trace":
			http.Error(w, "Could not enable tracing: tracing already enabled", http.StatusInternalServerError)
		case "/garbage/debug/pprof/trace":
			w.Write([]byte("<html><body>login</body></html>"))
		case "/cut/debug/pprof/trace":
			w.Write(trace[:len(trace)/2])
		case "/hang/debug/pprof/trace":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/silent/debug/pprof/trace":
			// Takes the request and never answers it.
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hitCount(hits *sync.Map, path string) int64 {
	c, ok := hits.Load(path)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

func TestScrape(t *testing.T) {
	trace := sampleTrace(t)
	srv, hits := fakeTargets(t, trace)
	target := func(name, path string) TargetConfig {
		return TargetConfig{Name: name, Endpoint: srv.URL + path, Interval: time.Hour, Duration: 500 * time.Millisecond, Timeout: 2 * time.Second}
	}
	good := target("good", "/good/debug/pprof/trace")
	good.ServiceName = "checkout"
	good.CPUProfile = true
	good.ResourceAttributes = map[string]string{"deployment.environment.name": "test"}
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{
		target("busy", "/busy/debug/pprof/trace"),
		target("garbage", "/garbage/debug/pprof/trace"),
		target("cut", "/cut/debug/pprof/trace"),
		target("hang", "/hang/debug/pprof/trace"),
		// Its length is the URL's: the start says so.
		{Name: "missing", Endpoint: srv.URL + "/missing/debug/pprof/trace?seconds=1.5", Interval: time.Hour, Timeout: 2 * time.Second},
		good,
		target("silent", "/silent/debug/pprof/trace"),
	}
	cfg.Targets[3].Timeout = 700 * time.Millisecond
	cfg.Targets[6].Timeout = 700 * time.Millisecond
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	waitFor(t, 10*time.Second, "every target's first capture", func() bool {
		n := h.captures("good", "ok")
		for _, name := range []string{"busy", "garbage", "cut", "hang", "missing", "silent"} {
			n *= h.captures(name, "failed")
		}
		return n == 1
	})

	// The good target's spans, under its service.name, with its
	// resource attributes; the broken one's, up to its break, under its
	// own.
	byService := spansByService(sink)
	if byService["checkout"] < 12 {
		t.Errorf("spans by service.name: %v; want checkout's 12 tasks and their regions", byService)
	}
	// cpu_profile is ignored, and says so: the spans have no use for CPU
	// samples, and the profile would keep the target's profilers out.
	if n := hitCount(hits, "/good/debug/pprof/profile"); n != 0 {
		t.Errorf("%d CPU profile requests beside the good target's trace; want none", n)
	}
	if n := h.logs.FilterMessageSnippet("cpu_profile has no effect").FilterField(zap.String("target", "good")).Len(); n != 1 {
		t.Errorf("cpu_profile's being ignored logged %d times for the target that has it; want once", n)
	}

	// Each failure is logged with the target's name and what went wrong.
	want := map[string]string{
		"busy":    "500 Internal Server Error: Could not enable tracing: tracing already enabled",
		"garbage": "not a Go execution trace",
		"cut":     "broken trace",
		"hang":    "timed out after 700ms (timeout)",
		"missing": "404 Not Found",
		// No response, rather than the request's "context deadline
		// exceeded".
		"silent": "timed out after 700ms (timeout) with no response from the target: its response headers did not come in that time",
	}
	for name, msg := range want {
		var found bool
		for _, e := range h.logs.FilterMessage("capture of " + name + " failed").FilterField(zap.String("target", name)).All() {
			found = strings.Contains(e.ContextMap()["error"].(string), msg)
			if !found {
				t.Errorf("%s: logged %q; want it to say %q", name, e.ContextMap()["error"], msg)
			}
		}
		if !found && msg != "" {
			t.Errorf("%s: no failure logged", name)
		}
	}
	// The target that answered, then sent nothing, is not said to have
	// sent no response.
	for _, e := range h.logs.FilterMessage("capture of hang failed").All() {
		if msg := e.ContextMap()["error"].(string); strings.Contains(msg, "no response") {
			t.Errorf("hang, which sent its response headers: logged %q", msg)
		}
	}
	if n := h.logs.FilterMessage("capture of good failed").Len(); n != 0 {
		t.Errorf("the good target is logged as failed %d times", n)
	}
	// Each target is said at start, at the info level.
	// by name in the message, which the Collector's log sampling tells
	// apart.
	for _, tc := range cfg.Targets {
		said := h.logs.FilterMessage("capturing Go execution traces from " + tc.Name).FilterLevelExact(zap.InfoLevel).All()
		if len(said) != 1 {
			t.Errorf("target %s said %d times at start, want once", tc.Name, len(said))
			continue
		}
		// With the length of a capture, whichever setting gives it.
		want := 500 * time.Millisecond
		if tc.Name == "missing" {
			want = 1500 * time.Millisecond
		}
		if d := said[0].ContextMap()["duration"]; d != want {
			t.Errorf("target %s said at start with the duration %v, want %v", tc.Name, d, want)
		}
	}
}

// TestResourceAttributes checks the resource each capture's spans carry.
func TestResourceAttributes(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		attrs    map[string]string
		instance string
	}{
		// The endpoint's host and port tell replicas apart...
		{map[string]string{"deployment.environment.name": "test", "service.namespace": "shop"}, host},
		// ... unless the configuration names the instance.
		{map[string]string{"deployment.environment.name": "test", "service.namespace": "shop", "service.instance.id": "pod-7"}, "pod-7"},
	} {
		cfg := createDefaultConfig()
		cfg.Targets = []TargetConfig{{
			Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, ServiceName: "checkout",
			ResourceAttributes: tc.attrs,
		}}
		sink := new(consumertest.TracesSink)
		h := newHarness(t, cfg, sink)
		h.start()
		waitFor(t, 10*time.Second, "a capture", func() bool { return h.captures("checkout", "ok") == 1 })
		for _, td := range sink.AllTraces() {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				attrs := td.ResourceSpans().At(i).Resource().Attributes().AsRaw()
				if attrs["service.name"] != "checkout" || attrs["deployment.environment.name"] != "test" ||
					attrs["service.namespace"] != "shop" || attrs["process.runtime.name"] != "go" ||
					attrs["service.instance.id"] != tc.instance {
					t.Fatalf("resource %v; want service.instance.id %s", attrs, tc.instance)
				}
			}
		}
		if n := h.logs.FilterMessageSnippet("overlap").Len(); n != 0 {
			t.Errorf("one capture logged %d overlaps", n)
		}
	}
}

// TestNoStacktraces: with no_stacktraces, the spans keep the innermost
// frame of user code and lose the whole stacks.
func TestNoStacktraces(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	for _, none := range []bool{false, true} {
		cfg := createDefaultConfig()
		cfg.Targets = []TargetConfig{{
			Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, ServiceName: "checkout",
			NoStacktraces: none,
		}}
		sink := new(consumertest.TracesSink)
		h := newHarness(t, cfg, sink)
		h.start()
		waitFor(t, 10*time.Second, "a capture", func() bool { return h.captures("checkout", "ok") == 1 })
		frames, stacks := 0, 0
		for _, td := range sink.AllTraces() {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				ss := td.ResourceSpans().At(i).ScopeSpans()
				for j := 0; j < ss.Len(); j++ {
					spans := ss.At(j).Spans()
					for k := 0; k < spans.Len(); k++ {
						attrs := spans.At(k).Attributes()
						if _, ok := attrs.Get("code.function.name"); ok {
							frames++
						}
						if _, ok := attrs.Get("code.stacktrace"); ok {
							stacks++
						}
					}
				}
			}
		}
		if frames == 0 || (stacks == 0) != none {
			t.Errorf("no_stacktraces %v: %d spans with a frame, %d with a stack", none, frames, stacks)
		}
	}
}

// TestOverlapSaid polls a target whose captures are, in turn, a trace, a
// later one and the first again (a flight-recorder window polled faster
// than it turns over): the third overlaps what was exported, and that is
// logged once, however often it happens.
func TestOverlapSaid(t *testing.T) {
	var traces [][]byte
	for _, name := range []string{"mixed.go1.25.trace", "mixed.go1.26.trace"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, data)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1) - 1
		if i == 1 {
			w.Write(traces[1])
			return
		}
		w.Write(traces[0])
	}))
	t.Cleanup(srv.Close)
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "window", Endpoint: srv.URL + "/window.trace", Interval: 50 * time.Millisecond}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 10*time.Second, "five captures", func() bool { return h.captures("window", "ok") >= 5 })
	logs := h.logs.FilterMessageSnippet("captures of window overlap").FilterField(zap.String("target", "window")).All()
	if len(logs) != 1 {
		t.Fatalf("the overlap logged %d times, want once", len(logs))
	}
	// The third capture (the first trace again) began 233 ms before the
	// second ended; the second, which began after the first ended, is
	// not the one logged.
	if over, _ := logs[0].ContextMap()["overlap"].(time.Duration); over < 230*time.Millisecond || over > 235*time.Millisecond {
		t.Errorf("overlap %v, want about 233ms", logs[0].ContextMap()["overlap"])
	}
}

// TestInterval checks that a target is captured again at its interval,
// after a failure too.
func TestInterval(t *testing.T) {
	srv, hits := fakeTargets(t, sampleTrace(t))
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{
		{Name: "good", Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, Interval: 600 * time.Millisecond},
		{Name: "busy", Endpoint: srv.URL + "/busy/debug/pprof/trace", Duration: 10 * time.Millisecond, Interval: 100 * time.Millisecond},
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 10*time.Second, "three captures of each", func() bool {
		return h.captures("good", "ok") >= 3 && h.captures("busy", "failed") >= 3
	})
	if n := hitCount(hits, "/good/debug/pprof/profile"); n != 0 {
		t.Errorf("%d CPU profile requests without cpu_profile", n)
	}
}

// TestSkippedTurns checks that a capture that outlasts its interval
// makes the turns it overlaps be skipped: the next starts at the next
// turn of the schedule, not as soon as the last ends; and that the
// skipped turns are counted and said once.
func TestSkippedTurns(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // until the capture's timeout
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	// Turns a second apart, captures of 1.25 s (the target outlasts the
	// duration asked for): 750 ms of slack for a busy machine's timers
	// before a capture would skip two turns.
	cfg.Targets = []TargetConfig{{Name: "slow", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Second, Duration: 500 * time.Millisecond, Timeout: 1250 * time.Millisecond}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 40*time.Second, "four captures", func() bool { return h.captures("slow", "failed") >= 4 })
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(starts); i++ {
		// 1.25 s back to back if the turn at 1 s were not skipped; the
		// next turn is at 2 s.
		if gap := starts[i].Sub(starts[i-1]); gap < 1750*time.Millisecond {
			t.Errorf("capture %d began %v after the one before, which lasted 1.25s; want the next turn, 2s", i, gap)
		}
	}
	// Each capture of 1.25 s skips the turn 1 s after its own; the last
	// may have been stopped before its turn was counted.
	failed, skipped := h.captures("slow", "failed"), h.captures("slow", "skipped")
	if skipped < failed-1 || skipped > failed {
		t.Errorf("%d skipped turns counted for %d captures; want one a capture", skipped, failed)
	}
	said := h.logs.FilterMessageSnippet("past its interval of 1s, so the turn it overlapped was skipped")
	if said.Len() != 1 || !strings.HasPrefix(said.All()[0].Message, "capture of slow took") {
		t.Errorf("skipped turns said: %v; want slow's, once", said.All())
	}
}

func TestNextTurn(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct{ took, want time.Duration }{
		{50 * time.Millisecond, 200 * time.Millisecond},    // on time
		{200 * time.Millisecond, 400 * time.Millisecond},   // ends on the turn: that turn is gone
		{250 * time.Millisecond, 400 * time.Millisecond},   // one turn skipped
		{1050 * time.Millisecond, 1200 * time.Millisecond}, // five skipped
	} {
		if got := nextTurn(t0, 200*time.Millisecond, t0.Add(tc.took)); got.Sub(t0) != tc.want {
			t.Errorf("a capture that took %v: next turn at %v, want %v", tc.took, got.Sub(t0), tc.want)
		}
	}
}

// TestConcurrencyLimit checks that no more captures run at once than
// max_concurrent_captures allows.
func TestConcurrencyLimit(t *testing.T) {
	var running, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		// Held until another capture runs beside it (on a busy machine
		// the second may start late), then long enough for more to pile
		// up if the limit let them.
		for deadline := time.Now().Add(5 * time.Second); running.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	cfg.MaxConcurrentCaptures = 2
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		cfg.Targets = append(cfg.Targets, TargetConfig{Name: name, Endpoint: srv.URL + "/" + name + "/debug/pprof/trace", Interval: time.Hour})
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 30*time.Second, "a capture of each target", func() bool {
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			if h.captures(name, "failed") == 0 {
				return false
			}
		}
		return true
	})
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d captures ran at once; want 2", m)
	}
}

// TestShutdownMidCapture shuts the receiver down while a capture streams
// and while the pipeline holds a batch: both end at once, and no
// goroutine is left (TestMain checks).
func TestShutdownMidCapture(t *testing.T) {
	trace := sampleTrace(t)
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow/debug/pprof/trace":
			// Half the trace, then nothing, as a capture that records.
			w.Write(trace[:len(trace)/2])
			w.(http.Flusher).Flush()
			select {
			case started <- struct{}{}:
			default:
			}
			<-r.Context().Done()
		default:
			w.Write(trace)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		path  string
		limit time.Duration // how long the shutdown may take
		next  consumer.Traces
	}{
		{"streaming", "/slow/debug/pprof/trace", 2 * time.Second, consumertest.NewNop()},
		// The spans converted are offered to the pipeline for the flush
		// grace, then given up.
		{"blocked pipeline", "/fast/debug/pprof/trace", flushGrace + 2*time.Second, consumerFunc(func(ctx context.Context, _ ptrace.Traces) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + tc.path, Interval: time.Hour, Timeout: time.Hour}}
			h := newHarness(t, cfg, tc.next)
			if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				t.Fatal(err)
			}
			<-started
			start := time.Now()
			h.stop()
			if d := time.Since(start); d > tc.limit {
				t.Errorf("shutdown took %v, want at most %v", d, tc.limit)
			}
			if h.captures("t", "cancelled") != 1 || h.captures("t", "failed") != 0 {
				t.Errorf("a capture stopped by shutdown is counted cancelled, not failed")
			}
			if h.logs.FilterMessage("capture of t failed").Len() != 0 {
				t.Errorf("shutdown logged as a target's failure: %v", h.logs.All())
			}
		})
	}
}

// TestShutdownHandsOn shuts the receiver down while a capture waits for
// its target's second generation: the spans of the first, converted by
// then, are still handed to the pipeline, not dropped with the capture.
func TestShutdownHandsOn(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:7000]) // the first of two generations, and a batch of the second
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Hour, Timeout: time.Hour}}
	sink := new(consumertest.TracesSink)
	// A pipeline that heeds its context, as an exporter without a queue
	// does: spans handed on with a context the shutdown ended are lost.
	heeding := consumerFunc(func(ctx context.Context, td ptrace.Traces) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return sink.ConsumeTraces(ctx, td)
	})
	h := newHarness(t, cfg, heeding)
	spooled := make(chan *spool, 1)
	h.r.spooled = func(s *spool) { spooled <- s }
	if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	<-started
	sp := <-spooled
	// The conversion has read the first generation and the next one's
	// first batch (the second generation begins at byte 3806).
	waitFor(t, 30*time.Second, "the conversion to read what the target sent", func() bool { return sp.read() >= 7000-spoolRead })
	h.stop()
	if sink.SpanCount() == 0 {
		t.Error("no span of the first generation was handed on at shutdown")
		for _, l := range h.logs.All() {
			t.Log(l.Message, l.ContextMap())
		}
	}
	if h.captures("t", "cancelled") != 1 {
		t.Error("the capture is not counted cancelled")
	}
}

// TestCaptureMidChunk captures from a target that has sent the first of
// its trace's two generations and a batch of the second, in the middle of
// a chunk of its response, as a program that traces little does for a
// second or more: the spans of the first generation reach the pipeline
// while the capture waits for the rest, and are not lost, with all the
// capture, if the Collector shuts down then.
func TestCaptureMidChunk(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	url := midChunkServer(t, data, 7000)
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: url + "/debug/pprof/trace", Interval: time.Hour, Timeout: time.Hour}}
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	spooled := make(chan *spool, 1)
	h.r.spooled = func(s *spool) { spooled <- s }
	h.start()
	sp := <-spooled
	// The conversion has read the first generation and the next one's
	// first batch (the second generation begins at byte 3806).
	waitFor(t, 30*time.Second, "the conversion to read what the target sent", func() bool { return sp.read() >= 7000-spoolRead })
	h.stop()
	if sink.SpanCount() == 0 {
		t.Error("no span of the first generation was handed on at shutdown")
	}
	if h.captures("t", "cancelled") != 1 {
		t.Error("the capture is not counted cancelled")
	}
}

// TestShutdownDeafPipeline shuts the receiver down while its pipeline
// blocks and heeds no context, as a batch processor whose exporter's
// queue is full: the shutdown still ends, once the flush grace is over.
func TestShutdownDeafPipeline(t *testing.T) {
	trace := sampleTrace(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(trace) }))
	defer srv.Close()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	deaf := consumerFunc(func(context.Context, ptrace.Traces) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Hour, Timeout: time.Hour}}
	h := newHarness(t, cfg, deaf)
	if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	<-started
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > flushGrace+3*time.Second {
		t.Errorf("shutdown took %v with a pipeline that heeds no context; want about the flush grace, %v", d, flushGrace)
	}
}

// TestBackPressure refuses batches for a while, as a memory limiter
// does, then takes them: none is lost, and the capture waited.
func TestBackPressure(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "good", Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, Interval: time.Hour}}

	// The spans of one capture, taken at once.
	ref := new(consumertest.TracesSink)
	h := newHarness(t, cfg, ref)
	h.start()
	waitFor(t, 10*time.Second, "a capture", func() bool { return h.captures("good", "ok") == 1 })
	h.stop()
	want := ref.SpanCount()

	var refusals atomic.Int64
	sink := new(consumertest.TracesSink)
	h = newHarness(t, cfg, consumerFunc(func(ctx context.Context, td ptrace.Traces) error {
		if refusals.Add(1) <= 3 {
			return errors.New("data refused due to high memory usage")
		}
		return sink.ConsumeTraces(ctx, td)
	}))
	h.start()
	waitFor(t, 10*time.Second, "a capture", func() bool { return h.captures("good", "ok") == 1 })
	if got := sink.SpanCount(); got != want || want == 0 {
		t.Errorf("%d spans through a pipeline that pushed back, %d without", got, want)
	}
	// Each span counted once, as taken: the refusals were retried.
	if acc, ref := h.spans("accepted"), h.spans("refused"); acc != int64(want) || ref != 0 {
		t.Errorf("receiver metrics: %d spans accepted, %d refused; want %d and 0", acc, ref, want)
	}

	// A permanent refusal fails the capture, and says so.
	h = newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		return consumererror.NewPermanent(errors.New("bad data"))
	}))
	h.start()
	waitFor(t, 10*time.Second, "a failed capture", func() bool { return h.captures("good", "failed") == 1 })
	if e := h.logs.FilterMessage("capture of good failed").All(); len(e) != 1 || strings.Count(e[0].ContextMap()["error"].(string), "bad data") != 1 {
		t.Errorf("logged %v, want the refusal said once", e)
	}

	// A pipeline that pushes back past the capture's timeout: the
	// error says so, rather than blame the target.
	slow := *cfg
	slow.Targets = []TargetConfig{cfg.Targets[0]}
	slow.Targets[0].Timeout = time.Second
	h = newHarness(t, &slow, consumerFunc(func(context.Context, ptrace.Traces) error {
		return errors.New("data refused due to high memory usage")
	}))
	h.start()
	waitFor(t, 30*time.Second, "a failed capture, past its timeout and the flush grace", func() bool { return h.captures("good", "failed") == 1 })
	wantErr := "timed out after 1s (timeout): context deadline exceeded, while the pipeline refused the spans (data refused due to high memory usage)"
	if e := h.logs.FilterMessage("capture of good failed").All(); len(e) != 1 || e[0].ContextMap()["error"] != wantErr {
		t.Errorf("logged %v, want the error %q", e, wantErr)
	}
	// The spans of the batch that was never taken count as refused,
	// once: none are lost unsaid.
	if acc, ref := h.spans("accepted"), h.spans("refused"); acc != 0 || ref == 0 || ref > int64(want) {
		t.Errorf("receiver metrics: %d spans accepted, %d refused; want 0 and 1 to %d", acc, ref, want)
	}
}

// TestBlockingPipelineSaid times out captures while the pipeline holds
// their spans without refusing them, as an exporter's sending queue with
// block_on_overflow does: the error says that the pipeline pushed back,
// as it does for refusals, rather than blame the target. One pipeline
// gives up when its context ends, as the queue does; one heeds no
// context, as the batch processor in front of such a queue does.
func TestBlockingPipelineSaid(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	release := make(chan struct{})
	defer close(release)
	blocking := consumerFunc(func(ctx context.Context, td ptrace.Traces) error {
		svc, _ := td.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
		if svc.AsString() == "deaf" {
			<-release
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})
	cfg := createDefaultConfig()
	for _, name := range []string{"deaf", "heeding"} {
		// The error names the pipeline once it has held the batch
		// heldLong by the timeout: the capture and its conversion, which
		// a busy machine under -race has made last over a second, get
		// the rest of it.
		cfg.Targets = append(cfg.Targets, TargetConfig{Name: name, Endpoint: srv.URL + "/good/debug/pprof/trace?" + name, Duration: 500 * time.Millisecond, Interval: time.Hour, Timeout: heldLong + 4*time.Second})
	}
	h := newHarness(t, cfg, blocking)
	h.start()
	for _, name := range []string{"deaf", "heeding"} {
		waitFor(t, 60*time.Second, "a failed capture of "+name+", past its timeout and the flush grace", func() bool { return h.captures(name, "failed") == 1 })
		e := h.logs.FilterMessage("capture of " + name + " failed").All()
		if len(e) != 1 {
			t.Fatalf("%s: logged %v", name, e)
		}
		msg, _ := e[0].ContextMap()["error"].(string)
		if !strings.HasPrefix(msg, "timed out after 5s (timeout): context deadline exceeded, while the pipeline pushed back: it held a batch of 52 spans, without taking it, for ") ||
			strings.Contains(msg, "refused") {
			t.Errorf("%s: the capture's error is %q; want it to say that the pipeline held the spans", name, msg)
		}
	}
}

// TestUnofferedSpansRefused checks that the spans a capture converted
// and never offered to the pipeline, queued behind a batch it refused
// until the capture ended, are counted as refused, as that batch is: at
// the capture's timeout, and at a shutdown, whose log line says that the
// pipeline refused them.
func TestUnofferedSpansRefused(t *testing.T) {
	// More spans than a batch: the first batch is offered, and refused
	// until the capture ends; the rest wait behind it.
	var trace bytes.Buffer
	if err := synth.RecordDeepStacks(&trace, 400, 2); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(trace.Bytes()) }))
	defer srv.Close()
	target := TargetConfig{Name: "t", Endpoint: srv.URL + "/debug/pprof/trace", Duration: 100 * time.Millisecond, Interval: time.Hour}

	// The spans of one capture, taken at once.
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{target}
	ref := new(consumertest.TracesSink)
	h := newHarness(t, cfg, ref)
	h.start()
	waitFor(t, 10*time.Second, "a capture", func() bool { return h.captures("t", "ok") == 1 })
	h.stop()
	want := int64(ref.SpanCount())
	if want <= 512 {
		t.Fatalf("%d spans, one batch: the test proves nothing", want)
	}

	// The call of the pipeline under way when the capture ends may
	// return, and count its batch, a moment after the capture does.
	counted := func(t *testing.T, h *harness) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for h.spans("refused") < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if acc, ref := h.spans("accepted"), h.spans("refused"); acc != 0 || ref != want {
			t.Errorf("receiver metrics: %d spans accepted, %d refused; want 0 and all %d, none lost unsaid", acc, ref, want)
		}
	}
	refusing := func(refusals *atomic.Int64) consumer.Traces {
		return consumerFunc(func(context.Context, ptrace.Traces) error {
			refusals.Add(1)
			return errors.New("data refused due to high memory usage")
		})
	}
	t.Run("timeout", func(t *testing.T) {
		cfg := createDefaultConfig()
		cfg.Targets = []TargetConfig{target}
		cfg.Targets[0].Timeout = time.Second
		h := newHarness(t, cfg, refusing(new(atomic.Int64)))
		h.start()
		waitFor(t, 30*time.Second, "a failed capture, past its timeout and the flush grace", func() bool { return h.captures("t", "failed") == 1 })
		counted(t, h)
	})
	t.Run("shutdown", func(t *testing.T) {
		cfg := createDefaultConfig()
		cfg.Targets = []TargetConfig{target}
		cfg.Targets[0].Timeout = time.Hour
		var refusals atomic.Int64
		h := newHarness(t, cfg, refusing(&refusals))
		h.start()
		// Six tries of the first batch, 1.5 s apart from the first:
		// the conversion, of a fraction of that, has made every span.
		waitFor(t, 30*time.Second, "the first batch refused six times", func() bool { return refusals.Load() >= 6 })
		h.stop()
		if h.captures("t", "cancelled") != 1 {
			t.Fatalf("the capture is not counted cancelled")
		}
		counted(t, h)
		said := h.logs.FilterMessage("capture of t stopped by shutdown, while the pipeline refused the spans (data refused due to high memory usage)").FilterLevelExact(zap.InfoLevel)
		if said.Len() != 1 {
			t.Errorf("logged %v; want the shutdown said once, with the pipeline's refusal", h.logs.FilterMessageSnippet("capture of t").All())
		}
	})
}

type consumerFunc func(context.Context, ptrace.Traces) error

func (f consumerFunc) ConsumeTraces(ctx context.Context, td ptrace.Traces) error { return f(ctx, td) }
func (consumerFunc) Capabilities() consumer.Capabilities                         { return consumer.Capabilities{} }

// TestShutdownBeforeStart is what the Collector does when another
// component fails to start.
func TestShutdownBeforeStart(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Endpoint: "http://127.0.0.1:1/debug/pprof/trace"}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.stop()
}

// TestTLSAndCredentials captures from an https target whose certificate
// a private CA signed, with a header and a password in the URL, and
// checks that the password shows nowhere in the logs.
func TestTLSAndCredentials(t *testing.T) {
	trace := sampleTrace(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if user != "admin" || pass != "s3cr3t" || r.Header.Get("X-Api-Key") != "k3y" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write(trace)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint := strings.Replace(srv.URL, "https://", "https://admin:s3cr3t@", 1)
	cfg, err := load(t, map[string]any{"targets": []any{
		map[string]any{"name": "trusted", "endpoint": endpoint + "/a/debug/pprof/trace", "interval": "1h", "tls": map[string]any{"ca_file": ca}, "headers": map[string]any{"X-Api-Key": "k3y"}},
		map[string]any{"name": "no-ca", "endpoint": endpoint + "/b/debug/pprof/trace", "interval": "1h", "headers": map[string]any{"X-Api-Key": "k3y"}},
		map[string]any{"name": "no-key", "endpoint": endpoint + "/c/debug/pprof/trace", "interval": "1h", "tls": map[string]any{"ca_file": ca}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	waitFor(t, 10*time.Second, "a capture of each", func() bool {
		return h.captures("trusted", "ok")+h.captures("no-ca", "failed")+h.captures("no-key", "failed") == 3
	})
	if n := sink.SpanCount(); n == 0 {
		t.Error("no spans from the trusted target")
	}
	for name, want := range map[string]string{"no-ca": "certificate signed by unknown authority", "no-key": "401 Unauthorized"} {
		e := h.logs.FilterMessage("capture of " + name + " failed").All()
		if len(e) != 1 || !strings.Contains(e[0].ContextMap()["error"].(string), want) {
			t.Errorf("%s: logged %v, want an error that says %q", name, e, want)
		}
	}
	for _, e := range h.logs.All() {
		if line := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(line, "s3cr3t") {
			t.Errorf("the password is in the log: %s", line)
		}
	}
}

// TestFailuresNotSampledAway checks that every failing target is logged
// when many fail at once, under the sampling the Collector's logger does
// by default (the first 10 of a message every 10 seconds, then 1 in 100).
func TestFailuresNotSampledAway(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	cfg := createDefaultConfig()
	cfg.MaxConcurrentCaptures = 13
	for i := range 13 {
		cfg.Targets = append(cfg.Targets, TargetConfig{Name: fmt.Sprintf("t%d", i), Endpoint: fmt.Sprintf("%s/missing%d/debug/pprof/trace", srv.URL, i), Interval: time.Hour})
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	core, logs := observer.New(zap.InfoLevel)
	h.r.set.Logger = zap.New(zapcore.NewSamplerWithOptions(core, 10*time.Second, 10, 100))
	h.start()
	waitFor(t, 10*time.Second, "every target's failure", func() bool {
		var n int64
		for i := range 13 {
			n += h.captures(fmt.Sprintf("t%d", i), "failed")
		}
		return n == 13
	})
	for i := range 13 {
		if logs.FilterMessageSnippet("failed").FilterField(zap.String("target", fmt.Sprintf("t%d", i))).Len() != 1 {
			t.Errorf("the failure of t%d is not logged", i)
		}
	}
}

// TestStartTimeWithoutClock checks that the spans of a trace without a
// wall clock (before Go 1.25) are placed from when the capture was asked
// for, as /debug/pprof/trace starts tracing then, not from when its
// conversion began, which a target that sends late puts seconds after.
func TestStartTimeWithoutClock(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mixed.go1.24.trace"))
	if err != nil {
		t.Fatal(err)
	}
	const late = time.Second
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.CompareAndSwap(0, time.Now().UnixNano())
		time.Sleep(late) // the trace comes as the capture ends
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "old", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Hour, Duration: 500 * time.Millisecond, Timeout: 5 * time.Second}}
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	waitFor(t, 10*time.Second, "the capture", func() bool { return h.captures("old", "ok") == 1 })
	first := int64(math.MaxInt64)
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < ss.Len(); j++ {
				for k := 0; k < ss.At(j).Spans().Len(); k++ {
					first = min(first, int64(ss.At(j).Spans().At(k).StartTimestamp()))
				}
			}
		}
	}
	if first == math.MaxInt64 {
		t.Fatal("no spans")
	}
	if d := time.Duration(first - asked.Load()); d < -late/2 || d > late/2 {
		t.Errorf("the first span begins %v after the capture was asked for; want about when it was asked for, not when its trace came", d)
	}
}

// TestLateSaid checks that a target whose captures wait for a slot for
// half an interval or more, held by a capture of another target, is
// said once, and that a target never kept waiting is not.
func TestLateSaid(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	cfg := createDefaultConfig()
	cfg.MaxConcurrentCaptures = 1
	cfg.Targets = []TargetConfig{
		{Name: "good", Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, Interval: 600 * time.Millisecond},
		{Name: "hang", Endpoint: srv.URL + "/hang/debug/pprof/trace", Interval: time.Hour, Timeout: 2 * time.Second},
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 10*time.Second, "the hanging capture's end and a capture of good after it", func() bool {
		return h.captures("hang", "failed") >= 1 && h.captures("good", "ok") >= 2
	})
	h.stop()
	late := h.logs.FilterMessageSnippet("after its turn for one of max_concurrent_captures (1)")
	if late.Len() != 1 || !strings.HasPrefix(late.All()[0].Message, "capture of good has waited") {
		t.Errorf("late captures said: %v; want good's, once", late.All())
	}
}

// TestNoTempDir checks that a Collector that cannot make the temporary
// file captures are taken into fails at Start, saying so, rather than
// fail every capture after asking its target for a trace.
func TestNoTempDir(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Endpoint: "http://127.0.0.1:1/debug/pprof/trace", Interval: time.Hour}}
	h := newHarness(t, cfg, consumertest.NewNop())
	err := h.r.Start(context.Background(), componenttest.NewNopHost())
	if err == nil {
		h.r.Shutdown(context.Background())
		t.Fatal("started without a temporary directory")
	}
	if !strings.Contains(err.Error(), "set TMPDIR to a writable directory") {
		t.Errorf("Start: %v; want it to say what to set", err)
	}
}

// TestWaitingTurns checks the schedule of targets that share the slots:
// turns that pass while a target waits for a slot are counted as they
// pass, not once it gets one; and targets that began together, with
// slots enough for their captures, keep apart after their first turn, so
// that they neither wait again nor are said to be late.
func TestWaitingTurns(t *testing.T) {
	trace := sampleTrace(t)
	release := make(chan struct{})
	var hanging atomic.Bool // the hanging capture holds its slot
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hang/") {
			hanging.Store(true)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		time.Sleep(100 * time.Millisecond) // a capture's length
		w.Write(trace)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	t.Run("counted while waiting", func(t *testing.T) {
		cfg := createDefaultConfig()
		cfg.MaxConcurrentCaptures = 1
		cfg.Targets = []TargetConfig{
			{Name: "hang", Endpoint: srv.URL + "/hang/debug/pprof/trace", Interval: time.Hour, Timeout: time.Hour},
			{Name: "waits", Endpoint: srv.URL + "/a/debug/pprof/trace", Interval: 400 * time.Millisecond, Duration: 100 * time.Millisecond, Timeout: 10 * time.Second},
		}
		h := newHarness(t, cfg, consumertest.NewNop())
		h.start()
		// Whichever began first, the hanging capture holds the slot for
		// good within a turn or two of waits. Turns that passed while a
		// capture of waits ran (a slow one, on a busy machine) are
		// counted as skipped too: only those after are the waits'.
		waitFor(t, 30*time.Second, "the hanging capture to hold the slot", hanging.Load)
		before := h.captures("waits", "skipped")
		waitFor(t, 30*time.Second, "turns of waits counted as skipped while hang holds the slot", func() bool {
			return h.captures("waits", "skipped") >= before+3
		})
		if n := h.captures("hang", "ok") + h.captures("hang", "failed"); n != 0 {
			t.Fatalf("the hanging capture ended (%d): the test proves nothing", n)
		}
		said := h.logs.FilterMessageSnippet("capture of waits has waited")
		if said.Len() != 1 {
			t.Errorf("the wait said %d times, want once", said.Len())
		}
	})

	t.Run("kept apart", func(t *testing.T) {
		// Captures whose length is the target's, not the machine's: on a
		// busy machine the conversions' time varies by seconds between
		// turns, and a target kept apart from the others would then wait
		// too, for as long as the captures before it took longer than at
		// their first turn.
		const length = 1300 * time.Millisecond
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(length)
			w.Write(trace)
		}))
		t.Cleanup(srv.Close)
		cfg := createDefaultConfig()
		cfg.MaxConcurrentCaptures = 1
		names := []string{"a", "b", "c", "d", "e", "f"}
		for _, name := range names {
			// Six captures of 1.3 s (and their conversion) every 12 s:
			// room for all, one at a time, with time to spare, once their
			// turns are apart; kept on the turns they first had, the last
			// would wait 5 x 1.3 s, more than half the interval, at each
			// turn after the first, and be said late. Kept apart, a
			// target waits only for the captures before it that took
			// longer than at their first turn: 6 s more between them.
			cfg.Targets = append(cfg.Targets, TargetConfig{Name: name, Endpoint: srv.URL + "/" + name + "/debug/pprof/trace", Interval: 12 * time.Second, Timeout: 20 * time.Second})
		}
		h := newHarness(t, cfg, consumertest.NewNop())
		h.start()
		// The second turn is the first that the schedule kept apart.
		waitFor(t, 60*time.Second, "two captures of each", func() bool {
			for _, name := range names {
				if h.captures(name, "ok") < 2 {
					return false
				}
			}
			return true
		})
		h.stop()
		for _, name := range names {
			if n := h.captures(name, "skipped"); n != 0 {
				t.Errorf("%s: %d turns skipped", name, n)
			}
		}
		if said := h.logs.FilterMessageSnippet("for one of max_concurrent_captures"); said.Len() != 0 {
			t.Errorf("captures said to be late: %v", said.All())
		}
	})
}

// timeoutErr is a network error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestWhyConnectTimeout checks that a capture that could not connect in
// time names the setting that bounds it.
func TestWhyConnectTimeout(t *testing.T) {
	r := &gotraceReceiver{connect: 2 * time.Second}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	err := r.why(context.Background(), context.Background(), &target{}, fmt.Errorf("Get %q: %w", "http://h/debug/pprof/trace", dial))
	if err == nil || !strings.HasPrefix(err.Error(), "no connection within connect_timeout (2s): ") || !errors.Is(err, dial) {
		t.Errorf("why: %v", err)
	}
}

// TestRedirectSaid checks that a capture whose request was redirected (a
// login page behind an auth proxy) says where to.
func TestRedirectSaid(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/trace", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?next=trace", http.StatusFound)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><body>login</body></html>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "proxied", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Hour}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 10*time.Second, "the capture to fail", func() bool { return h.captures("proxied", "failed") == 1 })
	failed := h.logs.FilterMessage("capture of proxied failed").All()
	if len(failed) != 1 {
		t.Fatalf("%d failures logged", len(failed))
	}
	var msg string
	for _, f := range failed[0].Context {
		if f.Key == "error" {
			msg = f.Interface.(error).Error()
		}
	}
	if !strings.Contains(msg, "not a Go execution trace") || !strings.Contains(msg, "(the target redirected the request to "+srv.URL+"/login?next=trace)") {
		t.Errorf("error %q; want it to say where the request was redirected", msg)
	}
}

func TestInstanceOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://checkout:6060/debug/pprof/trace": "checkout:6060",
		"http://checkout/debug/pprof/trace":      "checkout:80",
		"https://checkout/debug/pprof/trace":     "checkout:443",
		"http://[::1]/debug/pprof/trace":         "[::1]:80",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := instanceOf(u); got != want {
			t.Errorf("%s: instance %q, want %q", in, got, want)
		}
	}
}

// TestEndpointInTwoReceivers starts two receivers, gotrace and
// gotrace/b, with a target on one endpoint (the port given in one, left
// to the scheme in the other): a program serves one trace at a time, so
// their captures would fail in turns, and the second to start says so.
// Once they are shut down, the endpoint is free for another.
func TestEndpointInTwoReceivers(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	u, _ := url.Parse(srv.URL)
	endpoint := "http://localhost:" + u.Port() + "/hang/debug/pprof/trace"
	cfgA := createDefaultConfig()
	cfgA.Targets = []TargetConfig{{Name: "a", Endpoint: endpoint, Interval: time.Hour}}
	cfgB := createDefaultConfig()
	cfgB.Targets = []TargetConfig{{Name: "b", Endpoint: strings.Replace(endpoint, "localhost", "LOCALHOST", 1) + "?seconds=3", Interval: time.Hour}}
	a := newHarness(t, cfgA, consumertest.NewNop())
	b := newHarnessID(t, component.MustNewIDWithName(typeStr, "b"), cfgB, consumertest.NewNop())
	a.start()
	b.start()
	said := b.logs.FilterMessageSnippet("is captured by receiver gotrace too").All()
	if len(said) != 1 || !strings.Contains(said[0].Message, "target b") || !strings.Contains(said[0].Message, "(its target a)") {
		t.Errorf("the second receiver on an endpoint said %v; want one warning naming the other receiver", said)
	}
	if n := a.logs.FilterMessageSnippet("is captured by receiver").Len(); n != 0 {
		t.Errorf("the first receiver on the endpoint warned %d times", n)
	}
	a.stop()
	b.stop()
	c := newHarnessID(t, component.MustNewIDWithName(typeStr, "c"), cfgA, consumertest.NewNop())
	c.start()
	if n := c.logs.FilterMessageSnippet("is captured by receiver").Len(); n != 0 {
		t.Errorf("a receiver started after the others shut down warned of them")
	}
}

// TestPipelineHoldsSkips: a pipeline that holds a capture's batch and does
// not let go when the capture ends (a batch processor in front of a
// queue that blocks when full) keeps the call; past
// max_concurrent_captures such calls, turns are skipped, said once and
// counted, rather than leave another batch held at each turn. Once the
// pipeline takes them, captures go on.
func TestPipelineHoldsSkips(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	deaf := consumerFunc(func(context.Context, ptrace.Traces) error {
		<-release
		return nil
	})
	cfg := createDefaultConfig()
	cfg.MaxConcurrentCaptures = 1
	cfg.Targets = []TargetConfig{{Name: "deaf", Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, Interval: time.Second, Timeout: 900 * time.Millisecond}}
	h := newHarness(t, cfg, deaf)
	h.start()
	said := func() int {
		return h.logs.FilterMessageSnippet("captures skipped: the pipeline still holds 1 batches").Len()
	}
	waitFor(t, 30*time.Second, "a turn skipped while the pipeline holds the first capture's batch", func() bool { return said() > 0 })
	skipped := h.captures("deaf", "skipped")
	waitFor(t, 30*time.Second, "another turn skipped", func() bool { return h.captures("deaf", "skipped") > skipped })
	if n := said(); n != 1 {
		t.Errorf("the skipped turns said %d times; want once", n)
	}
	if n := h.captures("deaf", "failed"); n != 1 {
		t.Errorf("%d failed captures while the pipeline held a batch; want the first alone", n)
	}
	releaseOnce.Do(func() { close(release) })
	waitFor(t, 30*time.Second, "a capture once the pipeline took the batch", func() bool { return h.captures("deaf", "ok") >= 1 })
	if n := h.logs.FilterMessageSnippet("the pipeline took the batches it held").Len(); n != 1 {
		t.Errorf("the end of the skipped turns said %d times; want once", n)
	}
}

// TestMaxCaptureSize: a target that sends more than max_capture_size
// (a handler that ignores the seconds parameter, a busy program) is cut
// there instead of filling the Collector's disk until the timeout: the
// capture fails at once, saying which setting cut it, and logs what the
// target sent.
func TestMaxCaptureSize(t *testing.T) {
	trace, err := os.ReadFile(filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(trace)
	}))
	t.Cleanup(srv.Close)
	run := func(limit int64) *harness {
		cfg := createDefaultConfig()
		cfg.MaxCaptureSize = limit
		cfg.Targets = []TargetConfig{{Name: "large", Endpoint: srv.URL + "/debug/pprof/trace", Interval: time.Hour, Duration: 500 * time.Millisecond, Timeout: time.Minute}}
		h := newHarness(t, cfg, new(consumertest.TracesSink))
		h.start()
		return h
	}
	// A trace of the limit's size is taken whole.
	h := run(int64(len(trace)))
	waitFor(t, 30*time.Second, "the capture of a trace as large as the limit", func() bool { return h.captures("large", "ok") == 1 })

	cfg := createDefaultConfig()
	cfg.MaxCaptureSize = int64(len(trace)) / 3
	h = run(cfg.MaxCaptureSize)
	waitFor(t, 30*time.Second, "the capture to fail", func() bool { return h.captures("large", "failed") == 1 })
	logs := h.logs.FilterField(zap.String("target", "large")).FilterMessageSnippet("failed").All()
	if len(logs) != 1 {
		t.Fatalf("%d failures logged, want 1", len(logs))
	}
	fields := logs[0].ContextMap()
	msg := fmt.Sprint(fields["error"])
	if !strings.HasPrefix(msg, fmt.Sprintf("the target sent more than max_capture_size (%d bytes): the capture is cut there", cfg.MaxCaptureSize)) {
		t.Errorf("the failure says %q; want it to begin with max_capture_size", msg)
	}
	if received, _ := fields["received"].(int64); received != cfg.MaxCaptureSize || fields["bytes"] != cfg.MaxCaptureSize {
		t.Errorf("received %v bytes and converted %v logged, of a trace of %d; want max_capture_size, %d, not a byte more", fields["received"], fields["bytes"], len(trace), cfg.MaxCaptureSize)
	}
	if strings.Count(msg, "max_capture_size") != 1 {
		t.Errorf("the failure says %q; want max_capture_size named once", msg)
	}
}

// TestUploadHeldThenSkips: an upload answered 503 while the pipeline
// holds a capture's batch does not stand for the targets' skipped turns,
// which are said all the same, once, as is their end.
func TestUploadHeldThenSkips(t *testing.T) {
	srv, _ := fakeTargets(t, sampleTrace(t))
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	cfg := uploadOnly(t, 1)
	cfg.Targets = []TargetConfig{{Name: "deaf", Endpoint: srv.URL + "/good/debug/pprof/trace", Duration: 500 * time.Millisecond, Interval: 12 * time.Second, Timeout: 900 * time.Millisecond}}
	// The first capture ends after its timeout and the 5 s of grace, well
	// before its next turn, which is skipped for the batch held alone.
	h := newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		<-release // its caller's context is not heeded
		return nil
	}))
	h.start()
	waitFor(t, 30*time.Second, "the first capture's batch to be held", func() bool { return h.r.held.Load() == 1 })
	if n := h.heldBatches(); n != 1 {
		t.Errorf("otelcol_gotrace_held_batches %d while the pipeline holds a batch; want 1", n)
	}
	resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=early", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an upload while the pipeline holds a batch: %s, want 503", resp.Status)
	}
	waitFor(t, 30*time.Second, "a skipped turn", func() bool { return h.captures("deaf", "skipped") >= 1 })
	if n := h.logs.FilterMessageSnippet("captures skipped").Len(); n != 1 {
		t.Errorf("the skipped turns said %d times after an upload was refused; want once", n)
	}
	releaseOnce.Do(func() { close(release) })
	waitFor(t, 30*time.Second, "the end of the skipped turns to be said", func() bool {
		return h.logs.FilterMessageSnippet("the pipeline took the batches it held").Len() == 1
	})
	if n := h.heldBatches(); n != 0 {
		t.Errorf("otelcol_gotrace_held_batches %d once the pipeline took the batch; want 0", n)
	}
}

// heldBatches returns the otelcol_gotrace_held_batches gauge, -1 if it
// has no value.
func (h *harness) heldBatches() int64 {
	m, err := h.tel.GetMetric("otelcol_gotrace_held_batches")
	if err != nil {
		return -1
	}
	dps := m.Data.(metricdata.Gauge[int64]).DataPoints
	if len(dps) != 1 {
		return -1
	}
	if v, _ := dps[0].Attributes.Value("receiver"); v.AsString() != h.r.set.ID.String() {
		h.t.Errorf("otelcol_gotrace_held_batches of receiver %q; want %q", v.AsString(), h.r.set.ID.String())
	}
	return dps[0].Value
}
