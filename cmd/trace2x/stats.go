package main

import (
	"flag"
	"os"

	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

var statsCmd = &command{
	name:  "stats",
	args:  "[--json] [-o FILE] [trace.out | -]",
	short: "summarise a trace: version, duration, events, goroutines, GC, tasks",
	long: `Stats reads the whole trace and prints what it holds: the trace format
version, duration and wall-clock start (Go 1.25+), events by kind,
goroutines, Ps and Ms, tasks, regions and logs, GC cycles and
stop-the-world pauses, the minimum mutator utilization (MMU) in windows of
1ms and 10ms, CPU samples, bytes read, and how many items began before
the trace or were still open at its end. Then where the time went: the
goroutines by start function (the ten that ran longest, then up to three
with the most goroutines alive at the end), task and region
latency by type (up to 20 types each) and the longest stop-the-world
pauses; the trace's generations are listed after its duration. --json
lists everything.

A trace that breaks off is summarised up to the break (the generations
before it, about a second each, and what of the broken one the parser
read before the fault; nothing of a Go 1.21 or older trace); the error
is printed and the exit status is 1.`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		asJSON := fs.Bool("json", false, "print JSON for scripts instead of text")
		out := fs.String("o", "-", "write to `FILE` instead of standard output (.gz: compressed)")
		return func(e *env, args []string) error {
			if err := checkOutputs(e, args, *out); err != nil {
				return err
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			sink := stats.NewSink()
			sum, mapErr := in.mapTrace(e, inOpts, in, sink, mapping.WithoutBackdatedCounts())
			report := sink.Report()
			if sum == nil || report == nil {
				return mapErr // nothing was read, or the filter's window is not in the trace
			}
			if e.convertedNothing.Load() && !inOpts.filter.Empty() {
				// A report of zeros would pass for one of what was
				// asked; the error says what the trace has.
				return mapErr
			}
			addGenerations(report, in)
			w, err := createOutput(e, *out, false)
			if err != nil {
				return err
			}
			if *asJSON {
				err = report.WriteJSON(w)
			} else {
				err = report.WriteText(w)
			}
			return joinErrors(mapErr, err, w.Close())
		}
	},
}

// addGenerations lists the generations of a trace file; a stream, a
// compressed file or a trace before Go 1.22 has none to list.
func addGenerations(r *stats.Report, in *input) {
	if f, ok := in.ReadCloser.(*os.File); ok && in.path != "" && in.size > 0 {
		_ = r.ReadGenerations(f, in.size)
	}
}
