package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestViewIndex serves the index page of a trace of many generations in
// small windows, and checks that the page lists every generation once,
// links each window to the UI, and that each window is served, with the
// UI's CORS headers, as a valid Perfetto trace of its part of the trace.
func TestViewIndex(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, 4); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gens.trace")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard}
	in, err := openTrace(e, []string{path}, &inputOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if s := indexFor(in, &inputOpts{}, false, 0); s != nil {
		t.Fatalf("a %d-byte trace gets an index page", in.size)
	}
	// Over the budget by a row, it gets one without being asked.
	defer func(p int64) { largePerfetto = p }(largePerfetto)
	largePerfetto = in.size/traceBytesPerRow - 1
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
	// Windows of about a quarter of the trace.
	s = newIndexServer(in, in.ReadCloser.(*os.File), idx, in.size/4, 0)
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
	if strings.Contains(page, "…") || strings.Contains(page, "refresh") {
		t.Errorf("the page still waits for the counts:\n%s", page)
	}
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
	for i, l := range links {
		w := s.windows[i]
		resp, err := http.Get(srv.URL + l[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != perfettoUI {
			t.Errorf("window %d: Access-Control-Allow-Origin %q", i+1, got)
		}
		rep, err := perfettocheck.Check(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("window %d: %v", i+1, err)
		}
		if len(rep.Slices) == 0 {
			t.Errorf("window %d: no slices", i+1)
		}
		// The slices lie in the window. Perfetto's timestamps of a trace
		// with a monotonic clock snapshot count from the earlier of the
		// output's start (the window's) and the snapshot, plus 2^30 ns.
		start := idx.Generations[0].Start
		base := min(start+int64(w.From), idx.Generations[0].Clock.Trace) - 1<<30
		at := func(ts uint64) time.Duration { return time.Duration(int64(ts) + base - start) }
		for _, sl := range rep.Slices {
			if at(sl.Start) < w.From || at(sl.End) > w.To {
				t.Errorf("window %d (%v to %v): slice %q from %v to %v", i+1, w.From, w.To, sl.Name, at(sl.Start), at(sl.End))
				break
			}
		}
	}
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
