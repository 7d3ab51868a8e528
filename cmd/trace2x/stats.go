package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
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
the trace or were still open at its end.

A trace that breaks off is summarised up to the break; the error is
printed and the exit status is 1.`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs)
		asJSON := fs.Bool("json", false, "print JSON for scripts instead of text")
		out := fs.String("o", "-", "write to `FILE` instead of standard output")
		return func(e *env, args []string) error {
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			var tally mapping.Tally
			an := newAnalysis()
			sum, mapErr := in.mapTrace(e, inOpts, in, mapping.FanOut(&tally, an), mapping.WithExperimentalEvents())
			if sum == nil {
				return mapErr
			}
			report := newStatsReport(sum, &tally)
			report.addAnalysis(an)
			report.addGenerations(in)
			w, err := createOutput(e, *out, false)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				err = enc.Encode(report)
			} else {
				err = report.writeText(w)
			}
			return joinErrors(mapErr, err, w.Close())
		}
	},
}

// statsReport is the JSON form of `trace2x stats`; the text form prints
// the same fields.
type statsReport struct {
	Input         string     `json:"input"`
	FormatVersion string     `json:"format_version"`
	DurationNS    int64      `json:"duration_ns"`
	WallStart     *time.Time `json:"wall_start,omitempty"`
	Generations   int        `json:"generations"`
	// GenerationSpans lists the generations of a Go 1.22+ trace file, as
	// its batch headers place them.
	GenerationSpans []generationSpan `json:"generation_spans,omitempty"`
	BytesRead       int64            `json:"bytes_read"`
	Events          int64            `json:"events"`
	EventsByKind    map[string]int64 `json:"events_by_kind"`
	Goroutines      int              `json:"goroutines"`
	Procs           int              `json:"procs"`
	Threads         int              `json:"threads"`
	Stacks          int              `json:"stacks"`
	Tasks           struct {
		Begun int `json:"begun"`
		Ended int `json:"ended"`
		Open  int `json:"open"`
	} `json:"tasks"`
	Regions struct {
		Total int `json:"total"`
		Open  int `json:"open"`
	} `json:"regions"`
	Logs     int `json:"logs"`
	GCCycles int `json:"gc_cycles"`
	STW      struct {
		Count   int   `json:"count"`
		TotalNS int64 `json:"total_ns"`
		MaxNS   int64 `json:"max_ns"`
	} `json:"stop_the_world"`
	Sweeps         int            `json:"sweeps"`
	MarkAssists    int            `json:"mark_assists"`
	CPUSamples     int            `json:"cpu_samples"`
	Flows          int            `json:"flows"`
	Experimental   map[string]int `json:"experimental_events,omitempty"`
	ExpBatches     map[string]int `json:"experimental_batches,omitempty"`
	Incomplete     map[string]int `json:"incomplete"`
	UnmatchedFlows int            `json:"unmatched_flows"`
	Anomalies      map[string]int `json:"anomalies,omitempty"`
	Error          string         `json:"error,omitempty"`

	// The analysis: where goroutines spend their time, by start function;
	// task and region latencies by type (of those the trace holds whole);
	// the longest stop-the-world pauses.
	GoroutineGroups map[string]*groupTimes   `json:"goroutine_groups,omitempty"`
	TaskLatency     map[string]latencyReport `json:"task_latency,omitempty"`
	RegionLatency   map[string]latencyReport `json:"region_latency,omitempty"`
	LongestPauses   []pause                  `json:"longest_pauses,omitempty"`
	MMU             []mmuReport              `json:"mmu,omitempty"` // minimum mutator utilization, by window

	groupOrder []string
}

func (r *statsReport) addAnalysis(a *analysis) {
	r.GoroutineGroups = a.groups
	r.TaskLatency = latencies(a.tasks)
	r.RegionLatency = latencies(a.regions)
	r.LongestPauses = a.pauses
	r.MMU = a.mmuReports()
	r.groupOrder = a.topGroups()
}

// generationSpan is one generation of the trace: its number, where its
// bytes are, and its time span as offsets from the trace start.
type generationSpan struct {
	Number  uint64 `json:"number"`
	Offset  int64  `json:"offset"`
	Bytes   int64  `json:"bytes"`
	StartNS int64  `json:"start_ns"`
	EndNS   int64  `json:"end_ns"`
}

// byteSize formats n bytes for reading.
func byteSize(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// maxGenerationLines bounds the generations the text form lists: a long
// trace has one a second.
const maxGenerationLines = 20

// addGenerations lists the generations of a trace file from its batch
// headers, which takes a moment even for a large file; a stream, a
// compressed file or a trace before Go 1.22 has none to list.
func (r *statsReport) addGenerations(in *input) {
	f, ok := in.ReadCloser.(*os.File)
	if !ok || in.path == "" || in.size <= 0 {
		return
	}
	idx, err := tracefile.Read(f, in.size)
	if err != nil {
		return
	}
	start := idx.Generations[0].Start
	for _, g := range idx.Generations {
		r.GenerationSpans = append(r.GenerationSpans, generationSpan{
			Number: g.Number, Offset: g.Offset, Bytes: g.Size, StartNS: g.Start - start, EndNS: g.End - start})
	}
}

func newStatsReport(sum *mapping.Summary, t *mapping.Tally) *statsReport {
	r := &statsReport{
		Input:          sum.Input,
		FormatVersion:  sum.FormatVersion,
		DurationNS:     int64(sum.End - sum.Start),
		Generations:    sum.Generations,
		BytesRead:      sum.BytesRead,
		Events:         sum.Events,
		EventsByKind:   sum.EventsByKind,
		Goroutines:     sum.Goroutines,
		Procs:          sum.Procs,
		Threads:        sum.Threads,
		Stacks:         t.Stacks,
		Logs:           t.Logs,
		GCCycles:       t.GCCycles,
		Sweeps:         t.Ranges[mapping.RangeSweep],
		MarkAssists:    t.Ranges[mapping.RangeMarkAssist],
		CPUSamples:     t.CPUSamples,
		Experimental:   t.Experiments,
		ExpBatches:     sum.ExpBatches,
		Incomplete:     t.Incomplete,
		UnmatchedFlows: sum.UnmatchedFlows,
		Anomalies:      sum.Anomalies,
	}
	if c := sum.Clock; c != nil {
		w := c.WallTime(sum.Start).UTC()
		r.WallStart = &w
	}
	r.Tasks.Begun, r.Tasks.Ended, r.Tasks.Open = t.TasksBegun, t.TasksEnded, t.TasksOpen
	r.Regions.Total, r.Regions.Open = t.Regions, t.RegionsOpen
	r.STW.Count, r.STW.TotalNS, r.STW.MaxNS = t.STW.Count, int64(t.STW.Total), int64(t.STW.Max)
	for _, n := range t.Flows {
		r.Flows += n
	}
	if sum.Err != nil {
		r.Error = sum.Err.Error()
	}
	return r
}

func (r *statsReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	p := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	p("Input:", "%s (%d bytes read)", r.Input, r.BytesRead)
	p("Format:", "%s", r.FormatVersion)
	p("Duration:", "%v", time.Duration(r.DurationNS))
	if r.WallStart != nil {
		p("Wall-clock start:", "%s", r.WallStart.Format(time.RFC3339Nano))
	}
	p("Generations:", "%d", r.Generations)
	for i, g := range r.GenerationSpans {
		if i == maxGenerationLines {
			p("", "... %d more (--json lists them all)", len(r.GenerationSpans)-i)
			break
		}
		p(fmt.Sprintf("  #%d:", i+1), "%v to %v, %s at byte %d",
			time.Duration(g.StartNS).Round(time.Microsecond), time.Duration(g.EndNS).Round(time.Microsecond), byteSize(g.Bytes), g.Offset)
	}
	p("Events:", "%d", r.Events)
	for _, k := range slices.Sorted(maps.Keys(r.EventsByKind)) {
		p("  "+k+":", "%d", r.EventsByKind[k])
	}
	p("Goroutines:", "%d", r.Goroutines)
	p("Ps:", "%d", r.Procs)
	p("Ms (threads):", "%d", r.Threads)
	p("Stacks:", "%d", r.Stacks)
	p("Tasks:", "%d begun, %d ended, %d open at start or end", r.Tasks.Begun, r.Tasks.Ended, r.Tasks.Open)
	p("Regions:", "%d (%d open at start or end)", r.Regions.Total, r.Regions.Open)
	p("Logs:", "%d", r.Logs)
	p("GC cycles:", "%d (%d sweeps, %d mark assists)", r.GCCycles, r.Sweeps, r.MarkAssists)
	p("Stop-the-world:", "%d pauses, %v total, %v max", r.STW.Count, time.Duration(r.STW.TotalNS), time.Duration(r.STW.MaxNS))
	for _, m := range r.MMU {
		// Rounded down, so that only a window the GC took nothing from
		// shows 100%.
		k, pct := "MMU "+time.Duration(m.WindowNS).String()+":", math.Floor(1000*m.MMU)/10
		switch {
		case len(m.Worst) == 0:
			p(k, "%.1f%% (no GC work)", pct)
		case m.Worst[0].DurNS < m.WindowNS:
			p(k, "%.1f%% (the whole trace, which is shorter)", pct)
		default:
			p(k, "%.1f%% (worst window at %v)", pct, time.Duration(m.Worst[0].StartNS).Round(time.Microsecond))
		}
	}
	p("CPU samples:", "%d", r.CPUSamples)
	p("Flows:", "%d (%d without a target)", r.Flows, r.UnmatchedFlows)
	for _, k := range slices.Sorted(maps.Keys(r.Experimental)) {
		p("Experimental "+k+":", "%d events, %d batches", r.Experimental[k], r.ExpBatches[k])
	}
	if len(r.Incomplete) == 0 {
		p("Incomplete:", "none")
	} else {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.Incomplete)) {
			parts = append(parts, fmt.Sprintf("%d %s", r.Incomplete[k], k))
		}
		p("Incomplete:", "%s (began before the trace or open at its end)", strings.Join(parts, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Anomalies)) {
		p("Repaired:", "%d %s", r.Anomalies[k], k)
	}
	if r.Error != "" {
		p("Cut short:", "%s", r.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeAnalysis(w)
}

// writeAnalysis prints the time analysis: the goroutine groups that took
// the most time, task and region latencies, and the longest pauses.
func (r *statsReport) writeAnalysis(w io.Writer) error {
	const topN = 10
	d := func(ns int64) string { return time.Duration(ns).Round(time.Microsecond).String() }
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if len(r.groupOrder) > 0 {
		fmt.Fprintf(tw, "\nGoroutines by start function (top %d by time)\tcount\trunning\trunnable\tsyscall\twaiting (top reason)\n", topN)
		for _, name := range r.groupOrder[:min(topN, len(r.groupOrder))] {
			g := r.GoroutineGroups[name]
			var wait int64
			top, topNS := "", int64(-1)
			for _, reason := range slices.Sorted(maps.Keys(g.WaitingNS)) {
				wait += g.WaitingNS[reason]
				if g.WaitingNS[reason] > topNS {
					top, topNS = reason, g.WaitingNS[reason]
				}
			}
			waiting := d(wait)
			if top != "" {
				waiting += " (" + top + ")"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", name, g.Goroutines, d(g.RunningNS), d(g.RunnableNS), d(g.SyscallNS), waiting)
		}
	}
	for _, l := range []struct {
		title string
		m     map[string]latencyReport
	}{{"Task latency", r.TaskLatency}, {"Region latency", r.RegionLatency}} {
		if len(l.m) == 0 {
			continue
		}
		fmt.Fprintf(tw, "\n%s\tcount\tp50\tp90\tp99\tmax\n", l.title)
		for _, name := range slices.Sorted(maps.Keys(l.m)) {
			x := l.m[name]
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", name, x.Count, d(x.P50NS), d(x.P90NS), d(x.P99NS), d(x.MaxNS))
		}
	}
	if len(r.LongestPauses) > 0 {
		fmt.Fprintf(tw, "\nLongest stop-the-world pauses\tat\tduration\n")
		for _, p := range r.LongestPauses {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Reason, d(p.StartNS), d(p.DurNS))
		}
	}
	return tw.Flush()
}
