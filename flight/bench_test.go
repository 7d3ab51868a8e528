package flight

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
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

// BenchmarkService serves the small service over loopback HTTP to
// parallel clients that send a traceparent: without anything, with the
// flight recorder running (the runtime's tracer on), and with the
// recorder and the middleware. It reports requests a second, the 99th
// percentile of latency and the live heap after a GC (the window is
// there).
func BenchmarkService(b *testing.B) {
	for _, mode := range []string{"plain", "recorder", "middleware"} {
		b.Run(mode, func(b *testing.B) {
			h := service()
			if mode != "plain" {
				rec, err := Start()
				if err != nil {
					b.Fatal(err)
				}
				defer rec.Stop(context.Background())
				if mode == "middleware" {
					h = rec.Middleware(h)
				}
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			get := func() {
				req, _ := http.NewRequest("GET", srv.URL+"/items/42", nil)
				req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			for range 100 {
				get() // warm the connections
			}
			var mu sync.Mutex
			var lat []time.Duration
			b.ReportAllocs()
			b.SetParallelism(1)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					get()
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		})
	}
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
