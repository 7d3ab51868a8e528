package main

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestViewIndex serves the index page of a trace of many generations in
// small windows, and checks that the page lists every generation once,
// links each window and each generation alone to the UI, and that each is
// served, with the UI's CORS headers, as a valid Perfetto trace of its part
// of the trace.
func TestViewIndex(t *testing.T) {
	path := recordGenerations(t, 4)
	e := &env{stdout: io.Discard, stderr: io.Discard}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if s := indexFor(in, &inputOpts{}, false, 0); s != nil {
		t.Fatalf("a %d-byte trace gets an index page", in.size)
	}
	// Over the budget, it gets one without being asked.
	defer func(p int64) { largePerfetto = p }(largePerfetto)
	largePerfetto = 1000
	if s := indexFor(in, &inputOpts{}, false, 0); s == nil {
		t.Fatalf("a %d-byte trace over a budget of %d rows gets no index page", in.size, largePerfetto)
	}
	s := indexFor(in, &inputOpts{}, true, 0)
	if s == nil {
		t.Fatal("no index page for a trace file when asked")
	}
	idx, err := tracefile.Read(in.ReadCloser.(*os.File), in.size)
	if err != nil {
		t.Fatal(err)
	}
	// Windows of about an eighth of the trace: a quarter makes two where
	// a busy machine records one generation far larger than the others.
	s = newIndexServer(in, in.ReadCloser.(*os.File), idx, float64(traceBytesPerRow), in.size/8, 0)
	if len(s.windows) < 3 {
		t.Fatalf("%d windows of %d generations", len(s.windows), len(idx.Generations))
	}
	if err := s.count(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()

	page := get(t, srv.URL+"/")
	links := regexp.MustCompile(`href="https://ui\.perfetto\.dev/#!/\?url=http://127\.0\.0\.1:9001(/gens\.([0-9]+)\.pftrace)"`).FindAllStringSubmatch(page, -1)
	if len(links) != len(s.windows) {
		t.Fatalf("%d links for %d windows:\n%s", len(links), len(s.windows), page)
	}
	// A HEAD, which a link preview or curl -I sends, answers at once: it
	// neither converts the part nor counts as the UI asking for one.
	resp, err := http.Head(srv.URL + links[1][1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.mu.Lock()
	asked := s.asked
	s.mu.Unlock()
	if resp.StatusCode != http.StatusOK || asked {
		t.Errorf("HEAD of a window: status %d, taken as the UI asking for it: %v", resp.StatusCode, asked)
	}
	// The page is read, not posted to; the browser's icon request is
	// answered, not a 404 its console logs at every refresh.
	if resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST of the page: %s, want 405", resp.Status)
	}
	if resp, err := http.Get(srv.URL + "/favicon.ico"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNoContent {
		t.Errorf("the icon: %s, want 204", resp.Status)
	}
	// A part of no window (a link of an earlier run) is a 404 the UI can
	// read, its preflight answered; the UI's probe for a trace processor
	// gets a plain one.
	for _, c := range []struct {
		method, path string
		status       int
		cors         bool
	}{
		{http.MethodGet, "/gens.99.pftrace", http.StatusNotFound, true},
		{http.MethodOptions, "/gens.99.pftrace", http.StatusOK, true},
		{http.MethodPost, "/status", http.StatusNotFound, false},
		{http.MethodGet, "/status", http.StatusNotFound, false},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		req.Header.Set("Origin", perfettoUI)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != c.status || (got == perfettoUI) != c.cors {
			t.Errorf("%s %s: %s, Access-Control-Allow-Origin %q; want %d, with it %v", c.method, c.path, resp.Status, got, c.status, c.cors)
		}
	}
	if strings.Contains(page, "…") || strings.Contains(page, "refresh") {
		t.Errorf("the page still waits for the counts:\n%s", page)
	}
	// It offers the other ways in: a filter, or the trace processor.
	for _, way := range []string{"trace2x view --task TYPE", "trace2x perfetto -o gens.pftrace gens.trace", "trace_processor --httpd gens.pftrace"} {
		if !strings.Contains(page, way) {
			t.Errorf("the page does not offer %q:\n%s", way, page)
		}
	}
	// It says why it is an index: the trace is over the budget, or
	// --index asked for one.
	if !strings.Contains(page, "more than the Perfetto UI in a browser holds at once") {
		t.Errorf("the page of a trace over the budget does not say so:\n%s", page)
	}
	largePerfetto = 1 << 40
	if page := get(t, srv.URL+"/"); !strings.Contains(page, "few enough rows for the Perfetto UI") || strings.Contains(page, "more than the Perfetto UI") {
		t.Errorf("the page of a trace within the budget says it is not:\n%s", page)
	}
	// Within the budget but not its margin, which view without --index
	// would not convert whole either: not said to fit.
	largePerfetto = int64(s.rows() / 0.95)
	if page := get(t, srv.URL+"/"); !strings.Contains(page, "too near that to convert whole") || strings.Contains(page, "few enough rows") {
		t.Errorf("the page of a trace at 95%% of the budget does not say it is too near it:\n%s", page)
	}
	largePerfetto = 1000
	gens, gcs := 0, 0
	for i, w := range s.windows {
		gens += w.Last - w.First + 1
		gcs += w.GCs
		if i > 0 && (w.First != s.windows[i-1].Last+1 || w.From != s.windows[i-1].To) {
			t.Errorf("window %d (%+v) does not follow window %d (%+v)", i+1, w, i, s.windows[i-1])
		}
	}
	if gens != len(idx.Generations) || gcs < 4 {
		t.Errorf("the windows cover %d generations of %d, with %d GC cycles (4 were forced)", gens, len(idx.Generations), gcs)
	}
	// The goroutines alive at each window's start, from their states: one
	// whose state spans the start, or for the first window, one that
	// existed before the trace.
	alive := &aliveAt{starts: make([]time.Duration, len(s.windows)), ids: make([]map[mapping.GoID]bool, len(s.windows))}
	for i, w := range s.windows {
		alive.starts[i], alive.ids[i] = w.From, map[mapping.GoID]bool{}
	}
	if _, err := mapping.MapFile(s.file, s.in.size, alive); err != nil {
		t.Fatal(err)
	}
	for i, w := range s.windows {
		if w.Alive != len(alive.ids[i]) {
			t.Errorf("window %d: %d goroutines alive at its start, by its states %d", w.N, w.Alive, len(alive.ids[i]))
		}
		if !strings.Contains(page, fmt.Sprintf("<td>%d</td><td>%d</td>", w.Goroutines, w.Alive)) {
			t.Errorf("window %d: the page does not show its %d goroutines created and %d alive", w.N, w.Goroutines, w.Alive)
		}
	}
	if len(alive.ids[1]) == 0 {
		t.Errorf("no goroutine alive at the second window's start: the check checks nothing")
	}
	// Each part is served, with the UI's CORS headers, as a valid Perfetto
	// trace whose slices lie in the part.
	start := idx.Generations[0].Start
	checkPart := func(what, path string, from, to time.Duration) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != perfettoUI {
			t.Errorf("%s: Access-Control-Allow-Origin %q", what, got)
		}
		rep, err := perfettocheck.Check(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(rep.Slices) == 0 {
			t.Errorf("%s: no slices", what)
		}
		// Perfetto's timestamps of a trace with a monotonic clock
		// snapshot are that clock.
		c := idx.Generations[0].Clock
		base := c.Trace - int64(c.Mono)
		at := func(ts uint64) time.Duration { return time.Duration(int64(ts) + base - start) }
		for _, sl := range rep.Slices {
			if at(sl.Start) < from || at(sl.End) > to {
				t.Errorf("%s (%v to %v): slice %q from %v to %v", what, from, to, sl.Name, at(sl.Start), at(sl.End))
				break
			}
		}
	}
	for i, l := range links {
		w := s.windows[i]
		checkPart(fmt.Sprintf("window %d", i+1), l[1], w.From, w.To)
	}
	// A page of another site may not make a window's conversion run.
	req, err := http.NewRequest(http.MethodGet, srv.URL+links[0][1], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a window fetched by another site: %s, want 403", resp.Status)
	}

	// Each generation is offered alone too, in order, each part of the
	// window it is in, and the generations follow one another; a window
	// of one generation does not offer it again.
	genLinks := regexp.MustCompile(`href="https://ui\.perfetto\.dev/#!/\?url=http://127\.0\.0\.1:9001(/gens\.g([0-9]+)\.pftrace)"`).FindAllStringSubmatch(page, -1)
	var alone, offered []viewGen
	for _, w := range s.windows {
		for _, g := range w.Gens {
			if g.From < w.From || g.To > w.To {
				t.Errorf("generation %d (%v to %v) is not inside window %d (%v to %v)", g.N, g.From, g.To, w.N, w.From, w.To)
			}
		}
		alone = append(alone, w.Gens...)
		if len(w.Gens) > 1 {
			offered = append(offered, w.Gens...)
		}
	}
	if len(alone) != len(idx.Generations) {
		t.Errorf("the windows hold %d generations of %d", len(alone), len(idx.Generations))
	}
	for i, g := range alone {
		if g.N != i+1 || i > 0 && g.From != alone[i-1].To {
			t.Errorf("generation %d of the windows is generation %d, from %v (the one before ends at %v)", i+1, g.N, g.From, alone[max(i-1, 0)].To)
		}
	}
	if len(genLinks) != len(offered) || len(offered) == 0 {
		t.Fatalf("%d links to single generations for %d generations in windows of more than one:\n%s", len(genLinks), len(offered), page)
	}
	for i, l := range genLinks {
		g := offered[i]
		if l[2] != strconv.Itoa(g.N) {
			t.Fatalf("link %d is to generation %s, want %d", i+1, l[2], g.N)
		}
		checkPart(fmt.Sprintf("generation %d", g.N), l[1], g.From, g.To)
	}
}

// recordGenerations records synth.RecordGenerations' workload of rounds
// rounds, each with a GC and new generations, into a file, and returns
// its path.
func recordGenerations(t *testing.T, rounds int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, rounds); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gens.trace")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// TestViewRowBudget checks how view chooses between the whole trace and
// the index page by the rows the trace makes in Perfetto, not its size: a
// trace file tried whole that goes past the budget gets the index page,
// with windows sized by the bytes a row its first part took, and every
// window is a valid trace, cut at the budget if it is denser than that.
func TestViewRowBudget(t *testing.T) {
	path := recordGenerations(t, 6)
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	// Within the budget, the trace is converted whole.
	var whole bytes.Buffer
	v, err := viewConvert(e, in, &inputOpts{}, &whole, 0, nil)
	if err != nil || v.index != nil || v.cut {
		t.Fatalf("within the budget: error %v, index page %v, cut %v", err, v.index != nil, v.cut)
	}
	rows := v.w.Rows()
	if _, err := perfettocheck.Check(&whole); err != nil {
		t.Fatal(err)
	}

	// A file too large to try at once is sampled from its middle
	// generation: within the budget by the sample, it is tried whole.
	// (The generations of the recording differ: a sample has been found
	// from three times sparser than the whole to twice as dense, so the
	// budgets here are set by what the sample predicts.)
	defer func(p, try, sample int64) { largePerfetto, viewTryBytesPerRow, sampleRows = p, try, sample }(largePerfetto, viewTryBytesPerRow, sampleRows)
	viewTryBytesPerRow, sampleRows = 0, rows/10
	file := in.ReadCloser.(*os.File)
	idx, err := tracefile.Read(file, in.size)
	if err != nil {
		t.Fatal(err)
	}
	sampled, ok := sampleBytesPerRow(in, file, idx, 0)
	if !ok {
		t.Fatal("no sample of the trace")
	}
	predicted := int64(float64(in.size) / sampled)
	largePerfetto = predicted * 2
	if s := indexFor(in, &inputOpts{}, false, 0); s != nil {
		t.Fatalf("a trace of %d rows that a sample puts at %d, within a budget of %d, gets the index page", rows, predicted, largePerfetto)
	}
	// Over it by the sample, it gets the index page at once, its windows
	// sized by the sample's bytes a row.
	largePerfetto = predicted / 10
	density := float64(in.size) / float64(rows)
	direct := indexFor(in, &inputOpts{}, false, 0)
	if direct == nil {
		t.Fatal("a file too large to try whole gets no index page")
	}
	if direct.bytesPerRow == float64(traceBytesPerRow) || direct.bytesPerRow < density/8 || direct.bytesPerRow > density*8 {
		t.Errorf("sampled %.2f bytes of trace a row; the whole trace takes %.2f", direct.bytesPerRow, density)
	}
	for _, win := range direct.windows {
		if most := int64(float64(largePerfetto) * direct.bytesPerRow * windowMargin); win.Bytes > most && win.First != win.Last {
			t.Errorf("window %d holds %d bytes of trace, over the %d its size allows", win.N, win.Bytes, most)
		}
	}

	// Over it, though small enough to try, it gets the index page.
	largePerfetto, viewTryBytesPerRow = rows/3, in.size
	if s := indexFor(in, &inputOpts{}, false, 0); s != nil {
		t.Fatal("a trace small enough to try whole gets the index page before it is tried")
	}
	v, err = viewConvert(e, in, &inputOpts{}, io.Discard, 0, nil)
	s := v.index
	if err != nil || s == nil {
		t.Fatalf("over the budget: error %v, no index page", err)
	}
	if !strings.Contains(stderr.String(), "million rows in Perfetto") {
		t.Errorf("stderr %q does not say why the index page is served", stderr.String())
	}
	// The bytes a row of the first part are measured, and near those of
	// the whole trace (parts differ: the first generation is sparser,
	// and a recording on a loaded machine has been found five times
	// denser in its first part than in the whole).
	if s.bytesPerRow == float64(traceBytesPerRow) || s.bytesPerRow < density/8 || s.bytesPerRow > density*8 {
		t.Errorf("measured %.2f bytes of trace a row; the whole trace takes %.2f", s.bytesPerRow, density)
	}
	maxBytes := int64(float64(largePerfetto) * s.bytesPerRow * windowMargin)
	if len(s.windows) < 2 {
		t.Errorf("%d windows for a budget of a third of the trace's rows", len(s.windows))
	}
	for _, win := range s.windows {
		if win.Bytes > maxBytes && win.First != win.Last {
			t.Errorf("window %d holds %d bytes of trace, over the %d its size allows", win.N, win.Bytes, maxBytes)
		}
		var out bytes.Buffer
		err := s.convert(&out, win.From, win.To)
		if err != nil && !errors.Is(err, perfetto.ErrRowLimit) {
			t.Errorf("window %d: %v", win.N, err)
		}
		// Over half the budget's worth of trace, it is deflated, for the
		// UI's memory.
		if n := compressedPackets(t, out.Bytes()); (n > 0) != (win.Bytes > largePerfetto*traceBytesPerRow/2) {
			t.Errorf("window %d of %d bytes for a budget of %d rows: %d compressed packets", win.N, win.Bytes, largePerfetto, n)
		}
		if _, cerr := perfettocheck.Check(&out); cerr != nil {
			t.Errorf("window %d (error %v): not a valid trace: %v", win.N, err, cerr)
		}
	}
}

// TestViewCut checks that a trace that goes past the row budget and that
// windows cannot be cut from (here, of one generation) is served cut at
// the budget, as a valid trace, with a note on what shows the rest.
func TestViewCut(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr}
	in, err := openTrace(e, []string{filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace")}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var whole bytes.Buffer
	v, err := viewConvert(e, in, &inputOpts{}, &whole, 0, nil)
	if err != nil || v.cut || v.index != nil {
		t.Fatalf("within the budget: error %v, cut %v, index page %v", err, v.cut, v.index != nil)
	}
	defer func(p int64) { largePerfetto = p }(largePerfetto)
	largePerfetto = v.w.Rows() / 2
	var out bytes.Buffer
	v, err = viewConvert(e, in, &inputOpts{}, &out, 0, nil)
	if err != nil || !v.cut || v.index != nil {
		t.Fatalf("over the budget: error %v, cut %v, index page %v", err, v.cut, v.index != nil)
	}
	if err := v.w.Close(); !errors.Is(err, perfetto.ErrRowLimit) {
		t.Errorf("closing the writer of the cut trace: %v", err)
	}
	if rows := v.w.Rows(); rows > largePerfetto+largePerfetto/10 {
		t.Errorf("%d rows served for a budget of %d", rows, largePerfetto)
	}
	if _, err := perfettocheck.Check(&out); err != nil {
		t.Errorf("the cut trace is not valid: %v", err)
	}
	if !regexp.MustCompile(`note: cut at [0-9.]+[µm]?s, .* --from [0-9.]+[µm]?s shows what follows`).MatchString(stderr.String()) {
		t.Errorf("stderr %q does not say where the trace was cut and what shows the rest", stderr.String())
	}

	// With a window, the time the note gives counts from the trace's
	// start, as --from does: it is past the window's start, and the
	// trace the note's --from serves begins there.
	stderr.Reset()
	half := largePerfetto
	largePerfetto = half / 5
	from := 600 * time.Microsecond // of 913µs: the window is cut less than 600µs after its start
	opts := &inputOpts{filter: mapping.Filter{From: mapping.Bound{Offset: from}}}
	if v, err := viewConvert(e, in, opts, io.Discard, 0, nil); err != nil || !v.cut {
		t.Fatalf("a window over the budget: error %v, cut %v", err, v.cut)
	}
	m := regexp.MustCompile(`note: cut at ([0-9.]+[µm]?s), .* --from ([0-9.]+[µm]?s) shows what follows`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr %q does not say where the window was cut", stderr.String())
	}
	at, err := time.ParseDuration(m[2])
	if err != nil || at <= from || m[1] != m[2] {
		t.Errorf("a window from %v is cut at %s, with --from %s for the rest; want one time past %v", from, m[1], m[2], from)
	}
	// A window with an end: what follows ends there too (the note's
	// window went on to the trace's end).
	stderr.Reset()
	opts.filter.To = mapping.Bound{Offset: 850 * time.Microsecond}
	if v, err := viewConvert(e, in, opts, io.Discard, 0, nil); err != nil || !v.cut {
		t.Fatalf("a window with an end, over the budget: error %v, cut %v", err, v.cut)
	}
	largePerfetto = half
	if !regexp.MustCompile(`note: cut at .* --from [0-9.]+[µm]?s --to 850µs shows what follows`).MatchString(stderr.String()) {
		t.Errorf("stderr %q does not keep the window's end in what shows what follows", stderr.String())
	}

	// From standard input, which cannot be read again, the note says to
	// save the trace first.
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	e.stdin = bytes.NewReader(data)
	piped, err := openTrace(e, []string{"-"}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer piped.Close()
	if v, err := viewConvert(e, piped, &inputOpts{}, io.Discard, 0, nil); err != nil || !v.cut {
		t.Fatalf("from standard input, over the budget: error %v, cut %v", err, v.cut)
	}
	if !regexp.MustCompile(`note: cut at .* save the trace to a file, and trace2x view --from [0-9.]+[µm]?s FILE shows what follows`).MatchString(stderr.String()) {
		t.Errorf("stderr %q does not say how to see the rest of a piped trace", stderr.String())
	}
}

// TestViewOddName checks that the links of a trace whose name holds
// characters that mean something in a URL (an '&' ends the UI's url
// parameter, a '#' its fragment) still lead the UI to a part the page
// serves: the UI reads url= from the query after "#!/?", and fetches it.
func TestViewOddName(t *testing.T) {
	odd := filepath.Join(t.TempDir(), "a&b #1 100%.trace")
	data, err := os.ReadFile(recordGenerations(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard}
	in, err := openTrace(e, []string{odd}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	idx, err := tracefile.Read(in.ReadCloser.(*os.File), in.size)
	if err != nil {
		t.Fatal(err)
	}
	s := newIndexServer(in, in.ReadCloser.(*os.File), idx, float64(traceBytesPerRow), in.size/2, 0)
	if err := s.count(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()
	page := get(t, srv.URL+"/")
	hrefs := regexp.MustCompile(`href="(https://ui\.perfetto\.dev/#!/\?[^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(hrefs) < 2 {
		t.Fatalf("%d links to the UI on the page", len(hrefs))
	}
	for _, h := range hrefs {
		link := html.UnescapeString(h[1])
		q, err := url.ParseQuery(link[strings.Index(link, "?")+1:])
		if err != nil || len(q) != 1 || len(q["url"]) != 1 {
			t.Errorf("link %q: the UI reads the parameters %v (%v), want url alone", link, q, err)
			continue
		}
		u, err := url.Parse(q.Get("url"))
		if err != nil || u.Host != "127.0.0.1:9001" || u.Fragment != "" || u.RawQuery != "" {
			t.Errorf("link %q: url %q is not a plain URL of the page's server", link, q.Get("url"))
			continue
		}
		resp, err := http.Get(srv.URL + u.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("link %q: %s serves %s", link, u.Path, resp.Status)
		}
	}
}

// TestAllowUIOrigins checks whom view lets read a trace: ui.perfetto.dev,
// and a Perfetto UI served on this machine, but no other page.
func TestAllowUIOrigins(t *testing.T) {
	for _, tc := range []struct{ origin, want string }{
		{"", perfettoUI},
		{perfettoUI, perfettoUI},
		{"http://localhost:10000", "http://localhost:10000"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:10000", "http://[::1]:10000"},
		{"http://localhost", "http://localhost"},
		{"https://example.com", perfettoUI},
		{"http://localhost.example.com:10000", perfettoUI},
		{"http://127.0.0.2.example:80", perfettoUI},
		{"http://10.0.0.1:10000", perfettoUI},
		{"null", perfettoUI},
		{"http://user@localhost:10000", perfettoUI},
	} {
		r := httptest.NewRequest(http.MethodOptions, "/t.pftrace", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		allowUI(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("Origin %q: allowed %q, want %q", tc.origin, got, tc.want)
		}
	}
}

// TestUIRequest checks which requests view answers with a trace: the UI's
// and a local page's, and those of no page (curl, the address bar), but
// not another site's, with an Origin or without one (an <img>, a no-cors
// fetch), which could make a conversion run or use up the one serve.
func TestUIRequest(t *testing.T) {
	for _, tc := range []struct {
		origin, site string
		want         bool
	}{
		{"", "", true},
		{"", "none", true},
		{"", "same-origin", true},
		{perfettoUI, "cross-site", true},
		{"http://localhost:10000", "same-site", true},
		{"", "cross-site", false},
		{"", "same-site", false},
		{"https://evil.example", "cross-site", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/t.pftrace", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := uiRequest(r); got != tc.want {
			t.Errorf("Origin %q, Sec-Fetch-Site %q: answered %v, want %v", tc.origin, tc.site, got, tc.want)
		}
	}
}

// aliveAt finds, from their states, the goroutines alive at each of
// starts (offsets from the trace's start).
type aliveAt struct {
	mapping.NopSink
	start  mapping.Time
	starts []time.Duration
	ids    []map[mapping.GoID]bool
}

func (a *aliveAt) Begin(m *mapping.Meta) error { a.start = m.Start; return nil }

func (a *aliveAt) GoroutineState(st *mapping.GoroutineState) error {
	for i, from := range a.starts {
		at := a.start + mapping.Time(from)
		if i == 0 && st.Flags&mapping.OpenStart != 0 || i > 0 && st.Start < at && st.End >= at {
			a.ids[i][st.G] = true
		}
	}
	return nil
}

// TestIndexPageOneGeneration checks the page's words for a trace of one
// generation, and that a window of one generation does not offer it
// again as a generation alone, a second link to the same part.
func TestIndexPageOneGeneration(t *testing.T) {
	var b strings.Builder
	link := func(n int) string { return fmt.Sprintf("/part%d", n) }
	err := indexPage.Execute(&b, pageData{
		Name: "one.trace", Base: "one", Duration: "1s", Size: "2.0", Gens: 1, Counted: true,
		Windows: []viewWindow{{N: 1, First: 1, Last: 1, To: time.Second, Gens: []viewGen{{N: 1, To: time.Second}}}},
		Link:    link, GenLink: func(n int) string { return fmt.Sprintf("/gen%d", n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "1 generation, 1s") || strings.Contains(page, "/gen1") || !strings.Contains(page, "/part1") {
		t.Errorf("the page of one generation:\n%s", page)
	}
}

// TestIndexUnits checks the sizes and times the index page gives a short
// trace: "0.0 MB" and "0s" said nothing of a trace of 27 kB and 3 ms.
func TestIndexUnits(t *testing.T) {
	for n, want := range map[int64]string{0: "0 kB", 1: "1 kB", 27_400: "28 kB", 999_999: "1000 kB", 1_000_000: "1.0 MB", 52_614_448: "52.6 MB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{3_141_592: "3.142ms", 12_345_678: "12ms", 2_500_000_000: "2.5s", 0: "0s"} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestNoIndexSaysWhy: view --index of what it cannot index says why, and
// for a file cut short (a program that crashed leaves one), where its
// generations stop indexing.
func TestNoIndexSaysWhy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")) // two generations
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, data[:len(data)-200], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		opts inputOpts
		want string
	}{
		{cut, inputOpts{}, `its generations do not index: broken trace near byte [0-9]+`},
		{filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"), inputOpts{filter: mapping.Filter{Tasks: []string{"x"}}}, `a filter was given`},
	} {
		e := &env{stderr: io.Discard}
		in, err := openTrace(e, []string{c.path}, &c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := noIndex(in, &c.opts); !regexp.MustCompile(c.want).MatchString(got) {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
		in.Close()
	}
}
