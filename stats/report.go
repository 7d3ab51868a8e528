package stats

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// Report is what a Sink found in a trace. Its JSON form is that of
// `trace2x stats --json`; WriteText prints the same fields for reading.
type Report struct {
	Input         string `json:"input"`
	FormatVersion string `json:"format_version"`
	DurationNS    int64  `json:"duration_ns"`
	// StartNS is where the report's time begins, from the trace's start:
	// later than 0 for a window that begins later. Every time in the
	// report (pauses, MMU windows, generations) counts from the trace's
	// start, as --from does.
	StartNS int64 `json:"start_ns"`
	// Filtered says the report is of what a mapping.Filter kept (a
	// window, a selection of goroutines, tasks or regions), not of the
	// whole trace.
	Filtered bool `json:"filtered,omitempty"`
	// Window says the report is of a time window: one given (--from,
	// --to), or the time a selection of tasks or regions keeps.
	Window      bool       `json:"window,omitempty"`
	WallStart   *time.Time `json:"wall_start,omitempty"` // of the trace's start, a window's too; Go 1.25+ traces
	Generations int        `json:"generations"`
	// GenerationSpans lists the generations of a Go 1.22+ trace file, as
	// its batch headers place them (ReadGenerations).
	GenerationSpans []Generation `json:"generation_spans,omitempty"`
	// GenerationSpansEnd says where the batch headers stopped making
	// sense, if they did before the file's end: GenerationSpans lists the
	// generations before it.
	GenerationSpansEnd string `json:"generation_spans_end,omitempty"`
	BytesRead          int64  `json:"bytes_read"`
	// Compressed says the input was gzip- or zstd-compressed: BytesRead
	// counts its bytes, and the generations' offsets are those of the
	// trace decompressed.
	Compressed   bool             `json:"compressed,omitempty"`
	Events       int64            `json:"events"`
	EventsByKind map[string]int64 `json:"events_by_kind"`
	// Goroutines counts the goroutines of the trace; of a pass through a
	// mapping.Filter, those it kept time of, as GoroutineGroups does.
	Goroutines   int            `json:"goroutines"`
	Procs        int            `json:"procs"`
	Threads      int            `json:"threads"`
	Stacks       int            `json:"stacks"`
	Tasks        TaskCounts     `json:"tasks"`
	Regions      RegionCounts   `json:"regions"`
	Logs         int            `json:"logs"`
	GCCycles     int            `json:"gc_cycles"`
	STW          STWStats       `json:"stop_the_world"`
	Sweeps       int            `json:"sweeps"`
	MarkAssists  int            `json:"mark_assists"`
	GCTime       GCTimes        `json:"gc_time_ns"`
	CPUSamples   int            `json:"cpu_samples"`
	Flows        int            `json:"flows"`
	Experimental map[string]int `json:"experimental_events,omitempty"`  // events, by experiment
	ExpBatches   map[string]int `json:"experimental_batches,omitempty"` // batches, by experiment
	// Incomplete counts the items that began before the trace or were
	// open at its end, by kind ("goroutine state", "region", ...).
	Incomplete     map[string]int `json:"incomplete"`
	UnmatchedFlows int            `json:"unmatched_flows"`
	Anomalies      map[string]int `json:"anomalies"`       // what the mapping repaired
	Error          string         `json:"error,omitempty"` // where a trace that broke off broke

	// The analysis: where goroutines spend their time, by start function;
	// task and region latencies by type (of those the trace holds whole);
	// the longest stop-the-world pauses.
	GoroutineGroups map[string]*GroupTimes `json:"goroutine_groups"`
	TaskLatency     map[string]Latency     `json:"task_latency"`
	RegionLatency   map[string]Latency     `json:"region_latency"`
	// SlowestTasks and SlowestRegions name, by type, the longest (up to
	// 5) of those the latencies count, longest first: the IDs to give
	// --task and --goroutine to look at one.
	SlowestTasks   map[string][]Instance `json:"slowest_tasks"`
	SlowestRegions map[string][]Instance `json:"slowest_regions"`
	LongestPauses  []Pause               `json:"longest_pauses"`
	MMU            []MMU                 `json:"mmu"` // minimum mutator utilization, by window
	// MMUOmitted says the MMU is not measured: the pass selected
	// goroutines, tasks or regions, which leaves out the GC's workers,
	// or the trace records no GOMAXPROCS or lasts no time. MMUNote says
	// which.
	MMUOmitted bool   `json:"mmu_omitted,omitempty"`
	MMUNote    string `json:"mmu_note,omitempty"`
}

// TaskCounts counts user tasks.
type TaskCounts struct {
	Begun int `json:"begun"`
	Ended int `json:"ended"`
	Open  int `json:"open"` // began before the trace or were open at its end
}

// RegionCounts counts user regions.
type RegionCounts struct {
	Total int `json:"total"`
	Open  int `json:"open"` // began before the trace or were open at its end
	// GoroutineExited counts, of Open, those whose goroutine exited
	// with them open (not ended by the trace's end).
	GoroutineExited int `json:"goroutine_exited"`
}

// GCTimes sums the time of the GC's phases and of the work it puts on
// goroutines, in nanoseconds, within the trace (or the window).
type GCTimes struct {
	Mark       int64 `json:"mark"`        // GC cycles' mark phases, from start to end
	MarkAssist int64 `json:"mark_assist"` // goroutines made to help mark as they allocate
	Sweep      int64 `json:"sweep"`       // goroutines and Ps sweeping spans
}

// STWStats summarises the stop-the-world pauses.
type STWStats struct {
	Count   int   `json:"count"`
	TotalNS int64 `json:"total_ns"`
	MaxNS   int64 `json:"max_ns"`
}

// Generation is one generation of the trace: its place and number, where
// its bytes are, and its time span as offsets from the trace start.
type Generation struct {
	// Index is its place in the file, from 1, as the text and errors
	// ("in generation 3") count generations. Number is the runtime's,
	// which counts from the generation tracing began in: a flight
	// recorder's snapshot begins with a later one.
	Index   int    `json:"index"`
	Number  uint64 `json:"number"`
	Offset  int64  `json:"offset"`
	Bytes   int64  `json:"bytes"`
	StartNS int64  `json:"start_ns"`
	EndNS   int64  `json:"end_ns"`
	// Unfinished marks a last generation that the trace's writer stopped
	// inside (a process killed while it traced to a file).
	Unfinished bool `json:"unfinished,omitempty"`
}

// GroupTimes is the time the goroutines of one start function spent in
// each state.
type GroupTimes struct {
	Goroutines int `json:"goroutines"`
	// AliveAtEnd counts those still alive at the end of the trace (or
	// the window): many that barely run, blocked, are a leak's sign.
	AliveAtEnd int              `json:"alive_at_end"`
	RunningNS  int64            `json:"running_ns"`
	RunnableNS int64            `json:"runnable_ns"`
	SyscallNS  int64            `json:"syscall_ns"`
	WaitingNS  map[string]int64 `json:"waiting_ns"` // by reason
}

// Latency summarises the durations of one task or region type. The
// percentiles are nearest-rank ones, exact for a type of up to 4096
// durations. Of a type with more they come from a histogram whose buckets
// are 2^(1/16) (4.4%) wide: each is the middle of its bucket, within
// 2.2% of the true figure, rounded to the digits that leaves significant
// (up to 1.1% more, 3.2% in all) and kept between the least and the
// greatest duration; Approximate says so. The maximum is always exact.
type Latency struct {
	Count       int   `json:"count"`
	P50NS       int64 `json:"p50_ns"`
	P90NS       int64 `json:"p90_ns"`
	P99NS       int64 `json:"p99_ns"`
	MaxNS       int64 `json:"max_ns"`
	Approximate bool  `json:"approximate,omitempty"` // the percentiles come from the histogram
	// Time is, for a region type, where the regions' goroutines spent
	// their time, summed over the regions counted whose times the trace
	// tells (see mapping.Region.Time).
	Time *StateTimes `json:"time_ns,omitempty"`
}

// Instance is one task or region: for a task, its ID and the goroutine
// that began it; for a region, its goroutine and its task (0 for none).
type Instance struct {
	Task      uint64 `json:"task"`
	Goroutine int64  `json:"goroutine"`
	StartNS   int64  `json:"start_ns"` // from the trace's start
	DurNS     int64  `json:"duration_ns"`
}

// StateTimes sums time by goroutine state, in nanoseconds.
type StateTimes struct {
	Running  int64 `json:"running"`
	Runnable int64 `json:"runnable"`
	Syscall  int64 `json:"syscall"`
	Waiting  int64 `json:"waiting"`
	Network  int64 `json:"network"` // of Waiting, on the network poller
	Sync     int64 `json:"sync"`    // of Waiting, on channels, select and package sync
	// The GC's work that fell to the goroutines, parts of the times
	// above (see mapping.StateTimes): stop-the-world pauses they began,
	// mark assists, and sweeping.
	STW        int64 `json:"stw"`
	MarkAssist int64 `json:"mark_assist"`
	Sweep      int64 `json:"sweep"`
}

// Pause is a stop-the-world pause.
type Pause struct {
	Reason  string `json:"reason"`
	StartNS int64  `json:"start_ns"` // from the trace's start
	DurNS   int64  `json:"duration_ns"`
}

// MMU is the minimum mutator utilization for one window duration.
type MMU struct {
	WindowNS int64       `json:"window_ns"`
	MMU      float64     `json:"mmu"`           // in [0, 1]
	Worst    []MMUWindow `json:"worst_windows"` // worst first, none overlapping; none the GC took no time from
}

// MMUWindow is a window and its mean mutator utilization.
type MMUWindow struct {
	StartNS int64   `json:"start_ns"`    // from the trace's start
	DurNS   int64   `json:"duration_ns"` // the window, or the whole trace if shorter
	Util    float64 `json:"utilization"`
}

// ReadGenerations lists the generations of the trace file r of size
// bytes from its batch headers, which takes a moment even for a large
// file, in GenerationSpans; for a file that breaks off, the generations
// it holds whole, and where it broke off in GenerationSpansEnd. It
// returns an error, and leaves the report as it was, for a file that it
// cannot index: one that is compressed (whose generations the Sink lists
// from the pass, as a stream's), or not a Go 1.22+ trace.
func (r *Report) ReadGenerations(f io.ReaderAt, size int64) error {
	idx, err := tracefile.Read(f, size)
	if idx == nil {
		return err
	}
	r.GenerationSpans, r.GenerationSpansEnd = nil, ""
	var te *tracefile.Error
	if errors.As(err, &te) {
		r.GenerationSpansEnd = fmt.Sprintf("byte %d, where %v", te.Offset, te.Err)
	}
	spans := make([]mapping.GenerationSpan, len(idx.Generations))
	for i, g := range idx.Generations {
		spans[i] = mapping.GenerationSpan{Number: g.Number, Offset: g.Offset, Size: g.Size, Start: mapping.Time(g.Start), End: mapping.Time(g.End), Unfinished: g.Unfinished}
	}
	r.GenerationSpans = generations(spans)
	return err
}

// generations lists spans for the report, its times from the start of the
// first.
func generations(spans []mapping.GenerationSpan) []Generation {
	if len(spans) == 0 {
		return nil
	}
	gens := make([]Generation, len(spans))
	start := spans[0].Start
	for i, g := range spans {
		gens[i] = Generation{Index: i + 1, Number: g.Number, Offset: g.Offset, Bytes: g.Size, StartNS: int64(g.Start - start), EndNS: int64(g.End - start), Unfinished: g.Unfinished}
	}
	return gens
}

// WriteJSON writes the report as indented JSON, as a json.Encoder with
// an indent of two spaces writes it, but a map of the report (the
// analysis by start function and by task or region type) an entry at a
// time: an encoder holds its whole output, and a trace of hundreds of
// thousands of task types makes hundreds of megabytes of it.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	v := reflect.ValueOf(r).Elem()
	bw.WriteString("{")
	sep := "\n  "
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		fv := v.Field(i)
		if !f.IsExported() || name == "-" || opts == "omitempty" && emptyJSON(fv) {
			continue
		}
		key, err := json.Marshal(name)
		if err != nil {
			return err
		}
		bw.WriteString(sep)
		bw.Write(key)
		bw.WriteString(": ")
		sep = ",\n  "
		if fv.Kind() != reflect.Map || fv.Type().Key().Kind() != reflect.String || fv.Len() == 0 {
			b, err := json.MarshalIndent(fv.Interface(), "  ", "  ")
			if err != nil {
				return err
			}
			bw.Write(b)
			continue
		}
		keys := make([]string, 0, fv.Len())
		for it := fv.MapRange(); it.Next(); {
			keys = append(keys, it.Key().String())
		}
		slices.Sort(keys) // as encoding/json orders a map
		open := "{\n    "
		for _, k := range keys {
			kb, err := json.Marshal(k)
			if err != nil {
				return err
			}
			vb, err := json.MarshalIndent(fv.MapIndex(reflect.ValueOf(k).Convert(fv.Type().Key())).Interface(), "    ", "  ")
			if err != nil {
				return err
			}
			bw.WriteString(open)
			bw.Write(kb)
			bw.WriteString(": ")
			if _, err := bw.Write(vb); err != nil {
				return err // a reader gone: no use encoding the rest
			}
			open = ",\n    "
		}
		bw.WriteString("\n  }")
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// emptyJSON reports whether encoding/json leaves v out of an object
// under omitempty.
func emptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
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

// WriteText writes the report for reading: the figures, one a line, then
// the analysis in tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := &table{w: w}
	p := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	// Whatever a trace, or its name, holds, nothing reaches the terminal
	// unescaped, and no tab shifts the columns.
	if r.Compressed {
		p("Input:", "%s (%d bytes read, compressed)", escape(r.Input), r.BytesRead)
	} else {
		p("Input:", "%s (%d bytes read)", escape(r.Input), r.BytesRead)
	}
	p("Format:", "%s", escape(r.FormatVersion))
	p("Duration:", "%v", time.Duration(r.DurationNS))
	if r.Window || r.StartNS > 0 {
		p("Window:", "from %v to %v of the trace (the times below count from its start)", time.Duration(r.StartNS), time.Duration(r.StartNS+r.DurationNS))
	}
	if r.WallStart != nil {
		p("Wall-clock start:", "%s", r.WallStart.Format(time.RFC3339Nano))
	}
	if n := len(r.GenerationSpans); n > 0 && r.GenerationSpansEnd != "" {
		// The list stops where the batch headers stop making sense; the
		// parser may read past it.
		p("Generations:", "%d read; the file's batches list %d, up to %s:", r.Generations, n, escape(r.GenerationSpansEnd))
	} else if n > 0 && n != r.Generations {
		// A window reads some of the trace's generations, and a trace
		// whose writer stopped inside its last has one the parser
		// refuses; the list is the trace's.
		p("Generations:", "%d read, of the trace's %d:", r.Generations, n)
	} else if v, ok := strings.CutPrefix(r.FormatVersion, "go1."); ok && len(v) == 2 && v < "22" {
		// Read as one: the format has no generations.
		p("Generations:", "none (a format before Go 1.22)")
	} else {
		p("Generations:", "%d", r.Generations)
	}
	for i, g := range r.GenerationSpans {
		if i == maxGenerationLines {
			p("", "... %d more (--json lists them all)", len(r.GenerationSpans)-i)
			break
		}
		more := ""
		if r.Compressed {
			more = " of the decompressed trace" // as errors say
		}
		if g.Unfinished {
			more += " (unfinished: the trace's writer stopped in it)"
		}
		p(fmt.Sprintf("  #%d:", i+1), "%v to %v, %s at byte %d%s",
			startAt(g.StartNS), endAt(g.EndNS), byteSize(g.Bytes), g.Offset, more)
	}
	p("Events:", "%d", r.Events)
	for _, k := range slices.Sorted(maps.Keys(r.EventsByKind)) {
		p("  "+escape(k)+":", "%d", r.EventsByKind[k])
	}
	p("Goroutines:", "%d", r.Goroutines)
	p("Ps:", "%d", r.Procs)
	p("Ms (threads):", "%d", r.Threads)
	p("Stacks:", "%d", r.Stacks)
	p("Tasks:", "%d begun, %d ended, %d open at start or end", r.Tasks.Begun, r.Tasks.Ended, r.Tasks.Open)
	if n := r.Regions.GoroutineExited; n > 0 {
		p("Regions:", "%d (%d open at start or end, of which %d left open by a goroutine that exited)", r.Regions.Total, r.Regions.Open, n)
	} else {
		p("Regions:", "%d (%d open at start or end)", r.Regions.Total, r.Regions.Open)
	}
	p("Logs:", "%d", r.Logs)
	p("GC cycles:", "%d (%d sweeps, %d mark assists)", r.GCCycles, r.Sweeps, r.MarkAssists)
	if g := r.GCTime; g != (GCTimes{}) {
		// What the GC cost, which the counts alone do not tell: the
		// time it marked, and the time goroutines spent on its work.
		share := ""
		if r.DurationNS > 0 {
			share = fmt.Sprintf(" (%.0f%% of the %s)", 100*float64(g.Mark)/float64(r.DurationNS), map[bool]string{false: "trace", true: "window"}[r.Filtered])
		}
		p("GC time:", "%v marking%s, %v in mark assists, %v sweeping", time.Duration(g.Mark), share, time.Duration(g.MarkAssist), time.Duration(g.Sweep))
	}
	pauses := "pauses"
	if r.STW.Count == 1 {
		pauses = "pause"
	}
	p("Stop-the-world:", "%d %s, %v total, %v max", r.STW.Count, pauses, time.Duration(r.STW.TotalNS), time.Duration(r.STW.MaxNS))
	if r.MMUOmitted {
		p("MMU:", "%s", cmp.Or(r.MMUNote, "not measured"))
	}
	span := "trace"
	if r.Filtered {
		span = "window" // a selection has no MMU
	}
	for _, m := range r.MMU {
		// Rounded down, so that only a window the GC took nothing from
		// shows 100%.
		k, pct := "MMU "+time.Duration(m.WindowNS).String()+":", math.Floor(1000*m.MMU)/10
		switch {
		case len(m.Worst) == 0:
			p(k, "%.1f%% (no GC work)", pct)
		case m.Worst[0].DurNS < m.WindowNS:
			p(k, "%.1f%% (the whole %s, which is shorter)", pct, span)
		default:
			p(k, "%.1f%% (worst window at %v)", pct, startAt(m.Worst[0].StartNS))
		}
	}
	p("CPU samples:", "%d", r.CPUSamples)
	p("Flows:", "%d (%d without a target)", r.Flows, r.UnmatchedFlows)
	for _, k := range slices.Sorted(maps.Keys(r.Experimental)) {
		p("Experimental "+escape(k)+":", "%d events, %d batches", r.Experimental[k], r.ExpBatches[k])
	}
	if len(r.Incomplete) == 0 {
		p("Incomplete:", "none")
	} else {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.Incomplete)) {
			parts = append(parts, fmt.Sprintf("%d %s", r.Incomplete[k], escape(k)))
		}
		why := "began before the trace or open at its end"
		if r.Filtered {
			// A selection cuts the states of its goroutines where a
			// task or region lasts, as a window cuts at its bounds.
			why = "began before the trace or were cut by the filters, or open at its end"
		}
		p("Incomplete:", "%s (%s)", strings.Join(parts, ", "), why)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Anomalies)) {
		p("Repaired:", "%d %s", r.Anomalies[k], escape(k))
	}
	if r.Error != "" {
		p("Cut short:", "%s", escape(r.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeAnalysis(w)
}

// TopGroups returns the start functions of GoroutineGroups by their
// running time, most first; of equal running times, by their time
// runnable and in syscalls, then in order of name.
//
// Running time is the CPU the goroutines used, and what `go tool trace`
// ranks them by. Time waiting says nothing of where the time went: a
// goroutine parked for the whole trace, or a runtime helper idle in it,
// would outrank every busy one. Time runnable or in a syscall is no
// better a first key: it grows with the CPU the others take, or while a
// blocking read waits in the kernel.
//
// A group without its times (null, in JSON decoded into a Report) is
// left out.
func (r *Report) TopGroups() []string {
	var names []string
	for name, g := range r.GoroutineGroups {
		if g != nil {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(x, y string) int {
		a, b := r.GoroutineGroups[x], r.GoroutineGroups[y]
		return cmp.Or(cmp.Compare(b.RunningNS, a.RunningNS),
			cmp.Compare(b.RunnableNS+b.SyscallNS, a.RunnableNS+a.SyscallNS), cmp.Compare(x, y))
	})
	return names
}

// groupName returns the start function of a goroutine group as its table
// shows it: the Sink's own "(unknown)" as it is.
func groupName(fn string) string {
	if fn == unknownFunc {
		return fn
	}
	return cell(fn, unknownFunc)
}

// startAt gives the time from the trace's start at which something
// began as the text shows it: exact under a millisecond, and above cut
// down to the microsecond, not rounded, so that --from it keeps the whole
// of what began there.
func startAt(ns int64) time.Duration {
	at := time.Duration(ns)
	if at >= time.Millisecond {
		at = at.Truncate(time.Microsecond)
	}
	return at
}

// endAt is startAt for the time something ended: rounded up, so that --to
// it keeps the whole of it.
func endAt(ns int64) time.Duration {
	at := time.Duration(ns)
	if at >= time.Millisecond {
		if r := at.Truncate(time.Microsecond); r < at {
			at = r + time.Microsecond
		}
	}
	return at
}

// roundDur rounds a duration of the analysis for reading: to three
// significant digits under a millisecond (1.41µs, not 1µs, for a region
// of 1408ns; 320ns, not 0s) and to the microsecond above.
func roundDur(ns int64) time.Duration {
	step := int64(1)
	for step < 1000 && ns >= 1000*step {
		step *= 10
	}
	return time.Duration(ns).Round(time.Duration(step))
}

// writeRegionTimes prints where the region types' time went, the types
// with the most time first: go tool trace's region analysis, summed.
func (r *Report) writeRegionTimes(tw io.Writer, d func(int64) string) {
	var names []string
	total := func(t *StateTimes) int64 { return t.Running + t.Runnable + t.Syscall + t.Waiting }
	for name, l := range r.RegionLatency {
		if l.Time != nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(total(r.RegionLatency[b].Time), total(r.RegionLatency[a].Time)), strings.Compare(a, b))
	})
	title := "Region time by state"
	if len(names) > maxTypes {
		title = fmt.Sprintf("%s (top %d types by time)", title, maxTypes)
	}
	fmt.Fprintf(tw, "\n%s\ttotal\trunning\trunnable\tsyscall\twaiting\tGC work\n", title)
	for _, name := range names[:min(maxTypes, len(names))] {
		t := r.RegionLatency[name].Time
		waiting := d(t.Waiting)
		if t.Waiting > 0 && t.Network+t.Sync > 0 {
			var parts []string
			for _, p := range []struct {
				what string
				ns   int64
			}{{"network", t.Network}, {"sync", t.Sync}} {
				// A part under half a percent would read "0%" of it.
				if share := 100 * float64(p.ns) / float64(t.Waiting); share >= 0.5 {
					parts = append(parts, fmt.Sprintf("%.0f%% %s", share, p.what))
				}
			}
			if len(parts) > 0 {
				waiting += " (" + strings.Join(parts, ", ") + ")"
			}
		}
		// The GC's work in the regions, which the states do not show:
		// a pause or an assist is time running (or waiting in an
		// assist).
		gc := d(t.STW + t.MarkAssist + t.Sweep)
		var gcParts []string
		for _, p := range []struct {
			what string
			ns   int64
		}{{"stw", t.STW}, {"assists", t.MarkAssist}, {"sweeps", t.Sweep}} {
			if p.ns > 0 {
				gcParts = append(gcParts, p.what+" "+d(p.ns))
			}
		}
		switch len(gcParts) {
		case 0:
		case 1:
			gc += " (" + strings.Fields(gcParts[0])[0] + ")"
		default:
			gc += " (" + strings.Join(gcParts, ", ") + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(name, "(no type)"), d(total(t)), d(t.Running), d(t.Runnable), d(t.Syscall), waiting, gc)
	}
	if n := len(names) - maxTypes; n > 0 {
		fmt.Fprintf(tw, "  ... and %d more; --json lists them all\n", n)
	}
}

// maxLeakRows is how many goroutine groups beyond the top by running
// time the text lists by goroutines alive at the end, those with at
// least minLeakRow.
const (
	maxLeakRows = 3
	minLeakRow  = 10
)

// maxTypes is how many task or region types the text report lists.
const maxTypes = 20

// writeAnalysis prints the time analysis: the goroutine groups that ran
// longest, task and region latencies, and the longest pauses.
func (r *Report) writeAnalysis(w io.Writer) error {
	const topN = 10
	d := func(ns int64) string { return roundDur(ns).String() }
	tw := &table{w: w}
	if order := r.TopGroups(); len(order) > 0 {
		shown := order[:min(topN, len(order))]
		// A leak is goroutines that pile up blocked and barely run: the
		// groups with the most alive at the end follow the top ones.
		rest := slices.Clone(order[len(shown):])
		slices.SortStableFunc(rest, func(x, y string) int {
			return cmp.Compare(r.GoroutineGroups[y].AliveAtEnd, r.GoroutineGroups[x].AliveAtEnd)
		})
		for _, name := range rest[:min(maxLeakRows, len(rest))] {
			if r.GoroutineGroups[name].AliveAtEnd >= minLeakRow {
				shown = append(shown, name)
			}
		}
		title := fmt.Sprintf("Goroutines by start function (top %d by running time)", topN)
		if len(shown) > topN {
			title = fmt.Sprintf("Goroutines by start function (top %d by running time, then most alive)", topN)
		}
		fmt.Fprintf(tw, "\n%s\tcount\talive\trunning\trunnable\tsyscall\twaiting (top reason)\n", title)
		for _, name := range shown {
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
				// The total, and how much of it the top reason holds:
				// the total alone read as the top reason's.
				name := cell(top, unknownFunc)
				if top == unknownFunc {
					name = "reason unknown"
				}
				waiting += fmt.Sprintf(" (%.0f%% %s)", 100*float64(topNS)/float64(max(wait, 1)), name)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\n", groupName(name), g.Goroutines, g.AliveAtEnd, d(g.RunningNS), d(g.RunnableNS), d(g.SyscallNS), waiting)
		}
		if n := len(order) - len(shown); n > 0 {
			fmt.Fprintf(tw, "  ... and %d more; --json lists them all\n", n)
		}
	}
	for _, l := range []struct {
		title string
		m     map[string]Latency
		slow  map[string][]Instance
		task  bool
	}{{"Task latency", r.TaskLatency, r.SlowestTasks, true}, {"Region latency", r.RegionLatency, r.SlowestRegions, false}} {
		if len(l.m) == 0 {
			continue
		}
		// Types are listed by name; a program that puts an ID in its
		// region names can make thousands, of which the most frequent
		// are shown.
		names := slices.Sorted(maps.Keys(l.m))
		title := l.title
		if len(names) > maxTypes {
			slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(l.m[b].Count, l.m[a].Count) })
			names = names[:maxTypes]
			title = fmt.Sprintf("%s (top %d types by count)", title, maxTypes)
		}
		fmt.Fprintf(tw, "\n%s\tcount\tp50\tp90\tp99\tmax\tthe slowest\n", title)
		for _, name := range names {
			x := l.m[name]
			pd := d
			if x.Approximate {
				pd = func(ns int64) string { return "~" + d(ns) } // from the histogram
			}
			slowest := ""
			if sl := l.slow[name]; len(sl) > 0 {
				// Where to look, by the IDs --task and --goroutine take;
				// the start cut down to the microsecond (exact under a
				// millisecond), not rounded, so that --from it keeps the
				// whole of the slowest.
				i := sl[0]
				at := startAt(i.StartNS)
				switch {
				case l.task:
					slowest = fmt.Sprintf("task %d, G%d, at %v", i.Task, i.Goroutine, at)
				case i.Task != 0:
					slowest = fmt.Sprintf("G%d, task %d, at %v", i.Goroutine, i.Task, at)
				default:
					slowest = fmt.Sprintf("G%d, at %v", i.Goroutine, at)
				}
			}
			if slowest != "" {
				slowest = "\t" + slowest
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s%s\n", cell(name, "(no type)"), x.Count, pd(x.P50NS), pd(x.P90NS), pd(x.P99NS), d(x.MaxNS), slowest)
		}
		if n := len(l.m) - len(names); n > 0 {
			fmt.Fprintf(tw, "  ... and %d more; --json lists them all\n", n)
		}
	}
	r.writeRegionTimes(tw, d)
	if len(r.LongestPauses) > 0 {
		fmt.Fprintf(tw, "\nLongest stop-the-world pauses\tat\tduration\n")
		for _, p := range r.LongestPauses {
			fmt.Fprintf(tw, "  %s\t%v\t%s\n", cell(p.Reason, "(no reason)"), startAt(p.StartNS), d(p.DurNS))
		}
	}
	return tw.Flush()
}
