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
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
)

// perfettoUI is where view sends the browser.
const perfettoUI = "https://ui.perfetto.dev"

var viewCmd = &command{
	name:  "view",
	args:  "[--addr HOST:PORT] [--open] [--index] [trace.out | -]",
	short: "convert to Perfetto and open the result in ui.perfetto.dev",
	long: `View converts the trace to a Perfetto trace in a temporary file, serves
it once on 127.0.0.1:9001 with the CORS headers ui.perfetto.dev needs, and
prints the link that opens it there:

	https://ui.perfetto.dev/#!/?url=http://127.0.0.1:9001/<name>.pftrace

It exits when the UI has fetched the trace, or on Ctrl-C. The trace never
leaves the machine: the UI runs in the browser and reads it from the
local address. --open starts the system's browser on the link.

View never serves more than the UI in a browser holds, about 15 million
rows in Perfetto, which a trace makes from 1 to 6 bytes of trace each,
depending on what the program did. A Go 1.22+ trace file of several
generations that goes past that (by a sample of its middle generation,
for a file over 15 MB, or when converted whole) gets an index page
instead, at http://127.0.0.1:9001/: its time line in windows of
consecutive generations, sized by the bytes a row measured on the trace,
with their GC cycles and goroutines, each a link that opens the window
in ui.perfetto.dev, converted when the UI asks for it (the first is
converted ahead, while the page is read), and a link for
each generation (about a second of trace) alone, which the UI loads far
sooner. It serves until Ctrl-C. --index serves the page for any trace
file. Any other trace is cut where it reaches the limit, and view says
where, so that --from shows the rest.`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs)
		resolution := counterFlag(fs)
		addr := fs.String("addr", "127.0.0.1:9001", "serve on `HOST:PORT` (the UI expects port 9001)")
		open := fs.Bool("open", false, "open the link in the system's browser")
		index := fs.Bool("index", false, "serve the index page of windows even for a trace small enough to view whole")
		return func(e *env, args []string) error {
			host, _, err := net.SplitHostPort(*addr)
			if err != nil {
				return usageError{fmt.Sprintf("--addr: %v", err)}
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usageError{"--addr must be a loopback address: the trace is served to this machine only"}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			if s := indexFor(in, inOpts, *index, *resolution); s != nil {
				return serveIndex(e, *addr, s, *open)
			}
			tmp, err := os.CreateTemp("", "trace2x-*.pftrace")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			v, mapErr := viewConvert(e, in, inOpts, tmp, *resolution)
			if v.index != nil {
				return serveIndex(e, *addr, v.index, *open)
			}
			sum, w := v.sum, v.w
			if !v.cut {
				notePerfetto(e, in, w)
			}
			cerr := w.Close()
			if v.cut && errors.Is(cerr, perfetto.ErrRowLimit) {
				cerr = nil // said above; a write error would come first
			}
			if err := joinErrors(cerr, tmp.Sync()); err != nil {
				return joinErrors(mapErr, fmt.Errorf("writing %s: %w", tmp.Name(), err))
			}
			if sum == nil {
				return mapErr // not a trace: nothing to show
			}
			if mapErr != nil {
				// What was converted is still worth a look; say why it is
				// short, and fail once it has been served.
				fmt.Fprintf(e.stderr, "trace2x: %v\n", mapErr)
			}
			name := strings.TrimSuffix(in.shortName(), filepath.Ext(in.shortName())) + ".pftrace"
			if err := serveOnce(e, *addr, name, tmp.Name(), *open); err != nil {
				return err
			}
			if mapErr != nil {
				return errReported
			}
			return nil
		}
	},
}

// viewConvert converts view's input to a Perfetto trace in tmp, with the
// budget as the row limit, so that the UI is never given a file the
// browser cannot hold. Past the limit, a trace file of several generations
// gets the index page, which viewConvert returns, its windows sized by
// the bytes of trace a row the part converted took; any other input is
// served cut at the limit, with a note on what shows the rest.
func viewConvert(e *env, in *input, inOpts *inputOpts, tmp io.Writer, resolution time.Duration) (v viewed, err error) {
	w := perfetto.NewWriter(tmp, viewOptions(in.shortName(), in.size)...)
	v.w = w
	v.sum, err = in.mapTrace(e, inOpts, in, mapping.ThinCounters(w, resolution))
	var limit *perfetto.RowLimitError
	if v.sum == nil || !errors.As(err, &limit) {
		return v, err
	}
	upTo := time.Duration(limit.Reached - v.sum.Start).Round(time.Millisecond)
	if file, idx := viewIndex(in, inOpts); idx != nil && len(idx.Generations) > 1 {
		w.Close()
		fmt.Fprintf(e.stderr, "trace2x: %s: its first %s already make %.1f million rows in Perfetto, about as many as the UI in a browser holds\n",
			in.name, upTo, float64(w.Rows())/1e6)
		v.index = indexAfter(in, file, idx, limit.Reached, w.Rows(), resolution)
		return v, nil
	}
	rest := fmt.Sprintf("--from %s shows what follows", upTo)
	if in.path == "" || in.spool != "" {
		rest = fmt.Sprintf("save the trace to a file, and trace2x view --from %s FILE shows what follows", upTo)
	}
	fmt.Fprintf(e.stderr, "trace2x: %s: note: cut at %s, where it makes %.1f million rows in Perfetto, about as many as the UI in a browser holds: %s\n",
		in.name, upTo, float64(w.Rows())/1e6, rest)
	v.cut = true
	return v, nil
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
func viewOptions(name string, traceBytes int64) []perfetto.Option {
	return []perfetto.Option{perfetto.WithProcessName(name), perfetto.WithVersion(trace2xVersion()),
		perfetto.WithCompression(traceBytes > largePerfetto*traceBytesPerRow/2), perfetto.WithRowLimit(largePerfetto)}
}

// serveOnce serves the file at /name until it has been fetched once, or
// the command is interrupted.
func serveOnce(e *env, addr, name, path string, open bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serving the trace: %w", err)
	}
	done := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/"+url.PathEscape(name), func(w http.ResponseWriter, r *http.Request) {
		allowUI(w)
		if r.Method == http.MethodOptions {
			return
		}
		http.ServeFile(w, r, path)
		if r.Method == http.MethodGet {
			once.Do(func() { close(done) })
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	link := fmt.Sprintf("%s/#!/?url=http://%s/%s", perfettoUI, ln.Addr(), url.PathEscape(name))
	fmt.Fprintf(e.stdout, "%s\n", link)
	fmt.Fprintf(e.stderr, "trace2x: serving %s once on %s; open the link above (Ctrl-C to stop)\n", name, ln.Addr())
	if open {
		if err := openBrowser(link); err != nil {
			fmt.Fprintf(e.stderr, "trace2x: could not open a browser: %v\n", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Let the response that was being written finish.
	return srv.Shutdown(context.Background())
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
	return errors.Join(cmd.Process.Release())
}
