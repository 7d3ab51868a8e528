package flight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/trace2x/trace2x/mapping"
)

// service is a small JSON API: it decodes nothing, computes a little and
// encodes a small response, about what a cached lookup does.
func service() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		sum := 0
		for i := range 2000 {
			sum += i * i
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": r.PathValue("id"), "sum": sum, "tags": []string{"a", "b", "c"}})
	})
	return mux
}

// BenchmarkService serves the small service from processes of their own
// (this test binary, started again) over loopback HTTP to two parallel
// clients that send a traceparent: one server without anything, one with
// the flight recorder running (the runtime's tracer on), one with the
// recorder and the middleware. Each iteration sends a round of requests
// to each in turn, so that the machine's drift touches all three alike.
// It reports, for each, requests a second, the 99th percentile of
// latency, and (on Linux) the server's CPU time per request and peak
// resident memory, and the ratios to the plain server.
func BenchmarkService(b *testing.B) {
	modes := []string{"plain", "recorder", "middleware"}
	type server struct {
		url     string
		pid     int
		elapsed time.Duration
		cpu     time.Duration // the server's, over the rounds
		n       int
		lat     []time.Duration
	}
	servers := make([]*server, len(modes))
	for i, mode := range modes {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), serveEnv+"="+mode)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			stdin.Close() // the server exits
			cmd.Wait()
		}()
		addr, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			b.Fatalf("the %s server did not start: %v", mode, err)
		}
		servers[i] = &server{url: "http://" + strings.TrimSpace(addr) + "/items/42", pid: cmd.Process.Pid}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(url string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// round sends n requests from two clients and returns how long they
	// took and each one's latency.
	round := func(s *server, n int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		cpu0 := cpuTime(s.pid)
		start := time.Now()
		for c := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := make([]time.Duration, 0, n/2)
				for range n/2 + c*(n%2) {
					t := time.Now()
					get(s.url)
					mine = append(mine, time.Since(t))
				}
				mu.Lock()
				s.lat = append(s.lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		s.elapsed += time.Since(start)
		s.cpu += cpuTime(s.pid) - cpu0
		s.n += n
	}
	for _, s := range servers {
		round(s, 200) // warm up
		s.elapsed, s.cpu, s.n, s.lat = 0, 0, 0, nil
	}
	const perRound = 2000
	i := 0
	for b.Loop() {
		for j := range servers {
			round(servers[(i+j)%len(servers)], perRound)
		}
		i++
	}
	rate := func(s *server) float64 { return float64(s.n) / s.elapsed.Seconds() }
	cpu := func(s *server) float64 { return float64(s.cpu.Microseconds()) / float64(s.n) }
	p99 := func(s *server) float64 {
		slices.Sort(s.lat)
		return float64(s.lat[len(s.lat)*99/100].Microseconds())
	}
	for k, s := range servers {
		mode := modes[k]
		b.ReportMetric(rate(s), mode+"-req/s")
		b.ReportMetric(p99(s), mode+"-p99-µs")
		if hwm := peakRSS(s.pid); hwm > 0 {
			b.ReportMetric(float64(hwm)/(1<<20), mode+"-peak-RSS-MB")
			b.ReportMetric(cpu(s), mode+"-server-CPU-µs/req")
		}
		if k > 0 {
			if cpu(servers[0]) > 0 {
				b.ReportMetric(cpu(s)/cpu(servers[0]), mode+"/plain-CPU")
			}
			b.ReportMetric(rate(s)/rate(servers[0]), mode+"/plain-req/s")
			b.ReportMetric(p99(s)/p99(servers[0]), mode+"/plain-p99")
		}
	}
	b.ReportMetric(0, "ns/op") // a round of every server: not a figure to compare
}

// serveEnv makes this test binary the server of BenchmarkService.
const serveEnv = "TRACE2X_FLIGHT_BENCH_SERVE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(serveEnv); mode != "" {
		benchServe(mode)
		return
	}
	os.Exit(m.Run())
}

// benchServe serves the small service, in the given mode, until its
// standard input closes; it prints its address first.
func benchServe(mode string) {
	h := service()
	if mode != "plain" {
		rec, err := Start()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer rec.Stop(context.Background())
		if mode == "middleware" {
			h = rec.Middleware(h)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, h)
	fmt.Println(ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}

// cpuTime reads the CPU time a process has used, user and system, from
// /proc, or 0.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15, in clock ticks
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// peakRSS reads a process's peak resident memory from /proc, or 0.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkMiddleware times the middleware alone around a handler that
// does nothing, with the flight recorder running, with and without a
// traceparent header.
func BenchmarkMiddleware(b *testing.B) {
	rec, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Stop(context.Background())
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name string
		h    http.Handler
		tp   string
	}{
		{"bare", nop, ""},
		{"middleware", rec.Middleware(nop), ""},
		{"middleware+traceparent", rec.Middleware(nop), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/items/42", nil)
			if tc.tp != "" {
				req.Header.Set("traceparent", tc.tp)
			}
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}

// nopExporter takes every span and does nothing with it.
type nopExporter struct{}

func (nopExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (nopExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkSnapshot records a window of the small service under load
// through the middleware (two seconds), then times the export of that
// snapshot: spans to an exporter that drops them, and a Perfetto file.
func BenchmarkSnapshot(b *testing.B) {
	rec, err := Start(WithExporter(nopExporter{}), WithDir(b.TempDir()), WithDirLimits(2, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Stop(context.Background())
	srv := httptest.NewServer(rec.Middleware(service()))
	defer srv.Close()
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", srv.URL+"/items/42", nil)
				req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	if _, err := rec.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	s := &snapshot{data: buf.Bytes(), time: time.Now(), reason: "bench", triggers: 1}
	// The mapping alone, for scale: the exports add the encoding to it.
	b.Run("map", func(b *testing.B) {
		b.SetBytes(int64(len(s.data)))
		for b.Loop() {
			var tally mapping.Tally
			if _, err := mapping.Map(bytes.NewReader(s.data), &tally); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("export", func(b *testing.B) {
		b.SetBytes(int64(len(s.data)))
		b.ReportAllocs()
		var spans int64
		for b.Loop() {
			e := rec.exportSnapshot(context.Background(), s)
			if e.Err != nil {
				b.Fatal(e.Err)
			}
			spans = e.Spans
		}
		b.ReportMetric(float64(len(s.data))/(1<<20), "window-MB")
		b.ReportMetric(float64(spans), "spans/op")
	})
}
