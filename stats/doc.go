// Package stats summarises a Go execution trace in one pass: what it
// holds (format, duration, generations, events by kind, goroutines, Ps and
// Ms, stacks, tasks, regions, logs, GC cycles, stop-the-world pauses, CPU
// samples, flows, items cut by either end of the trace, the time the GC
// marked, assisted and swept), and where its
// time went (goroutines by start function and state, task and region
// latencies with the slowest of each type by ID, the longest pauses, and the minimum mutator utilization in
// windows of 1ms and 10ms). It is what `trace2x stats` prints.
//
// The text form lists the ten start functions whose goroutines ran
// longest (time running, as `go tool trace` ranks them: time waiting
// would put goroutines parked for the whole trace first), then up to
// three with the most goroutines alive at the end (a leak's blocked
// goroutines barely run), and says how many more --json lists. Task and region latency percentiles (p50, p90,
// p99, by nearest rank) are exact for a type with up to 4096 durations
// in the trace; past that they come from a histogram, within 3.2% (half
// a bucket, 2.2%, and the rounding to the digits it knows), and marked
// "~" in the text and "approximate" in the JSON. The maximum is always exact. Names from the
// trace (task and region types, start functions, wait and pause reasons)
// are printed as they are when printable, otherwise quoted with Go's
// escapes (a name that starts with a quote or a parenthesis too, so that
// none passes for another or for "(unknown)"), cut to 64 columns with
// "…", and "(no type)" or "(no reason)" when empty; --json has them
// whole. Columns are those a terminal gives a character, two for CJK and
// most emoji, none for a combining mark: the text's tables are lined up
// by them, not by characters as text/tabwriter would. A name that is
// not valid UTF-8 has each invalid byte replaced by U+FFFD, as in every
// output of trace2x (JSON holds only UTF-8), so task or region types that
// differ only there are counted as one. Of a pass through a
// mapping.Filter, the goroutines counted are those it kept time
// of; of one that selects goroutines, tasks or regions, the MMU is not
// measured, since the selection leaves out the GC's own mark workers.
//
// A [Sink] takes the model of one trace from mapping.Map (a second fails
// with [ErrClosed]); once the pass is over, its [Sink.Report], which any
// goroutine may call at any time, holds the figures, which
// [Report.WriteText] and [Report.WriteJSON] render:
//
//	s := stats.NewSink()
//	_, err := mapping.Map(f, s)
//	r := s.Report() // nil if f is no trace; r.Error says where a broken one broke
//	if r == nil {
//		return err
//	}
//	r.ReadGenerations(f, size) // a Go 1.22+ file: list its generations
//	return errors.Join(err, r.WriteText(os.Stdout))
//
// The JSON form is stable for scripts; a Report decoded from it prints
// the same text.
//
// # Cost
//
// The Sink is cheap enough to run in the mapping's own goroutine, and
// should: handing its items to a goroutine of its own (mapping.Async)
// costs several times what it does with them. A goroutine state, the
// item it sees most, costs a lookup of the goroutine in a direct-mapped
// table (internal/gotable) for the time by start function and another for
// the MMU, and no allocation; counters, instants and samples are counted
// or passed on without a lookup. It allocates per goroutine (reused once
// the goroutine ends), start function, wait reason, and task and region
// type: for each type, its durations up to 4096 (32 KiB), then a
// histogram of 4 KiB in their place. What it keeps is bounded by the live goroutines, those names, and
// the GC activity not yet final (internal/mmu says how long that is), not
// by the length of the trace.
package stats
