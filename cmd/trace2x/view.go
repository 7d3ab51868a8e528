package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/oserr"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// perfettoUI is where view sends the browser.
const perfettoUI = "https://ui.perfetto.dev"

var viewCmd = &command{
	name:  "view",
	args:  "[--addr HOST:PORT] [--ui URL] [--open] [--index] [trace.out | -]",
	short: "convert to Perfetto and open the result in ui.perfetto.dev",
	long: `View converts the trace to a Perfetto trace in a temporary file, serves
it once on 127.0.0.1:9001 with the CORS headers ui.perfetto.dev needs, and
prints the link that opens it there:

	https://ui.perfetto.dev/#!/?url=http://127.0.0.1:9001/<name>.pftrace

The link comes as soon as the trace has begun, and the UI reads the file
as it is written, while the rest is converted. View exits when the UI has
fetched the whole trace (a fetch that ends before the trace was all sent,
by a tab closed or reloaded, leaves the link working; another still
under way then has 3 s to end before it is cut off), or on Ctrl-C. The trace never leaves the machine: the
UI runs in the browser and reads it from the local address. --open
starts the system's browser on the link. ui.perfetto.dev fetches local
traces from 127.0.0.1:9001 only; with another --addr, --ui gives the
address of a Perfetto UI served on this machine, which the links then
open.

View never serves more than the UI in a browser holds, about 15 million
rows in Perfetto, which a trace makes from 0.9 to 6 bytes of trace each,
depending on what the program did. A Go 1.22+ trace file of several
generations that goes past that by a sample of its middle generation
(for a file over 15 MB) gets an index page instead; one that goes past
it when converted whole has the part converted served at the link, and
the index page too. The page, at http://127.0.0.1:9001/, shows its time line in windows of
consecutive generations, sized by the bytes a row measured on the trace,
with their GC cycles and goroutines, each a link that opens the window
in ui.perfetto.dev, converted when the UI asks for it (the first is
converted ahead, while the page is read), and a link for
each generation (about a second of trace) alone, which the UI loads far
sooner. It serves until Ctrl-C. --index serves the page for any Go 1.22+
trace file read without a filter (not a stream, a compressed file or an
older format). Any other trace is cut where it reaches the limit, and view says
where, so that --from shows the rest.`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		resolution := counterFlag(fs)
		addr := fs.String("addr", "127.0.0.1:9001", "serve on `HOST:PORT` (the UI expects port 9001)")
		open := fs.Bool("open", false, "open the link in the system's browser")
		index := fs.Bool("index", false, "serve the index page of windows even for a trace small enough to view whole")
		ui := fs.String("ui", perfettoUI, "open the links in the Perfetto UI at `URL`: ui.perfetto.dev, or one served on this machine over http (such as http://127.0.0.1:10000)")
		return func(e *env, args []string) error {
			given := *ui
			*ui = strings.TrimSuffix(*ui, "/")
			if u, err := url.Parse(*ui); err == nil && strings.EqualFold(u.Hostname(), "localhost") {
				u.Host = strings.Replace(u.Host, u.Hostname(), "localhost", 1)
				*ui = u.String()
			}
			if *ui != perfettoUI && !loopbackOrigin(*ui) {
				return usageError{fmt.Sprintf("--ui %q: want %s or the http:// address of a Perfetto UI on this machine (localhost or a loopback IP), with no path, which alone may fetch the trace", given, perfettoUI)}
			}
			host, port, err := net.SplitHostPort(*addr)
			if err != nil {
				return usageError{fmt.Sprintf("--addr: %v", err)}
			}
			// A number out of range; a name ("http") is the system's to
			// look up.
			if n, err := strconv.Atoi(port); port != "" && strings.Trim(port, "-0123456789") == "" && (err != nil || n < 0 || n > 65535) {
				return usageError{fmt.Sprintf("--addr %s: the port must be from 0 to 65535", *addr)}
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usageError{"--addr must be a loopback address: the trace is served to this machine only"}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			if err := windowAfterEnd(in, inOpts); err != nil {
				return err
			}
			if s := indexFor(in, inOpts, *index, *resolution); s != nil {
				s.ui = *ui
				return serveIndex(e, *addr, s, *open)
			}
			if *index {
				served := "the trace is served whole"
				if !inOpts.filter.Empty() {
					served = "what the filters keep is served"
				}
				fmt.Fprintf(e.stderr, "trace2x: %s: note: no index page: it needs a trace file of the Go 1.22+ formats whose generations index cleanly, without a filter, and %s; %s, cut at the row budget if it goes past it\n", in.name, noIndex(in, inOpts), served)
			}
			ctx := e.context() // ends on Ctrl-C
			return viewWhole(ctx, e, in, inOpts, viewAt{*addr, *ui, *open}, *resolution)
		}
	},
}

// windowAfterEnd refuses, before anything is served, a --from of a file
// whose batch headers show the trace ends before it: view would give a
// link to a trace never made. The pass refuses such a window too, but
// only once it has read the window's generations; a window just past
// the last event, within what the headers cannot tell, is left to it
// (view gives the link only once the pass gives an item of the time
// line).
func windowAfterEnd(in *input, opts *inputOpts) error {
	from := opts.filter.From
	f, ok := in.ReadCloser.(*os.File)
	if !from.Set || !from.Wall.IsZero() || !ok || in.path == "" || in.size <= 0 {
		return nil
	}
	idx, err := tracefile.Read(f, in.size)
	if err != nil || len(idx.Generations) == 0 {
		return nil // the pass says what is wrong
	}
	gens := idx.Generations
	d := time.Duration(gens[len(gens)-1].End - gens[0].Start)
	if from.Offset <= d+time.Millisecond {
		return nil
	}
	return fmt.Errorf("%s: %w: it starts (%s) after the trace ends (%v after its start)", in.name, mapping.ErrWindow, from, d.Round(time.Microsecond))
}

// viewWhole converts view's input whole, with the budget as the row
// limit, and serves the file while it is written: the link is printed
// once the trace's first item is converted, and the UI's request follows the file as it
// grows (see prefetch), so that the UI reads and parses it while the rest
// is converted. The file is served once. A trace file whose conversion
// goes past the budget also gets its index page, of windows sized by the
// part converted, served until ctx is done (Ctrl-C): the link opens that
// part.
func viewWhole(ctx context.Context, e *env, in *input, inOpts *inputOpts, at viewAt, resolution time.Duration) error {
	// Listening first: a taken address fails before any work.
	ln, err := listen(at.addr, "the trace")
	if err != nil {
		return err
	}
	defer ln.Close()
	tmp, err := createConverted()
	if err != nil {
		return err
	}
	defer temps.done(tmp.Name(), func() error { return os.Remove(tmp.Name()) })
	defer tmp.Close()
	pre := newPrefetch("", tmp.Name())
	began := make(chan struct{})
	type outcome struct {
		v              viewed
		mapErr, outErr error
	}
	done := make(chan outcome, 1)
	go func() {
		v, mapErr := viewConvert(e, in, inOpts, pre.writer(tmp), resolution, began)
		var outErr error
		if v.index == nil && v.w != nil {
			if !v.cut && v.sum != nil {
				notePerfetto(e, in, v.w)
			}
			outErr = v.w.Close()
			if v.cut && errors.Is(outErr, perfetto.ErrRowLimit) {
				outErr = nil // said already; a write error would come first
			}
		}
		pre.finish(nil) // what was written is served; errors are said here
		done <- outcome{v, mapErr, outErr}
	}()
	var out *outcome
	select {
	case <-began:
	case o := <-done:
		out = &o
		if o.v.sum == nil || e.convertedNothing.Load() || o.mapErr != nil && !closed(began) {
			// Not a trace, one that broke off before its first
			// event, or a window past its last one: nothing to show,
			// and no link to nothing.
			return o.mapErr
		}
	}

	name := urlName(in.baseName()) + ".pftrace"
	served := make(chan struct{})
	var once sync.Once
	var index atomic.Pointer[http.Handler] // once past the budget
	var writing atomic.Int32               // the trace's answers being written
	mux := http.NewServeMux()
	mux.HandleFunc("/"+url.PathEscape(name), func(w http.ResponseWriter, r *http.Request) {
		allowUI(w, r)
		if r.Method == http.MethodOptions || !getOrHead(w, r) {
			return
		}
		if !uiRequest(r) {
			// A page of another site cannot read the answer; it must not
			// use up the one serve either.
			http.Error(w, "only the Perfetto UI may fetch this trace", http.StatusForbidden)
			return
		}
		writing.Add(1)
		defer writing.Add(-1)
		// Only a whole fetch uses up the serve: a tab closed or reloaded
		// while the UI reads, or a request for a range, leaves the link
		// working.
		cw := &countingResponse{ResponseWriter: w, ctx: r.Context()}
		whole := false
		if r.Method == http.MethodHead && !pre.finished() {
			// Its length is not known before the conversion ends: the
			// headers at once.
			w.Header().Set("Content-Type", "application/octet-stream")
			return
		}
		if pre.finished() {
			http.ServeFile(cw, r, tmp.Name()) // with its length, for the UI's progress
			st, err := os.Stat(tmp.Name())
			// With its length given, the client can read the whole file
			// and hang up before this handler returns: a client that
			// left is one that left before the last write.
			whole = err == nil && cw.n == st.Size() && !cw.left
		} else if pre.follow() {
			w.Header().Set("Content-Type", "application/octet-stream")
			pre.serve(cw)
			// The answer's end is written once this handler returns: a
			// client gone by now did not read it whole.
			whole = pre.finished() && r.Context().Err() == nil
		}
		if hook := viewServedHook.Load(); hook != nil {
			(*hook)(w, r)
		}
		whole = whole && cw.err == nil
		if rg := r.Header.Get("Range"); rg != "" && rg != "bytes=0-" {
			whole = false
		}
		if r.Method == http.MethodGet && whole {
			once.Do(func() { close(served) })
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h := index.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		notFound(w, r)
	})
	srv := newServer(loopbackOnly(mux))
	// Each connection's goroutine, which ends once its handler has
	// returned: view waits for them, so that none reads the file once it
	// is removed. A connection is counted as Serve accepts it, which Close
	// and Shutdown wait for: none is added while view waits.
	var conns sync.WaitGroup
	// The connections that have sent no request yet (a browser opens
	// some ahead), which Shutdown takes for idle only once 5 s old.
	var fresh sync.Map
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
			fresh.Store(c, nil)
		case http.StateClosed, http.StateHijacked:
			conns.Done()
			fresh.Delete(c)
		default:
			fresh.Delete(c)
		}
	}
	go srv.Serve(ln)
	defer func() {
		if ctx.Err() != nil {
			srv.Close() // interrupted: no waiting for a response to end
			return
		}
		// Lets a response being written finish, for a while, or until
		// Ctrl-C; a connection that has asked for nothing is closed at
		// once, or a browser's would hold view for the whole while.
		grace, cancel := context.WithTimeout(ctx, viewGrace)
		defer cancel()
		fresh.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		if srv.Shutdown(grace) != nil {
			cut := writing.Load() > 0
			srv.Close() // a handler cut off ends at its next write
			select {
			case <-served:
				if cut && ctx.Err() == nil {
					fmt.Fprintf(e.stderr, "trace2x: note: another fetch of %s, still under way %v later, was cut off: view serves the trace once\n", name, viewGrace)
				}
			default:
			}
		}
		conns.Wait()
	}()
	link := fmt.Sprintf("%s/#!/?url=http://%s/%s", at.ui, ln.Addr(), url.PathEscape(name))
	fmt.Fprintf(e.stdout, "%s\n", link)
	fmt.Fprintf(e.stderr, "trace2x: serving %s once on %s, until it is fetched whole; open the link above (Ctrl-C to stop)\n", name, ln.Addr())
	noteUIPort(e.stderr, ln.Addr(), at.ui)
	if at.open {
		if err := openBrowser(link); err != nil {
			fmt.Fprintf(e.stderr, "trace2x: could not open a browser: %v\n", err)
		}
	}
	if out == nil {
		select {
		case o := <-done:
			out = &o
		case <-ctx.Done():
		}
		// Both may be ready by now: a conversion that the interrupt
		// stopped is the interrupt, whichever the select took.
		if ctx.Err() != nil && (out == nil || errors.Is(out.mapErr, context.Cause(ctx))) {
			return fmt.Errorf("%s: %w before its conversion ended; nothing more is served", in.name, context.Cause(ctx))
		}
	}
	if e.convertedNothing.Load() {
		// A misspelt task or region: the file holds only what no filter
		// selects (GC, the Ps), which is no view of what was asked.
		return out.mapErr
	}
	if out.outErr == nil {
		out.outErr = tmp.Sync()
	}
	if out.outErr != nil {
		return joinErrors(out.mapErr, tempWriteError(tmp.Name(), out.outErr))
	}
	if out.mapErr != nil {
		// What was converted is served; say why it is short, and fail
		// once it has been.
		fmt.Fprintf(e.stderr, "trace2x: %v\n", out.mapErr)
	}
	if s := out.v.index; s != nil {
		s.ui = at.ui
		var h http.Handler = s.handler(ln.Addr().String(), e.stderr)
		index.Store(&h)
		defer s.background(e)()
		fmt.Fprintf(e.stdout, "http://%s/\n", ln.Addr())
		fmt.Fprintf(e.stderr, "trace2x: the first link opens that first part, now served until Ctrl-C, as is the page http://%s/, which opens the whole trace in %d windows and a generation at a time\n",
			ln.Addr(), len(s.windows))
		<-ctx.Done()
		if out.mapErr != nil || s.broken() {
			return settled{errReported}
		}
		return nil
	}
	select {
	case <-served:
		if st, err := tmp.Stat(); err == nil {
			fmt.Fprintf(e.stderr, "trace2x: %s was fetched whole (%d bytes); done\n", name, st.Size())
		}
	case <-ctx.Done():
	}
	if out.mapErr != nil {
		// The trace's failure, said above, whether or not Ctrl-C then
		// ended the serving.
		return settled{errReported}
	}
	return nil
}

// viewGrace is how long view, once done, lets the answers still being
// written end before it cuts them off: another tab's fetch, or a curl's,
// once the UI has the whole trace. A client on this machine that reads
// takes the rest of an answer in far less; one that stopped reading (a
// tab the browser put off, a curl stopped with Ctrl-Z) would keep view
// running for as long as it stays, and a few seconds are not long for
// someone waiting for view to end.
var viewGrace = 3 * time.Second // a variable for tests

// viewServedHook, if set, is called once view's handler has written its
// answer, before it judges whether the file was fetched whole: tests make
// the client's hanging up come first. It is read by handlers that an
// interrupted view does not wait for, hence atomic.
var viewServedHook atomic.Pointer[func(http.ResponseWriter, *http.Request)]

// viewAt is where view serves and what its links open.
type viewAt struct {
	addr string // --addr
	ui   string // --ui, the Perfetto UI the links open
	open bool   // --open
}

// viewConvert converts view's input to a Perfetto trace in tmp, with the
// budget as the row limit, so that the UI is never given a file the
// browser cannot hold. Past the limit, a trace file of several generations
// gets the index page, which viewConvert returns, its windows sized by
// the bytes of trace a row the part converted took; any other input is
// served cut at the limit, with a note on what shows the rest.
func viewConvert(e *env, in *input, inOpts *inputOpts, tmp io.Writer, resolution time.Duration, began chan<- struct{}) (v viewed, err error) {
	w := perfetto.NewWriter(tmp, viewOptions(in.shortName(), in.size)...)
	v.w = w
	sink := &beginSignal{Sink: w, began: began}
	// Thinned outermost, so that the counters are thinned before the
	// hand-over to the encoding goroutine (see mapping.Async).
	v.sum, err = in.mapTrace(e, inOpts, in, mapping.ThinCounters(sink, resolution))
	var limit *perfetto.RowLimitError
	if v.sum == nil || !errors.As(err, &limit) {
		return v, err
	}
	// From the start of the whole trace, as --from counts, also when a
	// window (--from) began later.
	// Truncated, so that the --from it gives does not skip anything.
	upTo := time.Duration(limit.Reached - sink.origin)
	if upTo >= time.Second {
		upTo = upTo.Truncate(time.Millisecond)
	} else {
		upTo = upTo.Truncate(time.Microsecond)
	}
	if file, idx := viewIndex(in, inOpts); idx != nil && len(idx.Generations) > 1 {
		w.Close()
		fmt.Fprintf(e.stderr, "trace2x: %s: up to %s it already makes %.1f million rows in Perfetto, about as many as the UI in a browser holds\n",
			in.name, upTo, float64(w.Rows())/1e6)
		v.index = indexAfter(in, file, idx, limit.Reached, w.Rows(), resolution)
		return v, nil
	}
	window := fmt.Sprintf("--from %s", upTo)
	if to := inOpts.filter.To; to.Set || to.Offset != 0 || !to.Wall.IsZero() {
		// The window asked for ends there: so does what follows.
		window += " --to " + to.String()
	}
	rest := window + " shows what follows"
	if in.path == "" || in.copied {
		rest = fmt.Sprintf("save the trace to a file, and trace2x view %s FILE shows what follows", window)
	}
	fmt.Fprintf(e.stderr, "trace2x: %s: note: cut at %s, where it makes %.1f million rows in Perfetto, about as many as the UI in a browser holds: %s\n",
		in.name, upTo, float64(w.Rows())/1e6, rest)
	v.cut = true
	return v, nil
}

// beginSignal closes began, if not nil, when the trace's first item of
// its time line arrives: from then on there is a trace to serve. Begin alone does not
// tell, since a trace cut inside its first generation begins and gives
// nothing. It keeps the whole trace's first timestamp, from which the
// times view names count.
type beginSignal struct {
	mapping.Sink
	began  chan<- struct{}
	fired  bool
	origin mapping.Time
}

func (b *beginSignal) Begin(m *mapping.Meta) error {
	b.origin = m.Origin
	return b.Sink.Begin(m)
}

// item closes began at the first item.
func (b *beginSignal) item() {
	if !b.fired && b.began != nil {
		b.fired = true
		close(b.began)
	}
}

// The descriptions of stacks, goroutines, Ps and threads are not items
// of the trace's time line: a window that begins after the trace's last
// event gets some, and nothing to show.
func (b *beginSignal) Stack(x *mapping.Stack) error         { return b.Sink.Stack(x) }
func (b *beginSignal) Goroutine(x *mapping.Goroutine) error { return b.Sink.Goroutine(x) }
func (b *beginSignal) Proc(x *mapping.Proc) error           { return b.Sink.Proc(x) }
func (b *beginSignal) Thread(x *mapping.Thread) error       { return b.Sink.Thread(x) }
func (b *beginSignal) GoroutineState(x *mapping.GoroutineState) error {
	b.item()
	return b.Sink.GoroutineState(x)
}
func (b *beginSignal) ProcRun(x *mapping.ProcRun) error { b.item(); return b.Sink.ProcRun(x) }
func (b *beginSignal) Range(x *mapping.Range) error     { b.item(); return b.Sink.Range(x) }
func (b *beginSignal) Task(x *mapping.Task) error       { b.item(); return b.Sink.Task(x) }
func (b *beginSignal) Region(x *mapping.Region) error   { b.item(); return b.Sink.Region(x) }
func (b *beginSignal) Log(x *mapping.Log) error         { b.item(); return b.Sink.Log(x) }
func (b *beginSignal) GoroutineEvent(x *mapping.GoroutineEvent) error {
	b.item()
	return b.Sink.GoroutineEvent(x)
}
func (b *beginSignal) Flow(x *mapping.Flow) error           { b.item(); return b.Sink.Flow(x) }
func (b *beginSignal) Counter(x *mapping.Counter) error     { b.item(); return b.Sink.Counter(x) }
func (b *beginSignal) CPUSample(x *mapping.CPUSample) error { b.item(); return b.Sink.CPUSample(x) }
func (b *beginSignal) Experimental(x *mapping.Experimental) error {
	b.item()
	return b.Sink.Experimental(x)
}

// viewed is what viewConvert made.
type viewed struct {
	sum   *mapping.Summary
	w     *perfetto.Writer
	index *indexServer // the index page to serve instead, or nil
	cut   bool         // the trace was cut at the row limit
}

// viewOptions are the options of the Perfetto traces view serves, made
// from traceBytes of trace, with the budget as their row limit. Up to
// half the budget's worth of trace they are written plain: served on this
// machine, a file three times smaller saves nothing, while deflating it
// costs the conversion about a quarter of its time and the UI the time to
// inflate it again. Past that they are deflated, for the UI's memory: the
// trace processor keeps every interned name and stack as a view into the
// buffer it came in, so a plain file stays in memory whole (about 27
// bytes a row, 0.4 GB at the budget, beside the 1.5-2 GB of its tables),
// where a deflated one keeps only the runs of interned data (see
// perfetto's orderer), a few percent of that.
//
// A stream's size is not known (traceBytes 0): it is deflated, since it
// may be of any size, and a plain file is kept whole by the UI.
func viewOptions(name string, traceBytes int64) []perfetto.Option {
	compress := traceBytes <= 0 || traceBytes > largePerfetto*traceBytesPerRow/2
	return []perfetto.Option{perfetto.WithProcessName(name), perfetto.WithVersion(trace2xVersion()),
		perfetto.WithCompression(compress), perfetto.WithRowLimit(largePerfetto)}
}

// openBrowser asks the system to open link.
func openBrowser(link string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", link)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", link)
	default:
		cmd = exec.Command("xdg-open", link)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// The opener exits at once, and fails where it finds no browser
	// (xdg-open in an SSH session exits 3); one still running after a
	// moment runs the browser itself.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
		}
	case <-time.After(3 * time.Second):
	}
	return nil
}

// listen listens on addr to serve what. A taken address is most often an
// earlier view still waiting for the UI, or Perfetto's own trace processor,
// and the UI fetches local traces from port 9001 alone: the error says so.
func listen(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if oserr.AddrInUse(err) {
		return nil, fmt.Errorf("serving %s: %s is in use, perhaps by another trace2x view or trace_processor --httpd: stop it first (ui.perfetto.dev reads local traces only from port 9001)", what, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("serving %s: %w", what, err)
	}
	return ln, nil
}

// noteUIPort warns when view's links open ui.perfetto.dev but it serves
// on a port ui.perfetto.dev does not fetch from: its
// Content-Security-Policy lets it reach one local address,
// 127.0.0.1:9001, where a Perfetto UI of one's own (--ui) takes any.
func noteUIPort(w io.Writer, addr net.Addr, ui string) {
	if a, ok := addr.(*net.TCPAddr); ok && ui == perfettoUI && (a.Port != 9001 || !a.IP.Equal(net.IPv4(127, 0, 0, 1))) {
		fmt.Fprintf(w, "trace2x: note: ui.perfetto.dev fetches local traces from 127.0.0.1:9001 only; the links work from %s in a Perfetto UI served on this machine: give its address with --ui\n", a)
	}
}

// newServer is the view's HTTP server. A client that sends its headers
// over more than 10 s, or holds an idle connection over a minute, is cut
// off: the server would otherwise keep a connection, and a file
// descriptor, for each, until it can accept no more.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
}

// loopbackOnly answers only requests addressed to this machine's loopback
// names (localhost, 127.0.0.1, [::1]): a page of another site whose name
// its DNS points at 127.0.0.1 (DNS rebinding) would be a same-origin page
// of this server, sending no Origin, and could read the trace.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "trace2x view answers requests for this machine's loopback address only", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// urlName makes a file's name safe as the last part of the URL the UI
// is given in its ?url= parameter: each byte other than a letter, a digit,
// '.', '-' and '_' becomes '_'. An '&' or '#' would end the parameter,
// and other bytes need escapes the UI and the server need not undo alike.
func urlName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// countingResponse counts the bytes of a response written, and keeps the
// first write error (the client gone). Given its request's context, it
// tells whether the client had hung up before a write, which a write into
// the socket's buffer need not show.
type countingResponse struct {
	http.ResponseWriter
	ctx  context.Context
	n    int64
	err  error
	left bool
}

func (c *countingResponse) Write(p []byte) (int, error) {
	if c.ctx != nil && c.ctx.Err() != nil {
		c.left = true
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// tempWriteError is the error of a write to the temporary file that view
// serves: its directory, which the user did not choose, is said to be
// TMPDIR's, which can name another with room. The write's own error,
// which the pass reports too, ends it, so that the two are said once.
func tempWriteError(name string, err error) error {
	return fmt.Errorf("writing the converted trace in %s (%s): %w", tempDirVar(), filepath.Dir(name), err)
}

// tempDirVar names the variable that chooses os.TempDir's directory.
func tempDirVar() string {
	if runtime.GOOS == "windows" {
		return "TMP"
	}
	return "TMPDIR"
}

// getOrHead answers a request other than GET and HEAD (and the CORS
// preflight's OPTIONS, answered before) with 405, and reports whether the
// request is one to serve: a POST must not use up the one serve.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD, OPTIONS")
	http.Error(w, "only GET and HEAD are served", http.StatusMethodNotAllowed)
	return false
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
