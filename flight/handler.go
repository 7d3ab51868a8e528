package flight

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/otel"
)

// perfettoUI is the Perfetto UI, which the index page links to and the
// trace responses allow to fetch them.
const perfettoUI = "https://ui.perfetto.dev"

// format is an output of the Handler.
type format struct {
	name        string // the value of ?format=
	ext         string
	contentType string
	title       string
}

var formats = []format{
	{"perfetto", ".pftrace", "application/octet-stream", "Perfetto"},
	{"chrome", ".json", "application/json", "Chrome JSON"},
	{"json-otlp", ".otlp.jsonl", "application/x-ndjson", "OTLP JSON, one ExportTraceServiceRequest a line"},
	{"trace", ".trace", "application/octet-stream", "Go execution trace, for go tool trace"},
}

// formatAliases are other names ?format= takes: those of the files'
// extensions, and otlp for the format of trace2x otlp --json.
var formatAliases = map[string]string{
	"pftrace":    "perfetto",
	"json":       "chrome",
	"otlp":       "json-otlp",
	"jsonl":      "json-otlp",
	"otlp.jsonl": "json-otlp",
}

func formatByName(name string) (format, bool) {
	if a, ok := formatAliases[name]; ok {
		name = a
	}
	for _, f := range formats {
		if f.name == name {
			return f, true
		}
	}
	return format{}, false
}

// Handler serves the recorder's window, converted, and live captures.
// Mount it under a path that ends in a slash, on an address only
// operators reach (it shows the program's stacks and annotations):
//
//	mux.Handle("/debug/trace2x/", rec.Handler())
//
// Under that path:
//
//   - / is an HTML page linking to the rest, and opening the window in
//     ui.perfetto.dev.
//   - window.pftrace, window.json, window.otlp.jsonl and window.trace are
//     the window as it is now, in Perfetto, Chrome JSON, OTLP JSON (one
//     ExportTraceServiceRequest a line) and as the execution trace itself;
//     ?format=perfetto|chrome|json-otlp|trace on / does the same (or
//     pftrace, json, otlp.jsonl, jsonl or otlp). One
//     window is converted at a time; other requests wait their turn, so
//     that several at once do not multiply the memory a conversion takes.
//     A client that takes nothing of its response for 30 seconds is cut
//     off, so that it does not keep the others waiting.
//   - capture.pftrace?seconds=N (and the other extensions, or
//     ?seconds=N&format=... on /) records the next N seconds with
//     runtime/trace.Start and streams them out converted. It fails with
//     409 Conflict while another trace (net/http/pprof's
//     /debug/pprof/trace, or another capture) is running. Stop ends a
//     capture under way, which serves what it recorded until then;
//     after Stop, the window and captures answer 503.
//
// The index page's link opens ui.perfetto.dev and hands it the window by
// postMessage, fetched by the page from this address: the UI itself
// fetches traces only from https: and a few local addresses. The trace
// responses also carry CORS headers that let the UI fetch them by URL,
// which the link's ?url= form (for a browser without scripts) asks of it
// on an https: address.
//
// A request that another site's page makes (by the browser's
// Sec-Fetch-Site) is refused with 403: an image on any page the operator
// opens could otherwise start captures. A page that a DNS name of its own
// rebinds to the handler's address is not another site to the browser;
// where that matters (the handler on 127.0.0.1 of a machine with a
// browser), wrap it in a check of the request's Host.
func (r *Recorder) Handler() http.Handler {
	if r.off() {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the flight recorder did not start", http.StatusServiceUnavailable)
		})
	}
	return http.HandlerFunc(r.serveHTTP)
}

func (r *Recorder) serveHTTP(w http.ResponseWriter, req *http.Request) {
	r.stats.served.Add(1)
	r.markOwn(req)
	if req.Method != http.MethodGet && req.Method != http.MethodHead && req.Method != http.MethodOptions {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := req.URL.Query()
	var f format
	capture, ok := false, false
	if strings.HasSuffix(req.URL.Path, "/") {
		if q.Get("format") == "" && q.Get("seconds") == "" {
			if req.Method == http.MethodOptions {
				w.Header().Set("Allow", "GET, HEAD, OPTIONS")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if err := r.serveIndex(w, req); err != nil {
				r.stats.handlerErrors.Add(1)
				r.noteError(err)
			}
			return
		}
		name := q.Get("format")
		if name == "" {
			name = "perfetto"
		}
		if f, ok = formatByName(name); !ok {
			http.Error(w, fmt.Sprintf("unknown format %q: want perfetto, chrome, json-otlp or trace (or pftrace, json, otlp, jsonl, otlp.jsonl)", name), http.StatusBadRequest)
			return
		}
		capture = q.Get("seconds") != ""
	} else {
		base := path.Base(req.URL.Path)
		what, ext, _ := strings.Cut(base, ".")
		for _, g := range formats {
			if "."+ext == g.ext {
				f, ok = g, true
			}
		}
		if !ok || (what != "window" && what != "capture") {
			http.NotFound(w, req)
			return
		}
		capture = what == "capture"
		// A query that asks for something else than the name does is
		// refused, not served as the name says.
		if name := q.Get("format"); name != "" {
			if g, known := formatByName(name); !known || g.name != f.name {
				http.Error(w, fmt.Sprintf("format=%s asks for another format than %s does: give one or the other", name, base), http.StatusBadRequest)
				return
			}
		}
		if !capture && q.Get("seconds") != "" {
			http.Error(w, fmt.Sprintf("%s is the window as it is now and takes no seconds: capture%s?seconds=N records the next N seconds", base, f.ext), http.StatusBadRequest)
			return
		}
	}

	if req.Method != http.MethodOptions && !fromThisSite(req) {
		// Another site's page would start captures (an <img> whose
		// source is capture.pftrace?seconds=60 needs no CORS) and
		// conversions, whose answers it cannot read, but which cost the
		// service a trace and CPU.
		http.Error(w, "refused: a request from another site's page; open the address itself, or follow the index page's link", http.StatusForbidden)
		return
	}

	// The UI is a public https page fetching from this address: the
	// browser asks, before and with the request, whether that is allowed.
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", perfettoUI)
	h.Set("Access-Control-Allow-Private-Network", "true")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "*")
	if req.Method == http.MethodOptions {
		return
	}

	var err error
	if capture {
		err = r.serveCapture(w, req, f)
	} else {
		err = r.serveWindow(w, req, f)
	}
	if err != nil {
		r.stats.handlerErrors.Add(1)
		r.noteError(err)
	}
}

// fromThisSite reports whether a request is not one another site's page
// makes: a request from a program (no Sec-Fetch-Site), the address typed
// or a link clicked (a navigation the user made), the index page's own
// fetch, or the Perfetto UI's.
func fromThisSite(req *http.Request) bool {
	if req.Header.Get("Origin") == perfettoUI {
		return true
	}
	switch req.Header.Get("Sec-Fetch-Site") {
	case "", "none", "same-origin":
		return true
	}
	return req.Header.Get("Sec-Fetch-Mode") == "navigate" && req.Header.Get("Sec-Fetch-User") == "?1"
}

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// respond sets the headers of a trace response and writes it with
// convert (only the headers, for HEAD). An error before the first byte is
// the response; after it, the connection is cut, so that the client sees
// a truncated response rather than a short one that looks whole. A client
// that went away, or took nothing for writeStall, is no error of the
// handler's: nil is returned, and nothing counted.
func (r *Recorder) respond(w http.ResponseWriter, req *http.Request, f format, what string, convert func(io.Writer) error) error {
	name := fmt.Sprintf("%s-%s-%s%s", safeName(r.name), what, time.Now().UTC().Format("20060102T150405Z"), f.ext)
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
	if req.Method == http.MethodHead {
		return nil
	}
	rc := http.NewResponseController(w)
	defer rc.SetWriteDeadline(time.Time{})
	sw := &stallWriter{w: w, rc: rc}
	cw := &countingWriter{w: sw}
	err := convert(cw)
	if err == nil {
		return nil
	}
	gone := sw.failed || req.Context().Err() != nil
	if cw.n == 0 && !gone {
		w.Header().Del("Content-Disposition")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return err
	}
	if !gone {
		r.stats.handlerErrors.Add(1)
		r.noteError(err)
	}
	panic(http.ErrAbortHandler)
}

// writeStall is how long a response waits for its client to take what it
// writes: one that takes nothing for that long (a stalled connection, a
// client that stopped reading) is cut off, so that it does not hold the
// window or the capture for the requests waiting their turn.
var writeStall = 30 * time.Second

// minWriteRate is what a client must take of a response in each
// writeStall: one that takes a trickle, never stalling outright, would
// hold the window's one conversion at a time for as long as it pleased.
const minWriteRate = 64 << 10

// stallWriter writes to w within writeStall, each write, and at least
// minWriteRate bytes in each writeStall, and notes a write that failed:
// the client's doing.
type stallWriter struct {
	w      io.Writer
	rc     *http.ResponseController
	failed bool

	since time.Time // the start of the current writeStall
	taken int64     // bytes written since then
}

func (s *stallWriter) Write(p []byte) (int, error) {
	now := time.Now()
	if s.since.IsZero() {
		s.since = now
	}
	if now.Sub(s.since) >= writeStall {
		if s.taken < minWriteRate {
			s.failed = true
			return 0, fmt.Errorf("the client took %d bytes in %v, under %d", s.taken, now.Sub(s.since).Round(time.Millisecond), minWriteRate)
		}
		s.since, s.taken = now, 0
	}
	_ = s.rc.SetWriteDeadline(now.Add(writeStall)) // not every writer can
	n, err := s.w.Write(p)
	s.taken += int64(n)
	if err != nil {
		s.failed = true
	}
	return n, err
}

func (r *Recorder) serveWindow(w http.ResponseWriter, req *http.Request, f format) error {
	if r.stopped.Load() {
		http.Error(w, errStopped.Error(), http.StatusServiceUnavailable)
		return nil // the program's doing, not the handler's
	}
	if req.Method == http.MethodHead {
		return r.respond(w, req, f, "window", nil) // the headers, with no copy of the window
	}
	// One window's snapshot and conversion at a time (see windowSlot):
	// a request waits for its turn, and leaves if its client does.
	r.windowSlotOnce.Do(func() { r.windowSlot = make(chan struct{}, 1) })
	select {
	case r.windowSlot <- struct{}{}:
		defer func() { <-r.windowSlot }()
	case <-req.Context().Done():
		return nil // the client is gone: nothing to answer, nothing wrong
	}
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		if r.stopped.Load() {
			// Stop came while the request waited its turn.
			http.Error(w, errStopped.Error(), http.StatusServiceUnavailable)
			return nil
		}
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return err
	}
	return r.respond(w, req, f, "window", func(out io.Writer) error {
		return r.convert(req.Context(), out, bytes.NewReader(buf.Bytes()), f)
	})
}

// convert writes the trace in in to out in format f. It stops when ctx
// (the request's) is done: a client that went away.
func (r *Recorder) convert(ctx context.Context, out io.Writer, in io.Reader, f format) error {
	switch f.name {
	case "perfetto":
		return r.writePerfetto(ctx, out, in)
	case "chrome":
		cw := chromejson.NewWriter(out, chromejson.WithVersion(version()))
		return r.mapTo(ctx, in, cw, cw.Close)
	case "json-otlp":
		_, err := otel.Convert(ctx, ctxReader{ctx, in}, otel.NewJSONExporter(out), r.otelOptions()...)
		return err
	default:
		_, err := io.Copy(out, in)
		return err
	}
}

func (r *Recorder) serveCapture(w http.ResponseWriter, req *http.Request, f format) error {
	secs, err := strconv.ParseFloat(req.URL.Query().Get("seconds"), 64)
	d := time.Duration(secs * float64(time.Second))
	if err != nil || d <= 0 || d > r.cfg.maxCapture {
		http.Error(w, fmt.Sprintf("seconds: want a number of seconds up to %v", r.cfg.maxCapture.Seconds()), http.StatusBadRequest)
		return nil
	}
	if r.stopped.Load() {
		http.Error(w, "flight: cannot start a capture: the recorder is stopped", http.StatusServiceUnavailable)
		return nil
	}
	if !r.captureMu.TryLock() {
		http.Error(w, "a live capture is already running", http.StatusConflict)
		return nil
	}
	defer r.captureMu.Unlock()
	if req.Method == http.MethodHead {
		return r.respond(w, req, f, "capture", nil) // the headers, with no capture
	}
	sp := newSpool()
	if err := trace.Start(sp); err != nil {
		http.Error(w, fmt.Sprintf("cannot start a capture: %v (is /debug/pprof/trace running?)", err), http.StatusConflict)
		return nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), d)
	stopped := make(chan struct{})
	go func() {
		// Stop ends a capture under way, as the program's shutdown asks:
		// what it recorded until then is served.
		select {
		case <-ctx.Done():
		case <-r.quit:
		}
		trace.Stop() // returns when everything is written to sp
		sp.close()
		close(stopped)
	}()
	defer func() {
		cancel()
		sp.abandon() // the tracer never waits for a reader that stopped
		<-stopped
	}()
	return r.respond(w, req, f, "capture", func(out io.Writer) error {
		return r.convert(req.Context(), out, sp, f)
	})
}

// spool passes the tracer's output to the conversion without ever making
// the tracer wait: the runtime's trace reader also feeds the flight
// recorder, which a slow client must not hold up.
type spool struct {
	mu        sync.Mutex
	cond      sync.Cond
	chunks    [][]byte
	closed    bool
	abandoned bool
}

func newSpool() *spool {
	s := &spool{}
	s.cond.L = &s.mu
	return s
}

func (s *spool) Write(b []byte) (int, error) {
	s.mu.Lock()
	if !s.abandoned {
		s.chunks = append(s.chunks, bytes.Clone(b))
		s.cond.Signal()
	}
	s.mu.Unlock()
	return len(b), nil
}

func (s *spool) Read(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.chunks) == 0 {
		if s.closed {
			return 0, io.EOF
		}
		s.cond.Wait()
	}
	n := copy(b, s.chunks[0])
	if n == len(s.chunks[0]) {
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
	} else {
		s.chunks[0] = s.chunks[0][n:]
	}
	return n, nil
}

// close ends the stream: reads return EOF once the chunks are read.
func (s *spool) close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// abandon drops what is spooled and what comes: nobody reads it.
func (s *spool) abandon() {
	s.mu.Lock()
	s.abandoned, s.chunks = true, nil
	s.mu.Unlock()
}

var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Name}}: trace2x flight recorder</title>
<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.4}td,th{padding:0 1em 0 0;text-align:left}</style></head>
<body>
<h1>{{.Name}}: flight recorder</h1>
<p>The last {{.MinAge}} or so of the program's execution trace, as it is now:</p>
<ul>
<li><a id="open" href="{{.Perfetto}}" data-ui="{{.UI}}" data-trace="window.pftrace" data-title="{{.Name}}">Open in ui.perfetto.dev</a><span id="status"></span> (this page fetches the trace and hands it to the UI in the browser; the trace goes nowhere else)</li>
{{range .Formats}}<li><a href="window{{.Ext}}">{{.Title}}</a> (window{{.Ext}})</li>
{{end}}</ul>
<h2>Live capture</h2>
<form action="." method="get">
Record the next <input name="seconds" type="number" value="{{.Capture.Value}}" min="{{.Capture.Min}}" max="{{.Capture.Max}}" style="width:4em"> seconds as
<select name="format">{{range .Formats}}<option value="{{.Name}}">{{.Title}}</option>{{end}}</select>
<button type="submit">Capture</button>
</form>
<h2>Snapshots</h2>
<table>
<tr><th>requests seen</th><td>{{.Stats.Requests}}</td></tr>
<tr><th>triggers</th><td>{{.Stats.Triggers}}</td></tr>
<tr><th>snapshots taken</th><td>{{.Stats.Snapshots}} ({{.Stats.SnapshotErrors}} failed)</td></tr>
<tr><th>exported</th><td>{{.Stats.Exports}} ({{.Stats.ExportErrors}} failed)</td></tr>
<tr><th>spans</th><td>{{.Stats.Spans}} ({{.Stats.SpansFailed}} failed{{if .Stats.SpansStopped}}; the rest of {{.Stats.SpansStopped}} snapshots not converted after a failure{{end}})</td></tr>
<tr><th>files</th><td>{{.Stats.Files}} written, {{.Stats.FilesRemoved}} removed, {{.Stats.FileErrors}} failed{{if .Dir}}, in {{.Dir}}{{end}}</td></tr>
{{if .Stats.LastError}}<tr><th>last error</th><td>{{.Stats.LastErrorTime.Format "2006-01-02 15:04:05Z07:00"}}: {{.Stats.LastError}}</td></tr>{{end}}
</table>
<script>
// The UI fetches a trace named by ?url= only from https: and a few local
// addresses (its Content-Security-Policy), not from a program's own
// http://host:port. So the page fetches the window itself, from its own
// origin, and hands it to the UI by postMessage after the UI answers PING
// with PONG, as Perfetto documents for such pages. The link's href, the
// ?url= form, is what a browser without scripts follows.
// The ?url= link names the window by the address this page was loaded
// from, which a proxy in front of the program may have changed.
const openLink = document.getElementById("open");
openLink.href = openLink.dataset.ui + "/#!/?url=" + new URL(openLink.dataset.trace, location.href).href;
openLink.addEventListener("click", async (ev) => {
  const link = ev.currentTarget, status = document.getElementById("status");
  ev.preventDefault();
  const ui = window.open(link.dataset.ui + "/#!/"); // in the click, or a pop-up blocker stops it
  if (!ui) { location.href = link.href; return; }
  const say = (s) => { status.textContent = " (" + s + ")"; };
  try {
    say("fetching the window");
    const resp = await fetch(link.dataset.trace, {cache: "no-store"});
    if (!resp.ok) throw new Error(resp.status + " " + (await resp.text()).trim());
    const buffer = await resp.arrayBuffer();
    say("waiting for the UI");
    const ping = setInterval(() => ui.postMessage("PING", link.dataset.ui), 50);
    window.addEventListener("message", function pong(e) {
      if (e.source !== ui || e.origin !== link.dataset.ui || e.data !== "PONG") return;
      clearInterval(ping);
      window.removeEventListener("message", pong);
      ui.postMessage({perfetto: {buffer, title: link.dataset.title + " (window)", fileName: "window.pftrace"}}, link.dataset.ui, [buffer]);
      say("sent to the UI");
    });
  } catch (err) {
    say("failed: " + err.message);
  }
});
</script>
</body></html>
`))

func (r *Recorder) serveIndex(w http.ResponseWriter, req *http.Request) error {
	type fmtLink struct{ Name, Ext, Title string }
	var links []fmtLink
	for _, f := range formats {
		links = append(links, fmtLink{f.name, f.ext, f.title})
	}
	dir := ""
	if r.dir != nil {
		dir = r.dir.dir
	}
	ui := perfettoUI
	if r.ui != "" {
		ui = r.ui
	}
	data := struct {
		Name, Dir    string
		MinAge       any
		Capture      captureField
		Perfetto, UI template.URL
		Formats      []fmtLink
		Stats        Stats
	}{
		Name:    r.name,
		Dir:     dir,
		MinAge:  r.cfg.minAge,
		Capture: newCaptureField(r.cfg.maxCapture),
		// The UI takes the trace's URL as it is, and fetches it without a
		// query: hence window.pftrace rather than ?format=perfetto.
		Perfetto: template.URL(ui + "/#!/?url=" + windowURL(req)),
		UI:       template.URL(ui),
		Formats:  links,
		Stats:    r.Stats(),
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return indexPage.Execute(w, data)
}

// windowURL is the absolute URL of window.pftrace beside the index page
// that req asks for, as the browser resolves the page's relative links.
// It starts from the request's target as the client sent it
// (RequestURI), not from req.URL, whose path lacks whatever prefix a mux
// or http.StripPrefix took off on the way here.
func windowURL(req *http.Request) string {
	page := &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath}
	if u, err := url.ParseRequestURI(req.RequestURI); err == nil && u.Path != "" {
		page = &url.URL{Path: u.Path, RawPath: u.RawPath}
	}
	page.Scheme, page.Host = "http", req.Host
	if req.TLS != nil {
		page.Scheme = "https"
	}
	return page.ResolveReference(&url.URL{Path: "window.pftrace"}).String()
}

// captureField is the live capture form's number of seconds: within
// WithMaxCapture, and a value the browser accepts (one whole step of 1
// from the minimum), or it refuses to submit the form.
type captureField struct{ Value, Min, Max string }

func newCaptureField(limit time.Duration) captureField {
	most := limit.Seconds()
	lo, hi := 1.0, math.Floor(most)
	if most < 1 {
		lo, hi = most, most
	}
	val := min(5, hi)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	return captureField{Value: f(val), Min: f(lo), Max: f(hi)}
}
