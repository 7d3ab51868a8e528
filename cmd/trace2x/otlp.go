package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	otelconv "github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/convert/otel/otlpexport"
	"github.com/trace2x/trace2x/mapping"
)

var otlpCmd = &command{
	name:  "otlp",
	args:  "[flags] [trace.out | -]",
	short: "push tasks and regions as OpenTelemetry spans to an OTLP endpoint, or write OTLP JSON",
	long: `Otlp turns the trace's user tasks and regions into OpenTelemetry spans and
pushes them to an OTLP endpoint (an OpenTelemetry Collector, Jaeger, Tempo,
a vendor) over gRPC, HTTP/protobuf or HTTP/JSON. Each task is a span, a child of its
parent task's; each region is a child of its enclosing region, its task or
its goroutine; each log is a span event. Each root task is a trace of its
own, with everything under it up to about 1,000 spans, past which each task
under it begins a trace linked to its parent (regions are not split off: a
task with 20,000 regions is a trace of 20,001 spans); a task the trace names but
never shows (the parent of a snapshot's tasks) is a span "task placeholder"
with the ID. A task that logs its request's W3C traceparent (category
"traceparent") joins the application's trace, sampled by the application
or not (--sampled-only leaves out those it did not sample). The OpenTelemetry SDK's own
tasks, copies of the application's spans, are left out. --runtime-spans adds GC cycles and stop-the-world
pauses (a trace per second), --goroutine-spans the life of every goroutine
(a trace each).

The standard environment variables are honoured, and flags override them:
OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _PROTOCOL,
_HEADERS, _INSECURE, _TIMEOUT, _COMPRESSION, _CERTIFICATE, _CLIENT_CERTIFICATE,
_CLIENT_KEY, OTEL_SERVICE_NAME
and OTEL_RESOURCE_ATTRIBUTES. Without an endpoint, spans go to
127.0.0.1:4317 (gRPC) or 127.0.0.1:4318 (HTTP). A loopback endpoint is
plain text unless it is an https:// URL or OTEL_EXPORTER_OTLP_INSECURE
is false; any other uses TLS unless --insecure.

An endpoint that cannot be reached, that speaks the other protocol in
plain text (4317 and 4318 mixed up; over TLS the push fails once the
trace is converted), that speaks TLS where plain text was to go, or
whose certificate is not trusted (a CA of your own goes in
OTEL_EXPORTER_OTLP_CERTIFICATE), or that refuses this client's (mutual
TLS), fails at once. A collector that goes
away while spans are pushed is retried with backoff for up to --timeout;
if it comes back, nothing is lost. The span count is printed at the end; a
span the endpoint rejected makes the exit status 1. Span and trace IDs are
derived from the trace, so pushing it again gives the same IDs.

Span times are wall-clock times from the trace's clock snapshot (Go 1.25
and later), else --start-time, else the file's modification time less the
trace's duration; which was used is printed.

--json writes the spans as OTLP JSON instead, one ExportTraceServiceRequest
per line, as the Collector's file exporter writes them.

Examples:

	trace2x otlp trace.out
	trace2x otlp --protocol http/protobuf --endpoint https://otlp.example.com --header api-key=XYZ trace.out
	OTEL_SERVICE_NAME=checkout trace2x otlp --runtime-spans trace.out
	trace2x otlp --json -o spans.json trace.out`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, false)
		endpoint := fs.String("endpoint", "", "OTLP endpoint, `host:port` or a URL (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http/protobuf and http/json)")
		protocol := fs.String("protocol", "", "`PROTOCOL` to push with: grpc, http/protobuf or http/json (default grpc)")
		insecure := fs.Bool("insecure", false, "use plain text, not TLS, even for an endpoint that is not loopback")
		var headers headerFlags
		fs.Var(&headers, "header", "send header `NAME:VALUE` (or NAME=VALUE) with every request, such as \"Authorization: Bearer $TOKEN\" (repeatable)")
		timeout := new(time.Duration)
		*timeout = 10 * time.Second
		fs.Var(durationValue{timeout}, "timeout", "give up on an export that does not succeed within `DURATION`, retries included")
		service := fs.String("service-name", "", "`NAME` for the spans' service.name (default: unknown_service; a URL capture sets service.instance.id to its host:port)")
		start := fs.String("start-time", "", "wall-clock `TIME` (RFC 3339) at which the trace started, for traces before Go 1.25 that do not record it")
		runtimeSpans := fs.Bool("runtime-spans", false, "add GC cycles and stop-the-world pauses as spans, in a trace per second")
		goroutineSpans := fs.Bool("goroutine-spans", false, "add the life of every goroutine as a span")
		noStacks := fs.Bool("no-stacktraces", false, "leave out the whole stacks (code.stacktrace), keeping the innermost frame of user code: up to a third of what spans weigh")
		sampledOnly := fs.Bool("sampled-only", false, "leave out the tasks that joined a remote trace the application did not sample (traceparent flags 00), with their regions and child tasks")
		asJSON := fs.Bool("json", false, "write OTLP JSON instead of pushing")
		out := fs.String("o", "-", "with --json, write to `FILE` instead of standard output (.gz: compressed)")
		return func(e *env, args []string) error {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if *asJSON {
				for _, name := range []string{"endpoint", "protocol", "insecure", "header", "timeout"} {
					if set[name] {
						return usageError{fmt.Sprintf("--%s is for pushing; --json writes a file", name)}
					}
				}
			} else if set["o"] {
				return usageError{"-o goes with --json; without it, spans are pushed to an endpoint"}
			}
			if headers.err != nil {
				return usageError{"--header: " + headers.err.Error()}
			}
			if set["endpoint"] && strings.TrimSpace(*endpoint) == "" {
				// Not the default: a variable that was meant to name a
				// collector, unset, would send the spans elsewhere.
				return usageError{"--endpoint is empty (an unset variable?); without the flag, spans go to OTEL_EXPORTER_OTLP_ENDPOINT or 127.0.0.1"}
			}
			startTime, err := startTimeFlag(*start, inOpts)
			if err != nil {
				return err
			}
			if *timeout <= 0 {
				return usageError{"--timeout must be positive"}
			}

			if *asJSON {
				if err := checkOutputs(e, args, *out); err != nil {
					return err
				}
			}
			if err := otelconv.CheckEnv(); err != nil {
				return err
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			opts := append([]otelconv.Option{
				otelconv.WithInputName(in.name),
				otelconv.WithVersion(trace2xVersion()),
			}, spanOptions(*service, *runtimeSpans, *goroutineSpans, *noStacks, *sampledOnly)...)
			timeNote := ""
			if startTime.IsZero() {
				startTime, timeNote, err = fileStart(in)
				if err != nil {
					return err
				}
			} else {
				timeNote = "--start-time"
			}
			if !startTime.IsZero() {
				opts = append(opts, otelconv.WithStartTime(startTime))
			}

			ctx := e.context() // ends on Ctrl-C
			quietSDK()

			var exp sdktrace.SpanExporter
			var dest string
			var output *output
			if *asJSON {
				if output, err = createOutput(e, *out, false); err != nil {
					return err
				}
				exp, dest = otelconv.NewJSONExporter(output), output.name
			} else {
				cfg := otlpexport.Config{Protocol: *protocol, Endpoint: *endpoint, Headers: headers.m}
				if set["insecure"] {
					cfg.Insecure = insecure
				}
				if set["timeout"] {
					cfg.Timeout = *timeout
				}
				ep, err := resolveEndpoint(cfg, "")
				if err != nil {
					return err
				}
				if err := ep.Check(); err != nil {
					return err
				}
				if exp, err = ep.NewExporter(ctx); err != nil {
					if ctx.Err() != nil {
						err = context.Cause(ctx) // the interrupt, not "context canceled"
					}
					return fmt.Errorf("OTLP exporter for %s: %w", ep, err)
				}
				dest, *timeout = ep.String(), ep.Timeout()
				opts = append(opts, otelconv.WithRetry(*timeout), otelconv.WithExportTimeout(*timeout), otelconv.WithDestination(dest))
			}

			// Interrupted, the spans converted are still sent, which
			// against a peer that does not answer takes the timeout: the
			// command says so when it is interrupted, not once it is over.
			noted := make(chan struct{})
			stopNote := context.AfterFunc(ctx, func() {
				defer close(noted)
				if !*asJSON {
					fmt.Fprintf(e.stderr, "trace2x: %v: sending the spans converted to %s, for up to %v; interrupt again to stop at once\n", context.Cause(ctx), dest, *timeout)
				}
			})
			res, convErr := convertOTel(ctx, e, in, inOpts, exp, append(opts, otelconv.WithFlushTimeout(*timeout)))
			if ctx.Err() != nil && errors.Is(convErr, context.Canceled) {
				convErr = context.Cause(ctx)
			}
			shutdownCtx, cancel := context.WithTimeout(context.Background(), *timeout)
			defer cancel()
			shutErr := exp.Shutdown(shutdownCtx) // the spans still queued go
			if !stopNote() {
				<-noted // stderr is the command's again
			}
			var closeErr error
			if output != nil {
				if res != nil && res.Summary != nil {
					output.complete() // the trace was read, though it may have no spans
				}
				closeErr = output.Close()
			}
			// An output that failed (a full disk, a closed pipe) holds no
			// count worth reporting: its error says it all.
			outputFailed := *asJSON && convErr != nil && ctx.Err() == nil && !errors.As(convErr, new(*mapping.Error))
			if closeErr == nil && !e.convertedNothing.Load() && !outputFailed {
				// With nothing kept, the error says so alone.
				// Spans counted as written may still have been in a buffer
				// that failed to reach the file: only a clean close vouches.
				// Spans refused by the endpoint stop nothing: the rest went.
				stopped := ""
				whole := res != nil && res.Summary != nil && res.Summary.Err == nil && !res.StoppedPass
				switch {
				case convErr == nil || errors.As(convErr, new(*otelconv.RejectedError)):
				case whole && !errors.As(convErr, new(*mapping.Error)):
					// The export failed, or was interrupted, as the
					// last spans went: the whole trace was converted.
				case ctx.Err() == nil && !errors.As(convErr, new(*mapping.Error)):
					stopped = "the export failed and stopped the conversion"
				default:
					stopped = "the conversion stopped"
				}
				report(e.stderr, in.name, dest, res, timeNote, *asJSON, stopped)
				noSpansHint(e.stderr, in.name, res, !inOpts.filter.Empty())
			}
			if convErr != nil && !*asJSON && !errors.As(convErr, new(*mapping.Error)) && !errors.As(convErr, new(*otelconv.ExportError)) {
				convErr = fmt.Errorf("pushing to %s: %w", dest, convErr)
			}
			return joinErrors(convErr, shutErr, closeErr)
		}
	},
}

// convertOTel is otelconv.Convert through the command's filters and
// progress line. Span IDs are seeded from the start of the decompressed
// trace, as Convert does, so both give the same spans.
func convertOTel(ctx context.Context, e *env, in *input, inOpts *inputOpts, exp sdktrace.SpanExporter, opts []otelconv.Option) (*otelconv.Result, error) {
	src, seed, err := otelconv.Seed(in)
	if err != nil {
		return &otelconv.Result{}, fmt.Errorf("%s: %w", in.name, err)
	}
	// An interrupt stops the pass, and the sink only once the flush
	// timeout has passed: the mapping then closes what is open, as for a
	// trace that breaks off, and the sink turns it into spans, so that no
	// span sent has its parent left out, and what was converted is sent
	// for up to that time, whether the pass was still reading or over.
	s := otelconv.NewSink(ctx, exp, append(opts, otelconv.WithIDSeed(seed))...)
	sum, err := in.mapTrace(e, inOpts, src, s, mapping.WithoutBackdatedCounts())
	res := s.Result()
	res.Summary = sum
	return &res, err
}

// report prints what was converted, and where the times came from;
// stopped, if not empty, says why the conversion stopped before the end
// of the trace, so that the spans counted are not taken for all of it.
func report(w io.Writer, input, dest string, res *otelconv.Result, timeNote string, toFile bool, stopped string) {
	if res.Spans() == 0 && res.Summary == nil {
		return // the input was not read as a trace; the error says why
	}
	// A trace that has spans and no clock snapshot is of a format that
	// has none: a Go 1.25+ trace gives its snapshot with its first event.
	const noClock = "the trace has no clock snapshot"
	switch {
	case res.Spans() == 0:
		// No span has a time to explain.
	case res.TimeSource == otelconv.TimeFromClock:
		note := ""
		if timeNote == "--start-time" {
			note = "; --start-time is not used"
		}
		fmt.Fprintf(w, "trace2x: %s: span times from the trace's wall-clock snapshot%s\n", input, note)
	case res.TimeSource == otelconv.TimeFromStartTime:
		fmt.Fprintf(w, "trace2x: %s: span times from %s (%s)\n", input, timeNote, noClock)
	default:
		fmt.Fprintf(w, "trace2x: %s: span times from the time of this conversion: %s; give --start-time\n", input, noClock)
	}
	kinds := nouns(res.Tasks, "task") + ", " + nouns(res.Regions, "region") + ", " + nouns(res.Goroutines-res.GoroutineParts, "goroutine")
	if res.GoroutineParts > 0 {
		// A goroutine whose regions outside tasks fill several traces
		// has a span in each.
		kinds += " in " + nouns(res.Goroutines, "span")
	}
	if res.Runtime > 0 {
		kinds += fmt.Sprintf(", %d runtime", res.Runtime)
	}
	if res.Placeholders > 0 {
		kinds += ", " + nouns(res.Placeholders, "placeholder")
	}
	verb := "exported"
	if toFile {
		verb = "wrote"
	}
	of := "of"
	if stopped != "" {
		of = "of the" // not the trace's total
	}
	fmt.Fprintf(w, "trace2x: %s: %s %d %s %s (%s) in %s with %s to %s",
		input, verb, res.Exported, of, nouns(res.Spans(), "span"), kinds, nouns(res.Traces(), "trace"), nouns(res.Events, "event"), dest)
	if stopped != "" {
		fmt.Fprintf(w, ", converted before %s", stopped)
		if sum := res.Summary; sum != nil && sum.End > sum.Meta.Start {
			// The spans counted are those of the trace read by then: say
			// how much that was, so that what was lost is not taken for
			// the difference.
			read := fmt.Sprintf("%.1f MB", float64(sum.BytesRead)/1e6)
			if sum.BytesRead < 1e6 {
				read = fmt.Sprintf("%d kB", (sum.BytesRead+999)/1000)
			}
			fmt.Fprintf(w, " at %v of the trace (%s read); nothing after that was converted or sent",
				time.Duration(sum.End-sum.Meta.Start).Round(time.Millisecond), read)
		} else if res.Summary == nil {
			// The spans alone stopped (convert's other outputs went on):
			// those counted are not all the trace would have made.
			fmt.Fprint(w, "; no span after that was made or sent")
		}
	}
	fmt.Fprintln(w)
	if (res.Joined > 0 || res.LateJoins > 0 || res.BadTraceparents > 0) && (toFile || res.Exported > 0) {
		fmt.Fprintf(w, "trace2x: %s: %d tasks joined remote traces by traceparent, %d traceparents came too late (linked), %d did not parse\n",
			input, res.Joined, res.LateJoins, res.BadTraceparents)
	}
	if res.TasklessTraceparents > 0 && (toFile || res.Exported > 0) {
		fmt.Fprintf(w, "trace2x: %s: %d traceparents were logged outside any task, so joined nothing: log each in its request's task (trace.NewTask); the OpenTelemetry SDK begins one only for the spans it samples\n",
			input, res.TasklessTraceparents)
	}
	switch {
	case res.MostSameParent >= crowdedTrace:
		fmt.Fprintf(w, "trace2x: %s: %d tasks logged the same traceparent (the most of one; %d tasks joined remote trace %s): a backend shows them as one trace, and may drop what is over its size limit; a task per request should log its own request's\n",
			input, res.MostSameParent, res.MostJoined, res.MostJoinedTrace)
	case res.MostJoined >= crowdedTrace:
		// A request that fanned out: each task under a span of its own.
		fmt.Fprintf(w, "trace2x: %s: %d tasks joined one remote trace, %s, under different spans of it (a request's fan-out): a backend shows them as one trace, and may drop what is over its size limit; --task or --from/--to keeps less\n",
			input, res.MostJoined, res.MostJoinedTrace)
	}
	if res.LargestTraceSpans >= hugeTrace {
		fmt.Fprintf(w, "trace2x: %s: the largest trace, %s, holds %d spans: a backend shows a trace that large slowly if at all (Jaeger answers about 1.3 kB a span); trace2x cuts neither a remote trace that tasks joined nor a task's or a region's regions: --task, --region or --from/--to keeps less\n",
			input, res.LargestTrace, res.LargestTraceSpans)
	}
	if res.Unsampled > 0 {
		fmt.Fprintf(w, "trace2x: %s: %d spans of requests the application did not sample are left out (sampled only)\n", input, res.Unsampled)
	}
	if res.SDKTasks > 0 {
		fmt.Fprintf(w, "trace2x: %s: %d tasks that the OpenTelemetry SDK began for the application's own spans are left out: the application exports those spans\n", input, res.SDKTasks)
	}
	if res.SDKTasksAlone > 0 {
		fmt.Fprintf(w, "trace2x: %s: %d tasks that the OpenTelemetry SDK began for the application's spans hold the program's regions, logs or tasks, so are sent, each a trace apart from the application's (the trace does not say which span each copies): a traceparent logged in them (trace.Log(r.Context(), \"traceparent\", ...)) joins them\n", input, res.SDKTasksAlone)
	}
	if res.DroppedLogs > 0 {
		fmt.Fprintf(w, "trace2x: %s: %d logs beyond the span event limit (OTEL_SPAN_EVENT_COUNT_LIMIT) were dropped\n", input, res.DroppedLogs)
	}
	if res.Failed > 0 && res.Exported > 0 {
		// With none exported, the count above says it.
		fmt.Fprintf(w, "trace2x: %s: %d spans were rejected or not sent\n", input, res.Failed)
	}
}

// quietSDK keeps the OpenTelemetry SDK from printing: it reports export
// errors to a global handler, and what it cannot read of its variables
// to a global logger, both of which print; the command reports each
// error itself, once, and has refused the variables the SDK would log
// (otlpexport.Resolve), but for a host:port endpoint, which the command
// takes and the SDK, wanting a URL, logs.
func quietSDK() {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	otel.SetLogger(logr.Discard())
}

// hugeTrace is how many spans in one trace are worth a warning: Jaeger's
// API answers about 1.3 kB a span, so its UI fetches 13 MB for one of
// them, and a search that finds twenty such traces, far more.
const hugeTrace = 10_000

// crowdedTrace is how many tasks joining one remote trace are worth a
// warning: more than any request makes, enough to burden a backend.
const crowdedTrace = 1000

// noSpansHint says, for a whole trace (filtered bool unset) that made no
// spans, why and what else makes them: spans come from runtime/trace's
// annotations, which many programs do not make.
func noSpansHint(w io.Writer, input string, res *otelconv.Result, filtered bool) {
	if res.Spans() == 0 && res.Summary != nil && res.Summary.Err == nil && !filtered && res.Unsampled == 0 {
		fmt.Fprintf(w, "trace2x: %s: no spans: the trace has no tasks or regions (runtime/trace.NewTask, WithRegion); --goroutine-spans and --runtime-spans make spans of goroutines and of GC and stop-the-world pauses\n", input)
	}
}

// fileStart returns, for a trace file without a clock snapshot, its
// modification time less the trace's duration, found by a first pass; and
// how it was found. It returns the zero time for a trace with a snapshot,
// or for standard input, which cannot be read twice.
func fileStart(in *input) (time.Time, string, error) {
	f, ok := in.ReadCloser.(*os.File)
	if !ok || in.path == "" || in.copied {
		// A stream, or the copy of one made for a filter: no file time.
		return time.Time{}, "", nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return time.Time{}, "", nil
	}
	// The first pass reads its own handle: a pass stopped early may leave
	// the mapping's parsing goroutine reading on for a moment.
	pf, err := os.Open(in.path)
	if err != nil {
		return time.Time{}, "", err
	}
	defer pf.Close()
	probe := &clockProbe{}
	sum, _ := mapping.Map(pf, probe, mapping.WithInputName(in.name))
	if probe.clock || sum == nil {
		return time.Time{}, "", nil // the second pass reports a broken trace
	}
	d := sum.End.Sub(sum.Start)
	return st.ModTime().Add(-d), fmt.Sprintf("the file's modification time less the trace's duration (%v)", roundDuration(d)), nil
}

// roundDuration rounds d to three or four significant digits, so that a
// short trace's duration does not print as 0s.
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Duration(1e15); unit >= time.Nanosecond; unit /= 10 {
		if d >= 1000*unit {
			return d.Round(unit)
		}
	}
	return d
}

// clockProbe stops a pass at once if the trace has a clock snapshot.
type clockProbe struct {
	mapping.NopSink
	clock bool
}

var errHasClock = errors.New("the trace has a clock snapshot")

func (p *clockProbe) Begin(m *mapping.Meta) error {
	if m.Clock != nil {
		p.clock = true
		return errHasClock
	}
	return nil
}

// spanOptions are the conversion's options that otlp's flags set (and
// convert's, prefixed): service.name, and which spans besides tasks' and
// regions' are made.
func spanOptions(service string, runtimeSpans, goroutineSpans, noStacks, sampledOnly bool) []otelconv.Option {
	var opts []otelconv.Option
	if service != "" {
		opts = append(opts, otelconv.WithServiceName(service))
	}
	if runtimeSpans {
		opts = append(opts, otelconv.WithRuntimeSpans())
	}
	if goroutineSpans {
		opts = append(opts, otelconv.WithGoroutineSpans())
	}
	if noStacks {
		opts = append(opts, otelconv.WithoutStacktraces())
	}
	if sampledOnly {
		opts = append(opts, otelconv.WithSampledOnly())
	}
	return opts
}

// headerFlags collects --header NAME:VALUE or NAME=VALUE, and the first
// mistake in one, said once the flags are parsed: the flag package's
// error would quote the value, a credential most often.
type headerFlags struct {
	m   map[string]string
	err error
}

func (h *headerFlags) String() string { return "" }

func (h *headerFlags) Set(v string) error {
	name, value, err := parseHeader(v)
	if err == nil && strings.EqualFold(name, "Host") {
		err = errors.New("Host is taken from the endpoint, not set by a header")
	}
	if err != nil {
		h.err = cmp.Or(h.err, err)
		return nil
	}
	if h.m == nil {
		h.m = map[string]string{}
	}
	h.m[name] = value
	return nil
}

// resolveEndpoint resolves where spans go, naming the command's flags
// (prefixed with prefix) in a mistake made with them.
func resolveEndpoint(cfg otlpexport.Config, prefix string) (*otlpexport.Endpoint, error) {
	ep, err := otlpexport.Resolve(cfg)
	var se *otlpexport.SettingError
	if errors.As(err, &se) && se.Env == "" && se.Value == "" && se.Setting == "headers" {
		return nil, usageError{fmt.Sprintf("--%sheader: %s", prefix, se.Reason)}
	}
	if errors.As(err, &se) && se.Env == "" {
		return nil, usageError{fmt.Sprintf("--%s%s %q: %s", prefix, se.Setting, se.Value, se.Reason)}
	}
	return ep, err
}

// nouns gives n with noun, plural but for one.
func nouns[N ~int | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
