package gotracereceiver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	rtrace "runtime/trace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap/zapcore"
)

// TestFailuresLogged checks that a target that keeps failing is said at
// Warn once per cause, not at every turn, that it is said again when it
// succeeds, and that a capture without a span is said once.
func TestFailuresLogged(t *testing.T) {
	// A trace of this test's own process: no task, no region, no span.
	var quiet bytes.Buffer
	if err := rtrace.Start(&quiet); err != nil {
		t.Skipf("a trace is running already: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	rtrace.Stop()
	trace := sampleTrace(t)

	var turn atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := turn.Add(1); {
		case n <= 3:
			http.Error(w, "tracing already enabled", http.StatusInternalServerError)
		case n <= 5:
			http.Error(w, "no such page", http.StatusNotFound)
		case n == 6:
			w.Write(trace)
		default:
			w.Write(quiet.Bytes())
		}
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + "/debug/pprof/trace", Interval: 50 * time.Millisecond, Duration: 10 * time.Millisecond, Timeout: 10 * time.Second}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 60*time.Second, "nine captures", func() bool { return turn.Load() >= 9 && h.captures("t", "ok") >= 3 })
	h.stop()

	count := func(level zapcore.Level, prefix string) int {
		n := 0
		for _, e := range h.logs.All() {
			if e.Level == level && strings.HasPrefix(e.Message, prefix) {
				n++
			}
		}
		return n
	}
	// Five failures of two causes: two warnings, the rest at Debug.
	if n := count(zapcore.WarnLevel, "capture of t failed"); n != 2 {
		t.Errorf("%d warnings of failed captures for 5 failures of 2 causes; want 2", n)
	}
	if n := count(zapcore.DebugLevel, "capture of t failed again"); n != 3 {
		t.Errorf("%d repeated failures at Debug; want 3", n)
	}
	if n := count(zapcore.InfoLevel, "capture of t succeeds again, after 5 failed captures since "); n != 1 {
		t.Errorf("%d lines of the target succeeding again after 5 failures; want 1", n)
	}
	if n := count(zapcore.InfoLevel, "capture of t made no span"); n != 1 {
		t.Errorf("%d lines of captures without spans; want 1, for several", n)
	}
}

// TestFailuresSaidAgain checks that a failure that lasts is said again
// at Warn every failureRepeat, with its count.
func TestFailuresSaidAgain(t *testing.T) {
	defer func(d time.Duration) { failureRepeat = d }(failureRepeat)
	failureRepeat = 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + "/debug/pprof/trace", Interval: 50 * time.Millisecond, Duration: 10 * time.Millisecond, Timeout: 10 * time.Second}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 60*time.Second, "three failed captures", func() bool { return h.captures("t", "failed") >= 3 })
	h.stop()
	if n := h.logs.FilterMessageSnippet("capture of t still fails: 3 failed captures since ").Len(); n != 1 {
		t.Errorf("%d lines saying the target still fails after 3 failures; want 1", n)
	}
}

// TestFailuresQuotedBytes checks that a target that sends what is not a
// trace, other bytes at each capture, is said at Warn once: the error
// quotes the first bytes, which made each failure a cause of its own.
func TestFailuresQuotedBytes(t *testing.T) {
	var turn atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := turn.Add(1)
		noise := make([]byte, 5000)
		for i := range noise {
			noise[i] = byte(n*131 + int64(i)*7)
		}
		w.Write(noise)
	}))
	defer srv.Close()
	cfg := createDefaultConfig()
	cfg.Targets = []TargetConfig{{Name: "t", Endpoint: srv.URL + "/noise", Interval: 50 * time.Millisecond, Duration: 10 * time.Millisecond, Timeout: 10 * time.Second}}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	waitFor(t, 60*time.Second, "four failed captures", func() bool { return h.captures("t", "failed") >= 4 })
	h.stop()
	warned, said := 0, ""
	for _, e := range h.logs.All() {
		if e.Level == zapcore.WarnLevel && e.Message == "capture of t failed" {
			warned++
			said = e.ContextMap()["error"].(string)
		}
	}
	if warned != 1 || !strings.Contains(said, "not a Go execution trace") {
		t.Errorf("%d warnings for captures of noise, the last %q; want 1, saying it is not a trace", warned, said)
	}
}
