package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestProfileURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://h/debug/pprof/trace", "http://h/debug/pprof/profile?seconds=1", ""},
		{"http://h/debug/pprof/trace?seconds=2.5", "http://h/debug/pprof/profile?seconds=3", ""},
		{"http://h/x/debug/pprof/trace?seconds=4&debug=1", "http://h/x/debug/pprof/profile?debug=1&seconds=4", ""},
		{"http://h/debug/pprof/trace?seconds=junk", "http://h/debug/pprof/profile?seconds=1", ""},
		{"http://h/debug/pprof/heap", "", "needs a /debug/pprof/trace URL, not /debug/pprof/heap"},
		{"http://h/", "", "needs a /debug/pprof/trace URL, not /"},
	} {
		got, err := ProfileURL(mustParse(t, tc.in))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrNotTraceURL) {
				t.Errorf("ProfileURL(%s) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ProfileURL(%s) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestWithSeconds(t *testing.T) {
	u := mustParse(t, "http://h/debug/pprof/trace?seconds=9&x=1")
	if got := WithSeconds(u, 0.5).String(); got != "http://h/debug/pprof/trace?seconds=0.5&x=1" {
		t.Errorf("WithSeconds(0.5) = %s", got)
	}
	if got := WithSeconds(u, 0).String(); got != u.String() {
		t.Errorf("WithSeconds(0) = %s, want the URL unchanged", got)
	}
	if u.String() != "http://h/debug/pprof/trace?seconds=9&x=1" {
		t.Errorf("WithSeconds changed its argument: %s", u)
	}
}

// server is a fake net/http/pprof that records the requests it gets.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.RequestURI())
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func TestOpen(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/trace", "/busy/debug/pprof/trace":
			io.WriteString(w, "go 1.26 trace\x00\x00\x00rest")
		case "/debug/pprof/profile":
			io.WriteString(w, "profile")
		case "/busy/debug/pprof/profile":
			http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
		case "/traced/debug/pprof/trace":
			http.Error(w, "Could not enable tracing: tracing is already enabled", http.StatusInternalServerError)
		case "/long":
			http.Error(w, strings.Repeat("x", 1000), http.StatusInternalServerError)
		case "/lines":
			http.Error(w, "profile duration exceeds\nserver's  WriteTimeout\n", http.StatusBadRequest)
		case "/proxy":
			// An error page as a proxy in front of the program sends it.
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>\r\n<head><title>502 Bad Gateway</title>\r\n<style>body { color: red }</style></head>\r\n"+
				"<body>\r\n<header>Gateway</header><center><h1>502 Bad Gateway</h1></center>\r\n<script>var a = 1 < 2;</script>"+
				"<p>Upstream &amp; &lt;app&gt; did not answer.</p><hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	})
	ctx := context.Background()

	t.Run("trace and profile", func(t *testing.T) {
		srv.requests = nil
		c, err := Open(ctx, WithSeconds(mustParse(t, srv.URL+"/debug/pprof/trace"), 2), Options{CPUProfile: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(c)
		if err != nil || string(data) != "go 1.26 trace\x00\x00\x00rest" {
			t.Fatalf("read %q, %v", data, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.ProfileErr(); err != nil {
			t.Errorf("ProfileErr = %v", err)
		}
		got := strings.Join(srv.seen(), " ")
		if !strings.Contains(got, "/debug/pprof/trace?seconds=2") || !strings.Contains(got, "/debug/pprof/profile?seconds=2") {
			t.Errorf("requests %s; want the trace and the profile for 2s", got)
		}
	})
	t.Run("profile refused", func(t *testing.T) {
		c, err := Open(ctx, mustParse(t, srv.URL+"/busy/debug/pprof/trace"), Options{CPUProfile: true})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		c.Close()
		want := "GET " + srv.URL + "/busy/debug/pprof/profile?seconds=1: 500 Internal Server Error: Could not enable CPU profiling: cpu profiling already in use"
		if err := c.ProfileErr(); err == nil || err.Error() != want {
			t.Errorf("ProfileErr = %v\nwant %s", err, want)
		}
	})
	t.Run("status", func(t *testing.T) {
		_, err := Open(ctx, mustParse(t, srv.URL+"/nothing"), Options{})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 404 || err.Error() != "GET "+srv.URL+"/nothing: 404 Not Found: no such page" {
			t.Errorf("Open of a missing page: %v", err)
		}
		_, err = Open(ctx, mustParse(t, srv.URL+"/long"), Options{})
		if !errors.As(err, &se) || len(se.Message) != messageBytes {
			t.Errorf("a long message is cut to %d bytes: %v", messageBytes, err)
		}
		// The tracer held by another capture is said as such.
		_, err = Open(ctx, mustParse(t, srv.URL+"/traced/debug/pprof/trace"), Options{})
		if !errors.As(err, &se) || se.Code != 500 || !strings.HasSuffix(err.Error(), "tracing is already enabled (the program is already writing an execution trace, to another capture or to its own runtime/trace.Start, and writes one at a time: two Collectors or tools capturing one program take turns failing)") {
			t.Errorf("Open of a busy tracer: %v", err)
		}
		// One line says it, whatever the body's lines and markup.
		for path, want := range map[string]string{
			"/lines": "400 Bad Request: profile duration exceeds server's WriteTimeout",
			"/proxy": "502 Bad Gateway: Gateway 502 Bad Gateway Upstream & <app> did not answer. nginx",
		} {
			_, err = Open(ctx, mustParse(t, srv.URL+path), Options{})
			if want = "GET " + srv.URL + path + ": " + want; err == nil || err.Error() != want {
				t.Errorf("Open of %s: %v\nwant %s", path, err, want)
			}
		}
	})
	t.Run("profile needs a trace URL", func(t *testing.T) {
		_, err := Open(ctx, mustParse(t, srv.URL+"/debug/pprof/heap"), Options{CPUProfile: true})
		if !errors.Is(err, ErrNotTraceURL) {
			t.Errorf("Open with a CPU profile of /heap: %v", err)
		}
	})
}

// TestCancel stops a capture whose server sends its header and then
// nothing, as /debug/pprof/trace does while it records.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := Open(ctx, mustParse(t, srv.URL+"/debug/pprof/trace"), Options{CPUProfile: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("reading a capture past its deadline: %v", err)
	}
	c.Close()
	if err := c.ProfileErr(); err != nil {
		t.Errorf("a profile stopped with its capture is no failure: %v", err)
	}
}

func TestDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(context.Background(), mustParse(t, "http://"+addr+"/debug/pprof/trace"), Options{CPUProfile: true})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Open of a closed port: %v", err)
	}
}

// TestMessage checks an error page's text: without markup, head, scripts
// and styles whatever their case, after letters whose lower case is longer
// (which must not shift where the tags are), and plain text on one line.
func TestMessage(t *testing.T) {
	for _, c := range []struct {
		body   string
		isHTML bool
		want   string
	}{
		{"<HTML><HEAD><TITLE>t</TITLE></HEAD><BODY>İİİİ <SCRIPT>var a = 1 < 2;</SCRIPT>Ünavailable &amp; <b>gone</b></BODY></HTML>", true, "İİİİ Ünavailable & gone"},
		{"<header>top</header><p>text</p>", false, "top text"},
		{"line one\n\n  line two\n", false, "line one line two"},
		{"a < b, but no markup", false, "a < b, but no markup"},
	} {
		if got := message([]byte(c.body), c.isHTML); got != c.want {
			t.Errorf("message(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

// TestCredentials checks that a capture sends its headers and the URL's
// user with both requests, and that no password shows in what a capture
// reports: its URL, a server's refusal, a connection that fails.
func TestCredentials(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		auth = append(auth, r.URL.Path+" "+user+":"+pass+" "+r.Header.Get("X-Token")+" "+r.Host)
		mu.Unlock()
		switch r.URL.Path {
		case "/debug/pprof/profile":
			http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
		case "/debug/pprof/trace":
			io.WriteString(w, "go 1.26 trace\x00\x00\x00rest")
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	})
	u := mustParse(t, srv.URL+"/debug/pprof/trace")
	u.User = url.UserPassword("admin", "s3cr3t")
	c, err := Open(context.Background(), u, Options{CPUProfile: true, Header: http.Header{"X-Token": {"tok"}, "Host": {"app.internal"}}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c)
	c.Close()
	mu.Lock()
	got := strings.Join(auth, ", ")
	mu.Unlock()
	for _, want := range []string{"/debug/pprof/trace admin:s3cr3t tok app.internal", "/debug/pprof/profile admin:s3cr3t tok app.internal"} {
		if !strings.Contains(got, want) {
			t.Errorf("requests seen as %q, want %q among them", got, want)
		}
	}
	reported := []string{c.URL, fmt.Sprint(c.ProfileErr())}
	_, err = Open(context.Background(), mustParse(t, "http://admin:s3cr3t@"+srv.Listener.Addr().String()+"/nothing"), Options{})
	reported = append(reported, fmt.Sprint(err))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(context.Background(), mustParse(t, "http://admin:s3cr3t@"+addr+"/debug/pprof/trace"), Options{})
	reported = append(reported, fmt.Sprint(err))
	for _, s := range reported {
		// Shown one way in every message, as url.URL.Redacted shows it.
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "admin:xxxxx@") {
			t.Errorf("reported %q: want the user without the password", s)
		}
	}
}

// TestStall checks that a server that stops sending is given up after the
// stall timeout: one that never answers (after the seconds its URL asks
// for), one that stops in the body and one that trickles slower than the
// timeout; and that one sending steadily, if slowly, is read to the end.
func TestStall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/silent":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/stops":
			w.Write(make([]byte, 20000))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/headers":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/all":
			w.Write(make([]byte, 64<<10))
		case "/steady":
			for range 6 {
				w.Write([]byte("0123456789"))
				w.(http.Flusher).Flush()
				time.Sleep(30 * time.Millisecond) // a tenth of the stall time: a slow machine too
			}
		}
	}))
	defer srv.Close()
	const stall = 300 * time.Millisecond
	open := func(path string) (*Capture, error) {
		return Open(context.Background(), mustParse(t, srv.URL+path), Options{StallTimeout: stall})
	}

	start := time.Now()
	_, err := open("/silent?seconds=0.2")
	var se *StallError
	if !errors.As(err, &se) || se.Headers || se.Waited != 500*time.Millisecond {
		t.Fatalf("silent server: %v; want a StallError after 500ms without headers", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("silent server given up after %v; want 500ms (0.2s and the timeout)", d)
	}
	if want := "GET " + srv.URL + "/silent?seconds=0.2: no answer in 500ms"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	c, err := open("/stops")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	c.Close()
	if !errors.As(err, &se) || !se.Headers || se.Bytes != 20000 || n != 20000 {
		t.Fatalf("stalled body: read %d bytes, %v; want 20000 and a StallError", n, err)
	}
	if want := fmt.Sprintf("GET %s/stops: nothing received for 300ms after 20000 bytes of the trace", srv.URL); err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// Headers and then nothing: there are no bytes of the trace to count.
	c, err = open("/headers")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, c)
	c.Close()
	if want := fmt.Sprintf("GET %s/headers: nothing received for 300ms after the response's headers", srv.URL); fmt.Sprint(err) != want {
		t.Errorf("error %q, want %q", err, want)
	}

	c, err = open("/steady")
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, c)
	if err != nil || n != 60 {
		t.Errorf("steady server: read %d bytes, %v; want all 60", n, err)
	}
	// After the end, the timer no longer runs: the capture closes clean.
	time.Sleep(2 * stall)
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// A reader slower than the stall timeout between its reads (a
	// converter busy with a large generation) is no stall of the target.
	c, err = open("/all")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16<<10)
	total := 0
	for {
		n, err := c.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("a slow reader, after %d bytes: %v", total, err)
		}
		time.Sleep(2 * stall)
	}
	c.Close()
	if total != 64<<10 {
		t.Errorf("a slow reader read %d bytes, want %d", total, 64<<10)
	}
}

// TestRedirectLoop checks that a redirect loop's error names the URL asked
// for, not only the path the server redirected to.
func TestRedirectLoop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	}))
	defer srv.Close()
	_, err := Open(context.Background(), mustParse(t, srv.URL+"/debug/pprof/trace"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), srv.URL+"/debug/pprof/trace: ") || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("error %v; want it to begin with the URL and say it was redirected", err)
	}
}

// TestRedirectOtherHost: a redirect to another host is not followed, so
// that the headers asked for (credentials) do not go there, and the error
// names where it led; one on the same host is followed.
func TestRedirectOtherHost(t *testing.T) {
	var got []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Api-Key"))
		mu.Unlock()
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debug/pprof/trace" {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		http.Redirect(w, r, "/debug/pprof/trace", http.StatusFound)
	}))
	defer srv.Close()
	h := http.Header{"X-Api-Key": {"s3cr3t"}}
	for _, path := range []string{"/debug/pprof/trace", "/old/trace"} {
		_, err := Open(context.Background(), mustParse(t, srv.URL+path), Options{Header: h})
		if err == nil || !strings.Contains(err.Error(), other.URL+"/debug/pprof/trace\": a redirect to another host or port: not followed") || strings.Count(err.Error(), other.URL) != 1 {
			t.Errorf("%s: error %v; want one naming the other host", path, err)
		}
		if err == nil || !strings.HasPrefix(err.Error(), srv.URL+path+": ") {
			t.Errorf("%s: error %v; want it to name the URL asked for first", path, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("the other host was asked %d times, with %q", len(got), got)
	}
}

// TestOpenNilURL: a nil URL is an error, not a panic.
func TestOpenNilURL(t *testing.T) {
	if c, err := Open(context.Background(), nil, Options{}); err == nil || c != nil {
		t.Errorf("Open of a nil URL: %v, %v; want an error", c, err)
	}
}

// TestReadMidChunk checks that what a target sent reaches the reader
// while the target's chunk is incomplete, as a Go program that traces
// little leaves it for seconds: a large read does not wait for the rest.
func TestReadMidChunk(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		// A chunk of 64 KiB, of which 20,000 bytes come.
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", 64<<10)
		c.Write([]byte("go 1.26 trace\x00\x00\x00"))
		c.Write(make([]byte, 20000-16))
		<-release
	}()
	defer func() { close(release); ln.Close(); <-served }()
	c, err := Open(context.Background(), mustParse(t, "http://"+ln.Addr().String()+"/debug/pprof/trace"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := 20000 - 1<<10 // all but the read under way
	got := make(chan int)
	go func() {
		n, buf := 0, make([]byte, 64<<10)
		for n < want {
			m, err := c.Read(buf)
			n += m
			if err != nil {
				break
			}
		}
		got <- n
	}()
	select {
	case n := <-got:
		if n < want {
			t.Errorf("%d bytes read of the 20000 sent", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a read of 64 KiB waits for the rest of the chunk: what was sent is not read")
	}
}

// slowProfile delays the sending of profile requests, as a scheduler
// that puts off the goroutine making them does.
type slowProfile struct{ delay time.Duration }

func (s slowProfile) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/profile") {
		time.Sleep(s.delay)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestProfileBeforeTrace: with CPUProfile, the trace is asked for once
// the profile's request is sent, so that the trace's window is profiled
// from its start: a short trace asked for first could end before the
// profile began, and hold no CPU samples.
func TestProfileBeforeTrace(t *testing.T) {
	var profiled atomic.Bool
	var traceFirst atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/profile":
			profiled.Store(true)
			<-r.Context().Done()
		case "/debug/pprof/trace":
			// The profile's request, sent before, has had time to come.
			time.Sleep(50 * time.Millisecond)
			traceFirst.Store(!profiled.Load())
			io.WriteString(w, "go 1.26 trace\x00\x00\x00rest")
		}
	}))
	defer srv.Close()
	client := &http.Client{Transport: slowProfile{300 * time.Millisecond}}
	c, err := Open(context.Background(), mustParse(t, srv.URL+"/debug/pprof/trace?seconds=1"), Options{CPUProfile: true, Client: client, ProfileGrace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c)
	c.Close()
	if traceFirst.Load() {
		t.Error("the trace was asked for before the profile's request was sent")
	}
}

// TestProfileNoAnswer: a CPU profile request with no answer once its
// seconds and the grace are over may never have run, and ProfileErr says
// so, naming it, while the trace is read whole and Close waits the grace
// alone. One whose headers came, then no body, had run: net/http/pprof
// sends them with the profile.
func TestProfileNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path.Base(r.URL.Path) {
		case "trace":
			// As net/http/pprof's, which ends once its seconds are over.
			time.Sleep(time.Second)
			io.WriteString(w, "go 1.26 trace\x00\x00\x00rest")
		case "profile":
			if strings.HasPrefix(r.URL.Path, "/body/") {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	for _, dir := range []string{"", "/body"} {
		c, err := Open(context.Background(), mustParse(t, srv.URL+dir+"/debug/pprof/trace"), Options{CPUProfile: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(c)
		if err != nil || string(data) != "go 1.26 trace\x00\x00\x00rest" {
			t.Fatalf("%s: read %q, %v", dir, data, err)
		}
		start := time.Now()
		if err := c.Close(); err != nil {
			t.Errorf("%s: Close: %v", dir, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Close took %v, want about the grace of 500ms", dir, d)
		}
		err = c.ProfileErr()
		if dir == "/body" {
			if err != nil {
				t.Errorf("a profile whose headers came: ProfileErr = %v", err)
			}
			continue
		}
		var se *StallError
		if want := "GET " + srv.URL + "/debug/pprof/profile?seconds=1: no answer in "; !errors.As(err, &se) || se.Headers || se.Waited < 1500*time.Millisecond || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ProfileErr = %v; want a StallError after 1.5s at least (the profile's second and the grace), beginning %q", err, want)
		}
	}
}
