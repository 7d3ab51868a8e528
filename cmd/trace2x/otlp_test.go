package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/testtraces"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// runOTLP runs the otlp command in-process, as run does for the commands
// it lists, and returns its exit status and output.
func runOTLP(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: bytes.NewReader(nil), stdout: &out, stderr: &errb}
	fs := newFlagSet(otlpCmd, &errb)
	do := otlpCmd.setup(fs)
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0, out.String(), errb.String()
	}
	if err != nil {
		return 2, out.String(), errb.String()
	}
	if err := do(e, rest); err != nil {
		var u usageError
		if errors.As(err, &u) {
			errb.WriteString("trace2x otlp: " + u.msg + "\n")
			return 2, out.String(), errb.String()
		}
		errb.WriteString("trace2x: " + err.Error() + "\n")
		return 1, out.String(), errb.String()
	}
	return 0, out.String(), errb.String()
}

// closedAddr returns a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var exportedRE = regexp.MustCompile(`(exported|wrote) (\d+) of (\d+) spans?`)

// spansReported reads the span count from the command's report.
func spansReported(t *testing.T, stderr string) int {
	t.Helper()
	m := exportedRE.FindStringSubmatch(stderr)
	if m == nil || m[2] != m[3] {
		t.Fatalf("no complete span count in:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

func TestOTLPJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "spans.json")
	code, _, errs := runOTLP(t, "--json", "-o", out, "--runtime-spans", sample(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	n := spansReported(t, errs)
	if !strings.Contains(errs, "wall-clock snapshot") || !strings.Contains(errs, "joined remote traces") {
		t.Errorf("the report does not say where the times came from or what joined:\n%s", errs)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	hexID := regexp.MustCompile(`"spanId":"[0-9a-f]{16}"`)
	for sc.Scan() {
		if !hexID.Match(sc.Bytes()) {
			t.Errorf("a line without hex span IDs: %.200s", sc.Text())
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := otelcoltest.UnmarshalLine(sc.Bytes(), &req); err != nil {
			t.Fatalf("not OTLP JSON: %v\n%.300s", err, sc.Bytes())
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
	}
	if spans != n {
		t.Errorf("%d spans in the file, %d reported", spans, n)
	}
}

func TestOTLPUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "--endpoint", "127.0.0.1:4317", sample(t)},
		{"-o", "x.json", sample(t)},
		{"--protocol", "carrier-pigeon", sample(t)},
		{"--header", "novalue", sample(t)},
		{"--start-time", "yesterday", sample(t)},
		{"--start-time", "1900-01-01T00:00:00Z", "--json", sample(t)},
		{"--endpoint", "ftp://example.com", sample(t)},
	} {
		if code, _, errs := runOTLP(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", args, code, errs)
		}
	}
}

// TestOTLPUnreachable: an endpoint where nothing listens fails at once,
// naming the endpoint, the protocol and the cause.
func TestOTLPUnreachable(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		addr := closedAddr(t)
		start := time.Now()
		code, _, errs := runOTLP(t, "--protocol", proto, "--endpoint", addr, sample(t))
		if code != 1 || !strings.Contains(errs, addr) || !strings.Contains(errs, proto) || !strings.Contains(errs, "connection refused") {
			t.Errorf("%s: exit %d, stderr %q; want 1 and the endpoint, protocol and cause", proto, code, errs)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v to fail", proto, d)
		}
	}
}

// TestOTLPEnvironment: the standard variables choose the endpoint and
// protocol, and flags override them.
func TestOTLPEnvironment(t *testing.T) {
	envAddr, flagAddr := closedAddr(t), closedAddr(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+envAddr)
	_, _, errs := runOTLP(t, sample(t))
	if want := "http://" + envAddr + "/v1/traces (http/protobuf)"; !strings.Contains(errs, want) {
		t.Errorf("from the environment: stderr %q, want %q", errs, want)
	}
	_, _, errs = runOTLP(t, "--protocol", "grpc", "--endpoint", flagAddr, sample(t))
	if want := flagAddr + " (grpc)"; !strings.Contains(errs, want) {
		t.Errorf("flags over the environment: stderr %q, want %q", errs, want)
	}
}

// receiver is an OTLP endpoint in the test process: it counts spans and
// keeps the headers it was sent.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu      sync.Mutex
	spans   int
	headers map[string]string
}

func (r *receiver) add(req *coltracepb.ExportTraceServiceRequest, header func(string) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans += len(ss.Spans)
		}
	}
	r.headers = map[string]string{"x-team": header("x-team")}
}

func (r *receiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.add(req, func(k string) string { return strings.Join(md[k], ",") })
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var msg coltracepb.ExportTraceServiceRequest
	var err error
	if req.Header.Get("Content-Type") == "application/json" {
		err = protojson.Unmarshal(body, &msg)
	} else {
		err = proto.Unmarshal(body, &msg)
	}
	if err != nil || req.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.add(&msg, req.Header.Get)
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(b)
}

// grpcReceiver serves a receiver over OTLP/gRPC on 127.0.0.1 until the
// test ends, and returns it with its address.
func grpcReceiver(t *testing.T) (*receiver, string) {
	rec := &receiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, rec)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return rec, l.Addr().String()
}

// TestOTLPPush pushes the sample over gRPC (plain text, as the endpoint is
// loopback) and HTTP, with a header, and checks that every span arrived.
func TestOTLPPush(t *testing.T) {
	t.Run("grpc", func(t *testing.T) {
		rec, addr := grpcReceiver(t)
		code, _, errs := runOTLP(t, "--endpoint", addr, "--header", "x-team=runtime", "--goroutine-spans", sample(t))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if n := spansReported(t, errs); rec.spans != n || rec.headers["x-team"] != "runtime" {
			t.Errorf("received %d spans with headers %v; %d reported", rec.spans, rec.headers, n)
		}
	})
	for _, proto := range []string{"http/protobuf", "http/json"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			rec := &receiver{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			code, _, errs := runOTLP(t, "--protocol", proto, "--endpoint", srv.URL, "--header", "X-Team: runtime", sample(t))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if n := spansReported(t, errs); rec.spans != n || rec.headers["x-team"] != "runtime" {
				t.Errorf("received %d spans with headers %v; %d reported", rec.spans, rec.headers, n)
			}
		})
	}
}

// TestOTLPStartTime: a trace without a clock snapshot takes its start from
// the file's modification time, or from --start-time.
func TestOTLPStartTime(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "mixed.go1.22.trace")
	_, _, errs := runOTLP(t, "--json", "-o", os.DevNull, path)
	if !strings.Contains(errs, "modification time") {
		t.Errorf("stderr %q does not say the times came from the file's modification time", errs)
	}
	_, _, errs = runOTLP(t, "--json", "-o", os.DevNull, "--start-time", "2026-01-02T03:04:05Z", path)
	if !strings.Contains(errs, "--start-time") {
		t.Errorf("stderr %q does not say the times came from --start-time", errs)
	}
}

// TestConvertOTLPPush pushes spans from convert, in the same pass as a
// Perfetto file, and checks the endpoint got as many spans as otlp
// pushes for the same trace.
func TestConvertOTLPPush(t *testing.T) {
	direct, addr := grpcReceiver(t)
	if code, _, errs := runOTLP(t, "--endpoint", addr, sample(t)); code != 0 {
		t.Fatalf("otlp: exit %d: %s", code, errs)
	}
	viaConvert, addr := grpcReceiver(t)
	pf := filepath.Join(t.TempDir(), "t.pftrace")
	var out, errb bytes.Buffer
	if code := run([]string{"convert", "--otlp", "--otlp-endpoint", addr, "--perfetto", pf, sample(t)}, nil, &out, &errb); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errb.String())
	}
	if n := spansReported(t, errb.String()); viaConvert.spans != n || n != direct.spans || n == 0 {
		t.Errorf("convert pushed %d spans and reported %d; otlp pushed %d", viaConvert.spans, n, direct.spans)
	}
	// otlp's settings, prefixed: its header, and more spans for the
	// runtime's, as otlp --runtime-spans pushes.
	withRuntime, addr := grpcReceiver(t)
	if code, _, errs := runOTLP(t, "--endpoint", addr, "--runtime-spans", sample(t)); code != 0 {
		t.Fatalf("otlp: exit %d: %s", code, errs)
	}
	prefixed, addr := grpcReceiver(t)
	errb.Reset()
	if code := run([]string{"convert", "--otlp", "--otlp-endpoint", addr, "--otlp-header", "X-Team: runtime", "--otlp-timeout", "20s", "--otlp-runtime-spans", "--stats", filepath.Join(t.TempDir(), "s.json"), sample(t)}, nil, &out, &errb); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errb.String())
	}
	if prefixed.spans != withRuntime.spans || prefixed.spans <= direct.spans || prefixed.headers["x-team"] != "runtime" {
		t.Errorf("convert --otlp-runtime-spans --otlp-header pushed %d spans with headers %v; otlp --runtime-spans %d, without %d", prefixed.spans, prefixed.headers, withRuntime.spans, direct.spans)
	}
	if st, err := os.Stat(pf); err != nil || st.Size() == 0 {
		t.Errorf("no Perfetto output beside the push: %v", err)
	}
	// A dead endpoint fails before anything is written.
	code := run([]string{"convert", "--otlp", "--otlp-endpoint", closedAddr(t), "--stats", filepath.Join(t.TempDir(), "s.json"), sample(t)}, nil, &out, &errb)
	if code != 1 {
		t.Errorf("convert to a dead endpoint: exit %d, want 1: %s", code, errb.String())
	}
}

// TestNoSpansHint checks that a trace without tasks or regions, which
// makes no spans, says why and what else makes spans; and that the hint
// is not given where spans come, or where a filter left nothing.
func TestNoSpansHint(t *testing.T) {
	const hint = "no spans: the trace has no tasks or regions"
	plain := testtraces.OldFormat(t)[0] // Go's own traces of before 1.22: no annotations
	for _, name := range testtraces.OldFormat(t) {
		if strings.Contains(filepath.Base(name), "http") {
			plain = name
		}
	}
	out := filepath.Join(t.TempDir(), "spans.json")
	for _, c := range []struct {
		args []string
		want bool
		code int
	}{
		{[]string{"otlp", "--json", "-o", out, plain}, true, 0},
		{[]string{"otlp", "--json", "-o", out, "--goroutine-spans", plain}, false, 0},
		{[]string{"otlp", "--json", "-o", out, sample(t)}, false, 0},
		// A filter that keeps nothing fails, for that reason.
		{[]string{"otlp", "--json", "-o", out, "--task", "no-such-type", sample(t)}, false, 1},
	} {
		code, _, errs := runCmd(t, nil, c.args...)
		if code != c.code || strings.Contains(errs, hint) != c.want {
			t.Errorf("%v: exit %d, stderr %q; want %d, and the hint %v", c.args, code, errs, c.code, c.want)
		}
	}
	// Nothing kept is said alone, without a summary of no spans that
	// speaks of a conversion stopped.
	for _, args := range [][]string{
		{"otlp", "--json", "-o", out, "--task", "no-such-type", sample(t)},
		{"otlp", "--json", "--goroutine", "999999", sample(t)},
	} {
		_, _, errs := runCmd(t, nil, args...)
		if !strings.Contains(errs, "the filters kept nothing") || strings.Contains(errs, "spans (") {
			t.Errorf("%v: stderr %q; want only that the filters kept nothing", args, errs)
		}
	}
}

// TestClockNote checks what otlp says of the span times: of a trace
// without a clock snapshot, where they came from and why; of a trace cut
// before any span, nothing, as no span has a time.
func TestClockNote(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "spans.json")
	old := filepath.Join("..", "..", "testdata", "mixed.go1.22.trace")
	code, _, errs := runCmd(t, nil, "otlp", "--json", "-o", out, old)
	if code != 0 || !regexp.MustCompile(`span times from the file's modification time less the trace's duration \([0-9.]+m?s\) \(the trace has no clock snapshot\)`).MatchString(errs) {
		t.Errorf("go1.22: exit %d, stderr %q; want 0 and where the times came from", code, errs)
	}
	for _, version := range []string{"1.26", "1.22"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mixed.go"+version+".trace"))
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(dir, version+".trace")
		if err := os.WriteFile(cut, data[:1007], 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runCmd(t, nil, "otlp", "--json", "-o", out, cut)
		if code != 1 || strings.Contains(errs, "span times") {
			t.Errorf("go%s cut short: exit %d, stderr %q; want 1 and no word of span times", version, code, errs)
		}
	}
}

// TestOTLPJSONNoSpans checks that a trace read whole but without spans
// (no tasks or regions) replaces the file named by -o with an empty one,
// as the report says it was written: leaving an earlier conversion's
// spans there would pass them for this trace's.
func TestOTLPJSONNoSpans(t *testing.T) {
	var trace string
	for _, p := range testtraces.OldFormat(t) {
		if filepath.Base(p) == "http_1_21_good" { // no tasks or regions
			trace = p
		}
	}
	if trace == "" {
		t.Fatal("Go's http_1_21_good test trace is missing")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "spans.jsonl")
	os.WriteFile(out, []byte("an earlier conversion's spans\n"), 0o644)
	code, _, errs := runOTLP(t, "-q", "--json", "-o", out, trace)
	if code != 0 || spansReported(t, errs) != 0 {
		t.Fatalf("exit %d, want 0 with no spans: %s", code, errs)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
		t.Errorf("-o holds %q (%v), want an empty file", b, err)
	}

	out = filepath.Join(dir, "new.jsonl")
	code, _, errs = runCmd(t, nil, "convert", "-q", "--otlp-json", out, trace)
	if code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
		t.Errorf("convert --otlp-json: %q (%v), want an empty file", b, err)
	}
}

// TestOTLPPartialSuccess: an endpoint that takes every request but
// refuses one span of each (OTLP's partial success) got the whole trace:
// the report says how many it refused, and not that the conversion
// stopped; the exit status is 1.
func TestOTLPPartialSuccess(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, _ := io.Copy(io.Discard, r.Body); n == 0 {
			// The check of the endpoint: an export of no spans.
			w.Header().Set("Content-Type", "application/x-protobuf")
			return
		}
		mu.Lock()
		requests++
		mu.Unlock()
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{
			PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "too old"},
		})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	}))
	defer srv.Close()
	code, _, errs := runOTLP(t, "--protocol", "http/protobuf", "--endpoint", srv.URL, sample(t))
	mu.Lock()
	defer mu.Unlock()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if strings.Contains(errs, "stopped") {
		t.Errorf("the report says the conversion stopped:\n%s", errs)
	}
	if want := fmt.Sprintf("refused %d spans", requests); requests == 0 || !strings.Contains(errs, want) {
		t.Errorf("%d requests, each with a span refused; want %q in:\n%s", requests, want, errs)
	}
}

// TestOTLPStoppedReport: an endpoint that refuses the trace's first
// request for good stops the conversion, and the report says how much of
// the trace was read by then: the spans counted are that part's, and the
// rest was not converted or sent.
func TestOTLPStoppedReport(t *testing.T) {
	srv := refusingOTLP(http.StatusUnauthorized)
	defer srv.Close()
	// Spans enough to fill batches during the pass: the first refusal
	// stops it.
	var rec bytes.Buffer
	if err := synth.RecordDeepStacks(&rec, 3000, 4); err != nil {
		t.Fatal(err)
	}
	many := filepath.Join(t.TempDir(), "many.trace")
	if err := os.WriteFile(many, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runOTLP(t, "--protocol", "http/protobuf", "--endpoint", srv.URL, many)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !regexp.MustCompile(`converted before the export failed and stopped the conversion at [0-9.]+m?s of the trace \([0-9.]+ [kM]B read\); nothing after that was converted or sent`).MatchString(errs) {
		t.Errorf("the report does not say where the conversion stopped:\n%s", errs)
	}

	// A trace whose spans go out only at its end, all made: the export
	// failed, the conversion did not stop.
	code, _, errs = runOTLP(t, "--protocol", "http/protobuf", "--endpoint", srv.URL, filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if code != 1 || strings.Contains(errs, "stopped") || !strings.Contains(errs, "exported 0 of 373 spans") ||
		!strings.Contains(errs, "exporting spans to "+srv.URL+"/v1/traces (http/protobuf): ") || strings.Contains(errs, "rejected or not sent") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1, no stop claimed, 0 of 373 spans exported, the endpoint named once", code, errs)
	}
}

// refusingOTLP returns an OTLP/HTTP endpoint that passes the check of the
// endpoint (an export of no spans) and answers every export of spans with
// status.
func refusingOTLP(status int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, _ := io.Copy(io.Discard, r.Body); n == 0 {
			w.Header().Set("Content-Type", "application/x-protobuf")
			return
		}
		http.Error(w, http.StatusText(status), status)
	}))
}

// TestOTLPSampledOnly: --sampled-only leaves out the spans of a request
// the application did not sample, and says how many; by default they are
// sent with the others.
func TestOTLPSampledOnly(t *testing.T) {
	const (
		sampled   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	dir := t.TempDir()
	in := filepath.Join(dir, "joins.trace")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.RecordJoins(f, sampled, unsampled); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, only := range []bool{false, true} {
		out := filepath.Join(dir, "spans.json")
		args := []string{"--json", "-o", out, in}
		if only {
			args = append([]string{"--sampled-only"}, args...)
		}
		code, _, errs := runOTLP(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		// Each request is a task, a region, a child task and its region.
		got := map[bool]int{false: 4, true: 0}
		if n := strings.Count(string(data), `"traceId":"0af7651916cd43dd8448eb211c80319c"`); n != got[only] {
			t.Errorf("sampled only %v: %d spans of the unsampled request, want %d", only, n, got[only])
		}
		if n := strings.Count(string(data), `"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"`); n != 4 {
			t.Errorf("sampled only %v: %d spans of the sampled request, want 4", only, n)
		}
		if said := strings.Contains(errs, "4 spans of requests the application did not sample are left out"); said != only {
			t.Errorf("sampled only %v: report:\n%s", only, errs)
		}
	}
}
