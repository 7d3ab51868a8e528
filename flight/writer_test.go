package flight

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// plainWriter is a ResponseWriter that can neither flush nor hijack.
type plainWriter struct{ http.ResponseWriter }

// hijackOnly is one that can hijack and not flush.
type hijackOnly struct{ http.ResponseWriter }

func (hijackOnly) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, http.ErrNotSupported
}

// TestMiddlewareWriterInterfaces: the handler's writer is an http.Flusher
// or an http.Hijacker exactly where the server's is, so that a handler
// that asks (a WebSocket library, under HTTP/2) takes its fallback.
func TestMiddlewareWriterInterfaces(t *testing.T) {
	r, _ := testRecorder(t, &fakeSource{}, newFakeClock())
	for _, tc := range []struct {
		name       string
		w          http.ResponseWriter
		fl, hj     bool
		controller bool // http.ResponseController flushes
	}{
		{"neither", plainWriter{httptest.NewRecorder()}, false, false, false},
		{"flusher", httptest.NewRecorder(), true, false, true},
		{"hijacker", hijackOnly{httptest.NewRecorder()}, false, true, false},
	} {
		var fl, hj bool
		var flushErr error
		h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, fl = w.(http.Flusher)
			_, hj = w.(http.Hijacker)
			flushErr = http.NewResponseController(w).Flush()
		}))
		h.ServeHTTP(tc.w, httptest.NewRequest("GET", "/", nil))
		if fl != tc.fl || hj != tc.hj {
			t.Errorf("%s: the handler's writer is a Flusher %v, a Hijacker %v; want %v, %v", tc.name, fl, hj, tc.fl, tc.hj)
		}
		if (flushErr == nil) != tc.controller {
			t.Errorf("%s: ResponseController.Flush: %v", tc.name, flushErr)
		}
	}
	// A server's HTTP/1 writer does both.
	var fl, hj bool
	srv := httptest.NewServer(r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, fl = w.(http.Flusher)
		_, hj = w.(http.Hijacker)
	})))
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if !fl || !hj {
		t.Errorf("under HTTP/1: a Flusher %v, a Hijacker %v; want both", fl, hj)
	}
}

// TestHijackedOutcome: a handler that takes the connection over, as a
// WebSocket's does, has no status made up for it and is not slow however
// long the connection lasts.
func TestHijackedOutcome(t *testing.T) {
	clk := newFakeClock()
	outcomes := make(chan Outcome, 1)
	r, exports := testRecorder(t, &fakeSource{}, clk, WithCoalesce(0), WithMinInterval(0))
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		rw.Flush()
		clk.Advance(time.Minute) // the connection's life
	}), TriggerWhen(func(_ *http.Request, o Outcome) bool { outcomes <- o; return false }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the handler's own response: %v, %v", resp, err)
	}
	o := <-outcomes
	if o.Status != 0 || !o.Hijacked || o.Aborted || o.Panicked {
		t.Errorf("outcome %+v, want status 0, hijacked", o)
	}
	select {
	case e := <-exports:
		t.Errorf("a hijacked connection of a minute triggered a snapshot: %+v", e)
	case <-time.After(100 * time.Millisecond):
	}
}
