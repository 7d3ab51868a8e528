// Package otelcoltest runs the OpenTelemetry Collector that
// scripts/otelcol builds, for end-to-end tests: it receives OTLP over gRPC
// and HTTP on 127.0.0.1 and writes what it receives to a file, which the
// test reads back.
//
// Where the Collector cannot be built (no network, no module proxy), the
// tests that need it are skipped, unless the environment variable CI is
// set: in CI they fail.
package otelcoltest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Binary returns the path of the Collector, building it with
// scripts/otelcol/build.sh under root (the repository, relative to the
// test's directory) if needed: a few minutes, once. Under -short, outside
// CI, it only uses a binary built before.
func Binary(t testing.TB, root string) string {
	t.Helper()
	return BinaryFor(t, root, "")
}

// BinaryFor is Binary for the Collector of another builder manifest, a
// path relative to root (scripts/otelcol/gotrace-builder-config.yaml);
// "" is build.sh's own.
func BinaryFor(t testing.TB, root, manifest string) string {
	t.Helper()
	var args []string
	if manifest != "" {
		args = append(args, filepath.Join(root, manifest))
	}
	return Build(t, "the OpenTelemetry Collector", root, "scripts/otelcol/build.sh", args...)
}

// Build runs script, a path under root that builds a program once into
// the user cache and prints its path (taking --cached first to only look
// for one built before), and returns that path. Under -short, outside CI,
// it only looks. What cannot be built skips the test, unless the
// environment variable CI is set: then the test fails.
func Build(t testing.TB, what, root, script string, args ...string) string {
	t.Helper()
	_, ci := os.LookupEnv("CI")
	cmdArgs := []string{filepath.Join(root, script)}
	if testing.Short() && !ci {
		cmdArgs = append(cmdArgs, "--cached")
	}
	cmdArgs = append(cmdArgs, args...)
	var stderr bytes.Buffer
	cmd := exec.Command("bash", cmdArgs...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("cannot build %s with %s: %v\n%s", what, script, err, LastLines(stderr.String(), 15))
		if !ci {
			t.Skip(msg + "\n(with CI set in the environment, this is a failure)")
		}
		t.Fatal(msg)
	}
	return strings.TrimSpace(string(out))
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Collector is a Collector process receiving OTLP over gRPC (GRPCAddr)
// and HTTP (HTTPAddr) and writing it to the file Out as OTLP JSON lines.
type Collector struct {
	GRPCAddr string
	HTTPAddr string
	Out      string

	t       testing.TB
	bin     string
	config  string
	logPath string

	mu   sync.Mutex
	proc *process
}

// process is a run of the Collector; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs the Collector bin until the test ends.
func Start(t testing.TB, bin string) *Collector {
	t.Helper()
	dir := t.TempDir()
	c := &Collector{
		t:        t,
		bin:      bin,
		config:   filepath.Join(dir, "config.yaml"),
		GRPCAddr: FreeAddr(t),
		HTTPAddr: FreeAddr(t),
		Out:      filepath.Join(dir, "spans.json"),
		logPath:  filepath.Join(dir, "collector.log"),
	}
	// No processors: the receiver answers once the file exporter has the
	// spans. The Collector's own telemetry is off, so that it listens on
	// no port but these.
	config := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  file:
    path: %s
    append: true
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
`, c.GRPCAddr, c.HTTPAddr, c.Out)
	if err := os.WriteFile(c.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(c.logPath)
			t.Logf("collector log:\n%s", LastLines(string(log), 40))
		}
	})
	return c
}

// FreeAddr returns a 127.0.0.1 address with a port free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ErrExited is WaitListening's error when the process exited first.
var ErrExited = errors.New("exited")

// WaitListening waits until every address accepts connections, and fails
// after timeout, or as soon as exited is closed (the process that was to
// listen has exited).
func WaitListening(timeout time.Duration, exited <-chan struct{}, addrs ...string) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range addrs {
		for {
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				break
			}
			select {
			case <-exited:
				return ErrExited
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("does not listen on %s after %v", addr, timeout)
			}
		}
	}
	return nil
}

// Run starts the Collector (again, after Stop) and waits until both
// receivers accept connections. It may be called from any goroutine.
func (c *Collector) Run() error {
	log, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(c.bin, "--config", c.config)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the collector: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
	if err := WaitListening(30*time.Second, p.done, c.GRPCAddr, c.HTTPAddr); err != nil {
		if errors.Is(err, ErrExited) {
			return fmt.Errorf("the collector exited at start: %v", p.err)
		}
		return fmt.Errorf("the collector %w", err)
	}
	return nil
}

// Stop stops the Collector as an operator would, with SIGTERM, and waits
// for it to exit, flushing its file.
func (c *Collector) Stop() {
	c.mu.Lock()
	p := c.proc
	c.proc = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Spans returns what the Collector's file holds so far, in whole lines.
func (c *Collector) Spans() []*tracepb.ResourceSpans {
	c.t.Helper()
	data, _ := os.ReadFile(c.Out)
	// The exporter may be writing a line: read whole ones only.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	return DecodeJSON(c.t, data)
}

// WaitFor polls the Collector's file until done holds for what it holds,
// and returns that; it fails the test after timeout.
func (c *Collector) WaitFor(timeout time.Duration, what string, done func([]*tracepb.ResourceSpans) bool) []*tracepb.ResourceSpans {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rs := c.Spans()
		if done(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the collector's file does not hold %s after %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var hexIDRE = regexp.MustCompile(`"(traceId|spanId|parentSpanId)":\s*"([0-9a-fA-F]*)"`)

// UnmarshalLine decodes one line of OTLP JSON, an ExportTraceServiceRequest
// as the Collector's file exporter and trace2x write it. OTLP has trace
// and span IDs in hex, where the protobuf JSON mapping has bytes in base64.
func UnmarshalLine(line []byte, req *coltracepb.ExportTraceServiceRequest) error {
	var bad error
	line = hexIDRE.ReplaceAllFunc(line, func(m []byte) []byte {
		sub := hexIDRE.FindSubmatch(m)
		raw, err := hex.DecodeString(string(sub[2]))
		if err != nil && bad == nil {
			bad = fmt.Errorf("bad hex ID in %s", m)
		}
		return fmt.Appendf(nil, "%q:%q", sub[1], base64.StdEncoding.EncodeToString(raw))
	})
	if bad != nil {
		return bad
	}
	return protojson.Unmarshal(line, req)
}

// DecodeJSON decodes OTLP JSON, one ExportTraceServiceRequest a line, as
// the Collector's file exporter writes it.
func DecodeJSON(t testing.TB, data []byte) []*tracepb.ResourceSpans {
	t.Helper()
	var out []*tracepb.ResourceSpans
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := UnmarshalLine(sc.Bytes(), &req); err != nil {
			t.Fatalf("decoding OTLP JSON: %v\n%.300s", err, sc.Bytes())
		}
		out = append(out, req.ResourceSpans...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
