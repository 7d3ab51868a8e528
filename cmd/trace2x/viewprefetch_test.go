package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestPrefetchFollow writes a prefetch's file in steps while a request
// follows it, and checks that the request gets every byte, in order, and
// ends when the conversion does, with its error.
func TestPrefetchFollow(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "pre.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newPrefetch("/window1.pftrace", f.Name())
	if !p.follow() {
		t.Fatal("a fresh prefetch cannot be followed")
	}
	var got bytes.Buffer
	served := make(chan error)
	go func() { served <- p.serve(&got) }()
	w := p.writer(f)
	var want bytes.Buffer
	for i := range 50 {
		chunk := bytes.Repeat([]byte{byte(i)}, 1000+i)
		want.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	// A drop while the request follows must not cut it short.
	p.drop()
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatalf("a followed prefetch was dropped: %v", err)
	}
	want.WriteString("end")
	p.finish(io.ErrUnexpectedEOF)
	select {
	case err := <-served:
		if err != io.ErrUnexpectedEOF {
			t.Errorf("serve returned %v, want the conversion's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not end with the conversion")
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("served %d bytes, want the %d written", got.Len(), want.Len())
	}
	// A failed prefetch is not served again: the part is converted anew.
	if p.follow() {
		t.Error("a prefetch that failed is followed")
	}
}

// TestViewPrefetch checks that view's index serves its first window from
// the prefetch, byte for byte what a conversion on demand gives, and that
// asking for another part first drops the prefetch, after which the first
// window is converted on demand.
func TestViewPrefetch(t *testing.T) {
	path := recordGenerations(t, 4)
	e := &env{stdout: io.Discard, stderr: io.Discard}
	newServer := func() (*indexServer, func()) {
		in, err := openTrace(e, []string{path}, &inputOpts{})
		if err != nil {
			t.Fatal(err)
		}
		file := in.ReadCloser.(*os.File)
		idx, err := tracefile.Read(file, in.size)
		if err != nil {
			t.Fatal(err)
		}
		s := newIndexServer(in, file, idx, float64(traceBytesPerRow), in.size/3, 0)
		if len(s.windows) < 2 {
			t.Fatalf("%d windows", len(s.windows))
		}
		return s, func() { in.Close() }
	}
	s, closeIn := newServer()
	w1 := s.windows[0]
	var want bytes.Buffer
	if err := s.convert(&want, w1.From, w1.To); err != nil {
		t.Fatal(err)
	}
	pre, err := os.Create(filepath.Join(t.TempDir(), "pre.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	s.prefetchFirst(pre)
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	// With the trace closed, only the prefetch can serve the window.
	closeIn()
	resp, err := http.Get(srv.URL + s.windowPath(1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(got) != want.String() {
		t.Errorf("the prefetched window is %d bytes (%v), a conversion on demand %d", len(got), err, want.Len())
	}
	// Whole before it is asked for, it is served with its length.
	if resp.ContentLength != int64(want.Len()) {
		t.Errorf("the prefetched window's Content-Length is %d, want %d", resp.ContentLength, want.Len())
	}
	srv.Close()

	// A generation asked for first drops the prefetch, which stops at its
	// first write; the window is then converted on demand.
	s.closeParts()
	s, closeIn = newServer()
	defer closeIn()
	defer s.closeParts()
	srv = httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()
	pre2, err := os.Create(filepath.Join(t.TempDir(), "pre2.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer pre2.Close()
	p := s.beginPrefetch(pre2)
	if p == nil {
		t.Fatal("no prefetch before any request")
	}
	get(t, srv.URL+s.genPath(2))
	s.runPart(p)
	if !errors.Is(p.err, errDropped) {
		t.Errorf("the prefetch ended with %v, want it dropped", p.err)
	}
	if got := get(t, srv.URL+s.windowPath(1)); got != want.String() {
		t.Errorf("the window after a dropped prefetch is %d bytes, want %d", len(got), want.Len())
	}
	// Once a part was asked for, no prefetch begins.
	if s.beginPrefetch(pre2) != nil {
		t.Error("a prefetch begins after a request")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader on two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLine waits for a line of out that matches re, and returns its
// submatches.
func waitLine(t *testing.T, out *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no line matching %s in %q", re, out.String())
	return nil
}

// TestViewStream checks that view prints the link once the trace has
// begun, before it is converted, and that a request made then follows the
// file as it is written: the trace is piped in, its last generation held
// back until the request is made, and the file served must be the whole
// conversion.
func TestViewStream(t *testing.T) {
	path := recordGenerations(t, 4)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// What view serves, converted at once from the same stream.
	ref, err := openTrace(&env{stdin: bytes.NewReader(data), stdout: io.Discard, stderr: io.Discard}, []string{"-"}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	v, err := viewConvert(&env{stdout: io.Discard, stderr: io.Discard}, ref, &inputOpts{}, &want, 0, nil)
	if err != nil || v.cut || v.index != nil {
		t.Fatalf("converting: %v (cut %v, index %v)", err, v.cut, v.index != nil)
	}
	if err := v.w.Close(); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	var stdout, stderr syncBuffer
	e := &env{stdin: pr, stdout: &stdout, stderr: &stderr}
	in, err := openTrace(e, []string{"-"}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- viewWhole(ctx, e, in, &inputOpts{}, viewAt{addr: "127.0.0.1:0", ui: perfettoUI}, 0) }()
	// The parser reads a generation whole before it gives any of its
	// events: the last one is held back.
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 2 {
		t.Fatalf("%d generations (%v)", len(idx.Generations), err)
	}
	half := int(idx.Generations[len(idx.Generations)-1].Offset)
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	link := waitLine(t, &stdout, regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+/stdin\.pftrace)\n`))
	got := make(chan string, 1)
	go func() { got <- get(t, link[1]) }()
	// The request is made before the rest of the trace is given.
	time.Sleep(100 * time.Millisecond)
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	select {
	case g := <-got:
		if g != want.String() {
			t.Errorf("served %d bytes, want the %d of the whole conversion", len(g), want.Len())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the request did not end")
	}
	viewReturns(t, result, "once the file was served")
}

// viewReturns waits for view's result, which must be nil, and fails t if
// it does not come, naming when it should have.
func viewReturns(t *testing.T, result <-chan error, when string) {
	t.Helper()
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("view: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("view did not return %s", when)
	}
}

// TestViewWholePastBudget checks a trace file that view tries whole and
// that goes past the row budget: the link serves the part converted, a
// valid trace, and the index page of the whole trace follows, served
// until view is stopped.
func TestViewWholePastBudget(t *testing.T) {
	path := recordGenerations(t, 4)
	var stdout, stderr syncBuffer
	e := &env{stdout: &stdout, stderr: &stderr}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// The budget is a third of the rows the recording makes.
	v, err := viewConvert(&env{stdout: io.Discard, stderr: io.Discard}, in, &inputOpts{}, io.Discard, 0, nil)
	if err != nil || v.index != nil || v.cut {
		t.Fatalf("within the budget: error %v, index page %v, cut %v", err, v.index != nil, v.cut)
	}
	defer func(p, try int64) { largePerfetto, viewTryBytesPerRow = p, try }(largePerfetto, viewTryBytesPerRow)
	largePerfetto, viewTryBytesPerRow = v.w.Rows()/3, in.size
	if s := indexFor(in, &inputOpts{}, false, 0); s != nil {
		t.Fatal("a trace small enough to try whole gets the index page first")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- viewWhole(ctx, e, in, &inputOpts{}, viewAt{addr: "127.0.0.1:0", ui: perfettoUI}, 0) }()
	page := waitLine(t, &stdout, regexp.MustCompile(`\n(http://127\.0\.0\.1:[0-9]+/)\n`))
	link := waitLine(t, &stdout, regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+/gens\.pftrace)\n`))
	part := get(t, link[1])
	rep, err := perfettocheck.Check(strings.NewReader(part))
	if err != nil {
		t.Fatalf("the part served: %v", err)
	}
	if rep.Rows.Total() < largePerfetto {
		t.Errorf("the part served makes %d rows, fewer than the budget of %d it went past", rep.Rows.Total(), largePerfetto)
	}
	if !strings.Contains(get(t, page[1]), "open in Perfetto") {
		t.Error("no index page after the part")
	}
	if !strings.Contains(stderr.String(), "opens the whole trace in") {
		t.Errorf("stderr does not point to the page:\n%s", stderr.String())
	}
	select {
	case err := <-result:
		t.Fatalf("view exited (%v) while serving the index page", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	viewReturns(t, result, "once stopped")
}

// TestBaseName checks the names view serves its file under: a file's
// name without its extension, and for a URL its host, whose dots are not
// an extension.
func TestBaseName(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"annotations.go1.26.trace", "annotations.go1.26"},
		{"/tmp/x/trace.out", "trace"},
		{"trace", "trace"},
		{"stdin", "stdin"},
		{"http://127.0.0.1:6060/debug/pprof/trace?seconds=5", "127.0.0.1-6060"},
		{"https://api.example.com/debug/pprof/trace", "api.example.com"},
	} {
		if got := (&input{name: c.name}).baseName(); got != c.want {
			t.Errorf("baseName of %q = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestViewKeptNothing checks that view of a filter that keeps nothing of
// the trace (a misspelt task type) fails as every command does, at
// once, rather than serve a file without what was asked for.
func TestViewKeptNothing(t *testing.T) {
	done := make(chan struct{})
	var code int
	var errs string
	go func() {
		defer close(done)
		code, _, errs = runCmd(t, nil, "view", "--addr", "127.0.0.1:0", "--task", "nosuch", sample(t))
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("view of a filter that kept nothing is still serving")
	}
	if code != 1 || !strings.Contains(errs, "the filters kept nothing") {
		t.Errorf("exit %d, stderr %q; want 1 and the filters kept nothing", code, errs)
	}
}

// TestViewBrokenFirstGeneration checks that view of a trace cut inside
// its first generation, of which nothing converts, fails at once with
// the break, and gives no link to open (nor a browser to open it in),
// plain or gzip-compressed.
func TestViewBrokenFirstGeneration(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mixed.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data[:20000])
	zw.Close()
	for name, in := range map[string][]byte{"t.trace": data[:20000], "t.trace.gz": gz.Bytes()} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var code int
		var out, errs string
		go func() {
			defer close(done)
			code, out, errs = runCmd(t, nil, "view", "--addr", "127.0.0.1:0", path)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: view of a trace broken in its first generation is still serving", name)
		}
		if code != 1 || out != "" || !strings.Contains(errs, "broken trace") || strings.Contains(errs, "serving") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, no link and the break said", name, code, out, errs)
		}
	}
}

// TestViewPartOnce checks that each part of view's index is converted
// once, into a file every request for it follows: two requests at once
// get the same bytes from one file, a later one (a reload of the UI's
// tab) gets them with their length, only the last few parts keep their
// files, and stopping the server removes them.
func TestViewPartOnce(t *testing.T) {
	path := recordGenerations(t, 4)
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir) // where the parts' files go
	e := &env{stdout: io.Discard, stderr: io.Discard}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	file := in.ReadCloser.(*os.File)
	idx, err := tracefile.Read(file, in.size)
	if err != nil {
		t.Fatal(err)
	}
	s := newIndexServer(in, file, idx, float64(traceBytesPerRow), in.size/3, 0)
	if len(idx.Generations) < keepParts+2 {
		t.Fatalf("%d generations, want at least %d", len(idx.Generations), keepParts+2)
	}
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()
	files := func() []string {
		m, err := filepath.Glob(filepath.Join(dir, "trace2x-*.pftrace"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	var gens []viewGen
	for _, w := range s.windows {
		gens = append(gens, w.Gens...)
	}
	g := gens[1]
	var want bytes.Buffer
	if err := s.convert(&want, g.From, g.To); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i := range got {
		wg.Go(func() { got[i] = get(t, srv.URL+s.genPath(g.N)) })
	}
	wg.Wait()
	for i, b := range got {
		if b != want.String() {
			t.Errorf("request %d got %d bytes, want the %d of a conversion", i, len(b), want.Len())
		}
	}
	if n := len(files()); n != 1 {
		t.Errorf("two requests for one part made %d files, want 1", n)
	}
	resp, err := http.Get(srv.URL + s.genPath(g.N))
	if err != nil {
		t.Fatal(err)
	}
	again, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(again) != want.String() || resp.ContentLength != int64(want.Len()) {
		t.Errorf("asked again: %d bytes (%v), Content-Length %d; want the %d converted, with their length", len(again), err, resp.ContentLength, want.Len())
	}
	if n := len(files()); n != 1 {
		t.Errorf("a part asked for again made %d files, want 1", n)
	}

	// Other parts, one after another: the oldest are let go.
	for _, g := range gens {
		get(t, srv.URL+s.genPath(g.N))
	}
	if n := len(files()); n > keepParts {
		t.Errorf("%d files kept, want at most %d", n, keepParts)
	}
	s.closeParts()
	if n := len(files()); n != 0 {
		t.Errorf("%d files left once the server stopped", n)
	}
}

// TestViewClientHangsUpAfterWholeFile checks that a client that reads the
// whole file, whose length it was given, and hangs up at once uses up
// view's one serve, however late the handler sees the end: view then
// waited for a second fetch that never came.
func TestViewClientHangsUpAfterWholeFile(t *testing.T) {
	hungUp := make(chan bool, 1)
	setServedHook(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			return
		}
		// The answer's last bytes, which the server could still hold.
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			hungUp <- true
		case <-time.After(10 * time.Second):
			hungUp <- false
		}
	})
	addr, path, result, _ := viewConverted(t, t.Context())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || int64(len(body)) != resp.ContentLength {
		t.Fatalf("%s, %d of %d bytes (%v)", resp.Status, len(body), resp.ContentLength, err)
	}
	conn.Close()
	select {
	case h := <-hungUp:
		if !h {
			t.Fatal("the server did not see the client hang up")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not end")
	}
	viewReturns(t, result, "once the whole file was read")
}

// viewConverted runs viewWhole on annotations.go1.26.trace, until the
// test ends, and returns once the conversion has ended (its answer has a
// length): the address served, the file's path there, where viewWhole's
// error comes, and what it says on stderr.
func viewConverted(t *testing.T, ctx context.Context) (addr, path string, result <-chan error, stderr *syncBuffer) {
	t.Helper()
	var stdout syncBuffer
	stderr = new(syncBuffer)
	e := &env{stdout: &stdout, stderr: stderr}
	in, err := openTrace(e, []string{filepath.Join("..", "..", "testdata", "annotations.go1.26.trace")}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	res := make(chan error, 1)
	go func() {
		res <- viewWhole(ctx, e, in, &inputOpts{}, viewAt{addr: "127.0.0.1:0", ui: perfettoUI}, 0)
	}()
	link := waitLine(t, &stdout, regexp.MustCompile(`url=http://(127\.0\.0\.1:[0-9]+)(/annotations\.go1\.26\.pftrace)\n`))
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Head("http://" + link[1] + link[2])
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ContentLength > 0 {
			return link[1], link[2], res, stderr
		}
		if time.Now().After(deadline) {
			t.Fatal("the conversion did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestViewStalledSecondFetch checks that a second fetch still under way
// when the UI has fetched the whole file (another tab, a curl stopped
// with Ctrl-Z) holds view viewGrace at most: its answer is then cut off,
// which view notes, and view ends without an error. View waited for it to
// end, for as long as its client kept the connection.
func TestViewStalledSecondFetch(t *testing.T) {
	// The stalled fetch's answer is not done while its client keeps the
	// connection, as one whose client stopped reading is not.
	stalled := make(chan struct{})
	cut := make(chan struct{})
	setServedHook(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Stall") == "" {
			return
		}
		http.NewResponseController(w).Flush()
		close(stalled)
		<-r.Context().Done()
		close(cut)
	})
	addr, path, result, stderr := viewConverted(t, t.Context())
	stallFetch(t, addr, path)
	<-stalled
	whole := get(t, "http://"+addr+path)
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("view: %v", err)
		}
	case <-time.After(viewGrace + 30*time.Second):
		t.Fatal("view did not return while a second fetch stalled")
	}
	select {
	case <-cut:
	default:
		t.Error("view returned before the stalled fetch's handler did")
	}
	want := fmt.Sprintf("trace2x: annotations.go1.26.pftrace was fetched whole (%d bytes); done\n"+
		"trace2x: note: another fetch of annotations.go1.26.pftrace, still under way %v later, was cut off: view serves the trace once\n", len(whole), viewGrace)
	if !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr %q, want it to end with %q", stderr.String(), want)
	}
}

// TestViewFreshConnection checks that a connection that has asked for
// nothing yet, as a browser opens ahead, does not hold view once the
// trace was fetched whole: Go's Shutdown takes such a connection for idle
// only once it is 5 s old, and view waited for it.
func TestViewFreshConnection(t *testing.T) {
	defer func(g time.Duration) { viewGrace = g }(viewGrace)
	viewGrace = time.Minute
	addr, path, result, stderr := viewConverted(t, t.Context())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	get(t, "http://"+addr+path)
	fetched := time.Now()
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("view: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("view did not return")
	}
	// Without a request, Shutdown gives up on it after 5 s.
	if d := time.Since(fetched); d > 4*time.Second {
		t.Errorf("view returned %v after the whole fetch, held by a connection that asked for nothing", d)
	}
	if strings.Contains(stderr.String(), "cut off") {
		t.Errorf("a note for a connection that asked for nothing: %q", stderr.String())
	}
}

// TestViewInterruptedInGrace checks that Ctrl-C ends view's wait for a
// second fetch at once, without the note of a fetch cut off after the
// wait: the wait did not heed it.
func TestViewInterruptedInGrace(t *testing.T) {
	defer func(g time.Duration) { viewGrace = g }(viewGrace)
	viewGrace = time.Minute
	stalled := make(chan struct{})
	setServedHook(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Stall") != "" {
			http.NewResponseController(w).Flush()
			close(stalled)
			<-r.Context().Done()
		}
	})
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	addr, path, result, stderr := viewConverted(t, ctx)
	stallFetch(t, addr, path)
	<-stalled
	get(t, "http://"+addr+path)
	waitLine(t, stderr, regexp.MustCompile(`fetched whole`))
	interrupt()
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("view interrupted after the whole fetch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("view went on waiting for the second fetch after Ctrl-C")
	}
	if strings.Contains(stderr.String(), "cut off") {
		t.Errorf("a note of a fetch cut off after the wait, on Ctrl-C: %q", stderr.String())
	}
}

// stallFetch asks view for the trace on a connection of its own, with the
// header X-Stall that the tests' viewServedHook holds the answer for,
// until the connection closes (at the test's end, or view's).
func stallFetch(t *testing.T, addr, path string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Stall: 1\r\n\r\n", path, addr)
}

// setServedHook sets viewServedHook to f for the rest of the test.
func setServedHook(t *testing.T, f func(http.ResponseWriter, *http.Request)) {
	viewServedHook.Store(&f)
	t.Cleanup(func() { viewServedHook.Store(nil) })
}
