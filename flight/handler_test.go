package flight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// busy runs tasks with regions and logs until stop is closed.
// busy runs tasks until stop is closed, closing ended (if not nil) after
// the first few have ended.
func busy(stop <-chan struct{}, wg *sync.WaitGroup, ended chan<- struct{}) {
	defer wg.Done()
	for i := 0; ; i++ {
		if i == 3 && ended != nil {
			close(ended)
		}
		select {
		case <-stop:
			return
		default:
		}
		ctx, task := trace.NewTask(context.Background(), "job")
		trace.Log(ctx, "i", "x")
		trace.WithRegion(ctx, "step", func() { time.Sleep(2 * time.Millisecond) })
		task.End()
	}
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp, body
}

// startBusy starts a recorder with opts while a goroutine makes tasks,
// until t ends, and returns once the window holds some.
func startBusy(t *testing.T, opts ...Option) *Recorder {
	t.Helper()
	rec, err := Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	ended := make(chan struct{})
	go busy(stop, &wg, ended)
	// Cleanups run last first: the tasks stop, then the recorder.
	t.Cleanup(func() { rec.Stop(context.Background()) })
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
	<-ended // some tasks in the window, on a busy machine too
	return rec
}

// TestHandler serves the window and live captures in every format; the
// Perfetto and Chrome JSON outputs pass the validators and hold the
// program's tasks.
func TestHandler(t *testing.T) {
	rec := startBusy(t, WithServiceName("handler test"), WithMaxCapture(5*time.Second))

	mux := http.NewServeMux()
	mux.Handle("/debug/trace2x/", rec.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	checkPerfetto := func(path string, body []byte) {
		t.Helper()
		rep, err := perfettocheck.Check(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		jobs := 0
		for _, s := range rep.Slices {
			if s.Name == "job" {
				jobs++
			}
		}
		if jobs == 0 {
			t.Errorf("%s: no task slice among %d slices", path, len(rep.Slices))
		}
	}
	checkChrome := func(path string, body []byte) {
		t.Helper()
		rep, err := chromecheck.Check(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if rep.AsyncPairs["task"] == 0 {
			t.Errorf("%s: no tasks (async pairs %v)", path, rep.AsyncPairs)
		}
	}
	checkOTLP := func(path string, body []byte) {
		t.Helper()
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 64<<20)
		lines, jobs := 0, 0
		for sc.Scan() {
			var msg map[string]any
			if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
				t.Fatalf("%s: line %d: %v", path, lines+1, err)
			}
			lines++
			jobs += strings.Count(sc.Text(), `"name":"job"`)
		}
		if lines == 0 || jobs == 0 {
			t.Errorf("%s: %d lines, %d job spans", path, lines, jobs)
		}
	}
	checkTrace := func(path string, body []byte) {
		t.Helper()
		if !bytes.HasPrefix(body, []byte("go 1.")) {
			t.Errorf("%s: not a Go execution trace: %q", path, body[:min(16, len(body))])
		}
	}

	for _, tc := range []struct {
		path, ctype, ext string
		check            func(string, []byte)
	}{
		{"/debug/trace2x/window.pftrace", "application/octet-stream", ".pftrace", checkPerfetto},
		{"/debug/trace2x/?format=perfetto", "application/octet-stream", ".pftrace", checkPerfetto},
		{"/debug/trace2x/window.json", "application/json", ".json", checkChrome},
		{"/debug/trace2x/?format=chrome", "application/json", ".json", checkChrome},
		{"/debug/trace2x/?format=json-otlp", "application/x-ndjson", ".otlp.jsonl", checkOTLP},
		// The extensions' names, as a user guesses them.
		{"/debug/trace2x/?format=json", "application/json", ".json", checkChrome},
		{"/debug/trace2x/?format=otlp", "application/x-ndjson", ".otlp.jsonl", checkOTLP},
		{"/debug/trace2x/?format=pftrace", "application/octet-stream", ".pftrace", checkPerfetto},
		{"/debug/trace2x/window.trace", "application/octet-stream", ".trace", checkTrace},
		{"/debug/trace2x/capture.pftrace?seconds=0.3", "application/octet-stream", ".pftrace", checkPerfetto},
		{"/debug/trace2x/?seconds=0.3&format=chrome", "application/json", ".json", checkChrome},
	} {
		resp, body := get(t, srv, tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s: %s", tc.path, resp.Status, body)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="handler_test-`) || !strings.HasSuffix(cd, tc.ext+`"`) {
			t.Errorf("%s: Content-Disposition %q", tc.path, cd)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://ui.perfetto.dev" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.path, got)
		}
		tc.check(tc.path, body)
	}

	// The index links the window to the Perfetto UI by its full URL.
	resp, body := get(t, srv, "/debug/trace2x/")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("index: Content-Type %q", ct)
	}
	link := `href="https://ui.perfetto.dev/#!/?url=` + srv.URL + `/debug/trace2x/window.pftrace"`
	if !bytes.Contains(body, []byte(link)) {
		t.Errorf("index lacks %s:\n%s", link, body)
	}
	for _, want := range []string{`href="window.json"`, `href="window.otlp.jsonl"`, `name="seconds"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("index lacks %s", want)
		}
	}

	// The UI's preflight request.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/debug/trace2x/window.pftrace", nil)
	req.Header.Set("Origin", "https://ui.perfetto.dev")
	req.Header.Set("Access-Control-Request-Method", "GET")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusOK || pre.Header.Get("Access-Control-Allow-Origin") != "https://ui.perfetto.dev" || pre.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("preflight: %s %v", pre.Status, pre.Header)
	}
	// OPTIONS of the page says what it allows, without the page.
	req, _ = http.NewRequest(http.MethodOptions, srv.URL+"/debug/trace2x/", nil)
	opt, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	optBody, _ := io.ReadAll(opt.Body)
	opt.Body.Close()
	if opt.StatusCode != http.StatusNoContent || opt.Header.Get("Allow") != "GET, HEAD, OPTIONS" || len(optBody) != 0 {
		t.Errorf("OPTIONS of the index: %s %v %q", opt.Status, opt.Header, optBody)
	}

	// Bad requests, and a capture while another trace runs.
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/debug/trace2x/?format=svg", http.StatusBadRequest},
		{"/debug/trace2x/capture.pftrace?seconds=600", http.StatusBadRequest},
		{"/debug/trace2x/capture.pftrace?seconds=x", http.StatusBadRequest},
		{"/debug/trace2x/other.pftrace", http.StatusNotFound},
		{"/debug/trace2x/window.svg", http.StatusNotFound},
	} {
		if resp, body := get(t, srv, tc.path); resp.StatusCode != tc.code {
			t.Errorf("%s: %s, want %d: %s", tc.path, resp.Status, tc.code, body)
		}
	}
	if err := trace.Start(io.Discard); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, srv, "/debug/trace2x/capture.pftrace?seconds=1")
	trace.Stop()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "/debug/pprof/trace") {
		t.Errorf("capture beside another trace: %s: %s", resp.Status, body)
	}
	// Every answer counts: the index page and the preflight too.
	if st := rec.Stats(); st.Served != 20 || st.HandlerErrors != 0 {
		t.Errorf("stats %+v; want 20 served (11 traces, the index, the preflight, the OPTIONS of the index, 5 bad requests, the conflict), none failed", st)
	}
}

// TestSpool: the tracer's writes never block, the reader gets them all in
// order, and an abandoned spool drops what comes.
func TestSpool(t *testing.T) {
	s := newSpool()
	var want bytes.Buffer
	for i := range 100 {
		b := bytes.Repeat([]byte{byte(i)}, i+1)
		want.Write(b)
		if n, err := s.Write(b); n != len(b) || err != nil {
			t.Fatal(n, err)
		}
	}
	s.close()
	got, err := io.ReadAll(io.LimitReader(s, 1<<20))
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, want.Len())
	}
	s2 := newSpool()
	s2.abandon()
	s2.Write([]byte("x"))
	s2.close()
	if n, err := s2.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Errorf("abandoned spool read %d, %v", n, err)
	}
}

// TestThinnedCounters checks that the Perfetto and Chrome JSON the
// recorder writes have their counters thinned as the command's are by
// default: fewer samples than the trace's counters change, and none lost
// from the extremes, the highest of each counter kept.
func TestThinnedCounters(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "blocking.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{name: "thin"}
	convert := func(f string) []byte {
		t.Helper()
		var out bytes.Buffer
		if err := r.convert(context.Background(), &out, bytes.NewReader(data), format{name: f}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	// Every change, and the highest value of each counter.
	all := &counterTally{highest: map[string]uint64{}}
	if _, err := mapping.Map(bytes.NewReader(data), all); err != nil {
		t.Fatal(err)
	}
	if all.n < 100 {
		t.Fatalf("the sample's counters change only %d times", all.n)
	}

	rep, err := perfettocheck.Check(bytes.NewReader(convert("perfetto")))
	if err != nil {
		t.Fatal(err)
	}
	n, highest := 0, map[string]int64{}
	for track, values := range rep.Counters {
		n += len(values)
		for _, v := range values {
			name := rep.Tracks[track].Name
			highest[name] = max(highest[name], v)
		}
	}
	if n == 0 || n >= all.n {
		t.Errorf("Perfetto: %d counter samples, the trace's counters change %d times", n, all.n)
	}
	for name, v := range all.highest {
		if highest[name] != int64(v) {
			t.Errorf("Perfetto: counter %q peaks at %d, the trace at %d", name, highest[name], v)
		}
	}

	crep, err := chromecheck.Check(convert("chrome"))
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, evs := range crep.Counters {
		n += len(evs)
	}
	if n == 0 || n >= all.n {
		t.Errorf("Chrome JSON: %d counter samples, the trace's counters change %d times", n, all.n)
	}
}

// counterTally counts counter samples and keeps each counter's highest.
type counterTally struct {
	mapping.NopSink
	n       int
	highest map[string]uint64
}

func (c *counterTally) Counter(s *mapping.Counter) error {
	c.n++
	c.highest[s.Name] = max(c.highest[s.Name], s.Value)
	return nil
}

// TestIndexBehindStripPrefix: mounted under http.StripPrefix, the index
// page's ?url= link names the window where the client finds it.
func TestIndexBehindStripPrefix(t *testing.T) {
	r, _ := testRecorder(t, &fakeSource{path: "../testdata/annotations.go1.26.trace"}, newFakeClock())
	mux := http.NewServeMux()
	mux.Handle("/admin/trace/", http.StripPrefix("/admin/trace", r.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, body := get(t, srv, "/admin/trace/?x=1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("index: %s", resp.Status)
	}
	m := regexp.MustCompile(`href="https://ui\.perfetto\.dev/#!/\?url=([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no ?url= link in the index:\n%s", body)
	}
	if want := srv.URL + "/admin/trace/window.pftrace"; string(m[1]) != want {
		t.Errorf("the ?url= link names %s, want %s", m[1], want)
	}
	resp, err := http.Get(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET of the ?url= link: %s", resp.Status)
	}
	// Every answer counts, the page's too.
	if st := r.Stats(); st.Served != 2 {
		t.Errorf("%d responses served, want 2 (the page and the window)", st.Served)
	}
}

// TestCaptureForm: the capture form's seconds stay within WithMaxCapture
// and are a value the browser accepts to submit (a whole step of 1 from
// the minimum), or it refuses the form as it is shown.
func TestCaptureForm(t *testing.T) {
	input := regexp.MustCompile(`<input name="seconds" type="number" value="([^"]*)" min="([^"]*)" max="([^"]*)"`)
	for _, limit := range []time.Duration{time.Minute, 5 * time.Second, 2 * time.Second, 2500 * time.Millisecond, time.Second, 500 * time.Millisecond} {
		r, _ := testRecorder(t, &fakeSource{}, newFakeClock(), WithMaxCapture(limit))
		rec := httptest.NewRecorder()
		r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/trace2x/", nil))
		m := input.FindStringSubmatch(rec.Body.String())
		if m == nil {
			t.Fatalf("%v: no seconds field in the form:\n%s", limit, rec.Body)
		}
		var v [3]float64
		for i := range v {
			f, err := strconv.ParseFloat(m[i+1], 64)
			if err != nil {
				t.Fatalf("%v: %q: %v", limit, m[0], err)
			}
			v[i] = f
		}
		val, lo, hi := v[0], v[1], v[2]
		steps := val - lo
		if !(lo <= val && val <= hi && hi <= limit.Seconds() && lo > 0) || steps != float64(int(steps)) {
			t.Errorf("WithMaxCapture(%v): value %v, min %v, max %v: not a value the browser submits within the limit", limit, val, lo, hi)
		}
		if limit >= 5*time.Second && val != 5 {
			t.Errorf("WithMaxCapture(%v): value %v, want 5 seconds", limit, val)
		}
	}
}

// blockingWriter is a ResponseWriter whose first Write waits for release:
// a slow client.
type blockingWriter struct {
	*httptest.ResponseRecorder
	writing chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.writing)
		<-b.release
	})
	return b.ResponseRecorder.Write(p)
}

// TestWindowOneAtATime sends a window request whose client reads slowly,
// then another: the second takes its snapshot only once the first is
// done, so two conversions never hold their windows at once.
func TestWindowOneAtATime(t *testing.T) {
	src := &fakeSource{path: filepath.Join("..", "testdata", "annotations.go1.26.trace")}
	r, _ := testRecorder(t, src, newFakeClock())
	h := r.Handler()
	slow := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	firstDone := make(chan struct{})
	go func() {
		h.ServeHTTP(slow, httptest.NewRequest("GET", "/debug/trace2x/window.trace", nil))
		close(firstDone)
	}()
	<-slow.writing
	second := httptest.NewRecorder()
	secondDone := make(chan struct{})
	go func() {
		h.ServeHTTP(second, httptest.NewRequest("GET", "/debug/trace2x/window.trace", nil))
		close(secondDone)
	}()
	time.Sleep(50 * time.Millisecond)
	src.mu.Lock()
	writes := src.writes
	src.mu.Unlock()
	if writes != 1 {
		t.Errorf("%d snapshots while the first window is being sent, want 1", writes)
	}
	close(slow.release)
	<-firstDone
	<-secondDone
	if second.Code != http.StatusOK || second.Body.Len() == 0 {
		t.Errorf("the second request got %d, %d bytes", second.Code, second.Body.Len())
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.writes != 2 {
		t.Errorf("%d snapshots for two requests", src.writes)
	}
}

// TestWindowCountsBlockedFromStart: a window, whole in memory, counts the
// goroutines blocked since before its trace began as waiting from its
// start, as their states are drawn, though the trace states them only at
// its end.
func TestWindowCountsBlockedFromStart(t *testing.T) {
	const blocked = 50
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range blocked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
		}()
	}
	waitBlocked(t, blocked, "chan receive")
	data, err := synth.RecordFunc(func() { time.Sleep(50 * time.Millisecond) })
	close(release)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{name: "blocked"}
	var out bytes.Buffer
	if err := r.convert(context.Background(), &out, bytes.NewReader(data), format{name: "perfetto"}); err != nil {
		t.Fatal(err)
	}
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for track, values := range rep.Counters {
		if rep.Tracks[track].Name != "Goroutines waiting" {
			continue
		}
		found = true
		times := rep.CounterTimes[track]
		first := 0
		for i := range times {
			if times[i] < times[first] {
				first = i
			}
		}
		if values[first] < blocked {
			t.Errorf("Goroutines waiting starts at %d, with %d goroutines blocked since before the trace", values[first], blocked)
		}
	}
	if !found {
		t.Error("no Goroutines waiting counter")
	}
}

// waitBlocked waits until n goroutines or more are blocked for reason,
// as their stacks say.
func waitBlocked(t *testing.T, n int, reason string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := runtime.Stack(buf, true)
		if bytes.Count(buf[:m], []byte("["+reason+"]:")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d goroutines blocked for %s after 10s", n, reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stalledWriter is a client that takes nothing: a write blocks until the
// write deadline set on it, then fails as a connection's does.
type stalledWriter struct {
	*httptest.ResponseRecorder
	mu       sync.Mutex
	deadline time.Time
}

func (s *stalledWriter) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	return nil
}

func (s *stalledWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	d := s.deadline
	s.mu.Unlock()
	if d.IsZero() {
		select {} // no deadline: stalled for good
	}
	time.Sleep(time.Until(d))
	return 0, os.ErrDeadlineExceeded
}

// TestWindowStalledClient: a client that stops taking a window's response
// is cut off once nothing has gone for writeStall, and the request
// waiting its turn is served.
func TestWindowStalledClient(t *testing.T) {
	defer func(d time.Duration) { writeStall = d }(writeStall)
	writeStall = 100 * time.Millisecond
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock())
	h := r.Handler()
	firstDone := make(chan any, 1)
	go func() {
		defer func() { firstDone <- recover() }()
		h.ServeHTTP(&stalledWriter{ResponseRecorder: httptest.NewRecorder()}, httptest.NewRequest("GET", "/debug/trace2x/window.json", nil))
	}()
	second := httptest.NewRecorder()
	secondDone := make(chan struct{})
	go func() {
		h.ServeHTTP(second, httptest.NewRequest("GET", "/debug/trace2x/window.trace", nil))
		close(secondDone)
	}()
	select {
	case p := <-firstDone:
		if p != nil && p != http.ErrAbortHandler {
			t.Errorf("the stalled response ended with a panic of %v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled client was not cut off")
	}
	select {
	case <-secondDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the request after a stalled client was not served")
	}
	if second.Code != http.StatusOK || second.Body.Len() == 0 {
		t.Errorf("the second request got %d, %d bytes", second.Code, second.Body.Len())
	}
	// The client's doing, not the handler's: it hid the errors that are.
	if st := r.Stats(); st.HandlerErrors != 0 || st.LastError != nil {
		t.Errorf("a stalled client counted as the handler's error: %d, %v", st.HandlerErrors, st.LastError)
	}
}

// TestHeadNoSnapshot: HEAD of a window or a capture answers the headers
// of a GET without copying the window or starting a trace.
func TestHeadNoSnapshot(t *testing.T) {
	src := &fakeSource{path: sampleTrace}
	r, _ := testRecorder(t, src, newFakeClock())
	h := r.Handler()
	for _, target := range []string{"/debug/trace2x/window.pftrace", "/debug/trace2x/capture.json?seconds=5"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("HEAD", target, nil))
		if w.Code != http.StatusOK || w.Header().Get("Content-Disposition") == "" || w.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d, %q, %d bytes; want 200, the attachment's name, no body", target, w.Code, w.Header().Get("Content-Disposition"), w.Body.Len())
		}
	}
	src.mu.Lock()
	if src.writes != 0 {
		t.Errorf("HEAD copied the window %d times", src.writes)
	}
	src.mu.Unlock()
	// After Stop, HEAD answers as GET does, and neither is the
	// handler's error.
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"HEAD", "GET"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/debug/trace2x/window.pftrace", nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s window after Stop: %d, want 503", method, w.Code)
		}
	}
	if st := r.Stats(); st.HandlerErrors != 0 {
		t.Errorf("%d handler errors after Stop", st.HandlerErrors)
	}
}

// TestSlowClient: a client that takes a trickle, never stalling outright,
// is cut off after a writeStall; one that takes the minimum rate is not.
func TestSlowClient(t *testing.T) {
	defer func(d time.Duration) { writeStall = d }(writeStall)
	writeStall = 100 * time.Millisecond
	for _, tc := range []struct {
		chunk int
		cut   bool
	}{{1 << 10, true}, {minWriteRate, false}} {
		rec := httptest.NewRecorder()
		sw := &stallWriter{w: rec, rc: http.NewResponseController(rec)}
		var err error
		start := time.Now()
		for time.Since(start) < 5*writeStall && err == nil {
			_, err = sw.Write(make([]byte, tc.chunk))
			time.Sleep(writeStall / 5)
		}
		if cut := err != nil; cut != tc.cut || sw.failed != tc.cut {
			t.Errorf("%d bytes every %v: error %v (failed %v); want cut off: %v", tc.chunk, writeStall/5, err, sw.failed, tc.cut)
		}
	}
}

// TestHandlerConflictingQuery: a file name's format and a query that
// asks for another, or a window given seconds, are refused, where they
// were served as the name says; a query that agrees is served.
func TestHandlerConflictingQuery(t *testing.T) {
	rec := startBusy(t)
	h := rec.Handler()
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/debug/trace2x/window.pftrace?format=json", http.StatusBadRequest},
		{"/debug/trace2x/window.pftrace?format=svg", http.StatusBadRequest},
		{"/debug/trace2x/capture.pftrace?seconds=1&format=trace", http.StatusBadRequest},
		{"/debug/trace2x/window.pftrace?seconds=1", http.StatusBadRequest},
		{"/debug/trace2x/window.pftrace?format=perfetto", http.StatusOK},
		{"/debug/trace2x/window.json?format=chrome", http.StatusOK},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d: %.200s", tc.path, w.Code, tc.code, w.Body.Bytes())
		}
	}
}

// TestHandlerOtherSite: a request another site's page makes (an <img>
// whose source is a capture, a fetch) is refused before it starts a
// capture or a conversion; the Perfetto UI's fetch, the index page's own,
// a program's and a link the user followed are served.
func TestHandlerOtherSite(t *testing.T) {
	rec := startBusy(t)
	h := rec.Handler()
	for _, tc := range []struct {
		path    string
		headers map[string]string
		code    int
	}{
		{"/debug/trace2x/capture.trace?seconds=1", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, http.StatusForbidden},
		{"/debug/trace2x/window.pftrace", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"/debug/trace2x/window.pftrace", map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}, http.StatusForbidden},
		{"/debug/trace2x/window.pftrace", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Origin": "https://ui.perfetto.dev"}, http.StatusOK},
		{"/debug/trace2x/window.pftrace", map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, http.StatusOK},
		{"/debug/trace2x/window.pftrace", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1"}, http.StatusOK},
		{"/debug/trace2x/window.json", nil, http.StatusOK},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.code {
			t.Errorf("%s %v: %d, want %d: %.200s", tc.path, tc.headers, w.Code, tc.code, w.Body.Bytes())
		}
	}
}
