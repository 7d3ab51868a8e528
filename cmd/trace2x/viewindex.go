package main

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/oserr"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// How view tells a trace the UI in a browser holds whole (largePerfetto
// rows) from one it does not. The rows a byte of trace makes vary with
// what the program did: 3.5-3.8 bytes a row on an HTTP service under load
// and on the synthetic traces, 6 on one rich in tasks and regions, under
// 1 where goroutines switch through iter.Pull. So view converts a trace
// file of up to viewTryBytesPerRow bytes a row of the budget (a second or
// so of conversion) whole at once; of a larger one it first converts a
// sample (see sampleBytesPerRow), and converts it whole only if the
// bytes a row there say it makes at most predictMargin of the budget.
// Either way the whole conversion has the budget as the writer's row
// limit (see perfetto.WithRowLimit): one that stays within it is served
// whole, one that goes past it gets the index page, in windows sized by
// the bytes a row its first part took. A file the sample says is too
// large gets the index at once, in windows sized by the sample's bytes a
// row (traceBytesPerRow if there is no sample), and each window is
// converted with the row limit too, so that none the UI is given is more
// than it holds.
var (
	viewTryBytesPerRow int64 = 1
	traceBytesPerRow   int64 = 2
)

const (
	// windowMargin is the share of the budget a window is sized for:
	// the bytes a row were measured on a part, and other parts can be
	// denser.
	windowMargin = 0.8
	// predictMargin is the share of the budget a trace's rows, predicted
	// from a sample, may be for it to be converted whole.
	predictMargin = 0.9
)

// viewWindow is a run of consecutive generations that view converts on
// demand, small enough for the UI in a browser.
type viewWindow struct {
	N           int // from 1
	First, Last int // generations, from 1
	From, To    time.Duration
	Bytes       int64
	GCs         int
	// Goroutines are those created in the window, Alive those alive at
	// its start (for the first, those that existed before the trace);
	// ended counts the goroutines that ended in it, for Alive.
	Goroutines, Alive, ended int
	// Uncounted is set when counting stopped before the window's end (a
	// damaged trace): its counts are not shown.
	Uncounted bool
	// Gens are its generations, each of which the page also offers alone:
	// a window as large as the browser holds takes the UI a while to
	// load, and a generation (about a second of trace) is a small part of
	// it.
	Gens []viewGen
}

// viewGen is one generation that view converts on demand.
type viewGen struct {
	N        int // from 1
	From, To time.Duration
	Bytes    int64
}

// indexServer serves the index page of a trace too large to view whole,
// and each of its windows converted to Perfetto when the UI asks.
type indexServer struct {
	ui          string // the Perfetto UI the links open; "" for ui.perfetto.dev
	in          *input
	file        *os.File
	name        string // the trace's short name
	windows     []viewWindow
	resolution  time.Duration
	bytesPerRow float64 // bytes of trace a row in Perfetto, as the windows were sized
	start       int64   // the trace's start, in its clock

	mu      sync.Mutex
	counted bool        // the counts in windows are final
	asked   bool        // a window or generation was asked for
	closed  bool        // the server is stopping: no more parts
	parts   []*prefetch // the parts converted or under way, oldest first
	// countErr is why counting stopped before the trace's end, and
	// countedTo how far it got: the windows after that are not counted.
	countErr  string
	countedTo time.Duration
}

// newIndexServer splits the indexed trace into windows of at most
// maxBytes of trace each, maxBytes being what the budget of rows makes at
// bytesPerRow.
func newIndexServer(in *input, file *os.File, idx *tracefile.Index, bytesPerRow float64, maxBytes int64, resolution time.Duration) *indexServer {
	gens := idx.Generations
	start := gens[0].Start
	s := &indexServer{in: in, file: file, name: in.shortName(), resolution: resolution, bytesPerRow: bytesPerRow, start: start}
	for i := 0; i < len(gens); {
		w := viewWindow{N: len(s.windows) + 1, First: i + 1, From: time.Duration(gens[i].Start - start)}
		for i < len(gens) && (w.Bytes == 0 || w.Bytes+gens[i].Size <= maxBytes) {
			w.Bytes += gens[i].Size
			i++
		}
		w.Last = i
		for g := w.First - 1; g < w.Last; g++ {
			w.Gens = append(w.Gens, viewGen{N: g + 1, From: time.Duration(gens[g].Start - start), To: genEnd(gens, g, start), Bytes: gens[g].Size})
		}
		w.To = genEnd(gens, w.Last-1, start)
		s.windows = append(s.windows, w)
	}
	return s
}

// genEnd is where generation g ends in the view, as a time from start:
// generations overlap a little, so one ends where the next begins, and
// the last where the trace does.
func genEnd(gens []tracefile.Generation, g int, start int64) time.Duration {
	if g+1 < len(gens) {
		return time.Duration(gens[g+1].Start - start)
	}
	return time.Duration(gens[g].End - start)
}

// count runs one pass over the trace for the GC cycles and goroutines of
// each window, which the page shows once they are known.
func (s *indexServer) count() error {
	c := &windowCounter{s: s}
	sum, err := mapping.MapFile(s.file, s.in.size, c, mapping.WithInputName(s.in.name))
	s.mu.Lock()
	if err != nil {
		s.countErr, s.countedTo = err.Error(), 0
		if sum != nil {
			s.countedTo = time.Duration(int64(sum.End) - s.start)
		}
		for i := range s.windows {
			// A window the pass did not read to its end is not counted.
			s.windows[i].Uncounted = s.windows[i].To > s.countedTo
		}
	}
	// Alive at a window's start: what the windows before it created and
	// did not end. A goroutine that existed before the trace counts as
	// alive at the first window's start (see Goroutine).
	alive := 0
	for i := range s.windows {
		w := &s.windows[i]
		alive += w.Alive
		w.Alive = alive
		alive += w.Goroutines - w.ended
	}
	s.counted = true
	s.mu.Unlock()
	return err
}

// windowCounter counts GC cycles by the window they began in, and
// goroutines by the window they were created and ended in (the first,
// as alive at its start, for those that existed before the trace).
type windowCounter struct {
	mapping.NopSink
	s     *indexServer
	start mapping.Time
}

func (c *windowCounter) Begin(m *mapping.Meta) error { c.start = m.Start; return nil }

func (c *windowCounter) window(t mapping.Time) *viewWindow {
	d := time.Duration(t - c.start)
	ws := c.s.windows
	for i := len(ws) - 1; i > 0; i-- {
		if d >= ws[i].From {
			return &ws[i]
		}
	}
	return &ws[0]
}

func (c *windowCounter) Range(r *mapping.Range) error {
	if r.Kind == mapping.RangeGCMark {
		c.s.mu.Lock()
		c.window(r.Start).GCs++
		c.s.mu.Unlock()
	}
	return nil
}

func (c *windowCounter) Goroutine(g *mapping.Goroutine) error {
	if !g.Updated {
		c.s.mu.Lock()
		if g.Flags&mapping.OpenStart != 0 {
			c.s.windows[0].Alive++
		} else {
			c.window(g.Created).Goroutines++
		}
		c.s.mu.Unlock()
	}
	return nil
}

func (c *windowCounter) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		c.s.mu.Lock()
		c.window(e.Time).ended++
		c.s.mu.Unlock()
	}
	return nil
}

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{"size": sizeText, "ms": ms}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Name}}: trace2x</title>
{{if not .Counted}}<meta http-equiv="refresh" content="3">{{end}}
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right}tr:nth-child(even){background:#f4f4f4}</style>
</head><body>
<h1>{{.Name}}</h1>
<p>{{.Size}} of trace, {{.Gens}} generation{{if ne .Gens 1}}s{{end}}, {{.Duration}}: {{if .Fits}}few enough rows for the Perfetto UI in a browser to hold it whole (<code>trace2x view</code> without <code>--index</code> serves it so), shown here in parts.{{else if .Near}}about as many rows as the Perfetto UI in a browser holds at once, too near that to convert whole from an estimate, so shown in parts.{{else}}more than the Perfetto UI in a browser holds at once.{{end}}
Each window below is converted when the UI opens it; the trace never leaves this machine.</p>
<p>A whole window is about as much as the UI in a browser holds, and takes it a while to load; a single generation, about a second of trace, is a small part of that.</p>
<p>Other ways in: <code>trace2x view --task TYPE</code>, <code>--region TYPE</code> or <code>--goroutine ID</code> serves what a task, region or goroutine did over the whole trace;
<code>trace2x perfetto -o {{.Base}}.pftrace {{.Name}}</code> and Perfetto's native <code>trace_processor --httpd {{.Base}}.pftrace</code> open it whole in the UI, which then uses that process instead of the browser's memory.</p>
<table><tr><th>window</th><th>from</th><th>to</th><th>generations</th><th>size</th><th>GC cycles</th><th>goroutines created</th><th>alive at its start</th><th></th><th style="text-align:left">or one generation</th></tr>
{{range .Windows}}<tr><td>{{.N}}</td><td>{{ms .From}}</td><td>{{ms .To}}</td><td>{{.First}}{{if ne .First .Last}}–{{.Last}}{{end}}</td><td>{{size .Bytes}}</td>
{{if not $.Counted}}<td>…</td><td>…</td><td>…</td>{{else if .Uncounted}}<td>?</td><td>?</td><td>{{if eq .N 1}}{{.Alive}}{{else}}?{{end}}</td>{{else}}<td>{{.GCs}}</td><td>{{.Goroutines}}</td><td>{{.Alive}}</td>{{end}}
<td><a href="{{call $.Link .N}}">open in Perfetto</a></td>
<td style="text-align:left">{{if gt (len .Gens) 1}}{{range .Gens}}<a href="{{call $.GenLink .N}}" title="{{ms .From}} to {{ms .To}}">{{.N}}</a> {{end}}{{end}}</td></tr>
{{end}}</table>
{{if .CountErr}}<p><strong>Counting stopped</strong> at {{.CountedTo}}: {{.CountErr}}. The windows that reach past it are not counted (?), and may open only up to it.</p>{{end}}
</body></html>
`))

// pageData is what the index page shows.
type pageData struct {
	Name, Base    string // the trace's file name, and without its extension
	Duration      string
	Size          string
	Gens          int
	Fits          bool // the whole trace fits the UI's budget (--index)
	Near          bool // it does not, but is within predictMargin of it
	Windows       []viewWindow
	Counted       bool
	CountErr      string // why counting stopped early, if it did
	CountedTo     string
	Link, GenLink func(n int) string
}

func (s *indexServer) windowPath(n int) string {
	return fmt.Sprintf("/%s.%d.pftrace", urlName(strings.TrimSuffix(s.name, ".trace")), n)
}

func (s *indexServer) genPath(n int) string {
	return fmt.Sprintf("/%s.g%d.pftrace", urlName(strings.TrimSuffix(s.name, ".trace")), n)
}

// handler serves the page at / and the windows and generations, with the
// CORS headers the UI needs, at their paths. addr is where the UI fetches
// them from.
func (s *indexServer) handler(addr string, stderr io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		s.mu.Lock()
		d := pageData{Name: s.name, Base: s.in.baseName(), Windows: append([]viewWindow(nil), s.windows...), Counted: s.counted,
			CountErr: s.countErr, CountedTo: ms(s.countedTo)}
		s.mu.Unlock()
		last := d.Windows[len(d.Windows)-1]
		d.Gens = last.Last
		d.Duration = ms(last.To)
		d.Size = sizeText(s.in.size)
		d.Fits, d.Near = s.fits(), !s.fits() && s.rows() <= float64(largePerfetto)
		ui := cmp.Or(s.ui, perfettoUI)
		d.Link = func(n int) string { return fmt.Sprintf("%s/#!/?url=http://%s%s", ui, addr, s.windowPath(n)) }
		d.GenLink = func(n int) string { return fmt.Sprintf("%s/#!/?url=http://%s%s", ui, addr, s.genPath(n)) }
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := indexPage.Execute(w, d); err != nil {
			fmt.Fprintf(stderr, "trace2x: the index page: %v\n", err)
		}
	})
	// The browser asks for an icon with every page: no answer to log as
	// an error in its console.
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/", notFound)
	serve := func(path, what string, from, to time.Duration, gens int) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			allowUI(w, r)
			if r.Method == http.MethodOptions || !getOrHead(w, r) {
				return
			}
			if !uiRequest(r) {
				// A page of another site cannot read the answer; it must
				// not make the conversion run either.
				http.Error(w, "only the Perfetto UI may fetch this trace", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			if r.Method == http.MethodHead {
				// The part is converted as it is sent, so its length is
				// not known before: a HEAD gets the headers at once,
				// without a conversion.
				return
			}
			cw := &countingResponse{ResponseWriter: w}
			err := s.servePart(cw, path, from, to)
			var limit *perfetto.RowLimitError
			switch {
			case errors.As(err, &limit):
				// A valid trace of the part's beginning was served: say
				// where it stops, and what shows the rest.
				cut := time.Duration(int64(limit.Reached) - s.start)
				rest := "its generations open alone from the index page"
				if gens == 1 {
					rest = fmt.Sprintf("one generation holds more than that; trace2x view --from %s --to %s %s shows what follows", ms(cut), ms(to), s.in.name)
				}
				fmt.Fprintf(stderr, "trace2x: %s (%s to %s): cut at %s, at %d million rows in Perfetto, about as many as the UI in a browser holds: %s\n",
					what, ms(from), ms(to), ms(cut), largePerfetto/1_000_000, rest)
			case err != nil && clientGone(r, err):
				// A tab closed, or the UI reloaded: nothing to say, as for
				// the trace view serves whole.
			case err != nil:
				// The terminal says why; so does the answer, if it has not
				// begun (once it has, the UI reports a broken file).
				fmt.Fprintf(stderr, "trace2x: %s: %v\n", what, err)
				if cw.n == 0 {
					w.Header().Del("Content-Length")
					http.Error(w, fmt.Sprintf("trace2x: %s: %v", what, err), http.StatusInternalServerError)
				}
			}
		})
	}
	for _, win := range s.windows {
		serve(s.windowPath(win.N), fmt.Sprintf("window %d", win.N), win.From, win.To, len(win.Gens))
		for _, g := range win.Gens {
			serve(s.genPath(g.N), fmt.Sprintf("generation %d", g.N), g.From, g.To, 1)
		}
	}
	return mux
}

// clientGone reports whether err, of writing the answer to r, is the
// client's going away.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil || oserr.ConnReset(err)
}

// rowsText words about n rows.
func rowsText(n float64) string {
	switch {
	case n >= 100_000:
		return fmt.Sprintf("%.1f million rows", n/1e6)
	case n >= 1000:
		return fmt.Sprintf("%.0f thousand rows", n/1e3)
	}
	return fmt.Sprintf("%.0f rows", n)
}

// convert writes the trace from from to to (times from its start) to w as
// a Perfetto trace, reading only the generations it needs.
//
// What the conversion writes is held until the part's first item: a
// part whose pass fails before it (in a generation read before the
// window, to state what was going on at its start) writes nothing, so
// that its request is answered with the error, not with a trace of
// nothing but the mark of the cut, which the UI shows as an empty trace.
func (s *indexServer) convert(w io.Writer, from, to time.Duration) error {
	hw := &holdWriter{w: w}
	pw := perfetto.NewWriter(hw, viewOptions(s.name, s.bytesBetween(from, to))...)
	f := &mapping.Filter{From: mapping.Bound{Offset: from, Set: true}, To: mapping.Bound{Offset: to, Set: true}}
	sink := f.Sink(&firstItem{Sink: mapping.ThinCounters(pw, s.resolution), seen: hw.release})
	_, err := mapping.MapWindow(s.file, s.in.size, f.From, f.To, sink, mapping.WithInputName(s.in.name))
	if err != nil && !hw.released() {
		hw.discard()
		pw.Close() // its error is the pass's, or of the writing discarded
		return err
	}
	err = joinErrors(err, pw.Close())
	return joinErrors(err, hw.release())
}

// holdWriter holds what is written to it until release, then writes it
// and what follows to w; discard drops it and what follows instead. The
// Perfetto writer writes from goroutines of its own, release and discard
// come from the pass's.
type holdWriter struct {
	w io.Writer

	mu    sync.Mutex
	held  []byte
	state int8 // 0 holding, 1 released, -1 discarding
	err   error
}

func (h *holdWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.err != nil:
		return 0, h.err
	case h.state == 0:
		h.held = append(h.held, p...)
		return len(p), nil
	case h.state < 0:
		return len(p), nil
	}
	n, err := h.w.Write(p)
	h.err = err
	return n, err
}

// release writes what is held, and lets what follows through.
func (h *holdWriter) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != 0 {
		return h.err
	}
	h.state = 1
	if len(h.held) > 0 {
		_, h.err = h.w.Write(h.held)
	}
	h.held = nil
	return h.err
}

// released reports whether release was called.
func (h *holdWriter) released() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state > 0
}

// discard drops what is held and what follows, unless released.
func (h *holdWriter) discard() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == 0 {
		h.state, h.held = -1, nil
	}
}

// firstItem calls seen at the first item it passes on: the first thing of
// a window, behind the Filter that keeps to it. Declarations (of
// goroutines, Ps, threads, stacks) are not items: a pass declares what is
// alive at the window's start before it reaches it.
type firstItem struct {
	mapping.Sink
	seen func() error
	done bool
}

func (f *firstItem) item() error {
	if f.done {
		return nil
	}
	f.done = true
	return f.seen()
}

func (f *firstItem) GoroutineState(x *mapping.GoroutineState) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.GoroutineState(x)
}

func (f *firstItem) ProcRun(x *mapping.ProcRun) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.ProcRun(x)
}

func (f *firstItem) Range(x *mapping.Range) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Range(x)
}

func (f *firstItem) Task(x *mapping.Task) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Task(x)
}

func (f *firstItem) Region(x *mapping.Region) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Region(x)
}

func (f *firstItem) Log(x *mapping.Log) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Log(x)
}

func (f *firstItem) GoroutineEvent(x *mapping.GoroutineEvent) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.GoroutineEvent(x)
}

func (f *firstItem) Flow(x *mapping.Flow) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Flow(x)
}

func (f *firstItem) Counter(x *mapping.Counter) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Counter(x)
}

func (f *firstItem) CPUSample(x *mapping.CPUSample) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.CPUSample(x)
}

func (f *firstItem) Experimental(x *mapping.Experimental) error {
	if err := f.item(); err != nil {
		return err
	}
	return f.Sink.Experimental(x)
}

// bytesBetween is about how many bytes of trace lie between from and to
// (times from the trace's start).
func (s *indexServer) bytesBetween(from, to time.Duration) int64 {
	var n int64
	// Only the generations: the counts may be being written.
	for i := range s.windows {
		for _, g := range s.windows[i].Gens {
			if g.From < to && g.To > from {
				n += g.Bytes
			}
		}
	}
	return n
}

// allowUI sets the CORS headers with which the UI, a public https page,
// may fetch from this machine: the browser asks, before and with the
// request, whether that is allowed. A Perfetto UI served from this
// machine (its own build, on a port of localhost) may fetch too: no other
// site may read the trace.
func allowUI(w http.ResponseWriter, r *http.Request) {
	origin := perfettoUI
	if o := r.Header.Get("Origin"); loopbackOrigin(o) {
		origin = o
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Vary", "Origin")
	w.Header().Set("Access-Control-Allow-Private-Network", "true")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "*")
}

// notFound answers a request for nothing this view serves (a window or
// generation of another run, a mistyped link) so that the UI can read the
// 404 and say so, where an answer without CORS headers fails in the
// browser as a blocked fetch does; its preflight is answered as a part's.
// The UI's probe for a trace processor (/status) keeps a plain 404.
func notFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/status" {
		switch r.Method {
		case http.MethodOptions:
			allowUI(w, r)
			return
		case http.MethodGet, http.MethodHead:
			allowUI(w, r)
		}
	}
	http.NotFound(w, r)
}

// rows is about how many rows the whole trace makes in Perfetto.
func (s *indexServer) rows() float64 { return float64(s.in.size) / s.bytesPerRow }

// fits reports whether view would convert the trace whole were --index
// not given: the rows predicted leave the budget the margin an estimate
// needs (see indexFor).
func (s *indexServer) fits() bool { return s.rows() <= predictMargin*float64(largePerfetto) }

// serveIndex serves the index page until the command is interrupted.
func serveIndex(e *env, addr string, s *indexServer, open bool) error {
	ln, err := listen(addr, "the index")
	if err != nil {
		return err
	}
	srv := newServer(loopbackOnly(s.handler(ln.Addr().String(), e.stderr)))
	go srv.Serve(ln)
	defer s.background(e)()
	link := fmt.Sprintf("http://%s/", ln.Addr())
	fmt.Fprintf(e.stdout, "%s\n", link)
	windows := fmt.Sprintf("%d windows", len(s.windows))
	if len(s.windows) == 1 {
		windows = "one window (cut at the row budget if it goes past it)"
	}
	why := "too large for the Perfetto UI in one piece"
	switch {
	case s.fits():
		why = "few enough for the Perfetto UI in one piece, but --index asks for the index"
	case s.rows() <= float64(largePerfetto):
		why = "about as many as the Perfetto UI holds in one piece, too near that to convert whole from an estimate"
	}
	gens := ""
	// The counts of the windows are being written (see background):
	// only their generations, which stay, are read.
	for i := range s.windows {
		if len(s.windows[i].Gens) > 1 {
			gens = " and a generation at a time"
		}
	}
	fmt.Fprintf(e.stderr, "trace2x: %s is %s (about %s in Perfetto), %s; the page above opens it in %s%s (Ctrl-C to stop)\n",
		s.in.name, sizeText(s.in.size), rowsText(s.rows()), why, windows, gens)
	noteUIPort(e.stderr, ln.Addr(), cmp.Or(s.ui, perfettoUI))
	if open {
		if err := openBrowser(link); err != nil {
			fmt.Fprintf(e.stderr, "trace2x: could not open a browser: %v\n", err)
		}
	}
	ctx := e.context() // ends on Ctrl-C
	<-ctx.Done()
	// No waiting for a download or a conversion under way: Ctrl-C is how
	// the page is stopped.
	err = srv.Close()
	if s.broken() {
		return settled{errReported}
	}
	return err
}

// broken reports whether counting met the trace's damage, said as it did:
// the trace broke off, which Ctrl-C does not make a success.
func (s *indexServer) broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countErr != ""
}

// background counts the GC cycles and goroutines of the windows, for the
// page, and converts the first window ahead (see prefetch). With four
// cores or more the two run at once; with fewer, where each pass keeps
// two cores busy, the counts come first, since they help choose a
// window. The function it returns removes the files of the parts
// converted.
func (s *indexServer) background(e *env) (stop func()) {
	prefetch := func() {
		pre, err := createConverted()
		if err != nil {
			return
		}
		p := s.beginPrefetch(pre)
		if p == nil {
			pre.Close()
			temps.done(pre.Name(), func() error { return os.Remove(pre.Name()) })
			return
		}
		s.runPart(p)
	}
	together := runtime.GOMAXPROCS(0) >= 4
	if together {
		go prefetch()
	}
	go func() {
		if err := s.count(); err != nil {
			fmt.Fprintf(e.stderr, "trace2x: counting GC cycles and goroutines: %v\n", err)
		}
		if !together {
			prefetch()
		}
	}()
	return s.closeParts
}

// indexFor returns the index server for view's input when the input is a
// Go 1.22+ trace file that a sample says makes more rows in Perfetto than
// the UI in a browser holds, or always is asked, and nil otherwise.
func indexFor(in *input, opts *inputOpts, always bool, resolution time.Duration) *indexServer {
	if !always && in.size <= largePerfetto*viewTryBytesPerRow {
		return nil
	}
	file, idx := viewIndex(in, opts)
	if idx == nil || !always && len(idx.Generations) < 2 {
		// A stream, compressed, old or broken, or a single generation,
		// that no window would make smaller: converted whole, and cut at
		// the budget if need be (see viewConvert).
		return nil
	}
	bytesPerRow, ok := sampleBytesPerRow(in, file, idx, resolution)
	if !ok {
		bytesPerRow = float64(traceBytesPerRow)
	}
	// As fits tells.
	if !always && float64(in.size)/bytesPerRow <= predictMargin*float64(largePerfetto) {
		return nil
	}
	return newIndexServer(in, file, idx, bytesPerRow, int64(float64(largePerfetto)*bytesPerRow*windowMargin), resolution)
}

// sampleRows is how many rows view converts of a trace file it does not
// try whole, from the generation in its middle, to size its windows by
// the bytes of trace a row there: a fifth of a second or so. The start of
// a trace is often sparser than the rest: 4.8 bytes a row in the first
// half million rows of the 121 MB service trace, 4.1 over the whole.
var sampleRows int64 = 1_000_000

// sampleBytesPerRow measures the bytes of trace a row in Perfetto of the
// trace file from its middle generation on, and reports whether it could.
// The generations from there on, after the file's header, are a trace of
// their own, as a flight recorder's snapshot is: read so, they need no
// generation before them to start from.
func sampleBytesPerRow(in *input, file *os.File, idx *tracefile.Index, resolution time.Duration) (float64, bool) {
	gens := idx.Generations
	g := gens[len(gens)/2]
	r := io.MultiReader(io.NewSectionReader(file, 0, gens[0].Offset), io.NewSectionReader(file, g.Offset, idx.Size-g.Offset))
	w := perfetto.NewWriter(io.Discard, perfetto.WithCompression(false), perfetto.WithRowLimit(sampleRows))
	_, err := mapping.Map(r, mapping.ThinCounters(w, resolution), mapping.WithInputName(in.name))
	end := idx.Size
	var limit *perfetto.RowLimitError
	switch {
	case errors.As(err, &limit):
		end = bytesBefore(idx, int64(limit.Reached))
	case err != nil:
		return 0, false
	}
	read := end - bytesBefore(idx, g.Start)
	if read <= 0 || w.Rows() == 0 {
		return 0, false
	}
	return float64(read) / float64(w.Rows()), true
}

// viewIndex returns the file of view's input and its index of generations
// when it is a Go 1.22+ trace file that windows can be cut from, and nil
// otherwise.
// noIndex says why viewIndex gives no index of in: a trace broken off or
// damaged is common (a program that crashed), and the index's error says
// where.
func noIndex(in *input, opts *inputOpts) string {
	file, ok := in.ReadCloser.(*os.File)
	switch {
	case !opts.filter.Empty():
		return "a filter was given"
	case !ok || in.path == "" || in.size <= 0:
		return "it is not read from a file (a stream, or compressed)"
	}
	idx, err := tracefile.Read(file, in.size)
	switch {
	case errors.Is(err, tracefile.ErrOldFormat):
		return "its format is before Go 1.22, without generations"
	case err != nil:
		return fmt.Sprintf("its generations do not index: %v", err)
	case idx.Size != in.size:
		return fmt.Sprintf("its generations end at byte %d of %d", idx.Size, in.size)
	case len(idx.Generations) == 0:
		return "it has no generation"
	}
	return "it has one generation"
}

func viewIndex(in *input, opts *inputOpts) (*os.File, *tracefile.Index) {
	file, ok := in.ReadCloser.(*os.File)
	if !ok || in.path == "" || in.size <= 0 || !opts.filter.Empty() {
		return nil, nil
	}
	idx, err := tracefile.Read(file, in.size)
	if err != nil || idx.Size != in.size || len(idx.Generations) == 0 {
		return nil, nil
	}
	return file, idx
}

// indexAfter returns the index server for a trace file whose whole
// conversion went past the row budget after rows rows, when it had
// reached time end: its windows are sized by the bytes a row that part
// took, with a margin.
func indexAfter(in *input, file *os.File, idx *tracefile.Index, end mapping.Time, rows int64, resolution time.Duration) *indexServer {
	read := bytesBefore(idx, int64(end))
	bytesPerRow := float64(read) / float64(max(rows, 1))
	if read <= 0 {
		bytesPerRow = float64(traceBytesPerRow)
	}
	maxBytes := int64(float64(largePerfetto) * bytesPerRow * windowMargin)
	return newIndexServer(in, file, idx, bytesPerRow, max(maxBytes, 1), resolution)
}

// bytesBefore estimates the bytes of trace before time t, counting the
// generation t is in in proportion to its time.
func bytesBefore(idx *tracefile.Index, t int64) int64 {
	var n int64
	for _, g := range idx.Generations {
		switch {
		case t >= g.End:
			n += g.Size
		case t > g.Start:
			n += int64(float64(g.Size) * float64(t-g.Start) / float64(g.End-g.Start))
		}
	}
	return n
}

// mb and ms are for the page's template.
// sizeText gives n bytes in MB, or in kB under a megabyte, which a
// short trace is ("0.0 MB" said nothing).
func sizeText(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%d kB", (n+999)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// ms gives d to the millisecond, or to the microsecond under 10 ms, which
// a short trace's times are.
func ms(d time.Duration) string {
	if d < 10*time.Millisecond && d > -10*time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// uiOrigin reports whether a request with the Origin header origin may
// read a trace: none (a command such as curl), ui.perfetto.dev, or a page
// of this machine (see allowUI).
func uiOrigin(origin string) bool {
	return origin == "" || origin == perfettoUI || loopbackOrigin(origin)
}

// uiRequest reports whether r may be answered with a trace: it comes from
// the UI or a page of this machine (see uiOrigin), or from no page at all
// (curl, the address bar). A request a page of another site sends without
// an Origin (an <img>, a no-cors fetch) says so in Sec-Fetch-Site: it
// cannot read the answer, but must not make a conversion run or use up a
// serve.
func uiRequest(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "none", "same-origin":
			return true
		}
		return false
	}
	return uiOrigin(origin)
}

// loopbackOrigin reports whether origin is a page served by this machine
// over http: http://localhost, 127.0.0.1 or [::1], with or without a port.
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Path != "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
