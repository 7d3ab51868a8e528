package flight

import (
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
			b.SetParallelism(4)
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
