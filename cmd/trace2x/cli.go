package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trace2x/trace2x/capture"
	"github.com/trace2x/trace2x/internal/ctxio"
	"github.com/trace2x/trace2x/internal/errjoin"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// command is one subcommand: its flags, and what it does with them.
type command struct {
	name  string
	args  string // the argument synopsis
	short string // one line for the command list
	long  string // the rest of its help
	// setup declares the command's flags on fs and returns what runs it.
	setup func(fs *flag.FlagSet) func(e *env, args []string) error
}

func commands() []*command {
	return []*command{chromeCmd, convertCmd, otlpCmd, perfettoCmd, pprofCmd, statsCmd, versionCmd, viewCmd}
}

// usageError is a mistake in how the command was called: exit status 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext runs the command args names, until ctx ends.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, ctx: ctx}
	if len(args) == 0 {
		mainUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && !isHelpFlag(args[1]) {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "trace2x: unknown command %q\n", args[1])
				mainUsage(stderr)
				return 2
			}
			fs := newFlagSet(c, stdout)
			c.setup(fs)
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		mainUsage(stdout)
		return 0
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "trace2x: unknown command %q\n", name)
		mainUsage(stderr)
		return 2
	}
	fs := newFlagSet(c, stderr)
	do := c.setup(fs)
	// The flag package's own messages would print the whole help for a
	// mistyped flag; a parse error is reported like any usage error.
	fs.SetOutput(io.Discard)
	rest, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err == nil {
		err = emptyFileFlag(fs)
	}
	if err != nil {
		err = usageError{err.Error()}
	} else {
		fs.SetOutput(stderr)
		err = do(e, rest)
	}
	if err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "trace2x %s: %s\n", c.name, u.msg)
			fmt.Fprintf(stderr, "%s\nRun 'trace2x %s -h' for details.\n", usageLine(c), c.name)
			return 2
		}
		if !errors.Is(err, errReported) {
			printError(stderr, err)
		}
		var in interrupted
		var st settled
		if errors.As(context.Cause(ctx), &in) && !errors.As(err, &st) {
			return in.status()
		}
		return 1
	}
	return 0
}

// isHelpFlag reports whether arg asks for help, as in "trace2x help -h".
func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// emptyFileFlag refuses an output flag (its value named FILE) given an
// empty name: "-o $OUT" with OUT unset would otherwise write to standard
// output, or for convert's outputs, not at all, and exit 0.
func emptyFileFlag(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if name, _ := flag.UnquoteUsage(f); name == "FILE" && f.Value.String() == "" && err == nil {
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			err = fmt.Errorf("%s%s is given an empty file name (an unset variable?); - is standard output", dash, f.Name)
		}
	})
	return err
}

// printError prints each of the errors joined in err on a line of its
// own. An error's own line breaks (the body of an HTTP error page that an
// exporter quotes) become spaces, but for an internal error's stack.
func printError(w io.Writer, err error) {
	for _, e := range errjoin.Split(err) {
		msg := e.Error()
		if !errors.Is(e, mapping.ErrInternal) && strings.Contains(msg, "\n") {
			lines := strings.Split(msg, "\n")
			for i, l := range lines {
				lines[i] = strings.TrimSpace(l)
			}
			msg = strings.Join(slices.DeleteFunc(lines, func(l string) bool { return l == "" }), " ")
		}
		fmt.Fprintf(w, "trace2x: %s\n", msg)
	}
}

// errReported is a failure whose message has been printed already.
var errReported = errors.New("failed (reported above)")

// settled is a failure that a signal which came after it does not
// change: the exit status stays 1 (view's broken trace, served until
// Ctrl-C).
type settled struct{ error }

func (s settled) Unwrap() error { return s.error }

// usageLine is the one-line synopsis of c.
func usageLine(c *command) string {
	return strings.TrimSpace("usage: trace2x " + c.name + " " + c.args)
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func newFlagSet(c *command, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("trace2x "+c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\n%s\n", usageLine(c), strings.TrimSpace(c.short))
		if c.long != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseInterspersed parses flags wherever they stand among the arguments,
// so that "trace2x stats trace.out --json" works as well as
// "trace2x stats --json trace.out". A lone "-" is an argument (stdin).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// flagError says what a flag's value should have been where the flag
// package says only "parse error".
func flagError(fs *flag.FlagSet, err error) error {
	msg, ok := strings.CutSuffix(err.Error(), ": parse error")
	if !ok {
		return err
	}
	i := strings.LastIndex(msg, " -")
	if i < 0 {
		return err
	}
	f := fs.Lookup(msg[i+2:])
	if f == nil {
		return err
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return err
	}
	switch g.Get().(type) {
	case bool:
		return errors.New(msg + ": want true or false")
	case int, int64, uint, uint64:
		return errors.New(msg + ": not a whole number")
	case float64:
		return errors.New(msg + ": not a number")
	case time.Duration:
		return errors.New(msg + ": not a duration such as 10s or 500ms")
	}
	return err
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "trace2x converts Go execution traces to other formats, in one streaming pass.\n\n")
	fmt.Fprintf(w, "usage: trace2x <command> [flags] [trace.out | -]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun 'trace2x <command> -h' for a command's flags.\n")
}

// version is set at build time with -ldflags "-X main.version=...";
// otherwise it comes from the module's build information.
var version = ""

func trace2xVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

var versionCmd = &command{
	name:  "version",
	short: "print the version of trace2x",
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error {
			if len(args) > 0 {
				return usageError{"takes no arguments"}
			}
			_, err := fmt.Fprintf(e.stdout, "trace2x %s\n", trace2xVersion())
			return err
		}
	},
}

// input is an opened trace: its reader, the name to use in messages, and
// its size when known (for the progress line).
type input struct {
	io.ReadCloser
	// unfinishedEnd is where a trace whose writer stopped inside its
	// last generation ends, as the filtered pass read it.
	unfinishedEnd *mapping.Time
	name          string
	size          int64
	path          string // a file that can be read again: the input, or a copy of a stream
	spool         string // the copy of a stream, removed on Close (where not at once)
	// copied is set when path is a copy of a stream: a file of no name
	// of the user's, whose time says nothing of the trace's.
	copied bool
	// copyErr is where the stream broke off while it was copied: reads of
	// the copy end with it, and the copy is read as the stream would
	// have been, so that a pass converts what came and reports the break.
	copyErr error
	// prepassed is set when the filter's first pass ran over the stream
	// while it was copied.
	prepassed bool

	// capture is the HTTP capture the input reads, if it is one; Close
	// reports a failed CPU profile request beside it (--cpu-profile).
	capture *capture.Capture
	stderr  io.Writer
	read    atomic.Int64    // bytes Read gave, for the progress line
	ctx     context.Context // see env.ctx; nil is context.Background
}

// Read reads the input until the command is interrupted. A read that
// fails once it is, as a pipe does whose writer the same Ctrl-C ended
// (curl ... | trace2x), fails with the interrupt: the stream was cut by
// it, not broken.
func (in *input) Read(p []byte) (int, error) {
	if in.ctx != nil && in.ctx.Err() != nil {
		return 0, context.Cause(in.ctx)
	}
	n, err := in.ReadCloser.Read(p)
	in.read.Add(int64(n))
	if err == io.EOF && in.copyErr != nil {
		err = in.copyErr
	}
	if err != nil && in.ctx != nil && in.ctx.Err() != nil {
		err = context.Cause(in.ctx)
	}
	return n, err
}

// Close closes the input, and reports a failed CPU profile request: the
// trace is good without it, but may hold no CPU samples.
func (in *input) Close() error {
	err := in.ReadCloser.Close()
	if in.spool != "" {
		temps.done(in.spool, func() error { return os.Remove(in.spool) })
		in.spool = ""
	}
	if in.capture != nil {
		// The capture may be the ReadCloser, or have been copied to the
		// spool and closed already: closing it again is harmless.
		in.capture.Close()
		if perr := in.capture.ProfileErr(); perr != nil {
			var se *capture.StatusError
			if errors.As(perr, &se) && strings.Contains(se.Message, "already in use") {
				// net/http/pprof runs one CPU profile at a time: the
				// trace holds the samples of the one running.
				fmt.Fprintf(in.stderr, "trace2x: warning: the trace holds CPU samples only while another CPU profile of the target runs: %v\n", perr)
			} else {
				fmt.Fprintf(in.stderr, "trace2x: warning: the trace may hold no CPU samples: %v\n", perr)
			}
		}
		in.capture = nil
	}
	return err
}

// shortName names the input for a title: a file's base name, a URL's host.
func (in *input) shortName() string {
	if u, err := url.Parse(in.name); err == nil && u.Host != "" {
		return u.Host
	}
	return filepath.Base(in.name)
}

// baseName names what is made of the input: its file name without the
// extension, or for a URL its host, whose dots are no extension, with the
// port after a dash.
func (in *input) baseName() string {
	if u, err := url.Parse(in.name); err == nil && u.Host != "" {
		// An IPv6 address's colons become underscores: a name that
		// starts with "-" would read as a flag.
		h := strings.ReplaceAll(u.Hostname(), ":", "_")
		if p := u.Port(); p != "" {
			return h + "-" + p
		}
		return h
	}
	n := filepath.Base(in.name)
	return strings.TrimSuffix(n, filepath.Ext(n))
}

// inputOpts are the flags every command that reads a trace has.
type inputOpts struct {
	seconds    float64
	stall      time.Duration
	quiet      bool
	cpuProfile bool
	sequential bool
	parallel   bool
	header     http.Header // --input-header
	headerErr  error       // the first --input-header that did not parse
	filter     mapping.Filter
}

// inputFlags registers the input flags on fs; samples says whether the
// command has a use for CPU samples, which --cpu-profile is for.
func inputFlags(fs *flag.FlagSet, samples bool) *inputOpts {
	o := &inputOpts{}
	fs.Func("seconds", "with an http(s) input: add seconds=`N` to the URL, the length of the capture /debug/pprof/trace makes", func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%q is not a positive number of seconds", v)
		}
		if f > maxSeconds {
			return fmt.Errorf("%v is more than a day: a capture of that length is not what was meant", v)
		}
		o.seconds = f
		return nil
	})
	fs.Func("input-header", "with an http(s) input: send header `NAME:VALUE` (or NAME=VALUE) with the capture's requests, such as \"Authorization: Bearer $TOKEN\" (repeatable)", func(v string) error {
		name, value, err := parseHeader(v)
		if err != nil {
			// Said once the flags are parsed: the flag package's error
			// would quote the value, a credential most often.
			o.headerErr = cmp.Or(o.headerErr, err)
			return nil
		}
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(name, value)
		return nil
	})
	o.stall = 30 * time.Second
	fs.Var(durationValue{&o.stall}, "stall-timeout", "with an http(s) input: give up when the target sends nothing for `DURATION` (for its answer, after the capture's seconds); 0 waits for ever")
	fs.BoolVar(&o.quiet, "q", false, "show no progress line")
	fs.BoolVar(&o.sequential, "sequential", false, "read a file front to back with one parser, every generation, even for a window (--from, --to) that needs only some")
	fs.BoolVar(&o.parallel, "parallel", false, "parse a Go 1.22+ file on GOMAXPROCS-1 goroutines (at least 2), in groups of about 8 MB: with 3 cores or more at most about 15% faster (with 2, slower), for about 30 bytes of memory per byte of trace in each group parsed ahead")
	if samples {
		fs.BoolVar(&o.cpuProfile, "cpu-profile", false, "with a /debug/pprof/trace URL: request /debug/pprof/profile for the same window, so that the trace has CPU samples")
	}
	fs.Func("from", "keep what happens from `TIME` on: an offset from the trace start (1.5s, 200ms) or, for a trace with a wall clock (Go 1.25+), an RFC 3339 time", boundFlag(&o.filter.From))
	fs.Func("to", "keep what happens up to `TIME` (as for --from)", boundFlag(&o.filter.To))
	fs.Func("goroutine", "keep goroutine `ID` (a comma-separated list, or repeat the flag), with process-wide GC and counters", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || id < 0 {
				return fmt.Errorf("%q is not a goroutine ID", f)
			}
			o.filter.Goroutines = append(o.filter.Goroutines, mapping.GoID(id))
		}
		return nil
	})
	fs.BoolVar(&o.filter.Related, "related", false, "with --goroutine: also keep the goroutines that created, were created by, unblocked or were unblocked by them")
	fs.Func("task", "keep the tasks of type `TYPE` (and, for a decimal value, the task with that ID), their subtasks, regions and logs, and their goroutines while they last (repeatable)", func(v string) error {
		o.filter.Tasks = append(o.filter.Tasks, v)
		return nil
	})
	fs.Func("region", "keep the regions of type `TYPE`, the regions and logs in them, their tasks, and their goroutines while they last (repeatable; --goroutine, --task and --region selections add up)", func(v string) error {
		o.filter.Regions = append(o.filter.Regions, v)
		return nil
	})
	return o
}

// filterText returns the window and filters of f as flags
// ("--from=1s --task=request"), for an output to record what it was read
// through; "" for none.
func filterText(f *mapping.Filter) string {
	var parts []string
	for _, b := range []struct {
		name string
		b    mapping.Bound
	}{{"from", f.From}, {"to", f.To}} {
		if s := b.b.String(); s != "unbounded" {
			parts = append(parts, "--"+b.name+"="+s)
		}
	}
	for _, g := range f.Goroutines {
		parts = append(parts, fmt.Sprintf("--goroutine=%d", g))
	}
	if f.Related {
		parts = append(parts, "--related")
	}
	for _, t := range f.Tasks {
		parts = append(parts, "--task="+strconv.Quote(t))
	}
	for _, r := range f.Regions {
		parts = append(parts, "--region="+strconv.Quote(r))
	}
	return strings.Join(parts, " ")
}

// maxSeconds bounds --seconds: the target traces for as long as asked.
const maxSeconds = 24 * 60 * 60

// counterFlag declares --counter-resolution, for the outputs that draw
// counters.
func counterFlag(fs *flag.FlagSet) *time.Duration {
	d := mapping.DefaultCounterResolution
	fs.Var(durationValue{&d}, "counter-resolution", "keep of each counter, per `DURATION`, the samples with the lowest and highest value and the last: what a viewer draws at that resolution, from far fewer samples; 0 keeps every change")
	return &d
}

// durationValue is a flag of a duration that cannot be negative.
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 500us or 1ms", s)
	}
	if d < 0 {
		return fmt.Errorf("%v is negative", d)
	}
	*v.d = d
	return nil
}

// startTimeFlag parses --start-time, if given, and makes a wall-clock
// window of a trace without a clock count from it too.
func startTimeFlag(v string, inOpts *inputOpts) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := parseStartTime(v)
	if err != nil {
		return time.Time{}, err
	}
	inOpts.filter.From.Start, inOpts.filter.To.Start = t, t
	return t, nil
}

// parseStartTime reads --start-time: an RFC 3339 time between 1970 and
// 2200, the wall clocks every output can hold (Perfetto and OTLP carry
// nanoseconds since 1970; a time outside wrapped around or was dropped).
func parseStartTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("--start-time %q is not an RFC 3339 time such as 2026-01-02T15:04:05.5Z", v)}
	}
	if y := t.UTC().Year(); y < 1970 || y > 2200 {
		return time.Time{}, usageError{fmt.Sprintf("--start-time %s is outside 1970 to 2200, the times the outputs can hold", v)}
	}
	return t, nil
}

// durationLike matches what has the form of a Go duration.
var durationLike = regexp.MustCompile(`^[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

func boundFlag(b *mapping.Bound) func(string) error {
	return func(v string) error {
		if d, err := time.ParseDuration(v); err == nil {
			if d < 0 {
				return fmt.Errorf("%s is before the trace start", v)
			}
			*b = mapping.Bound{Offset: d, Set: true}
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if durationLike.MatchString(v) {
				// ParseDuration says only "invalid" of one too long.
				return fmt.Errorf("%s is longer than an offset can be (about 292 years)", v)
			}
			return fmt.Errorf("%q is neither an offset such as 1.5s nor an RFC 3339 time such as 2026-01-02T15:04:05.5Z", v)
		}
		*b = mapping.Bound{Wall: t, Set: true}
		return nil
	}
}

// mapTrace runs the mapping over src, the input in (or a reader over its
// start), into sink, through the filter the flags ask for. A filter that
// must look at the whole trace first reads it once more, from the file
// (openTrace keeps a copy of a stream in that case).
//
// A trace whose writer stopped inside its last generation converts
// whole, but ends before the program did: that is said, so that the time
// missing at the end is not taken for a program that did nothing.
func (in *input) mapTrace(e *env, opts *inputOpts, src io.Reader, sink mapping.Sink, mopts ...mapping.Option) (*mapping.Summary, error) {
	in.unfinishedEnd = nil
	sum, err := in.mapFiltered(e, opts, src, sink, mopts...)
	if sum != nil && sum.Unfinished {
		end := sum.End
		if in.unfinishedEnd != nil {
			end = *in.unfinishedEnd
		}
		if grew := in.grew(); grew > 0 {
			fmt.Fprintf(e.stderr, "trace2x: %s: note: the file grew by %d bytes while it was read: a program is still writing it; the trace ends at %v, inside a generation the writer had not finished, and what it writes after is not converted: run again once it stops\n",
				in.name, grew, time.Duration(end-sum.Origin).Round(time.Microsecond))
		} else {
			fmt.Fprintf(e.stderr, "trace2x: %s: note: the trace's writer stopped inside its last generation (its process was killed while it traced, or is still writing the file): the trace ends at %v, and what was recorded after that is not in it\n",
				in.name, time.Duration(end-sum.Origin).Round(time.Microsecond))
		}
	} else if err != nil && !errors.Is(err, context.Canceled) {
		// A generation the writer had not finished when the file was
		// opened fails to parse as a killed process's does.
		if grew := in.grew(); grew > 0 {
			fmt.Fprintf(e.stderr, "trace2x: %s: note: the file grew by %d bytes while it was read: a program is still writing it; run again once it stops\n", in.name, grew)
		}
	}
	return sum, err
}

// grew returns by how many bytes the input file grew since it was
// opened: a trace that a program is still writing ends inside the
// generation under way, as one whose program was killed does.
func (in *input) grew() int64 {
	if in.path == "" || in.copied || in.size <= 0 {
		return 0
	}
	st, err := os.Stat(in.path)
	if err != nil || !st.Mode().IsRegular() || st.Size() <= in.size {
		return 0
	}
	return st.Size() - in.size
}

// mapFiltered is mapTrace's pass.
func (in *input) mapFiltered(e *env, opts *inputOpts, src io.Reader, sink mapping.Sink, mopts ...mapping.Option) (*mapping.Summary, error) {
	progress, clearProgress := in.progress(e, opts)
	defer clearProgress()
	mopts = append([]mapping.Option{mapping.WithInputName(in.name), mapping.WithProgress(progress)}, mopts...)
	if _, isFile := in.file(opts); isFile && e.ctx != nil {
		// An interrupt stops a pass over a file where it is, not only at
		// its next read: the file's last generation, read whole, has
		// none, and was converted to its end. A stream's reads come as
		// it does (see stdinInput), and a first generation that came
		// whole before the interrupt is converted.
		mopts = append(mopts, mapping.WithContext(e.ctx))
	}
	// The outputs encode on a goroutine of their own, beside the mapping,
	// which runs beside the parser. The stats analysis costs less than
	// handing its items to another goroutine would: it runs in the
	// mapping's.
	if _, cheap := sink.(*stats.Sink); !cheap {
		sink = mapping.Async(sink)
	}
	if opts != nil && opts.parallel {
		mopts = append(mopts, mapping.WithWorkers(max(runtime.GOMAXPROCS(0)-1, 2)))
	}

	if opts == nil || opts.filter.Empty() {
		sink = &endCapture{Sink: sink, env: e}
		var sum *mapping.Summary
		var err error
		if file, ok := in.file(opts); ok {
			// A file is read from anywhere, and on several goroutines
			// with --parallel.
			sum, err = mapping.MapFile(file, in.size, sink, mopts...)
		} else {
			sum, err = mapping.Map(src, sink, mopts...)
		}
		if nothingConverted(sum) {
			e.convertedNothing.Store(true) // without End, if it never began
		}
		return sum, err
	}
	f := &opts.filter
	var prepassErr *mapping.Error // the trace broke off in the filter's first pass
	if f.NeedsPrepass() && !in.prepassed {
		// The file is read from its start beside the main pass's reads,
		// through its open descriptor: a stream's copy has no name left.
		fd, ok := in.ReadCloser.(*os.File)
		if !ok {
			return nil, fmt.Errorf("%s: a filter that reads the trace twice needs a file", in.name)
		}
		// The selection is what could be read of a broken trace; the
		// main pass reports the damage, or, if it reads only a window
		// and never meets it, the first pass's error does (below).
		ctx := in.ctx // nil where a stream's copy is read to its end
		if ctx == nil {
			ctx = context.Background()
		}
		var err error
		if file, ok := in.file(opts); ok && f.To.Set && !f.Related {
			// Of a file, the first pass reads up to the window's end and
			// on until the tasks open there end (see PrepassFile). A
			// goroutine is related to a selected one by what it does
			// anywhere in the trace: for that, the whole file.
			err = f.PrepassFile(file, in.size, mapping.WithInputName(in.name), mapping.WithContext(ctx))
		} else {
			_, err = mapping.Map(ctxio.Reader{Ctx: ctx, R: io.NewSectionReader(fd, 0, math.MaxInt64)}, f.Prepass(), mapping.WithInputName(in.name))
		}
		if merr := (*mapping.Error)(nil); errors.As(err, &merr) && ctx.Err() == nil {
			prepassErr = merr
		}
	}
	ec := &endCapture{Sink: sink, filter: f, env: e}
	var sum *mapping.Summary
	var err error
	if file, ok := in.file(opts); ok {
		// A file can be read from anywhere: only the generations the
		// window given needs are read (on several goroutines with
		// --parallel). Not those of the window a task or region
		// selection takes (Filter.Window): what lies outside it still
		// counts (see there).
		sum, err = mapping.MapWindow(file, in.size, f.From, f.To, f.Sink(ec), mopts...)
	} else {
		sum, err = mapping.Map(src, f.Sink(ec), mopts...)
	}
	if errors.Is(err, mapping.ErrNoWallClock) {
		return nil, fmt.Errorf("%s: %w (perfetto, otlp and convert take it as --start-time)", in.name, err)
	}
	if errors.Is(err, mapping.ErrWindow) {
		return nil, fmt.Errorf("%s: %w", in.name, err) // nothing was converted
	}
	if sum != nil && sum.Unfinished {
		// Where the trace ends, which the filter's summary, of its
		// window, does not tell.
		end := sum.End
		in.unfinishedEnd = &end
	}
	if ec.sum != nil {
		// What the filter kept: its window, not the whole trace's.
		sum = ec.sum
	}
	if nothingConverted(sum) {
		e.convertedNothing.Store(true)
	}
	if f.Kept() == 0 {
		// A script must be able to tell that nothing matched (a
		// goroutine or task ID that is not in the trace, a window before
		// it); the files are not written (see endCapture).
		var merr *mapping.Error
		switch {
		case err == nil && prepassErr != nil:
			// What the filters select may lie past the damage.
			err = fmt.Errorf("%w; the filters' first pass, which looks for what they select, stopped there, and they kept nothing of the window", prepassErr)
		case err == nil:
			err = fmt.Errorf("%s: the filters kept nothing%s%s", in.name, windowText(f), seenText(f))
		case errors.As(err, &merr) && merr.Events > 0:
			// Events were read before the trace broke off, and none kept.
			err = fmt.Errorf("%w; the filters kept nothing of what came before", err)
		}
	} else if err == nil && prepassErr != nil {
		// The window converted whole, but what the filters kept of it
		// is what their first pass read before the damage.
		err = fmt.Errorf("%w; the filters' first pass, which looks for what they select, stopped there: what they kept of the window may lack some of it", prepassErr)
	}
	return sum, err
}

// reversed reports whether a window ends before it starts, which two
// bounds of one kind (offsets, or wall-clock times) tell without the
// trace.
func reversed(from, to mapping.Bound) bool {
	if !from.Set || !to.Set || from.Wall.IsZero() != to.Wall.IsZero() {
		return false
	}
	if from.Wall.IsZero() {
		return to.Offset < from.Offset
	}
	return to.Wall.Before(from.Wall)
}

// file returns the input as a file, which the mapping reads at any
// offset, unless it is a stream or --sequential asks for one reader
// front to back. src, the reader mapTrace is given, is the input or a
// reader over its start, so reading the file instead loses nothing.
func (in *input) file(opts *inputOpts) (io.ReaderAt, bool) {
	f, ok := in.ReadCloser.(*os.File)
	if !ok || in.path == "" || in.size <= 0 || in.copyErr != nil || (opts != nil && opts.sequential) {
		return nil, false
	}
	if in.ctx == nil {
		return f, true
	}
	// Reads stop with the command, as the input's own do (see
	// input.Read): what was read is converted.
	return ctxio.ReaderAt{Ctx: in.ctx, R: f}, true
}

// nothingConverted reports whether a pass broke off before the trace's
// first event (a trace cut inside its first generation, which the parser
// reads whole before handing on any of it): its outputs would hold
// nothing, and are not written (see env.convertedNothing).
func nothingConverted(s *mapping.Summary) bool {
	return s != nil && s.Err != nil && s.Events-s.EventsByKind["Sync"] <= 0
}

// endCapture keeps the Summary that reaches the end of a chain of sinks,
// after filter, if any. If the filter kept nothing of what was read (of a
// trace whole, or up to where it broke off), or the trace broke off
// before its first event, it says so to env before the sinks end, which
// may close their files.
type endCapture struct {
	mapping.Sink
	sum    *mapping.Summary
	filter *mapping.Filter
	env    *env
}

func (c *endCapture) End(s *mapping.Summary) error {
	cp := *s
	c.sum = &cp
	if c.filter != nil && c.filter.Kept() == 0 || nothingConverted(s) {
		c.env.convertedNothing.Store(true)
	}
	return c.Sink.End(s)
}

// progress returns the mapping option that keeps a progress line on
// standard error while a trace is read, if standard error is a terminal
// and -q was not given; otherwise an option that does nothing.
//
// clear erases the line if one is shown: a pass that fails ends without
// the last progress report, and its error goes on a line of its own.
func (in *input) progress(e *env, opts *inputOpts) (report func(mapping.Progress), clear func()) {
	if (opts != nil && opts.quiet) || !isTerminal(e.stderr) {
		return nil, func() {}
	}
	start := time.Now()
	total := in.size
	if opts != nil && (opts.filter.From.Set || opts.filter.To.Set) {
		total = 0 // a window reads part of the file: no share of it
	}
	capturing := "trace2x: capturing"
	if in.capture != nil {
		if u, err := url.Parse(in.capture.URL); err == nil && u.Query().Get("seconds") != "" {
			capturing += " " + u.Query().Get("seconds") + "s"
		}
	}
	var (
		mu      sync.Mutex
		last    time.Time
		shown   bool
		latest  mapping.Progress
		stopped bool
	)
	// show prints the line, at most every 250 ms, from the latest report
	// and the bytes the input gave, which go on coming where the mapping
	// has no event to report yet: a capture's seconds, a stream's first
	// generation. mu is held.
	width := 0 // of the line shown
	show := func(now time.Time) {
		p := latest
		p.BytesRead = max(p.BytesRead, in.read.Load())
		if stopped || p.BytesRead == 0 || now.Sub(last) < 250*time.Millisecond {
			return
		}
		last, shown = now, true
		line := progressLine(p, total, now.Sub(start))
		if in.capture != nil && p.Events == 0 {
			line = fmt.Sprintf("%s: %.1f MB in %v", capturing, float64(p.BytesRead)/1e6, now.Sub(start).Round(time.Second))
		}
		fmt.Fprint(e.stderr, redraw(line, &width))
	}
	tick := time.NewTicker(250 * time.Millisecond)
	go func() {
		defer tick.Stop()
		for now := range tick.C {
			mu.Lock()
			done := stopped
			show(now)
			mu.Unlock()
			if done {
				return
			}
		}
	}()
	clear = func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		tick.Reset(time.Millisecond) // the goroutine sees stopped and returns
		if shown {
			fmt.Fprint(e.stderr, redraw("", &width))
			shown = false
		}
	}
	return func(p mapping.Progress) {
		if p.Done {
			clear()
			return
		}
		mu.Lock()
		defer mu.Unlock()
		latest = p
		show(time.Now())
	}, clear
}

// progressLine says how far a pass has got: bytes converted (of the
// total, when known), the rate, and the events read. The bytes converted
// are those read where the pass cannot tell better: the bytes read run a
// generation ahead, which the parser reads whole before its first event,
// and would stand still while the pass converts it.
func progressLine(p mapping.Progress, total int64, elapsed time.Duration) string {
	done := p.BytesRead
	if p.Converted > 0 && p.Converted < done {
		done = p.Converted
	}
	var b strings.Builder
	fmt.Fprintf(&b, "trace2x: %.1f MB", float64(done)/1e6)
	if total > 0 {
		fmt.Fprintf(&b, " of %.1f MB (%d%%)", float64(total)/1e6, done*100/total)
	}
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, ", %.1f MB/s", float64(done)/1e6/s)
	}
	fmt.Fprintf(&b, ", %.2f M events", float64(p.Events)/1e6)
	return b.String()
}

// openTrace opens the one input argument: a file, an http(s) URL, or stdin
// for "-" or none. When a filter needs two passes, a stream is first
// copied to a temporary file.
func openTrace(e *env, args []string, opts *inputOpts) (*input, error) {
	// Flags that cannot go together are said before anything is read: a
	// URL's target would start a trace for nothing.
	if opts != nil && opts.headerErr != nil {
		return nil, usageError{"--input-header: " + opts.headerErr.Error()}
	}
	if opts != nil && reversed(opts.filter.From, opts.filter.To) {
		return nil, usageError{fmt.Sprintf("--to %s is before --from %s", opts.filter.To, opts.filter.From)}
	}
	if opts != nil && opts.filter.Related && len(opts.filter.Goroutines) == 0 {
		return nil, usageError{"--related needs --goroutine"}
	}
	if opts != nil && opts.parallel && opts.sequential {
		return nil, usageError{"--parallel and --sequential exclude each other"}
	}
	in, err := openInput(e, args, opts)
	if err != nil || opts == nil || !opts.filter.NeedsPrepass() || in.path != "" {
		return in, err
	}
	tmp, err := os.CreateTemp("", "trace2x-*.trace")
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("a copy of %s for the filter's first pass: %w", in.name, err)
	}
	temps.add(tmp.Name())
	spool := tmp.Name()
	if runtime.GOOS != "windows" {
		// Removed at once, and read through its open descriptor: the copy
		// goes with the process however it ends (killed, out of memory).
		temps.done(spool, func() error { return os.Remove(spool) })
		spool = ""
	}
	// The filter's first pass reads the stream as it is copied, so that
	// the copy is read once more, not twice. A stream that is not a
	// trace stops the copy where the pass stops; one that breaks is
	// copied on while its bytes are batches (see spoolRest): a pipe of
	// /dev/zero after a trace would fill the disk.
	pr, pw := io.Pipe()
	prepassed := make(chan struct{})
	go func() {
		defer close(prepassed)
		_, _ = mapping.Map(pr, opts.filter.Prepass(), mapping.WithInputName(in.name))
		pr.CloseWithError(errPrepassDone)
	}()
	n, err := io.Copy(spoolWriter{tmp}, prepassTee{in, pw})
	if errors.Is(err, errPrepassDone) {
		// The main pass reports the break from the copy, which holds
		// the stream up to it and on, as far as its file would be read.
		err = spoolRest(tmp, n, in)
	}
	pw.Close()
	<-prepassed
	in.prepassed = true
	var broke error
	if err != nil && n > 0 && !errors.Is(err, errSpool) {
		// The stream broke off (its target died, it stalled, Ctrl-C
		// stopped it): what came is converted, as without the filter,
		// and the pass reports the break where the copy ends. After an
		// interrupt, the copy is read to its end regardless: a second
		// signal still stops the command at once.
		broke, err = err, nil
		if e.ctx != nil && e.ctx.Err() != nil {
			broke, in.ctx = context.Cause(e.ctx), nil
		}
	}
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if cerr := in.ReadCloser.Close(); err == nil && broke == nil && cerr != nil {
		err = cerr
	}
	in.ReadCloser, in.path, in.spool, in.copied, in.copyErr = tmp, tmp.Name(), spool, true, broke
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("a copy of %s for the filter's first pass: %w", in.name, err)
	}
	if st, err := tmp.Stat(); err == nil {
		in.size = st.Size()
	}
	return in, nil
}

// spoolRest goes on with the copy, in tmp, of a stream whose filter's
// first pass ended at a fault after n bytes, as long as the stream's bytes
// are batches of a Go 1.22+ trace, to its end, or to a little past the
// first bytes that are not (what the main pass meets there): the first
// pass reads a varying way past the fault, as the stream's bytes happen
// to come, and a copy cut there would give a varying report of a trace
// cut short. Bytes that are not batches end it, so that a trace followed
// by /dev/zero does not fill the disk. A read that fails ends it too: the
// main pass reports the fault, which comes first.
func spoolRest(tmp *os.File, n int64, in io.Reader) error {
	hdr := make([]byte, tracefile.HeaderSize)
	if _, err := tmp.ReadAt(hdr, 0); err != nil {
		return nil // shorter than a header: nothing more to read as a trace
	}
	v, err := tracefile.Version(hdr)
	if err != nil || v < 22 {
		return nil // not a trace, or one its parser reads whole
	}
	sc := tracefile.NewScanner(v)
	if _, err := io.Copy(sc, io.NewSectionReader(tmp, 0, n)); err != nil {
		return nil
	}
	buf := make([]byte, 256<<10)
	for sc.Err() == nil {
		k, rerr := in.Read(buf)
		sc.Write(buf[:k])
		if _, err := (spoolWriter{tmp}).Write(buf[:k]); err != nil {
			return err
		}
		if rerr != nil {
			return nil
		}
	}
	// The bytes that are not batches, as many as a batch header holds
	// and more, and no further, however they came.
	var te *tracefile.Error
	if !errors.As(sc.Err(), &te) {
		return nil
	}
	end := te.Offset + spoolTail
	if have := sc.Offset(); have < end {
		if _, err := io.CopyN(spoolWriter{tmp}, in, end-have); errors.Is(err, errSpool) {
			return err // a read that fails, or the stream's end, ends it
		}
	}
	if st, err := tmp.Stat(); err == nil && st.Size() > end {
		if err := tmp.Truncate(end); err != nil {
			return fmt.Errorf("%w: %w", errSpool, err)
		}
		if _, err := tmp.Seek(end, io.SeekStart); err != nil {
			return fmt.Errorf("%w: %w", errSpool, err)
		}
	}
	return nil
}

// spoolTail is how much of a stream spoolRest copies past the first bytes
// that are not batches.
const spoolTail = 4 << 10

// prepassTee hands what it reads of a stream to the filter's first pass.
// Unlike io.TeeReader, once that pass has ended it still returns all it
// read, so that the copy goes on from the byte after.
type prepassTee struct {
	r io.Reader
	w *io.PipeWriter
}

func (t prepassTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// errPrepassDone stops the copy of a stream once the filter's first pass
// over it has ended before the stream's end: the trace broke there.
var errPrepassDone = errors.New("the filter's first pass ended")

// errSpool marks a failure to write the copy of a stream, which is not
// the stream's.
var errSpool = errors.New("writing the copy")

// spoolWriter writes the copy of a stream, marking its errors.
type spoolWriter struct{ f *os.File }

func (w spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %w", errSpool, err)
	}
	return n, err
}

// stdinOf is standard input as the command's input: the flags that
// shape a capture have nothing to act on.
func stdinOf(e *env, opts *inputOpts) (*input, error) {
	if given := opts.captureFlags(); given != "" {
		them := "it"
		if strings.HasSuffix(given, " apply to") {
			them = "them"
		}
		return nil, usageError{given + " an http(s) input only, not standard input: give " + them + " to the command that captures"}
	}
	return stdinInput(e), nil
}

// captureFlags names the flags given that shape a capture, which only an
// http(s) input has, followed by "applies to" or "apply to"; "" if none
// is. It names only those given: a command that takes no CPU samples has
// no --cpu-profile to name.
func (o *inputOpts) captureFlags() string {
	if o == nil {
		return ""
	}
	var given []string
	if o.seconds > 0 {
		given = append(given, "--seconds")
	}
	if o.cpuProfile {
		given = append(given, "--cpu-profile")
	}
	if o.header != nil {
		given = append(given, "--input-header")
	}
	switch len(given) {
	case 0:
		return ""
	case 1:
		return given[0] + " applies to"
	}
	return strings.Join(given[:len(given)-1], ", ") + " and " + given[len(given)-1] + " apply to"
}

// validHeaderName reports whether name is an HTTP header name (a token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// isURL reports whether the input names an http(s) URL; a scheme's case
// does not matter.
func isURL(arg string) bool {
	i := strings.Index(arg, "://")
	if i < 0 {
		return false
	}
	scheme := strings.ToLower(arg[:i])
	return scheme == "http" || scheme == "https"
}

// hostLike matches host:port, with a path or not, as a URL without its
// scheme is often given.
var hostLike = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}(/.*)?$`)

// looksLikeHost reports whether an input that is not a file looks like a
// URL without its scheme.
func looksLikeHost(arg string) bool { return hostLike.MatchString(arg) }

// stdinInput is the input of standard input. Once the command is
// interrupted, a read blocked on a pipe whose writer stalls returns at
// once (see ctxio.Abandoning): nothing else would end it.
func stdinInput(e *env) *input {
	r := e.stdin
	if e.ctx != nil {
		r = &ctxio.Abandoning{Ctx: e.ctx, R: r}
	}
	return &input{ReadCloser: io.NopCloser(r), name: "stdin", ctx: e.ctx}
}

func openInput(e *env, args []string, opts *inputOpts) (*input, error) {
	switch len(args) {
	case 0:
		if isTerminal(e.stdin) {
			// Reading the keyboard for a binary trace would only wait.
			return nil, usageError{"no input: name a trace file or URL, or pipe a trace in"}
		}
		return stdinOf(e, opts)
	case 1:
	default:
		return nil, usageError{fmt.Sprintf("takes one input trace, got %d arguments", len(args))}
	}
	if args[0] == "-" {
		return stdinOf(e, opts)
	}
	if args[0] == "" {
		return nil, usageError{"the input's name is empty (an unset variable?)"}
	}
	if isURL(args[0]) {
		u, err := url.Parse(args[0])
		if err != nil {
			return nil, usageError{err.Error()}
		}
		if s := u.Query()["seconds"]; len(s) > 0 && (opts == nil || opts.seconds == 0) {
			// The target would take a bad value for its default, 1 s.
			if f, err := strconv.ParseFloat(s[0], 64); err != nil || f <= 0 || f > maxSeconds {
				return nil, usageError{fmt.Sprintf("the URL's seconds=%q is not a number of seconds over 0 and up to %d", s[0], int(maxSeconds))}
			}
		}
		if opts != nil {
			u = capture.WithSeconds(u, opts.seconds)
		}
		copts := capture.Options{StallTimeout: 30 * time.Second}
		if opts != nil {
			copts.CPUProfile, copts.StallTimeout, copts.Header = opts.cpuProfile, opts.stall, opts.header
		}
		c, err := capture.Open(e.context(), u, copts)
		if errors.Is(err, capture.ErrNotTraceURL) {
			return nil, usageError{"--cpu-profile " + err.Error()}
		}
		if err != nil && e.ctx != nil && e.ctx.Err() != nil {
			// The interrupt's error alone would not say what it stopped.
			return nil, fmt.Errorf("%s: no answer yet: %w", capture.Redact(u), err)
		}
		if err != nil {
			return nil, err
		}
		if c.Redirected != "" {
			// A login page behind an auth proxy would otherwise be
			// "not a Go execution trace" of the URL asked for.
			fmt.Fprintf(e.stderr, "trace2x: %s: note: redirected to %s\n", c.URL, c.Redirected)
		}
		return &input{ReadCloser: c, name: c.URL, size: c.Size, capture: c, stderr: e.stderr, ctx: e.ctx}, nil
	}
	if given := opts.captureFlags(); given != "" {
		msg := given + " an http(s) input only"
		if _, err := os.Stat(args[0]); errors.Is(err, fs.ErrNotExist) && looksLikeHost(args[0]) {
			msg += "; for a URL, give its scheme: http://" + args[0]
		}
		return nil, usageError{msg}
	}
	f, err := os.Open(args[0])
	if errors.Is(err, fs.ErrNotExist) && looksLikeHost(args[0]) {
		return nil, fmt.Errorf("%w; for a URL, give its scheme: http://%s", err, args[0])
	}
	if scheme, _, ok := strings.Cut(args[0], "://"); ok && errors.Is(err, fs.ErrNotExist) && scheme != "" && !strings.ContainsAny(scheme, "/.") {
		return nil, fmt.Errorf("%s: no such file, and a URL must be http:// or https://, not %s://", args[0], scheme)
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a trace file", args[0])
	}
	in := &input{ReadCloser: f, name: args[0], ctx: e.ctx}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		in.size, in.path = st.Size(), args[0]
	}
	return in, nil
}

// joinErrors joins the errors that are not nil, each once: a writer that
// failed returns its error from every call after, and one line says it.
func joinErrors(errs ...error) error { return errjoin.Join(errs...) }

// parseHeader parses a header flag's NAME:VALUE or NAME=VALUE, whichever
// separator comes first: both are given, one copied from curl, the other
// from OTEL_EXPORTER_OTLP_HEADERS.
func parseHeader(v string) (name, value string, err error) {
	// No part of v is quoted: a header is often a credential.
	i := strings.IndexAny(v, ":=")
	if i <= 0 {
		return "", "", errors.New("a header is not NAME:VALUE (nor NAME=VALUE)")
	}
	name = strings.TrimSpace(v[:i])
	if !validHeaderName(name) {
		return "", "", errors.New("what comes before the first : or = of a header is not a header name")
	}
	value = strings.TrimSpace(v[i+1:])
	if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return "", "", fmt.Errorf("the value of %s holds a control character (a line break?)", name)
	}
	return name, value, nil
}

// seenText says what the pass read (the trace, or the generations of its
// window) of what a filter that kept nothing selects, so that a misspelt task type or a goroutine ID
// from another trace is told what there is.
func seenText(f *mapping.Filter) string {
	seen := f.Seen()
	types := func(what string, ts []string) string {
		if len(ts) == 0 {
			return fmt.Sprintf("no %ss read", what)
		}
		shown := make([]string, len(ts))
		for i, t := range ts {
			shown[i] = typeText(t)
		}
		list := strings.Join(shown, ", ")
		if seen.MoreTypes {
			list += ", …"
		}
		return fmt.Sprintf("%s types read: %s", what, list)
	}
	var says []string
	if len(f.Tasks) > 0 {
		says = append(says, types("task", seen.TaskTypes))
	}
	if len(f.Regions) > 0 {
		says = append(says, types("region", seen.RegionTypes))
	}
	if len(f.Goroutines) > 0 {
		if seen.Goroutines == 0 {
			says = append(says, "no goroutines read")
		} else {
			says = append(says, fmt.Sprintf("goroutines read: %d, IDs %d to %d", seen.Goroutines, seen.FirstG, seen.LastG))
		}
	}
	if len(says) == 0 {
		return ""
	}
	return " (" + strings.Join(says, "; ") + ")"
}

// windowText names the window the filters were given, if any: what they
// select may lie outside it.
func windowText(f *mapping.Filter) string {
	switch {
	case f.From.Set && f.To.Set:
		return fmt.Sprintf(" in the window from %s to %s", f.From, f.To)
	case f.From.Set:
		return fmt.Sprintf(" in the window from %s on", f.From)
	case f.To.Set:
		return fmt.Sprintf(" in the window up to %s", f.To)
	}
	return ""
}

// typeText shows a task or region type in a list: as it is, unless it is
// empty, or holds what a terminal would not show plainly or what would
// run into the list's other items, then quoted.
func typeText(t string) string {
	if t == "" {
		return "(no type)"
	}
	if !utf8.ValidString(t) || strings.ContainsAny(t, ",;\"()") || strings.ContainsFunc(t, func(r rune) bool {
		return !unicode.IsPrint(r) && r != ' '
	}) || strings.TrimSpace(t) != t {
		return strconv.Quote(t)
	}
	return t
}

// redraw returns what replaces a terminal's line, *width wide, with
// line, and notes its width. A Windows console draws the ANSI sequence
// that erases the line as text unless told otherwise, and a terminal
// that says it is dumb (TERM=dumb: an editor's shell buffer) has none, so
// there the old line is overwritten with spaces.
func redraw(line string, width *int) string {
	return redrawOn(runtime.GOOS != "windows" && os.Getenv("TERM") != "dumb", line, width)
}

func redrawOn(ansi bool, line string, width *int) string {
	prev := *width
	*width = utf8.RuneCountInString(line)
	if ansi {
		return "\r\033[K" + line
	}
	if pad := prev - *width; pad > 0 {
		return "\r" + line + strings.Repeat(" ", pad) + strings.Repeat("\b", pad)
	}
	return "\r" + line
}
