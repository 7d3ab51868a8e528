// Package stats summarises a Go execution trace in one pass: what it
// holds (format, duration, generations, events by kind, goroutines, Ps and
// Ms, stacks, tasks, regions, logs, GC cycles, stop-the-world pauses, CPU
// samples, flows, items cut by either end of the trace), and where its
// time went (goroutines by start function and state, task and region
// latencies, the longest pauses, and the minimum mutator utilization in
// windows of 1ms and 10ms). It is what `trace2x stats` prints.
//
// A [Sink] takes the model from mapping.Map; once the pass is over its
// [Sink.Report] holds the figures, which [Report.WriteText] and
// [Report.WriteJSON] render:
//
//	s := stats.NewSink()
//	if _, err := mapping.Map(f, s, mapping.WithExperimentalEvents()); err != nil && s.Report() == nil {
//		return err // not a trace at all
//	}
//	r := s.Report() // also for a trace that broke off: r.Error says where
//	r.ReadGenerations(f, size) // a Go 1.22+ file: list its generations
//	r.WriteText(os.Stdout)
//
// # Cost
//
// The Sink is meant to keep up with the parser on one core: it does a
// few map lookups per goroutine state (the goroutine, and for the MMU its
// P), none per counter sample or instant, and allocates per goroutine,
// start function, task or region type and wait reason, never per item.
// What it keeps is bounded by the live goroutines, the distinct start
// functions, task and region types, and the GC activity not yet final
// (internal/mmu says how long that is), not by the length of the trace.
package stats
