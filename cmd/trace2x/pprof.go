package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

var pprofCmd = &command{
	name:  "pprof",
	args:  "--kind=net|sync|syscall|sched|cpu|wall [-o FILE] [flags] [trace.out | -]",
	short: "write a pprof profile (blocking, syscalls, scheduling, CPU, wall time)",
	long: `Pprof writes a gzip-compressed pprof profile for go tool pprof, by
stack:

  net      time blocked on the network
  sync     time blocked on channels, select and sync primitives
  syscall  time in system calls and cgo calls
  sched    time runnable, waiting to be scheduled
  cpu      the CPU profile samples in the trace (pprof.StartCPUProfile)
  wall     time in every goroutine state, with the state in a label

net, sync, syscall and sched give the same figures as
go tool trace -pprof=KIND: contentions and delay, by the stack that
began each interval (for sched, the stack of the wakeup, which the
runtime often does not record: that time is on the empty stack, which
go tool pprof -top does not list). Like go tool trace's, they count
only waits that end within the trace: goroutines blocked to its end (a
leak) are in wall, as waiting. With --from or --to, every wait counts
for its part within the window, its contention where it ends, so that
adjacent windows add up to the whole trace. They diff and merge with
runtime/pprof's block and mutex profiles. cpu counts samples, and with
--cpu-rate (100 by default, runtime/pprof's rate; 0 for counts only) CPU
time too. wall is
labelled state=running|runnable|waiting|syscall (and reason= for
waiting): go tool pprof -tagroot=state splits it by state,
-tagfocus=state=waiting keeps one.

A trace that breaks off is profiled up to the break (the generations
before it, about a second each, and what of the broken one the parser
read before the fault; nothing of a Go 1.21 or older trace); the error
is printed and the exit status is 1.

Examples:

	trace2x pprof --kind=sync -o sync.pb.gz trace.out && go tool pprof -top sync.pb.gz
	trace2x pprof --kind=wall trace.out > wall.pb.gz && go tool pprof -http=: -tagroot=state wall.pb.gz`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		out := fs.String("o", "-", "write to `FILE` instead of standard output (always gzip-compressed, as pprof profiles are)")
		kindName := fs.String("kind", "", "`KIND` of profile (required): net, sync, syscall, sched, cpu or wall")
		rate := fs.Int("cpu-rate", 100, "with --kind=cpu: the CPU profiler's sampling rate in `HZ`, which the trace does not record; 0 for sample counts only")
		return func(e *env, args []string) error {
			if *kindName == "" {
				return usageError{"--kind is required"}
			}
			kind, err := pprof.ParseKind(*kindName)
			if err != nil {
				return usageError{"--kind: " + err.Error()}
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if set["cpu-rate"] && kind != pprof.CPU {
				// Other kinds have no samples to time: the rate would be
				// ignored without a word.
				return usageError{fmt.Sprintf("--cpu-rate goes with --kind=cpu, not --kind=%s", kind)}
			}
			if *rate < 0 || *rate > 1e9 {
				// A sample is then counted as nothing: the period is
				// whole nanoseconds.
				return usageError{"--cpu-rate must be from 0 to 1000000000 (a sample a nanosecond)"}
			}
			if err := checkOutputs(e, args, *out); err != nil {
				return err
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			w, err := createOutput(e, *out, true)
			if err != nil {
				return err
			}
			opts := []pprof.Option{pprof.WithCPURate(*rate)}
			if strings.HasSuffix(*out, ".gz") {
				// The output compresses already; a profile must be
				// compressed once only.
				opts = append(opts, pprof.WithoutCompression())
			}
			if f := filterText(&inOpts.filter); f != "" {
				opts = append(opts, pprof.WithComment("read through "+f))
			}
			if len(inOpts.filter.Regions) > 0 || len(inOpts.filter.Tasks) > 0 {
				// Measured within the regions or tasks, as go tool
				// trace measures a region type's profiles.
				opts = append(opts, pprof.WithinSpans())
			}
			pw := pprof.NewWriter(w, kind, opts...)
			sum, mapErr := in.mapTrace(e, inOpts, in, pw, mapping.WithoutBackdatedCounts())
			err = joinErrors(mapErr, w.Close())
			if pw.ReasonlessWaits() > 0 && (kind == pprof.Net || kind == pprof.Sync) {
				// Not lost without a word: a window of a file is read
				// from the generation before its own, and a wait begun
				// earlier has no reason there.
				fmt.Fprintf(e.stderr, "trace2x: warning: %s: up to %v of waits under way at the window's start have no reason, as the generations read (from the one before the window's) do not say why they began: they count in no %s profile; --sequential reads the trace from its start, and tells the reason of those that began in it\n",
					in.name, pw.ReasonlessWaits().Round(time.Microsecond), kind)
			}
			if err == nil && pw.Samples() == 0 {
				why := emptyProfile[kind]
				if kind == pprof.CPU && sum != nil && oldFormat(sum.FormatVersion, 19) {
					// Advice to profile would not help: the format
					// has no place for the samples.
					why = "traces of Go 1.18 and before hold no CPU samples (Go 1.19 added them)"
				} else if kind == pprof.CPU && inOpts.cpuProfile {
					// The advice is what was done: why it gave no
					// samples comes first.
					in.Close()
					why = "the trace has no CPU samples, though --cpu-profile asked for a CPU profile of its window: the program used no CPU then, or the profile's request failed (a warning above says so if it did)"
				}
				if !inOpts.filter.Empty() {
					why = "after the filters, " + why
					if n := sum.EventsByKind["StackSample"]; kind == pprof.CPU && n > 0 {
						// The advice to record samples would mislead.
						why = fmt.Sprintf("none of the %d CPU samples read is in what the filters keep", n)
					}
				}
				fmt.Fprintf(e.stderr, "trace2x: warning: %s: the profile is empty: %s\n", in.name, why)
			}
			return err
		}
	},
}

// emptyProfile says why a profile of each kind can be empty.
var emptyProfile = map[pprof.Kind]string{
	pprof.Net:     "no goroutine waited on the network in the trace",
	pprof.Sync:    "no goroutine blocked on a channel, select or sync primitive in the trace",
	pprof.Syscall: "no goroutine was in a system call in the trace",
	pprof.Sched:   "no goroutine waited to run in the trace",
	pprof.CPU:     "the trace has no CPU samples: profile the CPU while tracing (pprof.StartCPUProfile), or give --cpu-profile with a /debug/pprof/trace URL",
	pprof.Wall:    "the trace has no goroutine states",
}

// oldFormat reports whether a trace's format version ("go1.11") is before
// Go 1.minor.
func oldFormat(version string, minor int) bool {
	v, ok := strings.CutPrefix(version, "go1.")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(v)
	return err == nil && n < minor
}
