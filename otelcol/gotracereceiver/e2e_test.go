package gotracereceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"
)

// This file runs a real OpenTelemetry Collector, built with this receiver
// from scripts/otelcol/gotrace-builder-config.yaml by the Collector's own
// builder and cached between runs, against real programs serving
// net/http/pprof. Where the Collector cannot be built (no network, no
// module proxy), the test is skipped, unless the environment variable CI
// is set: in CI it fails.

const repoRoot = "../.."

func collectorBinary(t *testing.T) string {
	return otelcoltest.BinaryFor(t, repoRoot, filepath.Join("scripts", "otelcol", "gotrace-builder-config.yaml"))
}

// service is a program serving net/http/pprof at a fixed address, so that
// it can go away and come back where the Collector looks for it.
type service struct {
	t    *testing.T
	bin  string
	addr string
	cmd  *exec.Cmd
}

func (s *service) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, s.addr)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		s.t.Fatalf("the pprof server for %s did not start: %v", s.addr, err)
	}
}

func (s *service) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// syncBuffer is the Collector's log, written by the process and read by
// the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// span is one span of the output, with its service.name.
type span struct {
	service, traceID, spanID, parent, name string
	start                                  int64
}

// readSpans reads the file exporter's output.
func readSpans(t *testing.T, path string) []span {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spans []span
	for _, rs := range otelcoltest.DecodeJSON(t, data) {
		svc := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				svc = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := span{service: svc, traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()), name: s.GetName(), start: int64(s.GetStartTimeUnixNano())}
				if len(s.GetParentSpanId()) > 0 {
					sp.parent = hex.EncodeToString(s.GetParentSpanId())
				}
				spans = append(spans, sp)
			}
		}
	}
	return spans
}

// TestCollector runs the Collector with this receiver scraping two
// programs, alpha and beta, into the file exporter. alpha goes away for a
// while and comes back: its failures are logged and counted while beta's
// captures go on, and its own resume.
func TestCollector(t *testing.T) {
	bin := collectorBinary(t)
	dir := t.TempDir()

	server := filepath.Join(dir, "pprofserver")
	build := exec.Command("go", "build", "-o", server, "./cmd/trace2x/testdata/pprofserver")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the pprof server: %v\n%s", err, out)
	}
	alpha := &service{t: t, bin: server, addr: otelcoltest.FreeAddr(t)}
	beta := &service{t: t, bin: server, addr: otelcoltest.FreeAddr(t)}
	alpha.start()
	beta.start()
	t.Cleanup(alpha.stop)
	t.Cleanup(beta.stop)

	out := filepath.Join(dir, "spans.json")
	uploadAddr := otelcoltest.FreeAddr(t)
	metricsAddr := otelcoltest.FreeAddr(t)
	metricsHost, metricsPort, _ := net.SplitHostPort(metricsAddr)
	config := filepath.Join(dir, "config.yaml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`
receivers:
  gotrace:
    max_concurrent_captures: 2
    targets:
      - endpoint: http://%s/debug/pprof/trace
        service_name: alpha
        interval: 1s
        duration: 500ms
        timeout: 5s
        cpu_profile: true
        resource_attributes:
          deployment.environment.name: e2e
      - endpoint: http://%s/debug/pprof/trace
        service_name: beta
        interval: 1s
        duration: 500ms
        timeout: 5s
  gotrace/upload:
    upload:
      endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    logs:
      level: debug
      encoding: json
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: %s
                port: %s
  pipelines:
    traces:
      receivers: [gotrace, gotrace/upload]
      processors: [batch]
      exporters: [file]
`, alpha.addr, beta.addr, uploadAddr, out, metricsHost, metricsPort)), 0o644)
	if err != nil {
		t.Fatal(err)
	}

	var log syncBuffer
	col := exec.Command(bin, "--config", config)
	col.Stdout, col.Stderr = &log, &log
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- col.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			col.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("Collector log:\n%s", otelcoltest.LastLines(log.String(), 40))
		}
	})

	wait := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			select {
			case err := <-exited:
				stopped = true
				t.Fatalf("the Collector exited while waiting for %s: %v", what, err)
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s", d, what)
			}
		}
	}
	// Progress is followed in the Collector's log, which says when a
	// capture is done or failed; the output is read once, at the end.
	wait("captures of both services", 60*time.Second, func() bool {
		ev := captureEvents(log.String())
		return ev.after(0, "done", "alpha") >= 0 && ev.after(0, "done", "beta") >= 0
	})

	// alpha goes away: its captures fail, beta's go on.
	alpha.stop()
	down := time.Now()
	// (A capture under way as it goes fails otherwise: the connection is
	// reset, or the trace cut short.)
	var firstFailure int
	wait("alpha's refused connection in the log", 20*time.Second, func() bool {
		firstFailure = captureEvents(log.String()).refused("alpha")
		return firstFailure >= 0
	})
	wait("a capture of beta after alpha's failure", 20*time.Second, func() bool {
		return captureEvents(log.String()).after(firstFailure, "done", "beta") >= 0
	})

	// alpha comes back at the same address, and is captured again. Its
	// spans begin once its process has started, which may be captured
	// before start returns: up is the time before it.
	up := time.Now()
	alpha.start()
	mark := len(captureEvents(log.String()))
	wait("a capture of alpha after it came back", 30*time.Second, func() bool {
		return captureEvents(log.String()).after(mark, "done", "alpha") >= 0
	})

	// A trace file uploaded, gzip-compressed, as a CI job would.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sampleTrace(t))
	zw.Close()
	resp, err := http.Post("http://"+uploadAddr+"/v1/gotrace?service_name=ci-upload", "application/octet-stream", &gz)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "52 spans" {
		t.Errorf("upload: %s %q", resp.Status, body)
	}

	metrics := scrapeMetrics(t, metricsAddr)

	// A clean shutdown, with captures under way.
	col.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("the Collector's exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Collector did not stop within 20s of SIGTERM")
	}
	logText := log.String()
	if strings.Contains(logText, "panic") {
		t.Errorf("a panic in the Collector's log")
	}

	// What alpha's failure looks like.
	fails := failures(logText, "alpha")
	if len(fails) == 0 {
		t.Fatal("no failed capture of alpha logged")
	}
	var refused *failure
	for i, f := range fails {
		if strings.Contains(f.Error, "connect: connection refused") && strings.Contains(f.URL, alpha.addr) {
			refused = &fails[i]
		}
	}
	if refused == nil {
		t.Fatalf("alpha's failures do not say the connection was refused: %+v", fails)
	}
	if f := failures(logText, "beta"); len(f) != 0 {
		t.Errorf("beta's captures failed: %+v", f)
	}
	t.Logf("a failed capture in the Collector's log:\n%s", refused.raw)

	// The receiver's own count of failed captures.
	failedRE := regexp.MustCompile(`(?m)^otelcol_gotrace_captures(?:_total)?\{[^}]*outcome="failed"[^}]*target="alpha"[^}]*\} ([0-9.e+]+)`)
	if m := failedRE.FindStringSubmatch(metrics); m == nil {
		t.Errorf("no count of alpha's failed captures in the Collector's metrics:\n%s", grepLines(metrics, "gotrace"))
	} else if v, _ := strconv.ParseFloat(m[1], 64); v < 1 {
		t.Errorf("alpha's failed captures counted %v", v)
	}
	t.Logf("the receiver's metrics:\n%s", grepLines(metrics, `receiver="gotrace"`))
	// The spans the receiver counts as handed on are in the file.
	acceptedRE := regexp.MustCompile(`(?m)^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*receiver="gotrace"[^}]*\} ([0-9.e+]+)`)
	accepted := -1.0
	if m := acceptedRE.FindStringSubmatch(metrics); m != nil {
		accepted, _ = strconv.ParseFloat(m[1], 64)
	}

	// Each service's spans under its own service.name, a trace per root
	// task: every trace has one root, a "request" task.
	spans := readSpans(t, out)
	// None of alpha's while it was down (a capture under way when it went
	// may end up to a second later).
	for _, s := range spans {
		if s.service == "alpha" && s.start > down.Add(time.Second).UnixNano() && s.start < up.UnixNano() {
			t.Errorf("a span of alpha from while it was down: %+v", s)
			break
		}
	}
	type traceInfo struct {
		spans, roots, requests int
		ids                    map[string]bool
	}
	byService := map[string]map[string]*traceInfo{}
	for _, s := range spans {
		if byService[s.service] == nil {
			byService[s.service] = map[string]*traceInfo{}
		}
		ti := byService[s.service][s.traceID]
		if ti == nil {
			ti = &traceInfo{ids: map[string]bool{}}
			byService[s.service][s.traceID] = ti
		}
		ti.spans++
		ti.ids[s.spanID] = true
		if s.parent == "" {
			ti.roots++
			// A task already under way when the capture began has lost its
			// type: its span is named "task", or "task placeholder" if
			// it did not end in the capture either.
			if s.name == "request" || s.name == "task" || s.name == "task placeholder" {
				ti.requests++
			}
		}
	}
	for s := range byService {
		if s != "alpha" && s != "beta" && s != "ci-upload" {
			t.Errorf("spans under service.name %q", s)
		}
	}
	uploaded := 0
	for _, ti := range byService["ci-upload"] {
		uploaded += ti.spans
	}
	t.Logf("service.name ci-upload: %d traces, %d spans", len(byService["ci-upload"]), uploaded)
	if uploaded != 52 {
		t.Errorf("%d spans of the uploaded trace in the output; want 52", uploaded)
	}
	for _, s := range spans {
		// (The uploaded sample has a task that joins a remote trace.)
		if s.service != "ci-upload" && s.parent != "" && !byService[s.service][s.traceID].ids[s.parent] {
			t.Errorf("%s: span %s %q has its parent %s outside its trace", s.service, s.spanID, s.name, s.parent)
			break
		}
	}
	if accepted <= 0 || accepted > float64(len(spans)) {
		t.Errorf("the receiver counted %v spans accepted; the file holds %d", accepted, len(spans))
	}
	for _, svc := range []string{"alpha", "beta"} {
		traces := byService[svc]
		n := 0
		for id, ti := range traces {
			n += ti.spans
			if ti.roots != 1 || ti.requests != 1 {
				t.Errorf("%s: trace %s has %d roots, %d of them request tasks; want one", svc, id, ti.roots, ti.requests)
				break
			}
		}
		t.Logf("service.name %s: %d traces, %d spans", svc, len(traces), n)
		if len(traces) < 2 {
			t.Errorf("%s: %d traces", svc, len(traces))
		}
	}
}

// captureEvent is a capture done or failed, as the Collector logs it.
type captureEvent struct {
	Msg    string `json:"msg"`
	Target string `json:"target"`
	Error  string `json:"error"`
}

type captureEventList []captureEvent

// captureEvents returns the captures done and failed that log holds (in
// JSON, a line each), in order.
func captureEvents(log string) captureEventList {
	var evs captureEventList
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"capture `) {
			continue
		}
		var ev captureEvent
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Target != "" {
			evs = append(evs, ev)
		}
	}
	return evs
}

// after returns the index of the first event at or after i that says
// the capture of target is done (or failed), or -1.
func (evs captureEventList) after(i int, outcome, target string) int {
	for j := max(i, 0); j < len(evs); j++ {
		if evs[j].Msg == "capture of "+target+" "+outcome && evs[j].Target == target {
			return j
		}
	}
	return -1
}

// refused returns the index of the first failed capture of target whose
// connection was refused, or -1.
func (evs captureEventList) refused(target string) int {
	for j, ev := range evs {
		if ev.Msg == "capture of "+target+" failed" && ev.Target == target && strings.Contains(ev.Error, "connect: connection refused") {
			return j
		}
	}
	return -1
}

// failure is a failed capture, as the Collector logs it (in JSON).
type failure struct {
	Target string `json:"target"`
	URL    string `json:"url"`
	Error  string `json:"error"`
	raw    string
}

func failures(log, target string) []failure {
	var fs []failure
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"capture of `+target+` failed"`) {
			continue
		}
		var f failure
		if json.Unmarshal([]byte(line), &f) == nil && f.Target == target {
			f.raw = line
			fs = append(fs, f)
		}
	}
	return fs
}

// scrapeMetrics reads the Collector's own metrics, in Prometheus's text
// format.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("the Collector's metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
