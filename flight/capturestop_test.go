package flight

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCaptureStop: Stop ends a live capture under way, which then serves
// what it recorded, and a capture asked for after Stop is refused, as the
// window is.
func TestCaptureStop(t *testing.T) {
	rec, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rec.Handler())
	defer srv.Close()
	type result struct {
		status int
		body   []byte
		took   time.Duration
	}
	done := make(chan result, 1)
	begin := time.Now()
	go func() {
		resp, err := http.Get(srv.URL + "/debug/trace2x/capture.trace?seconds=60")
		if err != nil {
			t.Error(err)
			done <- result{}
			return
		}
		defer resp.Body.Close()
		var body []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		done <- result{resp.StatusCode, body, time.Since(begin)}
	}()
	waitFor(t, "the capture to start", func() bool {
		if rec.captureMu.TryLock() {
			rec.captureMu.Unlock()
			return false
		}
		return true
	})
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a 60 s capture still runs 20 s after Stop")
	}
	if res.status != http.StatusOK || len(res.body) < 16 || string(res.body[:5]) != "go 1." {
		t.Errorf("the capture Stop ended: %d, %d bytes (%q), want 200 and the trace recorded until then", res.status, len(res.body), res.body[:min(16, len(res.body))])
	}
	resp, body := get(t, srv, "/debug/trace2x/capture.trace?seconds=1")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a capture after Stop: %s: %s, want 503", resp.Status, body)
	}
}
