package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestViewIndex serves the index page of a trace of many generations in
// small windows, and checks that the page lists every generation once,
// links each window and each generation alone to the UI, and that each is
// served, with the UI's CORS headers, as a valid Perfetto trace of its part
// of the trace.
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
		// snapshot count from the earlier of the output's start (the
		// part's) and the snapshot, plus 2^30 ns.
		base := min(start+int64(from), idx.Generations[0].Clock.Trace) - 1<<30
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

	// Each generation is offered alone too, in order, each part of the
	// window it is in, and the generations follow one another.
	genLinks := regexp.MustCompile(`href="https://ui\.perfetto\.dev/#!/\?url=http://127\.0\.0\.1:9001(/gens\.g([0-9]+)\.pftrace)"`).FindAllStringSubmatch(page, -1)
	if len(genLinks) != len(idx.Generations) {
		t.Fatalf("%d links to single generations for %d generations:\n%s", len(genLinks), len(idx.Generations), page)
	}
	var alone []viewGen
	for _, w := range s.windows {
		for _, g := range w.Gens {
			if g.From < w.From || g.To > w.To {
				t.Errorf("generation %d (%v to %v) is not inside window %d (%v to %v)", g.N, g.From, g.To, w.N, w.From, w.To)
			}
		}
		alone = append(alone, w.Gens...)
	}
	for i, l := range genLinks {
		g := alone[i]
		if l[2] != strconv.Itoa(i+1) || g.N != i+1 {
			t.Fatalf("link %d is to generation %s (%d)", i+1, l[2], g.N)
		}
		if i > 0 && g.From != alone[i-1].To {
			t.Errorf("generation %d starts at %v, the one before ends at %v", g.N, g.From, alone[i-1].To)
		}
		checkPart(fmt.Sprintf("generation %d", g.N), l[1], g.From, g.To)
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
