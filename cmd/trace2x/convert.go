package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/trace2x/trace2x/convert/chromejson"
	otelconv "github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/convert/otel/otlpexport"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

var convertCmd = &command{
	name:  "convert",
	args:  "[--perfetto FILE] [--chrome FILE] [--otlp] [--otlp-json FILE] [--stats FILE] [trace.out | -]",
	short: "convert in one pass to several formats at once",
	long: `Convert reads the trace once and writes every output named, as the
perfetto, chrome, otlp and stats commands would each write it: a trace read
from a pipe (curl ... | trace2x convert ...) is read only once. Output
names ending in .gz are written gzip-compressed; "-" is standard output
(for at most one of them). An output that fails (a full disk) is left out
and the others are written whole; the failure is printed and the exit
status is 1. One that cannot begin (a directory that does not exist, an
OTLP endpoint that cannot be reached) is found before the trace is read,
and then nothing is written.

The settings of the other commands that differ by output take the
output's name as prefix: --perfetto-process-name, --perfetto-pid and
--perfetto-uncompressed; --otlp-service-name, --otlp-runtime-spans,
--otlp-goroutine-spans, --otlp-no-stacktraces and --otlp-sampled-only
(for --otlp and --otlp-json); --otlp-endpoint, --otlp-protocol, --otlp-insecure,
--otlp-header and --otlp-timeout (for --otlp). --start-time serves the
Perfetto and OTLP outputs. chrome's --split and --pretty are chrome's
alone.

Example:

	trace2x convert --perfetto t.pftrace --chrome t.json.gz --stats t.stats.json trace.out
	trace2x convert --perfetto t.pftrace --otlp 'http://127.0.0.1:6060/debug/pprof/trace?seconds=5'`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		resolution := counterFlag(fs)
		pf := fs.String("perfetto", "", "write a Perfetto trace to `FILE`")
		cj := fs.String("chrome", "", "write Chrome trace-event JSON to `FILE`")
		st := fs.String("stats", "", "write the stats of the trace, as JSON, to `FILE`")
		oj := fs.String("otlp-json", "", "write the tasks and regions as OTLP JSON spans to `FILE`, as otlp --json does")
		push := fs.Bool("otlp", false, "push the tasks and regions as spans to an OTLP endpoint, as otlp does: the one the OTEL_EXPORTER_OTLP_* variables name, else 127.0.0.1:4317 (gRPC) or 127.0.0.1:4318 (HTTP)")
		pushEndpoint := fs.String("otlp-endpoint", "", "with --otlp: push to `ENDPOINT` (host:port or URL) instead")
		pushProtocol := fs.String("otlp-protocol", "", "with --otlp: push with `PROTOCOL`: grpc, http/protobuf or http/json (default grpc)")
		pushInsecure := fs.Bool("otlp-insecure", false, "with --otlp: use plain text, not TLS, even for an endpoint that is not loopback")
		var pushHeaders headerFlags
		fs.Var(&pushHeaders, "otlp-header", "with --otlp: send header `NAME:VALUE` (or NAME=VALUE) with every request (repeatable)")
		pushTimeoutFlag := new(time.Duration)
		fs.Var(durationValue{pushTimeoutFlag}, "otlp-timeout", "with --otlp: give up on an export that does not succeed within `DURATION`, retries included (default 10s)")
		service := fs.String("otlp-service-name", "", "with --otlp or --otlp-json: `NAME` for the spans' service.name (default: unknown_service; a URL capture sets service.instance.id to its host:port)")
		runtimeSpans := fs.Bool("otlp-runtime-spans", false, "with --otlp or --otlp-json: add GC cycles and stop-the-world pauses as spans, in a trace per second")
		goroutineSpans := fs.Bool("otlp-goroutine-spans", false, "with --otlp or --otlp-json: add the life of every goroutine as a span")
		noStacks := fs.Bool("otlp-no-stacktraces", false, "with --otlp or --otlp-json: leave out the whole stacks (code.stacktrace), keeping the innermost frame of user code")
		sampledOnly := fs.Bool("otlp-sampled-only", false, "with --otlp or --otlp-json: leave out the tasks that joined a remote trace the application did not sample (traceparent flags 00)")
		start := fs.String("start-time", "", "wall-clock `TIME` (RFC 3339) at which the trace started, for traces before Go 1.25 that do not record it (the Perfetto and OTLP outputs)")
		processName := fs.String("perfetto-process-name", "", "with --perfetto: `NAME` of the process track (default: the input's name)")
		pid := fs.Int("perfetto-pid", 1, "with --perfetto: process `ID` for the process and thread tracks, to line up with a system trace")
		plain := fs.Bool("perfetto-uncompressed", false, "with --perfetto: write the packets plain, not deflated in compressed packets")
		return func(e *env, args []string) error {
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			endpointSet := set["otlp-endpoint"]
			for _, name := range []string{"otlp-endpoint", "otlp-protocol", "otlp-insecure", "otlp-header", "otlp-timeout"} {
				if set[name] && !*push {
					return usageError{fmt.Sprintf("--%s goes with --otlp", name)}
				}
			}
			for _, name := range []string{"otlp-service-name", "otlp-runtime-spans", "otlp-goroutine-spans", "otlp-no-stacktraces", "otlp-sampled-only"} {
				if set[name] && !*push && *oj == "" {
					return usageError{fmt.Sprintf("--%s goes with --otlp or --otlp-json", name)}
				}
			}
			for _, name := range []string{"perfetto-process-name", "perfetto-pid", "perfetto-uncompressed"} {
				if set[name] && *pf == "" {
					return usageError{fmt.Sprintf("--%s goes with --perfetto", name)}
				}
			}
			if pushHeaders.err != nil {
				return usageError{"--otlp-header: " + pushHeaders.err.Error()}
			}
			if set["otlp-timeout"] && *pushTimeoutFlag <= 0 {
				return usageError{"--otlp-timeout must be positive"}
			}
			if *pid < 1 || *pid > math.MaxInt32 {
				return usageError{fmt.Sprintf("--perfetto-pid must be from 1 to %d (a 32-bit process ID), not %d", math.MaxInt32, *pid)}
			}
			if set["start-time"] && *pf == "" && *oj == "" && !*push {
				return usageError{"--start-time goes with --perfetto, --otlp or --otlp-json"}
			}
			startTime, err := startTimeFlag(*start, inOpts)
			if err != nil {
				return err
			}
			if endpointSet && strings.TrimSpace(*pushEndpoint) == "" {
				return usageError{"--otlp-endpoint is empty (an unset variable?); without the flag, spans go to OTEL_EXPORTER_OTLP_ENDPOINT or 127.0.0.1"}
			}
			stdout := 0
			for _, name := range []string{*pf, *cj, *st, *oj} {
				if name == "-" {
					stdout++
				}
			}
			if *pf == "" && *cj == "" && *st == "" && *oj == "" && !*push {
				return usageError{"name at least one output: --perfetto, --chrome, --otlp, --otlp-json or --stats"}
			}
			if stdout > 1 {
				return usageError{"only one output can go to standard output"}
			}
			if err := checkOutputs(e, args, *pf, *cj, *st, *oj); err != nil {
				return err
			}
			if *oj != "" || *push {
				if err := otelconv.CheckEnv(); err != nil {
					return err
				}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			var (
				sinks   []mapping.Sink
				closers []func() error
				read    bool // the pass read a trace (closers run after it)
			)
			fail := func(err error) error {
				for _, c := range closers {
					c()
				}
				return err
			}
			if *pf != "" {
				o, err := createOutput(e, *pf, true)
				if err != nil {
					return fail(err)
				}
				w := perfetto.NewWriter(o,
					perfetto.WithProcessName(cmp.Or(*processName, in.shortName())),
					perfetto.WithPID(int32(*pid)),
					perfetto.WithStartTime(startTime),
					perfetto.WithVersion(trace2xVersion()),
					perfetto.WithCompression(!*plain))
				sinks = append(sinks, mapping.ThinCounters(w, *resolution))
				closers = append(closers, func() error { notePerfetto(e, in, w); return w.Close() }, o.Close)
			}
			if *cj != "" {
				o, err := createOutput(e, *cj, false)
				if err != nil {
					return fail(err)
				}
				w := chromejson.NewWriter(o, chromejson.WithVersion(trace2xVersion()))
				sinks = append(sinks, mapping.ThinCounterGroups(w, *resolution))
				closers = append(closers, w.Close, o.Close, func() error { noteChrome(e, in, w, o); return nil })
			}
			statsSink := stats.NewSink()
			if *st != "" {
				sinks = append(sinks, statsSink)
			}
			src := io.Reader(in)
			var pushed *otelconv.Sink
			var pushDest, timeNote string
			var pushTimeout time.Duration
			if *oj != "" || *push {
				quietSDK()
				// Span IDs come from the start of the decompressed trace, and
				// span times from the same source, as in otlp, so both
				// commands give the same spans.
				br, seed, err := otelconv.Seed(in)
				if err != nil {
					return fail(fmt.Errorf("%s: %w", in.name, err))
				}
				src = br
				spanStart := startTime
				if spanStart.IsZero() {
					if spanStart, timeNote, err = fileStart(in); err != nil {
						return fail(err)
					}
				} else {
					timeNote = "--start-time"
				}
				opts := []otelconv.Option{otelconv.WithInputName(in.name), otelconv.WithVersion(trace2xVersion()), otelconv.WithIDSeed(seed)}
				if !spanStart.IsZero() {
					opts = append(opts, otelconv.WithStartTime(spanStart))
				}
				opts = append(opts, spanOptions(*service, *runtimeSpans, *goroutineSpans, *noStacks, *sampledOnly)...)
				if *oj != "" {
					o, err := createOutput(e, *oj, false)
					if err != nil {
						return fail(err)
					}
					exp := otelconv.NewJSONExporter(o)
					sinks = append(sinks, otelconv.NewSink(context.Background(), exp, opts...))
					closers = append(closers, func() error { return exp.Shutdown(context.Background()) }, func() error {
						if read {
							o.complete() // the trace was read, though it may have no spans
						}
						return o.Close()
					})
				}
				if *push {
					cfg := otlpexport.Config{Protocol: *pushProtocol, Endpoint: *pushEndpoint, Headers: pushHeaders.m}
					if set["otlp-insecure"] {
						cfg.Insecure = pushInsecure
					}
					if set["otlp-timeout"] {
						cfg.Timeout = *pushTimeoutFlag
					}
					ep, err := resolveEndpoint(cfg, "otlp-")
					if err != nil {
						return fail(err)
					}
					if err := ep.Check(); err != nil {
						return fail(err)
					}
					timeout := ep.Timeout()
					exp, err := ep.NewExporter(context.Background())
					if err != nil {
						return fail(fmt.Errorf("OTLP exporter for %s: %w", ep, err))
					}
					pushDest, pushTimeout = ep.String(), timeout
					// As otlp: interrupted, the spans converted are sent
					// for up to the timeout.
					pushed = otelconv.NewSink(e.context(), exp,
						append(opts, otelconv.WithRetry(timeout), otelconv.WithExportTimeout(timeout), otelconv.WithDestination(pushDest), otelconv.WithFlushTimeout(timeout))...)
					sinks = append(sinks, pushed)
					closers = append(closers, func() error {
						ctx, cancel := context.WithTimeout(context.Background(), timeout)
						defer cancel()
						if err := exp.Shutdown(ctx); err != nil {
							return fmt.Errorf("pushing to %s: %w", pushDest, err)
						}
						return nil
					})
				}
			}
			var mopts []mapping.Option
			if *pf == "" && *cj == "" {
				// No output draws the goroutine counters.
				mopts = append(mopts, mapping.WithoutBackdatedCounts())
			}
			stopNote := func() bool { return true }
			noted := make(chan struct{})
			if pushed != nil {
				// As otlp: interrupted, the spans converted are still
				// sent, which a peer that does not answer makes last.
				stopNote = context.AfterFunc(e.context(), func() {
					defer close(noted)
					fmt.Fprintf(e.stderr, "trace2x: %v: sending the spans converted to %s, for up to %v; interrupt again to stop at once\n", context.Cause(e.context()), pushDest, pushTimeout)
				})
			}
			sum, mapErr := in.mapTrace(e, inOpts, src, mapping.FanOutIndependent(sinks...), mopts...)
			read = sum != nil
			if !startTime.IsZero() && sum != nil && sum.Clock != nil && (*pf != "" || *oj != "" || *push) {
				fmt.Fprintf(e.stderr, "trace2x: %s: note: --start-time is not used: the trace records its own wall clock\n", in.name)
			}
			if ctx := e.context(); ctx.Err() != nil && errors.Is(mapErr, context.Canceled) {
				// The push, stopped by the interrupt once its time to
				// send was over: the interrupt, not "context canceled".
				mapErr = context.Cause(ctx)
			}
			errs := []error{mapErr}
			if report := statsSink.Report(); *st != "" && sum != nil && report != nil {
				o, err := createOutput(e, *st, false)
				if err == nil {
					addGenerations(report, in)
					errs = append(errs, report.WriteJSON(o), o.Close())
				} else {
					errs = append(errs, err)
				}
			}
			for _, c := range closers {
				errs = append(errs, c())
			}
			if !stopNote() {
				<-noted // stderr is the command's again
			}
			if pushed != nil {
				res := pushed.Result()
				res.Summary = sum
				stopped := ""
				var merr *mapping.Error
				switch {
				case res.StoppedPass && e.context().Err() != nil:
					// Interrupted, the spans converted were sent until
					// the timeout; the pass stopped at the interrupt.
					stopped = "the conversion stopped"
				case res.StoppedPass:
					// The push failed and was dropped; the other outputs
					// went on, which says nothing of where the spans
					// stopped.
					stopped = "the export failed"
					res.Summary = nil
				case errors.As(mapErr, &merr):
					stopped = "the conversion stopped"
				}
				report(e.stderr, in.name, pushDest, &res, timeNote, false, stopped)
				if res.Failed > 0 && errors.Join(errs...) == nil {
					// The report said how many; an error says it again
					// only where none says why (the exit status is 1).
					errs = append(errs, fmt.Errorf("%d spans were not accepted by %s", res.Failed, pushDest))
				}
			}
			return joinErrors(errs...)
		}
	},
}
