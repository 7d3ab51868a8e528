package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"

	"github.com/google/pprof/profile"
	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
)

// TestMain lets the scripts run trace2x as a command: the test binary,
// started under that name, runs main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"trace2x": main})
}

// scriptTraces are the sample traces copied into each script's $WORK,
// relative to this package's directory: small ones, to keep the scripts
// fast.
var scriptTraces = []string{
	"../../testdata/allocfree.go1.26.trace",               // GODEBUG=traceallocfree=1: experimental events
	"../../testdata/annotations.go1.26.trace",             // tasks, regions, logs, a clock snapshot
	"../../testdata/blocking.go1.26.trace",                // channels, mutexes, network, syscalls
	"../../testdata/cpuprofile.go1.26.trace",              // CPU samples
	"../../testdata/flightrecorder.go1.26.trace",          // a flight recorder snapshot, 1.7 MB as indented JSON
	"../../testdata/mixed.go1.22.trace",                   // no clock snapshot
	"../../conformance/testdata/generations.go1.26.trace", // two generations, to cut in the second
}

// TestScript runs testdata/script/*.txtar: the command line as a user sees
// it, exit statuses and messages included. Besides trace2x and testscript's
// own commands, the scripts have:
//
//	exitcode N cmd...        run cmd, which must exit with status N
//	serve VAR TRACE          a /debug/pprof-like server, also an OTLP/HTTP endpoint
//	grpcserve VAR            an OTLP/gRPC endpoint
//	requests                 print what the servers received
//	freeaddr VAR [PORTVAR]   an address where nothing listens
//	fetch [flags] URL        an HTTP request, retried while nothing listens
//	truncate, writebytes, gzip, gunzip, zstd, mkpprof
//	                         make inputs, check compression
//	pfcheck, chromecheck, otlpcheck, jsoncheck, pprofcheck FILE
//	                         decode and check an output, print what it holds
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                filepath.Join("testdata", "script"),
		RequireUniqueNames: true,
		Setup: func(e *testscript.Env) error {
			for _, src := range scriptTraces {
				b, err := os.ReadFile(filepath.FromSlash(src))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(e.WorkDir, filepath.Base(src)), b, 0o644); err != nil {
					return err
				}
			}
			// A binary built with -race sleeps a second at exit by default;
			// the scripts run trace2x a few hundred times.
			if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
				e.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
			}
			e.Values[stateKey{}] = &scriptState{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitcode,
			"serve":       cmdServe,
			"grpcserve":   cmdGRPCServe,
			"requests":    cmdRequests,
			"freeaddr":    cmdFreeaddr,
			"fetch":       cmdFetch,
			"truncate":    cmdTruncate,
			"writebytes":  cmdWritebytes,
			"gzip":        cmdGzip,
			"gunzip":      cmdGunzip,
			"zstd":        cmdZstd,
			"mkpprof":     cmdMkpprof,
			"pfcheck":     cmdPfcheck,
			"chromecheck": cmdChromecheck,
			"otlpcheck":   cmdOtlpcheck,
			"jsoncheck":   cmdJSONcheck,
			"pprofcheck":  cmdPprofcheck,
		},
	})
}

type stateKey struct{}

// scriptState is what the servers of one script have seen.
type scriptState struct {
	mu       sync.Mutex
	requests []string // "GET /debug/pprof/trace?seconds=2"
	spans    int
	services map[string]bool // service.name of the OTLP resources received
	teams    map[string]bool // x-team header or metadata received with spans
}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(stateKey{}).(*scriptState)
}

func (s *scriptState) logRequest(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, line)
}

// addSpans records an OTLP export, its spans and where they say they are
// from.
func (s *scriptState) addSpans(req *coltracepb.ExportTraceServiceRequest, team string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services == nil {
		s.services, s.teams = map[string]bool{}, map[string]bool{}
	}
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				s.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			s.spans += len(ss.Spans)
		}
	}
	if team != "" {
		s.teams[team] = true
	}
}

// exitcode N command [args...]
// runs the command and checks that it exits with status N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// serve VAR TRACE
// starts an HTTP server on 127.0.0.1 for the rest of the script and sets
// VAR to its host:port. It serves:
//
//	.../trace         the file TRACE, as net/http/pprof's /debug/pprof/trace
//	                  does (400 for a seconds parameter that is not a number);
//	                  under /hangprofile/, once its seconds are over
//	.../profile       a CPU profile; 500 under /noprofile/, no answer under
//	                  /hangprofile/
//	/status/CODE      an error with that status and a message
//	/long             a 500 with a long message
//	/page             an HTML page
//	/files/NAME       the file NAME of $WORK
//	POST /v1/traces   OTLP/HTTP, protobuf or JSON
//
// Every request is logged for the requests command.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve VAR TRACE")
	}
	st, trace, work := state(ts), ts.MkAbs(args[1]), ts.MkAbs(".")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.logRequest(r.Method + " " + r.URL.RequestURI())
		p := r.URL.Path
		switch {
		case r.Method == http.MethodPost && p == "/v1/traces":
			serveOTLP(st, w, r)
		case p == "/login/trace":
			// An auth proxy's redirect to its login page.
			http.Redirect(w, r, "/page", http.StatusFound)
		case strings.HasSuffix(p, "/trace"):
			secs := 1.0
			if s := r.URL.Query().Get("seconds"); s != "" {
				var err error
				if secs, err = strconv.ParseFloat(s, 64); err != nil {
					http.Error(w, "bad seconds: "+s, http.StatusBadRequest)
					return
				}
			}
			if strings.HasPrefix(p, "/hangprofile/") {
				time.Sleep(time.Duration(secs * float64(time.Second)))
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeFile(w, r, trace)
		case strings.HasSuffix(p, "/profile"):
			if strings.HasPrefix(p, "/noprofile/") {
				http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
				return
			}
			if strings.HasPrefix(p, "/hangprofile/") {
				<-r.Context().Done()
				return
			}
			w.Write([]byte("a CPU profile"))
		case strings.HasPrefix(p, "/status/"):
			code, err := strconv.Atoi(strings.TrimPrefix(p, "/status/"))
			if err != nil {
				code = http.StatusBadRequest
			}
			http.Error(w, fmt.Sprintf("the server says %d", code), code)
		case p == "/long":
			http.Error(w, "Could not enable tracing: "+strings.Repeat("x", 1000), http.StatusInternalServerError)
		case p == "/page":
			w.Write([]byte("<html><body>/debug/pprof/</body></html>\n"))

		case strings.HasPrefix(p, "/files/"):
			http.ServeFile(w, r, filepath.Join(work, filepath.Base(p)))
		default:
			http.NotFound(w, r)
		}
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.Listener.Addr().String())
}

func serveOTLP(st *scriptState, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		if r.Header.Get("Content-Type") == "application/json" {
			err = protojson.Unmarshal(body, &req)
		} else {
			err = proto.Unmarshal(body, &req)
		}
	}
	if err != nil {
		http.Error(w, "bad OTLP request: "+err.Error(), http.StatusBadRequest)
		return
	}
	st.addSpans(&req, r.Header.Get("X-Team"))
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// grpcCollector is an OTLP/gRPC endpoint recording into a script's state.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	st *scriptState
}

func (c grpcCollector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.st.logRequest("grpc Export")
	c.st.addSpans(req, strings.Join(md["x-team"], ","))
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// grpcserve VAR
// starts an OTLP/gRPC endpoint on 127.0.0.1 and sets VAR to its host:port.
func cmdGRPCServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: grpcserve VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, grpcCollector{st: state(ts)})
	go srv.Serve(l)
	ts.Defer(srv.Stop)
	ts.Setenv(args[0], l.Addr().String())
}

// requests
// prints the requests the servers received since the last call, in order,
// then the OTLP spans: "spans N", "service.name NAME" and "x-team VALUE"
// lines.
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: requests")
	}
	st := state(ts)
	st.mu.Lock()
	defer st.mu.Unlock()
	w := ts.Stdout()
	for _, r := range st.requests {
		fmt.Fprintln(w, r)
	}
	if st.spans > 0 {
		fmt.Fprintf(w, "spans %d\n", st.spans)
	}
	for _, s := range sortedKeys(st.services) {
		fmt.Fprintf(w, "service.name %s\n", s)
	}
	for _, s := range sortedKeys(st.teams) {
		fmt.Fprintf(w, "x-team %s\n", s)
	}
	st.requests, st.spans, st.services, st.teams = nil, 0, nil, nil
}

func sortedKeys(m map[string]bool) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// freeaddr VAR [PORTVAR]
// sets VAR to a 127.0.0.1 host:port where nothing listens, and PORTVAR to
// its port.
func cmdFreeaddr(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: freeaddr VAR [PORTVAR]")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], l.Addr().String())
	if len(args) == 2 {
		ts.Setenv(args[1], strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	ts.Check(l.Close())
}

// fetch [-method M] [-origin O] [-host H] [-after FILE] [-o FILE] URL
// makes a request, retrying for a few seconds while nothing listens (a
// background command is starting), and prints the status and the CORS
// headers of the response; -o saves its body. -after waits first until
// FILE exists.
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	method := fs.String("method", http.MethodGet, "")
	origin := fs.String("origin", "", "")
	host := fs.String("host", "", "")
	after := fs.String("after", "", "")
	out := fs.String("o", "", "")
	if neg || fs.Parse(args) != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: fetch [-method M] [-origin O] [-host H] [-after FILE] [-o FILE] URL")
	}
	deadline := time.Now().Add(20 * time.Second)
	for *after != "" {
		if _, err := os.Stat(ts.MkAbs(*after)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear", *after)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var resp *http.Response
	for {
		req, err := http.NewRequest(*method, fs.Arg(0), nil)
		ts.Check(err)
		if *origin != "" {
			req.Header.Set("Origin", *origin)
		}
		if *host != "" {
			req.Host = *host // as a page whose name its DNS points here sends it
		}
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		var dial *net.OpError
		if !errors.As(err, &dial) || dial.Op != "dial" || time.Now().After(deadline) {
			ts.Fatalf("%v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	w := ts.Stdout()
	fmt.Fprintf(w, "status %d\n", resp.StatusCode)
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Private-Network", "Access-Control-Allow-Methods"} {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(w, "%s: %s\n", h, v)
		}
	}
	if *out != "" {
		ts.Check(os.WriteFile(ts.MkAbs(*out), body, 0o644))
	}
}

// truncate SRC N DST
// writes the first N bytes of SRC to DST.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: truncate SRC N DST")
	}
	b := []byte(ts.ReadFile(args[0]))
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n > len(b) {
		ts.Fatalf("%s has only %d bytes", args[0], len(b))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), b[:n], 0o644))
}

// writebytes FILE TEXT
// writes TEXT, with Go escapes such as \x00 interpreted, to FILE: bytes a
// txtar file cannot hold.
func cmdWritebytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: writebytes FILE TEXT")
	}
	s, err := strconv.Unquote(`"` + strings.ReplaceAll(args[1], `"`, `\"`) + `"`)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(s), 0o644))
}

// gzip SRC DST
// compresses SRC into DST.
func cmdGzip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gzip SRC DST")
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(ts.ReadFile(args[0])))
	ts.Check(zw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// zstd SRC DST
// compresses SRC into DST with zstd.
func cmdZstd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zstd SRC DST")
	}
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b)
	ts.Check(err)
	zw.Write([]byte(ts.ReadFile(args[0])))
	ts.Check(zw.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// [!] gunzip SRC DST
// decompresses SRC, which must (or must not) be gzip, into DST.
func cmdGunzip(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: gunzip SRC DST")
	}
	zr, err := gzip.NewReader(strings.NewReader(ts.ReadFile(args[0])))
	var b []byte
	if err == nil {
		b, err = io.ReadAll(zr)
	}
	if neg {
		if err == nil {
			ts.Fatalf("%s is gzip-compressed", args[0])
		}
		return
	}
	if err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}

// mkpprof FILE
// writes a pprof profile, gzip-compressed protobuf, to FILE: a CPU profile
// of a moment of this process, or its heap profile when the CPU profiler
// is taken (go test -cpuprofile).
func cmdMkpprof(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkpprof FILE")
	}
	var b bytes.Buffer
	if pprof.StartCPUProfile(&b) == nil {
		time.Sleep(10 * time.Millisecond)
		pprof.StopCPUProfile()
	} else {
		ts.Check(pprof.Lookup("heap").WriteTo(&b, 0))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b.Bytes(), 0o644))
}

// pfcheck FILE
// checks that FILE (or stdout) is a valid Perfetto trace, and prints what
// it holds: "process PID NAME", "slices N", "instants N", "flows N",
// "perf_samples N", "realtime TIME" (the wall-clock time of the clock
// snapshot, or "none"), and the trace metadata's arguments as "meta KEY
// VALUE".
func cmdPfcheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pfcheck FILE")
	}
	rep, err := perfettocheck.Check(strings.NewReader(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("%s: invalid Perfetto trace: %v", args[0], err)
	}
	w := ts.Stdout()
	for _, tr := range rep.Tracks {
		if p := tr.Process; p != nil {
			fmt.Fprintf(w, "process %d %s\n", p.GetPid(), p.GetProcessName())
		}
	}
	fmt.Fprintf(w, "slices %d\ninstants %d\nflows %d\nperf_samples %d\n", len(rep.Slices), len(rep.Instants), rep.Flows, rep.PerfSamples)
	realtime := "none"
	for _, c := range rep.Clock.GetClocks() {
		if c.GetClockId() == 1 { // BUILTIN_CLOCK_REALTIME
			realtime = time.Unix(0, int64(c.GetTimestamp())).UTC().Format(time.RFC3339Nano)
		}
	}
	fmt.Fprintf(w, "realtime %s\n", realtime)
	for _, in := range rep.Instants {
		if in.Name == "trace metadata" {
			for _, k := range slices.Sorted(maps.Keys(in.Args)) {
				fmt.Fprintf(w, "meta %s %v\n", k, in.Args[k])
			}
		}
	}
}

// chromecheck FILE
// checks that FILE (or stdout) is valid Chrome trace-event JSON, and
// prints "events N", "regions N" (complete events of category region),
// "tasks N" (async task slices begun), "displayTimeUnit U" and the
// metadata as "meta KEY VALUE".
func cmdChromecheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: chromecheck FILE")
	}
	rep, err := chromecheck.Check([]byte(ts.ReadFile(args[0])))
	if err != nil {
		ts.Fatalf("%s: invalid Chrome trace-event JSON: %v", args[0], err)
	}
	w := ts.Stdout()
	fmt.Fprintf(w, "events %d\nregions %d\ntasks %d\ndisplayTimeUnit %s\n",
		len(rep.Events), rep.Count("X", "region"), rep.Count("b", "task"), rep.DisplayTimeUnit)
	for _, k := range slices.Sorted(maps.Keys(rep.Metadata)) {
		fmt.Fprintf(w, "meta %s %v\n", k, rep.Metadata[k])
	}
}

// otlpcheck FILE
// checks that every line of FILE (or stdout) is an OTLP JSON
// ExportTraceServiceRequest, and prints "requests N", "spans N", "traces
// N", "orphans N" (spans whose parent is not in their trace), "first TIME"
// (the earliest span start, to the second) and "service.name NAME" lines.
func cmdOtlpcheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: otlpcheck FILE")
	}
	var st scriptState
	n, first := 0, uint64(0)
	type spanKey struct{ trace, span string }
	ids := map[spanKey]bool{}
	var parents []spanKey
	for line := range strings.Lines(ts.ReadFile(args[0])) {
		var req coltracepb.ExportTraceServiceRequest
		if err := otelcoltest.UnmarshalLine([]byte(line), &req); err != nil {
			ts.Fatalf("%s: line %d is not OTLP JSON: %v", args[0], n+1, err)
		}
		st.addSpans(&req, "")
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					if t := sp.StartTimeUnixNano; first == 0 || t < first {
						first = t
					}
					ids[spanKey{string(sp.TraceId), string(sp.SpanId)}] = true
					remote := sp.Flags&uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK) != 0
					if len(sp.ParentSpanId) > 0 && !remote {
						parents = append(parents, spanKey{string(sp.TraceId), string(sp.ParentSpanId)})
					}
				}
			}
		}
		n++
	}
	traces := map[string]bool{}
	for k := range ids {
		traces[k.trace] = true
	}
	orphans := 0
	for _, p := range parents {
		if !ids[p] {
			orphans++
		}
	}
	w := ts.Stdout()
	fmt.Fprintf(w, "requests %d\nspans %d\ntraces %d\norphans %d\n", n, st.spans, len(traces), orphans)
	if first != 0 {
		fmt.Fprintf(w, "first %s\n", time.Unix(0, int64(first)).UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	for _, s := range sortedKeys(st.services) {
		fmt.Fprintf(w, "service.name %s\n", s)
	}
}

// jsoncheck FILE [KEY...]
// checks that FILE (or stdout) holds one JSON object, and prints
// "KEY=VALUE" for each KEY, the value as compact JSON.
func cmdJSONcheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: jsoncheck FILE [KEY...]")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		ts.Fatalf("%s: not a JSON object: %v", args[0], err)
	}
	if _, err := dec.Token(); err != io.EOF {
		ts.Fatalf("%s: more after the JSON object", args[0])
	}
	w := ts.Stdout()
	for _, k := range args[1:] {
		v, ok := m[k]
		if !ok {
			ts.Fatalf("%s: no key %q", args[0], k)
		}
		var b bytes.Buffer
		ts.Check(json.Compact(&b, v))
		fmt.Fprintf(w, "%s=%s\n", k, b.Bytes())
	}
}

// pprofcheck FILE
// checks that FILE (or stdout) is a valid pprof profile, and prints
// "sample_types TYPE/UNIT...", "period_type TYPE/UNIT", "samples N" and
// "total N" (the sum of the last sample value).
func cmdPprofcheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pprofcheck FILE")
	}
	p, err := profile.ParseData([]byte(ts.ReadFile(args[0])))
	if err == nil {
		err = p.CheckValid()
	}
	if err != nil {
		ts.Fatalf("%s: invalid pprof profile: %v", args[0], err)
	}
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	var total int64
	for _, s := range p.Sample {
		total += s.Value[len(s.Value)-1]
	}
	w := ts.Stdout()
	fmt.Fprintf(w, "sample_types %s\n", strings.Join(types, " "))
	if pt := p.PeriodType; pt != nil {
		fmt.Fprintf(w, "period_type %s/%s\n", pt.Type, pt.Unit)
	}
	fmt.Fprintf(w, "samples %d\ntotal %d\n", len(p.Sample), total)
}
