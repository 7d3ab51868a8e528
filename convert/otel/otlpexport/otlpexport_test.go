package otlpexport

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/internal/otelcoltest"
)

// clearEnv unsets the variables Resolve reads, for the test.
func clearEnv(t *testing.T) {
	for _, v := range []string{"PROTOCOL", "ENDPOINT", "HEADERS", "INSECURE", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
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
			name: "environment, a base URL with a path",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/base/"},
			want: "http://collector:4318/base/v1/traces (http/protobuf)",
		},
		{name: "blank is unset", cfg: Config{Endpoint: " "}, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, want: "127.0.0.1:4317 (grpc)"},
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
		{endpoint: "127.0.0.1:4317", env: "false", want: false},
		{endpoint: "collector.example.com:4317", env: "true", want: true},
		// The variable applies to an endpoint without a scheme alone.
		{endpoint: "http://127.0.0.1:4317", want: true},
		{endpoint: "http://collector.example.com:4317", env: "false", want: true},
		{endpoint: "https://127.0.0.1:4317", env: "true", want: false},
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
		{cfg: Config{Endpoint: "http://collector:4317", Insecure: new(bool)}, setting: "endpoint",
			msg: `endpoint "http://collector:4317": an http:// endpoint, with TLS asked for`},
		// The exporter sends neither a URL's query (so it is refused)
		// nor its user and password (so Resolve sends them as a header).
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://h:1/base?api_key=s3cr3t"}, cfg: Config{Protocol: "http/protobuf"}, setting: "endpoint", from: "OTEL_EXPORTER_OTLP_ENDPOINT",
			msg: `OTEL_EXPORTER_OTLP_ENDPOINT="https://h:1/base/v1/traces?api_key=xxxxx": the exporter sends no query string; give what it carries as a header`},
		// A certificate for an endpoint reached in plain text: the
		// exporter would fail at its first export, or speak TLS.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem"}, cfg: Config{Endpoint: "127.0.0.1:4317"}, setting: "certificate", from: "OTEL_EXPORTER_OTLP_CERTIFICATE",
			msg: `OTEL_EXPORTER_OTLP_CERTIFICATE="/etc/ca.pem": a certificate for TLS, but spans go to 127.0.0.1:4317 in plain text (a loopback host:port); give an https:// endpoint, ask for TLS, or unset the variable`},
		// Headers the exporter would drop: a request without them.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "api-key=100%zz"}, setting: "headers", from: "OTEL_EXPORTER_OTLP_HEADERS",
			msg: `OTEL_EXPORTER_OTLP_HEADERS: the value of api-key is not percent-encoded (a % begins %XX; write a % as %25)`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=1,bad key=s3cr3t"}, setting: "headers", from: "OTEL_EXPORTER_OTLP_HEADERS",
			msg: "OTEL_EXPORTER_OTLP_HEADERS: the name of its pair 2 is not a header name (letters, digits and !#$%&'*+-.^_`|~)"},
		{cfg: Config{Headers: map[string]string{"bad key": "s3cr3t"}}, setting: "headers",
			msg: "headers: \"bad key\" is not a header name (letters, digits and !#$%&'*+-.^_`|~)"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318/v1/traces"}, setting: "endpoint", from: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
			msg: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="collector:4318/v1/traces": port "4318/v1/traces" is not a port number (a path needs an http:// or https:// URL)`},
		// Values the exporter would log and ignore.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "5s"}, setting: "timeout", from: "OTEL_EXPORTER_OTLP_TIMEOUT",
			msg: `OTEL_EXPORTER_OTLP_TIMEOUT="5s": want a whole number of milliseconds above 0, such as 10000`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "1"}, setting: "insecure", from: "OTEL_EXPORTER_OTLP_INSECURE",
			msg: `OTEL_EXPORTER_OTLP_INSECURE="1": want true or false`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, setting: "compression", from: "OTEL_EXPORTER_OTLP_COMPRESSION",
			msg: `OTEL_EXPORTER_OTLP_COMPRESSION="zstd": want gzip or none`},
		// Headers carry credentials: neither the value nor the pair is
		// shown.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=1,garbage"}, setting: "headers", from: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
			msg: `OTEL_EXPORTER_OTLP_TRACES_HEADERS: its pair 2 is not name=value; want name=value pairs separated by commas`},
		// Nor a password or token of an endpoint.
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:s3cr3t@h:1/?token=s3cr3t"}, setting: "endpoint", from: "OTEL_EXPORTER_OTLP_ENDPOINT",
			msg: `OTEL_EXPORTER_OTLP_ENDPOINT="ftp://user:xxxxx@h:1/?token=xxxxx": neither host:port nor an http:// or https:// URL`},
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

// grpcServer starts a gRPC server with the OTLP trace service on
// 127.0.0.1 and returns its address.
func grpcServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, coltracepb.UnimplementedTraceServiceServer{})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// checkProtocol checks each endpoint: those in wrong (protocol to
// address) must fail at once with a ProtocolError suggesting the other
// protocol, the others must pass.
func checkProtocol(t *testing.T, cases []protocolCase) {
	t.Helper()
	defer answerInTime()()
	for _, c := range cases {
		ep, err := Resolve(Config{Protocol: c.protocol, Endpoint: c.endpoint, Insecure: c.insecure})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = ep.Check()
		took := time.Since(start)
		if c.suggest == "" {
			if err != nil {
				t.Errorf("%s: %v, want it to pass", ep, err)
			}
			continue
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a ProtocolError", ep, err)
			continue
		}
		if pe.Endpoint != ep.String() || pe.Protocol != c.protocol || pe.Suggested != c.suggest {
			t.Errorf("%s: %+v, want protocol %s, suggested %s", ep, pe, c.protocol, c.suggest)
		}
		want := "the OTLP endpoint " + ep.String() + " answers HTTP/1.1, not gRPC: use protocol http/protobuf, or the gRPC port (4317 by default)"
		if c.protocol != "grpc" {
			want = "the OTLP endpoint " + ep.String() + " answers HTTP/2 only, as a gRPC port does: use protocol grpc, or the OTLP/HTTP port (4318 by default)"
		}
		if err.Error() != want {
			t.Errorf("%s:\n got %s\nwant %s", ep, err, want)
		}
		if took >= probeTimeout { // it waited for the timeout, not the answer
			t.Errorf("%s: took %v to fail", ep, took)
		}
	}
}

// answerInTime lengthens the probe's timeout until the function it
// returns is called: an answer that a busy machine delays past a second
// would be taken for silence, which passes. A probe that waits for the
// timeout, not the answer, then takes a minute.
func answerInTime() func() {
	d := probeTimeout
	probeTimeout = time.Minute
	return func() { probeTimeout = d }
}

type protocolCase struct {
	protocol, endpoint string
	insecure           *bool
	suggest            string // the protocol the error suggests; "" if Check passes
}

// TestCheckProtocol: gRPC sent to an HTTP/1 server, as to the
// Collector's OTLP/HTTP port, or OTLP/HTTP to a gRPC server, fails at
// once, saying which protocol fits; the right pairings pass.
func TestCheckProtocol(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewServer(&collector{})
	defer srv.Close()
	httpAddr, grpcAddr := srv.Listener.Addr().String(), grpcServer(t)
	no := false
	checkProtocol(t, []protocolCase{
		{protocol: "grpc", endpoint: httpAddr, suggest: "http/protobuf"},
		{protocol: "grpc", endpoint: "http://" + httpAddr, suggest: "http/protobuf"},
		{protocol: "grpc", endpoint: grpcAddr},
		{protocol: "grpc", endpoint: "http://" + grpcAddr},
		{protocol: "http/protobuf", endpoint: httpAddr},
		{protocol: "http/json", endpoint: "http://" + httpAddr},
		{protocol: "http/protobuf", endpoint: grpcAddr, suggest: "grpc"},
		{protocol: "http/json", endpoint: "http://" + grpcAddr, suggest: "grpc"},
	})
	// Over TLS, what answers in plain text fails (see TestCheckPlainText).
	for _, c := range []Config{
		{Protocol: "grpc", Endpoint: "https://" + httpAddr},
		{Protocol: "grpc", Endpoint: httpAddr, Insecure: &no},
		{Protocol: "http/protobuf", Endpoint: "https://" + grpcAddr},
	} {
		ep, err := Resolve(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := ep.Check(); !errors.As(err, new(*PlainTextError)) {
			t.Errorf("%+v: %v, want a *PlainTextError", c, err)
		}
	}
}

// TestCheckUnclear: an endpoint whose answer to the probe is no clear
// sign of the other protocol (silence, a close, other bytes) passes, as
// before the probe; silence costs at most the probe's timeout, not the
// export's.
func TestCheckUnclear(t *testing.T) {
	clearEnv(t)
	for _, c := range []struct {
		name  string
		serve func(net.Conn)
	}{
		{"silent", func(c net.Conn) { <-t.Context().Done(); c.Close() }},
		{"closes", func(c net.Conn) { c.Close() }},
		{"HTTP/2 data frame", func(c net.Conn) { c.Write([]byte{0, 0, 6, 0, 0, 0, 0, 0, 1}); c.Close() }},
		{"start of a frame", func(c net.Conn) { c.Write([]byte{0, 0}); c.Close() }},
		// A TLS port's alert to plain text: not the other protocol.
		{"TLS alert", func(c net.Conn) { c.Write([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x32}); c.Close() }},
		// Not HTTP/2, but no answer to OTLP/HTTP's greeting either (see
		// TestCheckNotHTTP2 for gRPC's).
		{"other bytes", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")); c.Close() }},
		{"short", func(c net.Conn) { c.Write([]byte("HTTP/")); c.Close() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := serveConns(t, c.serve)
			for _, p := range []string{"grpc", "http/protobuf"} {
				if p == "grpc" && (c.name == "other bytes" || c.name == "short") {
					continue
				}
				// An export timeout far past the probe's, which a busy
				// machine's delays never reach.
				ep, err := Resolve(Config{Protocol: p, Endpoint: addr, Timeout: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := ep.Check(); err != nil {
					t.Errorf("%s: %v, want it to pass", ep, err)
				}
				if d := time.Since(start); d >= ep.Timeout() {
					t.Errorf("%s: took %v, the export's timeout", ep, d)
				}
			}
		})
	}
}

// serveConns serves every connection to a listener on 127.0.0.1 with
// serve, until the test ends, and returns its address.
func serveConns(t *testing.T, serve func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return l.Addr().String()
}

// pythonErrorPage is what Python's http.server (3.11) answers a request
// line it cannot take, such as HTTP/2's preface: an error page alone, with
// no status line or headers, as HTTP/0.9 answers.
const pythonErrorPage = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 505</p>
        <p>Message: Invalid HTTP version (2.0).</p>
        <p>Error code explanation: 505 - Cannot fulfill request.</p>
    </body>
</html>
`

// pythonHTTP serves a connection as Python's http.server does one that
// opens with a request line of HTTP/2 or a version it cannot read: it
// reads the line, writes an error page without a status line and closes.
// A request line it can read gets an HTTP/1.0 answer.
func pythonHTTP(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	if f := strings.Fields(line); len(f) == 3 && (f[2] == "HTTP/1.0" || f[2] == "HTTP/1.1") {
		for {
			// The headers, up to the empty line.
			if h, err := r.ReadString('\n'); err != nil || strings.TrimSpace(h) == "" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.0 501 Unsupported method\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nContent-Type: text/html;charset=utf-8\r\nConnection: close\r\n\r\n")
		return
	}
	io.WriteString(c, pythonErrorPage)
}

// TestCheckNotHTTP2: gRPC sent to a server that answers its greeting with
// anything that cannot begin HTTP/2, as Python's http.server, which
// answers with an error page without a status line, fails at once with a
// ProtocolError quoting the start of the answer, not after the exporter's
// 10 s of retries ("http2: frame too large"); the other protocol passes
// there (but at Python's http.server, which takes no POST), and a gRPC
// server still passes.
func TestCheckNotHTTP2(t *testing.T) {
	clearEnv(t)
	defer answerInTime()()
	for _, c := range []struct {
		name   string
		serve  func(net.Conn)
		answer string
	}{
		{"Python's http.server", pythonHTTP, `"<!DOCTYPE HTML>"...`},
		{"banner", func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")); c.Close() }, `"SSH-2.0-OpenSSH_9.6"...`},
		{"short", func(c net.Conn) { c.Write([]byte("HTTP/")); c.Close() }, `"HTTP/"`},
		{"control bytes", func(c net.Conn) { c.Write([]byte("\x1b[2J\x1b]0;owned\a\xff\xfe\u202e")); c.Close() }, `"\x1b[2J\x1b]0;owned\a\xff\xfe\u202e"`},
		{"long line", func(c net.Conn) { c.Write([]byte(strings.Repeat("x", 100))); c.Close() }, `"` + strings.Repeat("x", 40) + `"...`},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := serveConns(t, c.serve)
			ep, err := Resolve(Config{Protocol: "grpc", Endpoint: addr})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = ep.Check()
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: error %v, want a ProtocolError", ep, err)
			}
			want := "the OTLP endpoint " + ep.String() + " answers " + c.answer + ", not gRPC: use protocol http/protobuf, or the gRPC port (4317 by default)"
			if pe.Answer != c.answer || pe.Suggested != "http/protobuf" || err.Error() != want {
				t.Errorf("%s: %+v\n got %s\nwant %s", ep, pe, err, want)
			}
			if d := time.Since(start); d >= probeTimeout { // it waited for the timeout
				t.Errorf("%s: took %v to fail", ep, d)
			}
			ep, err = Resolve(Config{Protocol: "http/protobuf", Endpoint: addr})
			if err != nil {
				t.Fatal(err)
			}
			// An HTTP server is the other protocol, but Python's takes
			// no POST (501), where no receiver is.
			err = ep.Check()
			if re := (*ReceiverError)(nil); c.name == "Python's http.server" && !errors.As(err, &re) {
				t.Errorf("%s: %v, want a *ReceiverError", ep, err)
			} else if c.name != "Python's http.server" && err != nil {
				t.Errorf("%s: %v, want it to pass", ep, err)
			}
		})
	}
	checkProtocol(t, []protocolCase{{protocol: "grpc", endpoint: grpcServer(t)}})
}

// TestCheckCollector: at a real Collector, each port passes with its own
// protocol and fails at once, suggesting the other, with the other's.
func TestCheckCollector(t *testing.T) {
	col := otelcoltest.Start(t, otelcoltest.Binary(t, filepath.Join("..", "..", "..")))
	clearEnv(t)
	checkProtocol(t, []protocolCase{
		{protocol: "grpc", endpoint: col.GRPCAddr},
		{protocol: "grpc", endpoint: "http://" + col.GRPCAddr},
		{protocol: "http/protobuf", endpoint: col.HTTPAddr},
		{protocol: "http/json", endpoint: "http://" + col.HTTPAddr},
		{protocol: "grpc", endpoint: col.HTTPAddr, suggest: "http/protobuf"},
		{protocol: "grpc", endpoint: "http://" + col.HTTPAddr, suggest: "http/protobuf"},
		{protocol: "http/protobuf", endpoint: col.GRPCAddr, suggest: "grpc"},
		{protocol: "http/json", endpoint: "http://" + col.GRPCAddr, suggest: "grpc"},
	})
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
	// The setting wins over the variable whatever the case of the names:
	// a server would take either of two headers that differ in case
	// alone, and gRPC sends both.
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "X-Team=runtime,x-env=staging%20eu")
	ep, err := Resolve(Config{
		Protocol: "http/protobuf",
		Endpoint: strings.TrimPrefix(srv.URL, "http://"),
		Headers:  map[string]string{"x-team": "gc"},
		Timeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.headers) != 2 || ep.headers["x-team"] != "gc" {
		t.Errorf("headers %q, want x-team=gc in place of the variable's X-Team, and x-env", ep.headers)
	}
	pushOne(t, ep)
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

// TestEndpointFromEnvironment: a host:port in the signal's variable is
// where spans go, as Resolve says, though the general variable names
// another collector (the exporter's own reading refuses a host:port and
// falls back to the general variable); and a host:port in the general
// variable gets the signal's path.
func TestEndpointFromEnvironment(t *testing.T) {
	for _, signal := range []bool{true, false} {
		clearEnv(t)
		want, other := &collector{}, &collector{}
		srv, otherSrv := httptest.NewServer(want), httptest.NewServer(other)
		defer srv.Close()
		defer otherSrv.Close()
		hostPort := strings.TrimPrefix(srv.URL, "http://")
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
		if signal {
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", hostPort)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otherSrv.URL)
		} else {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hostPort)
		}
		ep, err := Resolve(Config{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got, w := ep.String(), hostPort+" (http/protobuf)"; got != w {
			t.Errorf("endpoint %q, want %q", got, w)
		}
		pushOne(t, ep)
		want.mu.Lock()
		if len(want.spans) != 1 || len(want.paths) != 1 || want.paths[0] != "/v1/traces" {
			t.Errorf("signal variable %v: %d spans at %q, want the one pushed at /v1/traces", signal, len(want.spans), want.paths)
		}
		want.mu.Unlock()
		other.mu.Lock()
		if len(other.spans) != 0 {
			t.Errorf("signal variable %v: %d spans went to the general variable's collector", signal, len(other.spans))
		}
		other.mu.Unlock()
	}
}

// TestEndpointOverEnvironment: an endpoint given in Config is where spans
// go, whole: the variables' URL gives it neither its path nor its scheme
// (the exporter's own reading would send spans for a host:port to the
// variable's path, and in the variable's scheme). A URL's user and
// password go as basic authentication, which the exporter would drop.
func TestEndpointOverEnvironment(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector.internal:4318/v1/traces-old"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.internal:4318/otlp"},
	} {
		clearEnv(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		col := &collector{}
		srv := httptest.NewServer(col)
		hostPort := strings.TrimPrefix(srv.URL, "http://")
		for _, endpoint := range []string{hostPort, "http://user:s3cr3t@" + hostPort + "/v1/traces"} {
			ep, err := Resolve(Config{Protocol: "http/protobuf", Endpoint: endpoint, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			pushOne(t, ep)
		}
		srv.Close()
		col.mu.Lock()
		if !slices.Equal(col.paths, []string{"/v1/traces", "/v1/traces"}) {
			t.Errorf("%v: spans went to %q, want /v1/traces twice", env, col.paths)
		}
		if got, want := col.headers.Get("Authorization"), "Basic dXNlcjpzM2NyM3Q="; got != want {
			t.Errorf("%v: Authorization %q, want %q, the URL's user and password", env, got, want)
		}
		col.mu.Unlock()
	}
}

// TestNoRedirect: an OTLP/HTTP endpoint that redirects elsewhere gets no
// span and the export fails, saying so: following it would send the
// headers, credentials, to the other host.
func TestNoRedirect(t *testing.T) {
	clearEnv(t)
	other := &collector{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherSrv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	ep, err := Resolve(Config{Protocol: "http/protobuf", Endpoint: redirect.URL, Headers: map[string]string{"X-Api-Key": "s3cr3t"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Check says so before a conversion, and the export too.
	var re *ReceiverError
	if err := ep.Check(); !errors.As(err, &re) || !strings.Contains(err.Error(), "redirects to "+otherSrv.URL+"/v1/traces (307 Temporary Redirect)") {
		t.Errorf("Check of an endpoint that redirects: %v, want a ReceiverError naming where", err)
	}
	exp, err := ep.NewExporter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	span := tracetest.SpanStub{Name: "http.request", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}})}
	err = exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{span.Snapshot()})
	if err == nil || !strings.Contains(err.Error(), "redirects to "+otherSrv.URL) {
		t.Errorf("export through a redirect: %v, want an error naming where it redirects", err)
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.paths) != 0 {
		t.Errorf("the redirect was followed: %q", other.paths)
	}
}

// pushOne exports a span through ep's exporter.
func pushOne(t *testing.T, ep *Endpoint) {
	t.Helper()
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
}

// TestCheckTLS: a loopback host:port, which spans reach in plain text,
// where the endpoint speaks TLS fails Check at once, saying so, for both
// protocols; and plain text asked for with an https:// URL is refused.
func TestCheckTLS(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the probes fail
	srv.StartTLS()
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "https://")
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		ep, err := Resolve(Config{Protocol: protocol, Endpoint: hostPort, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = ep.Check()
		var te *TLSError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "https://"+hostPort) {
			t.Errorf("%s: Check() = %v, want a TLSError naming https://%s", protocol, err, hostPort)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Check took %v", protocol, d)
		}
	}
	yes := true
	var se *SettingError
	if _, err := Resolve(Config{Endpoint: srv.URL, Insecure: &yes}); !errors.As(err, &se) {
		t.Errorf("Resolve of an https:// endpoint in plain text: %v, want a SettingError", err)
	}
}

// TestCheckCertificate: an https:// endpoint whose certificate the
// exporter would not trust fails Check at once with a CertificateError,
// rather than after the exporter's retries; one signed by the CA given in
// OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE passes, and a file of CAs that
// cannot be used is a SettingError.
func TestCheckCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	pemOf := func(name string, c *x509.Certificate) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	own, wrong := pemOf("own.pem", srv.Certificate()), pemOf("other.pem", selfSigned(t))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		for _, c := range []struct {
			env, file string
			want      string // "", "certificate" or "setting"
		}{
			{"", "", "certificate"},
			{"OTEL_EXPORTER_OTLP_CERTIFICATE", own, ""},
			{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", own, ""},
			{"OTEL_EXPORTER_OTLP_CERTIFICATE", wrong, "certificate"},
			{"OTEL_EXPORTER_OTLP_CERTIFICATE", filepath.Join(dir, "missing.pem"), "setting"},
			{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", garbage, "setting"},
		} {
			clearEnv(t)
			if c.env != "" {
				t.Setenv(c.env, c.file)
			}
			ep, err := Resolve(Config{Protocol: protocol, Endpoint: srv.URL, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = ep.Check()
			var ce *CertificateError
			var se *SettingError
			switch c.want {
			case "":
				if err != nil {
					t.Errorf("%s, %s=%s: Check() = %v, want nil", protocol, c.env, c.file, err)
				}
			case "certificate":
				if !errors.As(err, &ce) || ce.CAFile != c.file || !strings.Contains(err.Error(), srv.URL) {
					t.Errorf("%s, %s=%s: Check() = %v, want a CertificateError naming the endpoint and the CA file", protocol, c.env, c.file, err)
				}
			case "setting":
				if !errors.As(err, &se) || se.Env != c.env {
					t.Errorf("%s, %s=%s: Check() = %v, want a SettingError naming %s", protocol, c.env, c.file, err, c.env)
				}
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("%s: Check took %v", protocol, d)
			}
		}
	}
	// Behind a proxy the endpoint is not dialled, but the CA file is
	// read all the same.
	clearEnv(t)
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", garbage)
	ep, err := Resolve(Config{Endpoint: "https://collector.example:4317"})
	if err != nil {
		t.Fatal(err)
	}
	var se *SettingError
	if err := ep.Check(); !errors.As(err, &se) {
		t.Errorf("behind a proxy, with a CA file that holds no certificate: Check() = %v, want a SettingError", err)
	}
}

// TestCheckClientCertificate: an endpoint that wants a client
// certificate (mutual TLS) and gets none, over TLS 1.3 and 1.2, fails
// Check at once with a CertificateError; with one its CA vouches for, it
// passes; a certificate without its key, or a file that holds none, is a
// SettingError.
func TestCheckClientCertificate(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	ca, caKey := newCA(t, "client CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "trace2x"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := write("client.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}))
	keyFile := write("client.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	garbage := write("garbage.pem", []byte("no certificate"))
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MaxVersion: version}
		srv.StartTLS()
		serverCA := write("server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
		for _, c := range []struct {
			cert, key string
			want      string // "", "client" or "setting"
		}{
			{"", "", "client"},
			{certFile, keyFile, ""},
			{certFile, "", "setting"},
			{garbage, keyFile, "setting"},
		} {
			clearEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", serverCA)
			t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", c.cert)
			t.Setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", c.key)
			ep, err := Resolve(Config{Protocol: "http/protobuf", Endpoint: srv.URL, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = ep.Check()
			var ce *CertificateError
			var se *SettingError
			what := fmt.Sprintf("TLS %x, client certificate %q key %q", version, c.cert, c.key)
			switch c.want {
			case "":
				if err != nil {
					t.Errorf("%s: Check() = %v, want nil", what, err)
				}
			case "client":
				if !errors.As(err, &ce) || !ce.Client || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE") {
					t.Errorf("%s: Check() = %v, want a CertificateError of the client", what, err)
				}
			case "setting":
				if !errors.As(err, &se) {
					t.Errorf("%s: Check() = %v, want a SettingError", what, err)
				}
			}
		}
		srv.Close()
	}
}

// selfSigned makes a CA certificate of its own, for 127.0.0.1.
func selfSigned(t *testing.T) *x509.Certificate {
	c, _ := newCA(t, "another CA")
	return c
}

// newCA makes a self-signed CA certificate named name, also valid for
// 127.0.0.1, and its key.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestCheckTLSReset: a TLS endpoint that resets a connection whose first
// bytes are not a TLS handshake, as OpenSSL's servers do, fails Check at
// once with a TLSError too.
func TestCheckTLSReset(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	srv.Close()
	cert := srv.TLS.Certificates
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		first, err := br.Peek(1)
		if err != nil || first[0] != 0x16 { // not a handshake record
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		tc := tls.Server(&peeked{c, br}, &tls.Config{Certificates: cert})
		tc.Handshake()
		tc.Close()
	})
	ep, err := Resolve(Config{Protocol: "grpc", Endpoint: addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Check(); !errors.As(err, new(*TLSError)) {
		t.Errorf("Check() = %v, want a TLSError", err)
	}
}

// peeked is a connection whose first bytes were read into a bufio.Reader.
type peeked struct {
	net.Conn
	r *bufio.Reader
}

func (p *peeked) Read(b []byte) (int, error) { return p.r.Read(b) }

// TestCheckInsecureVariable: with OTEL_EXPORTER_OTLP_INSECURE=true the
// exporter speaks plain text, so Check probes what answers: an OTLP/HTTP
// port given for gRPC fails at once.
func TestCheckInsecureVariable(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ep, err := Resolve(Config{Protocol: "grpc", Endpoint: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Check(); !errors.As(err, new(*ProtocolError)) {
		t.Errorf("Check() = %v, want a ProtocolError", err)
	}
}

// TestCheckReceiver checks that an OTLP/HTTP endpoint that answers an
// export with a web page, 404 or 405 fails Check, since the exporter
// takes any 2xx answer for delivered; and that a receiver, and a server
// that answers otherwise, pass.
func TestCheckReceiver(t *testing.T) {
	clearEnv(t)
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>UI</title>")
	}
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		want    string // the error's start; "" to pass
	}{
		{"receiver", (&collector{}).ServeHTTP, ""},
		{"web page", page, "answers an export with a web page (200 OK, text/html; charset=utf-8)"},
		{"not found", http.NotFound, "answers an export with 404 Not Found: no OTLP receiver"},
		{"method", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "", http.StatusMethodNotAllowed)
		}, "answers an export with 405 Method Not Allowed"},
		{"no POST", func(w http.ResponseWriter, r *http.Request) {
			// As Python's http.server answers, with an error page.
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotImplemented)
		}, "answers an export with 501 Not Implemented"},
		{"refuses", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusUnauthorized) // the exporter's to report
		}, ""},
	} {
		var paths []string
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.Method+" "+r.URL.Path)
			mu.Unlock()
			c.handler(w, r)
		}))
		for _, protocol := range []string{"http/protobuf", "http/json"} {
			ep, err := Resolve(Config{Protocol: protocol, Endpoint: srv.Listener.Addr().String()})
			if err != nil {
				t.Fatal(err)
			}
			err = ep.Check()
			var re *ReceiverError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%s, %s: %v", c.name, protocol, err)
			case c.want != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("%s, %s: %v, want a *ReceiverError saying %q", c.name, protocol, err, c.want)
			}
		}
		srv.Close()
		if !slices.Contains(paths, "POST /v1/traces") {
			t.Errorf("%s: requests %v, want an export to /v1/traces", c.name, paths)
		}
	}
}

// TestCheckPlainText checks that an endpoint reached over TLS that
// answers in plain text fails Check, saying so: INSECURE=false asks for
// TLS even on a loopback address, and the exporter would retry until its
// timeout.
func TestCheckPlainText(t *testing.T) {
	clearEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	no := false
	for _, c := range []Config{
		{Protocol: "http/protobuf", Endpoint: "https://" + addr},
		{Protocol: "grpc", Endpoint: addr, Insecure: &no},
	} {
		ep, err := Resolve(c)
		if err != nil {
			t.Fatal(err)
		}
		var pe *PlainTextError
		if err := ep.Check(); !errors.As(err, &pe) {
			t.Errorf("%+v: %v, want a *PlainTextError", c, err)
		}
	}
}

// TestEndpointStringHidesSecrets checks that an endpoint's password and
// the token in its query are not in what messages show of it.
func TestEndpointStringHidesSecrets(t *testing.T) {
	ep, err := Resolve(Config{Protocol: "http/protobuf", Endpoint: "http://user:s3cr3t@127.0.0.1:1/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ep.String(), "http://user:xxxxx@127.0.0.1:1/v1/traces (http/protobuf)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := ep.Check(); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Check of a dead endpoint: %v; want an error without its secrets", err)
	}
}

// TestGRPCHeaderASCII checks that a header gRPC would refuse at the first
// export, after the whole conversion, is refused at once, naming it and
// not its value; OTLP/HTTP and binary metadata take it.
func TestGRPCHeaderASCII(t *testing.T) {
	_, err := Resolve(Config{Protocol: "grpc", Endpoint: "127.0.0.1:4317", Headers: map[string]string{"X-Token": "sécret"}})
	var se *SettingError
	if !errors.As(err, &se) || se.Setting != "headers" || !strings.Contains(err.Error(), "X-Token") || strings.Contains(err.Error(), "sécret") {
		t.Errorf("a non-ASCII header over gRPC: %v", err)
	}
	for _, c := range []Config{
		{Protocol: "http/protobuf", Endpoint: "127.0.0.1:4318", Headers: map[string]string{"X-Token": "sécret"}},
		{Protocol: "grpc", Endpoint: "127.0.0.1:4317", Headers: map[string]string{"X-Token-Bin": "sécret"}},
	} {
		if _, err := Resolve(c); err != nil {
			t.Errorf("%s, %v: %v", c.Protocol, c.Headers, err)
		}
	}
}
