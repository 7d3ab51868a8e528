package otlpexport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// clearEnv unsets the variables Resolve reads, for the test.
func clearEnv(t *testing.T) {
	for _, v := range []string{"PROTOCOL", "ENDPOINT", "HEADERS", "INSECURE", "TIMEOUT"} {
		t.Setenv("OTEL_EXPORTER_OTLP_"+v, "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_"+v, "")
	}
}

func TestResolve(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name    string
		env     map[string]string
		cfg     Config
		want    string
		timeout time.Duration
	}{
		{name: "defaults", want: "127.0.0.1:4317 (grpc)", timeout: DefaultTimeout},
		{name: "http default", cfg: Config{Protocol: "http/protobuf"}, want: "127.0.0.1:4318 (http/protobuf)"},
		{name: "http URL gets the path", cfg: Config{Protocol: "http/json", Endpoint: "https://otlp.example.com"}, want: "https://otlp.example.com/v1/traces (http/json)"},
		{name: "http URL keeps a path", cfg: Config{Protocol: "http/protobuf", Endpoint: "http://h:8080/otlp/traces"}, want: "http://h:8080/otlp/traces (http/protobuf)"},
		{
			name: "environment",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"},
			want: "http://collector:4318/v1/traces (http/protobuf)", timeout: 2500 * time.Millisecond,
		},
		{
			name: "the signal's variables first",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:2",
				"OTEL_EXPORTER_OTLP_TIMEOUT": "1000", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3000",
			},
			want: "http://b:2 (grpc)", timeout: 3 * time.Second,
		},
		{
			name: "settings over the environment",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"},
			cfg:  Config{Protocol: "grpc", Endpoint: "10.0.0.1:4317", Insecure: &yes, Timeout: 4 * time.Second},
			want: "10.0.0.1:4317 (grpc)", timeout: 4 * time.Second,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			ep, err := Resolve(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := ep.String(); got != c.want {
				t.Errorf("endpoint %q, want %q", got, c.want)
			}
			if c.timeout != 0 && ep.Timeout() != c.timeout {
				t.Errorf("timeout %v, want %v", ep.Timeout(), c.timeout)
			}
		})
	}
}

// TestInsecure: a host:port endpoint is plain text on loopback and TLS
// elsewhere, unless told; a URL's scheme or the variable is left to the
// exporter.
func TestInsecure(t *testing.T) {
	no := false
	for _, c := range []struct {
		endpoint string
		insecure *bool
		env      string
		want     bool
	}{
		{endpoint: "127.0.0.1:4317", want: true},
		{endpoint: "[::1]:4317", want: true},
		{endpoint: "localhost:4317", want: true},
		{endpoint: "127.0.0.1:4317", insecure: &no, want: false},
		{endpoint: "collector.example.com:4317", want: false},
		{endpoint: "127.0.0.1:4317", env: "false", want: false},
		{endpoint: "http://127.0.0.1:4317", want: false},
	} {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", c.env)
		ep, err := Resolve(Config{Endpoint: c.endpoint, Insecure: c.insecure})
		if err != nil {
			t.Fatal(err)
		}
		if ep.insecure != c.want {
			t.Errorf("%s (insecure %v, variable %q): plain text %v, want %v", c.endpoint, c.insecure, c.env, ep.insecure, c.want)
		}
	}
}

// TestSettingError: a protocol or endpoint that cannot be used is an error
// that says where it came from.
func TestSettingError(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		cfg     Config
		setting string
		from    string
		msg     string
	}{
		{cfg: Config{Protocol: "carrier-pigeon"}, setting: "protocol", msg: `protocol "carrier-pigeon": want grpc, http/protobuf or http/json`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, setting: "protocol", from: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
			msg: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="udp": want grpc, http/protobuf or http/json`},
		{cfg: Config{Endpoint: "ftp://example.com"}, setting: "endpoint", msg: `endpoint "ftp://example.com": neither host:port nor an http:// or https:// URL`},
		{cfg: Config{Endpoint: "example.com"}, setting: "endpoint", msg: `endpoint "example.com": address example.com: missing port in address`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector"}, setting: "endpoint", from: "OTEL_EXPORTER_OTLP_ENDPOINT",
			msg: `OTEL_EXPORTER_OTLP_ENDPOINT="collector": address collector: missing port in address`},
	} {
		clearEnv(t)
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		_, err := Resolve(c.cfg)
		var se *SettingError
		if !errors.As(err, &se) {
			t.Errorf("%+v %v: error %v, want a SettingError", c.cfg, c.env, err)
			continue
		}
		if se.Setting != c.setting || se.Env != c.from || err.Error() != c.msg {
			t.Errorf("%+v %v: %q (setting %q, variable %q), want %q (%q, %q)", c.cfg, c.env, err, se.Setting, se.Env, c.msg, c.setting, c.from)
		}
	}
}

// TestCheck: an endpoint where nothing listens fails at once, naming it;
// one that listens passes.
func TestCheck(t *testing.T) {
	clearEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	ep, err := Resolve(Config{Endpoint: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Check(); err != nil {
		t.Errorf("listening: %v", err)
	}
	l.Close()
	start := time.Now()
	err = ep.Check()
	if err == nil || !strings.Contains(err.Error(), "cannot reach the OTLP endpoint "+addr+" (grpc)") {
		t.Errorf("closed: %v, want it to name the endpoint", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// collector is an OTLP/HTTP endpoint that keeps what it was sent.
type collector struct {
	mu      sync.Mutex
	spans   []string
	headers http.Header
	paths   []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headers = r.Header.Clone()
	c.paths = append(c.paths, r.URL.Path)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, s.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(b)
}

// TestNewExporter pushes a span over OTLP/HTTP to a loopback host:port,
// which must be plain text, with headers from the settings merged over
// those of the environment.
func TestNewExporter(t *testing.T) {
	clearEnv(t)
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=runtime,x-env=staging%20eu")
	ep, err := Resolve(Config{
		Protocol: "http/protobuf",
		Endpoint: strings.TrimPrefix(srv.URL, "http://"),
		Headers:  map[string]string{"x-team": "gc"},
		Timeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := ep.NewExporter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	span := tracetest.SpanStub{
		Name: "http.request",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
		}),
		StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
	}
	if err := exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{span.Snapshot()}); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != 1 || col.spans[0] != "http.request" {
		t.Errorf("spans %q, want the one pushed", col.spans)
	}
	if len(col.paths) != 1 || col.paths[0] != "/v1/traces" {
		t.Errorf("paths %q, want /v1/traces", col.paths)
	}
	if got := col.headers.Get("x-team"); got != "gc" {
		t.Errorf("x-team %q: the setting must win over the variable", got)
	}
	if got := col.headers.Get("x-env"); got != "staging eu" {
		t.Errorf("x-env %q: the variable's header must be kept, unescaped", got)
	}
}
