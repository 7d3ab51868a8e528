package chromejson_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/internal/browsertest"
	"github.com/trace2x/trace2x/internal/testtraces"
)

// viewerPage loads trace_viewer_full.html as go tool trace does (see its
// internal/trace/traceviewer/http.go), imports /trace.json into a model,
// shows it, and leaves in window.result what the import gave.
const viewerPage = `<html>
<head>
<script src="/static/webcomponents.min.js"></script>
<link rel="import" href="/static/trace_viewer_full.html"
      onerror="window.result = {error: 'cannot load trace_viewer_full.html'}">
<style>html, body { margin: 0; width: 100%; height: 100%; } #viewer { width: 100%; height: 100%; }</style>
<script>
'use strict';
function report(model, viewer) {
  var procs = [];
  model.getAllProcesses().forEach(function(p) {
    var threads = [];
    for (var tid in p.threads) {
      var t = p.threads[tid];
      threads.push({tid: t.tid, name: t.name || '', slices: t.sliceGroup.slices.length,
                    async: t.asyncSliceGroup.slices.length});
    }
    var counters = [];
    for (var c in p.counters) counters.push(p.counters[c].name);
    procs.push({pid: p.pid, name: p.name || '', threads: threads, counters: counters});
  });
  return {
    ok: true,
    processes: procs,
    warnings: model.importWarnings.map(function(w) { return w.type + ': ' + w.message; }),
    flows: model.flowEvents.length,
    frames: Object.keys(model.stackFrames).length,
    samples: model.samples.length,
    tracks: viewer.trackView ? true : false,
  };
}
document.addEventListener('WebComponentsReady', function() {
  var container = document.createElement('track-view-container');
  container.id = 'track_view_container';
  var viewer = document.createElement('tr-ui-timeline-view');
  viewer.track_view_container = container;
  Polymer.dom(viewer).appendChild(container);
  viewer.id = 'viewer';
  viewer.globalMode = true;
  Polymer.dom(document.body).appendChild(viewer);
  var req = new XMLHttpRequest();
  req.open('GET', '/trace.json', true);
  req.onload = function() {
    var model = new tr.Model();
    var opts = new tr.importer.ImportOptions();
    opts.shiftWorldToZero = false;
    var i = new tr.importer.Import(model, opts);
    i.importTracesWithProgressDialog([req.responseText]).then(function() {
      viewer.model = model;
      window.result = report(model, viewer);
    }, function(err) {
      window.result = {error: 'import failed: ' + tr.b.normalizeException(err).message};
    });
  };
  req.onerror = function() { window.result = {error: 'cannot fetch /trace.json'}; };
  req.send(null);
});
</script>
</head>
<body></body>
</html>`

type viewerResult struct {
	OK        bool
	Error     string
	Warnings  []string
	Flows     int
	Frames    int
	Samples   int
	Tracks    bool
	Processes []struct {
		PID      int64
		Name     string
		Counters []string
		Threads  []struct {
			TID    int64
			Name   string
			Slices int
			Async  int
		}
	}
}

// TestCatapultViewer loads a converted sample into the trace viewer that
// ships with Go, in headless Chromium, and checks that it imports without
// errors or warnings and holds the expected processes, rows, slices and
// flows.
func TestCatapultViewer(t *testing.T) {
	// A trace with tasks, regions, logs, GC and syscalls.
	data, rep := convertChecked(t, "../../testdata/mixed.go1.26.trace")
	res := viewInCatapult(t, data)
	if !res.Tracks {
		t.Error("the viewer shows no track view")
	}

	// Every process and row of the file, with its slices.
	procs := map[string]bool{}
	threads := map[string]bool{}
	slicesIn := map[chromecheck.Row]int{}
	for _, p := range res.Processes {
		procs[p.Name] = true
		for _, th := range p.Threads {
			threads[th.Name] = true
			slicesIn[chromecheck.Row{PID: p.PID, TID: th.TID}] = th.Slices
		}
	}
	for _, want := range []string{"Procs", "Threads", "Goroutines", "Tasks", "GC"} {
		if !procs[want] {
			t.Errorf("no process %q in the viewer", want)
		}
	}
	for _, want := range []string{"P0", "G1 main.main", "Tasks", "GC cycles", "Stop-the-world"} {
		if !threads[want] {
			t.Errorf("no row %q in the viewer", want)
		}
	}
	regions := false
	for name := range threads {
		regions = regions || strings.HasSuffix(name, " regions")
	}
	if !regions {
		t.Error("no regions row in the viewer")
	}
	for row, name := range rep.ThreadNames {
		if !threads[name] {
			t.Errorf("row %q of the file is not in the viewer", name)
		}
		if got, want := slicesIn[row], len(rep.Slices[row]); got != want {
			t.Errorf("row %q: the viewer has %d slices, the file %d", name, got, want)
		}
	}
	if res.Flows != len(rep.Flows) {
		t.Errorf("the viewer bound %d flows, the file has %d", res.Flows, len(rep.Flows))
	}
	if res.Frames != len(rep.StackFrames) {
		t.Errorf("the viewer has %d stack frames, the file %d", res.Frames, len(rep.StackFrames))
	}
	t.Logf("%d processes, %d rows, %d flows, %d frames", len(res.Processes), len(threads), res.Flows, res.Frames)
}

// viewInCatapult loads data in Go's trace viewer in headless Chromium and
// returns what the import gave, failing t on any error or warning.
func viewInCatapult(t *testing.T, data []byte) viewerResult {
	t.Helper()
	static := filepath.Join(testtraces.GOROOT(t), "src", "internal", "trace", "traceviewer", "static")
	if _, err := os.Stat(filepath.Join(static, "trace_viewer_full.html")); err != nil {
		t.Fatalf("Go's trace viewer is missing: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir(static))))
	mux.HandleFunc("/trace.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, viewerPage)
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	bctx := browsertest.Start(t, 2*time.Minute)

	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Error())
		case *cdpruntime.EventConsoleAPICalled:
			if ev.Type == cdpruntime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console error: "+strings.Join(args, " "))
			}
		}
	})

	var raw json.RawMessage
	err := chromedp.Run(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.Poll(`window.result`, &raw, chromedp.WithPollingTimeout(90*time.Second)),
	)
	if err != nil {
		t.Fatalf("loading the viewer: %v", err)
	}
	var res viewerResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	mu.Lock()
	for _, p := range problems {
		t.Errorf("in the page: %s", p)
	}
	mu.Unlock()
	if !res.OK {
		t.Fatalf("the viewer did not import the trace: %s", res.Error)
	}
	for _, w := range res.Warnings {
		t.Errorf("import warning: %s", w)
	}
	return res
}

// TestCatapultSamples loads a trace with CPU profile samples and checks
// that the viewer imported the samples array, every entry on its thread
// with its stack, without a warning.
func TestCatapultSamples(t *testing.T) {
	data, rep := convertChecked(t, "../../testdata/cpuprofile.go1.26.trace")
	if len(rep.Samples) == 0 {
		t.Fatal("no samples array in the converted cpuprofile sample")
	}
	res := viewInCatapult(t, data)
	if res.Samples != len(rep.Samples) {
		t.Errorf("the viewer imported %d samples, the file has %d", res.Samples, len(rep.Samples))
	}
}

// convertChecked converts a sample and checks the output.
func convertChecked(t *testing.T, path string) ([]byte, *chromecheck.Report) {
	t.Helper()
	data, _ := convert(t, path)
	rep, err := chromecheck.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, rep
}
