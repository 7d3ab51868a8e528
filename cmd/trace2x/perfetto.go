package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
)

var perfettoCmd = &command{
	name:  "perfetto",
	args:  "[-o FILE] [flags] [trace.out | -]",
	short: "convert to a Perfetto trace (.pftrace) for ui.perfetto.dev",
	long: `Perfetto writes the trace as a Perfetto protobuf trace, to open in
ui.perfetto.dev or query with Perfetto's trace processor: a track per P
with the goroutines it ran, GC cycles and stop-the-world pauses, counters,
a thread track per M (with the OS thread ID) with the P it held and its
blocking syscalls, goroutines on lanes shared by start function, tasks on
lanes by type, regions and logs, flows, the stack that began each state
(a run has none: where it stopped is the stack of the state after it),
and CPU profile samples.

Packets are written deflated inside the file, which Perfetto reads as it
is; --uncompressed writes them plain. Counters keep, per 500us, their
lowest, highest and last values (--counter-resolution).

A trace that breaks off is converted up to the break (the generations
before it, about a second each, and what of the broken one the parser
read before the fault; nothing of a Go 1.21 or older trace) and the file
is still valid; the error is printed and the exit status is 1.

Examples:

	trace2x perfetto trace.out > trace.pftrace
	trace2x perfetto -o trace.pftrace.gz trace.out
	curl -s 'localhost:6060/debug/pprof/trace?seconds=5' | trace2x perfetto -o t.pftrace`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		resolution := counterFlag(fs)
		out := fs.String("o", "-", "write to `FILE` instead of standard output (.gz: compressed)")
		name := fs.String("process-name", "", "`NAME` of the process track (default: the input's name)")
		pid := fs.Int("pid", 1, "process `ID` for the process and thread tracks, to line up with a system trace")
		start := fs.String("start-time", "", "wall-clock `TIME` (RFC 3339) at which the trace started, for traces before Go 1.25 that do not record it")
		plain := fs.Bool("uncompressed", false, "write the packets plain, not deflated in compressed packets, for tools that do not read those")
		return func(e *env, args []string) error {
			startTime, err := startTimeFlag(*start, inOpts)
			if err != nil {
				return err
			}
			if err := checkOutputs(e, args, *out); err != nil {
				return err
			}
			if *pid < 1 || *pid > math.MaxInt32 {
				// 0 is the kernel's idle process to the trace processor,
				// which would take the Go process's threads for its own.
				return usageError{fmt.Sprintf("--pid must be from 1 to %d (a 32-bit process ID), not %d", math.MaxInt32, *pid)}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			processName := *name
			if processName == "" {
				processName = in.shortName()
			}
			w, err := createOutput(e, *out, true)
			if err != nil {
				return err
			}
			pw := perfetto.NewWriter(w,
				perfetto.WithProcessName(processName),
				perfetto.WithPID(int32(*pid)),
				perfetto.WithStartTime(startTime),
				perfetto.WithVersion(trace2xVersion()),
				perfetto.WithCompression(!*plain))
			sum, mapErr := in.mapTrace(e, inOpts, in, mapping.ThinCounters(pw, *resolution))
			if !startTime.IsZero() && sum != nil && sum.Clock != nil {
				fmt.Fprintf(e.stderr, "trace2x: %s: note: --start-time is not used: the trace records its own wall clock\n", in.name)
			}
			notePerfetto(e, in, pw)
			return joinErrors(mapErr, w.Close())
		}
	},
}

// notePerfetto tells what the Perfetto writer left out on purpose, and
// when the file is too large for the UI in a browser.
func notePerfetto(e *env, in *input, w *perfetto.Writer) {
	if n := w.OmittedTaskFlows(); n > 0 {
		fmt.Fprintf(e.stderr, "trace2x: %s: note: %d regions and logs got no flow from their task (flows to 1024 goroutines per task at most); the regions and logs are all there\n", in.name, n)
	}
	if n := w.OmittedDeepRegions(); n > 0 {
		fmt.Fprintf(e.stderr, "trace2x: %s: note: %d regions nested deeper than 500 on their goroutine are left out (Perfetto keeps 512 levels of slices a track); the Chrome JSON has them\n", in.name, n)
	}
	if note := perfettoBudget(w); note != "" {
		fmt.Fprintf(e.stderr, "trace2x: %s: note: %s\n", in.name, note)
	}
}

// perfettoBudget returns what to do instead when a Perfetto trace is more
// than the UI in a browser can load, or "". The trace processor's memory
// follows the rows it builds (70-130 bytes each, and the file besides),
// not the file's size, which compression hides: a browser's 2 GB or so
// hold about 15 million rows.
func perfettoBudget(w *perfetto.Writer) string {
	rows := w.Rows()
	if rows <= largePerfetto {
		return ""
	}
	return fmt.Sprintf("the Perfetto trace makes about %d million rows in Perfetto (%d MB of file); ui.perfetto.dev in a browser usually runs out of memory above %d million: run Perfetto's trace_processor --httpd on the file, which the UI then uses, open the trace with trace2x view, which serves it in windows the UI holds, or convert a part (--from/--to, --goroutine, --task)",
		(rows+500_000)/1_000_000, w.Size()>>20, largePerfetto/1_000_000)
}

// largePerfetto is the number of rows (see perfettoBudget), and
// largeChrome the size, above which a Perfetto or Chrome JSON file is
// unlikely to load in a browser. Tests lower them.
var (
	largePerfetto int64 = 15_000_000
	largeChrome   int64 = 256 << 20
)

// noteChrome tells what the Chrome JSON writer left out of the samples
// arrays, and when the file (o, nil for split parts) is too large for the
// viewers in a browser.
func noteChrome(e *env, in *input, w *chromejson.Writer, o *output) {
	if n := w.SamplesOmitted(); n > 0 {
		fmt.Fprintf(e.stderr, "trace2x: %s: note: %d CPU samples were left out of the samples arrays (a million per file at most); they are all in the events, with their stacks\n", in.name, n)
	}
	if o != nil && o.n > largeChrome && !o.unwritten {
		fmt.Fprintf(e.stderr, "trace2x: %s: note: the JSON is %d MB; chrome://tracing fails above a few hundred MB: trace2x chrome --split 200M writes parts that each load alone, and trace2x perfetto writes the same content several times smaller\n", in.name, o.n>>20)
	}
}
