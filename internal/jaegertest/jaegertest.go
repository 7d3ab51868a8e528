// Package jaegertest runs Jaeger, as scripts/jaeger/build.sh builds it,
// for end-to-end tests: it receives OTLP on 127.0.0.1, keeps the traces in
// memory, and answers the query API its UI reads, through which a test
// sees the traces as a person would in Jaeger.
//
// Where Jaeger cannot be built (no network, no module proxy), the tests
// that need it are skipped, unless the environment variable CI is set: in
// CI they fail.
package jaegertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"
)

// Binary returns the path of Jaeger, building it with
// scripts/jaeger/build.sh under root (the repository, relative to the
// test's directory) if needed: a few minutes, once. Under -short, outside
// CI, it only uses a binary built before.
func Binary(t testing.TB, root string) string {
	t.Helper()
	return otelcoltest.Build(t, "Jaeger", root, "scripts/jaeger/build.sh")
}

// Jaeger is a Jaeger process with in-memory storage, receiving OTLP over
// gRPC (GRPCAddr) and HTTP (HTTPAddr) and answering queries at Query.
type Jaeger struct {
	GRPCAddr, HTTPAddr string
	Query              string // the query service's base URL
	t                  testing.TB
}

// Start runs Jaeger bin until the test ends and waits until it listens.
func Start(t testing.TB, bin string) *Jaeger {
	t.Helper()
	dir := t.TempDir()
	j := &Jaeger{t: t, GRPCAddr: otelcoltest.FreeAddr(t), HTTPAddr: otelcoltest.FreeAddr(t)}
	queryAddr, queryGRPC := otelcoltest.FreeAddr(t), otelcoltest.FreeAddr(t)
	j.Query = "http://" + queryAddr
	// No batching processor: the receiver answers once the storage has
	// the spans. Jaeger's own telemetry is off, so that it listens on no
	// port but these.
	config := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 1000000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, j.GRPCAddr, j.HTTPAddr, queryAddr, queryGRPC)
	configPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "jaeger.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--config", configPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Jaeger: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("Jaeger's log:\n%s", otelcoltest.LastLines(string(data), 40))
		}
	})
	if err := otelcoltest.WaitListening(60*time.Second, exited, j.GRPCAddr, j.HTTPAddr, queryAddr); err != nil {
		if errors.Is(err, otelcoltest.ErrExited) {
			data, _ := os.ReadFile(logPath)
			t.Fatalf("Jaeger exited at start: %v\n%s", waitErr, otelcoltest.LastLines(string(data), 20))
		}
		t.Fatalf("Jaeger %v", err)
	}
	return j
}

// Trace is a trace as Jaeger's query API returns it to its UI.
type Trace struct {
	TraceID  string   `json:"traceID"`
	Spans    []Span   `json:"spans"`
	Warnings []string `json:"warnings"`
}

// Span is a span of a Trace. Warnings are what Jaeger's UI shows on it,
// such as "invalid parent span IDs" for a parent not in the trace.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Warnings      []string    `json:"warnings"`
}

// Reference is a span's link to another: its parent (CHILD_OF) or a link
// (FOLLOWS_FROM).
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Parent returns the span ID of the span's parent, "" for a root.
func (s *Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Services lists the services Jaeger knows.
func (j *Jaeger) Services() []string {
	j.t.Helper()
	var resp struct {
		Data []string `json:"data"`
	}
	j.get("/api/services", &resp)
	return resp.Data
}

// Traces returns every trace of service, as Jaeger's search lists them.
func (j *Jaeger) Traces(service string) []Trace {
	j.t.Helper()
	q := url.Values{
		"service": {service},
		"start":   {"1"}, // µs: the traces' own times, whatever they are
		"end":     {fmt.Sprint(time.Now().Add(24 * time.Hour).UnixMicro())},
		"limit":   {"1000000"},
	}
	var resp struct {
		Data   []Trace `json:"data"`
		Errors any     `json:"errors"`
	}
	j.get("/api/traces?"+q.Encode(), &resp)
	if resp.Errors != nil {
		j.t.Fatalf("Jaeger's search for %s: %v", service, resp.Errors)
	}
	return resp.Data
}

// WaitForSpans polls Jaeger until service has n spans, and returns its
// traces; it fails the test after timeout.
func (j *Jaeger) WaitForSpans(service string, n int, timeout time.Duration) []Trace {
	j.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		traces := j.Traces(service)
		got := 0
		for _, tr := range traces {
			got += len(tr.Spans)
		}
		if got >= n {
			return traces
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("Jaeger holds %d spans of %s after %v, want %d", got, service, timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (j *Jaeger) get(path string, v any) {
	j.t.Helper()
	resp, err := http.Get(j.Query + path)
	if err != nil {
		j.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		j.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		j.t.Fatalf("GET %s: %v", path, err)
	}
}
