package pprof_test

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// goToolTrace and goToolPprof find how to run go tool trace and go tool
// pprof.
var (
	goToolTrace = sync.OnceValues(func() ([]string, error) { return findTool("trace") })
	goToolPprof = sync.OnceValues(func() ([]string, error) { return findTool("pprof") })
)

// findTool finds how to run a go tool: the tool's binary itself when the
// go command tells where it is, which spares starting the go command for
// every profile, or else the go command.
func findTool(name string) ([]string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			return nil, fmt.Errorf("no go command: %v", err)
		}
	}
	if out, err := exec.Command(goBin, "tool", "-n", name).Output(); err == nil {
		return []string{strings.TrimSpace(string(out))}, nil
	}
	return []string{goBin, "tool", name}, nil
}

// cmdTraceProfile runs go tool trace -pprof=kind on a trace. It returns
// nil where go tool trace finds no goroutines to profile, and writes none.
func cmdTraceProfile(t *testing.T, kind pprof.Kind, path string) *profile.Profile {
	t.Helper()
	tool, err := goToolTrace()
	if err != nil {
		t.Skip(err)
	}
	args := append(slices.Clone(tool[1:]), "-pprof="+kind.String(), path)
	var stderr bytes.Buffer
	cmd := exec.Command(tool[0], args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && bytes.Contains(stderr.Bytes(), []byte("failed to find matching goroutines")) {
		// A trace without goroutines: go tool trace writes no profile.
		return nil
	}
	if err != nil {
		t.Fatalf("go tool trace -pprof=%s %s: %v\n%s", kind, path, err, stderr.Bytes())
	}
	p, err := profile.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("go tool trace -pprof=%s wrote an unreadable profile: %v", kind, err)
	}
	return p
}

// parse reads back a profile the Writer wrote.
func parse(t *testing.T, b []byte) *profile.Profile {
	t.Helper()
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("the profile is not gzip-compressed")
	}
	p, err := profile.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("profile.Parse: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid profile: %v", err)
	}
	return p
}

// frameKey names a frame as tools show it.
func frameKey(fn, file string, line int64) string { return fmt.Sprintf("%s %s:%d", fn, file, line) }

// stackKey names a sample's stack by its frames, leaf first. go tool trace
// identifies stacks by their program counters, with a missing one read as
// zero, so a stack whose outermost frames have no PC is one with the stack
// without them, and it shows either; trimmed lets both sides agree.
func stackKey(locs []*profile.Location, trimmed bool) string {
	if trimmed {
		for len(locs) > 0 && locs[len(locs)-1].Address == 0 {
			locs = locs[:len(locs)-1]
		}
	}
	var b strings.Builder
	for _, l := range locs {
		for _, ln := range l.Line {
			b.WriteString(frameKey(ln.Function.Name, ln.Function.Filename, ln.Line))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

type values struct{ n, d int64 }

// totals adds up a profile's first two values by stack.
func totals(p *profile.Profile, trimmed bool) map[string]values {
	m := make(map[string]values)
	for _, s := range p.Sample {
		k := stackKey(s.Location, trimmed)
		v := m[k]
		v.n += s.Value[0]
		if len(s.Value) > 1 {
			v.d += s.Value[1]
		}
		m[k] = v
	}
	return m
}

func sampleTypes(p *profile.Profile) string {
	var s []string
	for _, st := range p.SampleType {
		s = append(s, st.Type+"/"+st.Unit)
	}
	return strings.Join(s, " ")
}

// mapInto runs the mapping over a trace file into sinks.
func mapInto(t *testing.T, path string, sinks ...mapping.Sink) *mapping.Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := mapping.Map(f, mapping.FanOut(sinks...), mapping.WithInputName(path))
	if err != nil {
		t.Fatalf("mapping %s: %v", path, err)
	}
	return sum
}

// readEvents calls f with every event of a trace, read with the parser
// itself, for tallies that do not go through the mapping.
func readEvents(t *testing.T, path string, f func(*trace.Event)) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := trace.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		f(&ev)
	}
}

// traceStackKey names a parser stack as stackKey does a profile's, but
// for runtime.goexit, which the runtime's own profiles leave out.
func traceStackKey(stk trace.Stack) string {
	var b strings.Builder
	for f := range stk.Frames() {
		if f.Func == "runtime.goexit" {
			continue
		}
		b.WriteString(frameKey(f.Func, f.File, int64(f.Line)))
		b.WriteByte('\n')
	}
	return b.String()
}

// openStarts records the syscall intervals the trace found in progress at
// its start: see TestGoToolTraceParity.
type openStarts struct {
	mapping.NopSink
	stacks map[mapping.StackID]string
	ivs    []openStart
}

type openStart struct {
	g     mapping.GoID
	stack string
	start mapping.Time
}

func (o *openStarts) Stack(s *mapping.Stack) error {
	for len(s.Frames) > 0 && s.Frames[len(s.Frames)-1].PC == 0 {
		s = &mapping.Stack{ID: s.ID, Frames: s.Frames[:len(s.Frames)-1]}
	}
	var b strings.Builder
	for _, f := range s.Frames {
		b.WriteString(frameKey(f.Func, f.File, int64(f.Line)))
		b.WriteByte('\n')
	}
	o.stacks[s.ID] = b.String()
	return nil
}

func (o *openStarts) GoroutineState(s *mapping.GoroutineState) error {
	if s.State == mapping.GoSyscall && s.Flags == mapping.OpenStart {
		o.ivs = append(o.ivs, openStart{s.G, o.stacks[s.Stack], s.Start})
	}
	return nil
}

// TestGoToolTraceParity checks that the net, sync, syscall and sched
// profiles have, for every stack, the contentions and delay that go tool
// trace -pprof gives for the same trace, on every test trace.
//
// Two differences are inherent, and allowed for exactly:
//
//   - A syscall in progress when the trace starts begins, for go tool
//     trace, at the event that reports it, a little after the trace's
//     start; the model has only the trace's start. Where go tool trace
//     counts such an interval (when its goroutine never runs), the delay
//     here is longer by the gap, and by no more than the gaps of every
//     such interval on that stack.
//   - In the formats before Go 1.22 the parser orders events with the same
//     timestamp from different Ps in an order that changes from run to
//     run (it visits the Ps in map order), and then moves each tied event
//     a nanosecond after the one before. Two runs of the parser, and so the
//     two tools, can put an interval's ends a few nanoseconds apart: see
//     tieJitter.
func TestGoToolTraceParity(t *testing.T) {
	if _, err := goToolTrace(); err != nil {
		t.Skip(err)
	}
	kinds := []pprof.Kind{pprof.Net, pprof.Sync, pprof.Syscall, pprof.Sched}
	for _, path := range testtraces.All(t, "../..") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			bufs := make([]*bytes.Buffer, len(kinds))
			sinks := make([]mapping.Sink, len(kinds))
			for i, k := range kinds {
				bufs[i] = new(bytes.Buffer)
				sinks[i] = pprof.NewWriter(bufs[i], k)
			}
			opens := &openStarts{stacks: make(map[mapping.StackID]string)}
			sum := mapInto(t, path, append(sinks, opens)...)

			// The gap between the trace's start and the event that
			// reported each syscall in progress, by stack.
			slack := make(map[string]int64)
			if len(opens.ivs) > 0 {
				reported := make(map[mapping.GoID]trace.Time)
				readEvents(t, path, func(ev *trace.Event) {
					if ev.Kind() != trace.EventStateTransition || ev.StateTransition().Resource.Kind != trace.ResourceGoroutine {
						return
					}
					st := ev.StateTransition()
					id := mapping.GoID(st.Resource.Goroutine())
					if from, _ := st.Goroutine(); from == trace.GoUndetermined {
						if _, ok := reported[id]; !ok {
							reported[id] = ev.Time()
						}
					}
				})
				for _, iv := range opens.ivs {
					slack[iv.stack] += int64(reported[iv.g]) - int64(iv.start)
				}
			}
			jitter := tieJitter(t, path, sum)

			for i, kind := range kinds {
				want := cmdTraceProfile(t, kind, path)
				got := parse(t, bufs[i].Bytes())
				if want == nil {
					if len(got.Sample) > 0 {
						t.Errorf("%s: %d samples, go tool trace finds no goroutines", kind, len(got.Sample))
					}
					continue
				}
				if g, w := sampleTypes(got), sampleTypes(want); g != w {
					t.Errorf("%s: sample types %q, go tool trace's %q", kind, g, w)
				}
				wt, gt := totals(want, true), totals(got, true)
				keys := make(map[string]bool)
				for k := range wt {
					keys[k] = true
				}
				for k := range gt {
					keys[k] = true
				}
				var total values
				for k := range keys {
					w, g := wt[k], gt[k]
					total.n += w.n
					total.d += w.d
					lo, hi := -jitter*w.n, jitter*w.n
					if kind == pprof.Syscall {
						hi += slack[k]
					}
					if g.n != w.n || g.d-w.d < lo || g.d-w.d > hi {
						t.Errorf("%s: stack\n%s has %d contentions, %d ns; go tool trace: %d, %d ns (allowed difference %d..%d ns)",
							kind, indent(k), g.n, g.d, w.n, w.d, lo, hi)
					}
				}
				t.Logf("%s: %d stacks, %d contentions, %d ns", kind, len(wt), total.n, total.d)
			}
		})
	}
}

// tieJitter returns by how much two parses of a trace can place the ends
// of an interval apart: nothing in the formats from Go 1.22 on; in the
// older ones, events of different Ps with the same timestamp come in an
// order that changes from run to run, each moved a nanosecond after the
// one before, so an end can move by the longest run of events a
// nanosecond apart, less one.
func tieJitter(t *testing.T, path string, sum *mapping.Summary) int64 {
	if sum.FormatVersion >= "go1.22" {
		return 0
	}
	return 2 * (longestTie(t, path) - 1)
}

// longestTie returns the longest run of events of a trace, as the parser
// gives them, each a nanosecond after the one before.
func longestTie(t *testing.T, path string) int64 {
	var run, longest int64
	last := trace.Time(-1 << 62)
	readEvents(t, path, func(ev *trace.Event) {
		if ev.Time() == last+1 {
			run++
		} else {
			run = 1
		}
		longest = max(longest, run)
		last = ev.Time()
	})
	return longest
}

func indent(s string) string {
	if s == "" {
		return "\t(no frames)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t")
}

// TestCPU checks the CPU profile against the stack samples the parser
// reads from each trace.
func TestCPU(t *testing.T) {
	withSamples := 0
	for _, path := range testtraces.All(t, "../..") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := make(map[string]int64)
			readEvents(t, path, func(ev *trace.Event) {
				if ev.Kind() == trace.EventStackSample {
					want[traceStackKey(ev.Stack())]++
				}
			})
			var counts, timed bytes.Buffer
			mapInto(t, path, pprof.NewWriter(&counts, pprof.CPU), pprof.NewWriter(&timed, pprof.CPU, pprof.WithCPURate(250)))
			pc, pt := parse(t, counts.Bytes()), parse(t, timed.Bytes())
			if g := sampleTypes(pc); g != "samples/count" {
				t.Errorf("without a rate, sample types %q, want samples/count", g)
			}
			if g := sampleTypes(pt); g != "samples/count cpu/nanoseconds" {
				t.Errorf("with a rate, sample types %q, want samples/count cpu/nanoseconds", g)
			}
			if pt.Period != 4e6 || pt.PeriodType.Type != "cpu" || pt.PeriodType.Unit != "nanoseconds" {
				t.Errorf("at 250 Hz, period %d %s/%s, want 4000000 cpu/nanoseconds", pt.Period, pt.PeriodType.Type, pt.PeriodType.Unit)
			}
			gc, gt := totals(pc, false), totals(pt, false)
			for k, n := range want {
				if gc[k].n != n || gt[k].n != n || gt[k].d != n*4e6 {
					t.Errorf("stack\n%s: %d samples, %d samples with %d ns at 250 Hz; the trace has %d", indent(k), gc[k].n, gt[k].n, gt[k].d, n)
				}
			}
			for k, v := range gc {
				if _, ok := want[k]; !ok {
					t.Errorf("stack\n%s: %d samples; the trace has none", indent(k), v.n)
				}
			}
			if len(want) > 0 {
				withSamples++
			}
		})
	}
	if withSamples == 0 {
		t.Error("no test trace has CPU samples")
	}
}

// wallTally is the wall profile's figures computed straight from the
// parser's events: each goroutine's time in each state, from one
// transition to the next, counting an interval in progress at the start
// from the trace's start and one in progress at the end to its last
// timestamp, as the model does.
type wallTally struct {
	byState map[string]values // by "state reason"
	// byStack holds waiting and syscall time by the stack of the
	// transition that began it and the state: where the goroutine blocked
	// or entered the syscall.
	byStack map[string]values
}

func tallyWall(t *testing.T, path string) wallTally {
	type cur struct {
		state  trace.GoState
		reason string
		stack  string
		start  trace.Time
	}
	w := wallTally{byState: make(map[string]values), byStack: make(map[string]values)}
	open := make(map[trace.GoID]*cur)
	var origin, end trace.Time
	syncs := 0
	add := func(c *cur, t trace.Time) {
		d := int64(t - c.start)
		if d <= 0 {
			return
		}
		reason := ""
		if c.state == trace.GoWaiting {
			reason = c.reason
			if reason == "" {
				reason = "(unknown)" // the trace does not say
			}
		}
		k := strings.ToLower(c.state.String()) + " " + reason
		v := w.byState[k]
		w.byState[k] = values{v.n + 1, v.d + d}
		if c.state == trace.GoWaiting || c.state == trace.GoSyscall {
			k = c.stack + k
			v := w.byStack[k]
			w.byStack[k] = values{v.n + 1, v.d + d}
		}
	}
	readEvents(t, path, func(ev *trace.Event) {
		now := ev.Time()
		end = max(end, now)
		if ev.Kind() == trace.EventSync {
			if syncs == 0 {
				origin = now
			}
			syncs++
			return
		}
		if ev.Kind() != trace.EventStateTransition {
			return
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			return
		}
		id := st.Resource.Goroutine()
		from, to := st.Goroutine()
		c := open[id]
		if from == to || (from == trace.GoUndetermined && c != nil && c.state == to) {
			return // a state restated
		}
		if c != nil {
			add(c, now)
			delete(open, id)
		}
		switch to {
		case trace.GoRunnable, trace.GoRunning, trace.GoWaiting, trace.GoSyscall:
		default:
			return
		}
		stk := st.Stack
		if stk == trace.NoStack && ev.Goroutine() == id {
			stk = ev.Stack()
		}
		start := now
		if from == trace.GoUndetermined && c == nil && syncs <= 1 {
			start = origin
		}
		open[id] = &cur{state: to, reason: st.Reason, stack: traceStackKey(stk), start: start}
	})
	for _, c := range open {
		add(c, end)
	}
	return w
}

// TestWall checks the wall profile against a tally of each trace's events:
// the time in each state (and waiting reason) in all, and the waiting and
// syscall time by stack.
func TestWall(t *testing.T) {
	for _, path := range testtraces.All(t, "../..") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := tallyWall(t, path)
			var buf bytes.Buffer
			sum := mapInto(t, path, pprof.NewWriter(&buf, pprof.Wall))
			p := parse(t, buf.Bytes())
			if g := sampleTypes(p); g != "intervals/count wall/nanoseconds" {
				t.Errorf("sample types %q", g)
			}
			if p.DurationNanos != int64(sum.End-sum.Start) {
				t.Errorf("duration %d ns, want the trace's %d", p.DurationNanos, sum.End-sum.Start)
			}
			byState := make(map[string]values)
			for _, s := range p.Sample {
				state, reason := s.Label["state"], s.Label["reason"]
				if len(state) != 1 || len(reason) > 1 || (len(reason) == 1 && (state[0] != "waiting" || reason[0] == "")) {
					t.Fatalf("sample labelled %v", s.Label)
				}
				k := state[0] + " " + strings.Join(reason, "")
				v := byState[k]
				byState[k] = values{v.n + s.Value[0], v.d + s.Value[1]}
			}
			jitter := tieJitter(t, path, sum)
			compareValues(t, "state", byState, want.byState, jitter)

			byStack := make(map[string]values)
			for _, s := range p.Sample {
				state := s.Label["state"][0]
				if state != "waiting" && state != "syscall" {
					continue
				}
				k := stackKey(s.Location, false) + state + " " + strings.Join(s.Label["reason"], "")
				v := byStack[k]
				byStack[k] = values{v.n + s.Value[0], v.d + s.Value[1]}
			}
			compareValues(t, "stack and state", byStack, want.byStack, jitter)
		})
	}
}

// compareValues compares figures by key, allowing jitter nanoseconds per
// interval (see tieJitter).
func compareValues(t *testing.T, what string, got, want map[string]values, jitter int64) {
	t.Helper()
	for k, w := range want {
		if g := got[k]; g.n != w.n || g.d < w.d-jitter*w.n || g.d > w.d+jitter*w.n {
			t.Errorf("by %s, %s: %d intervals, %d ns; the events give %d, %d ns", what, indent(k), got[k].n, got[k].d, w.n, w.d)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("by %s, %s: %d intervals, %d ns; the events give none", what, indent(k), g.n, g.d)
		}
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range pprof.Kinds() {
		got, err := pprof.ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := pprof.ParseKind("heap"); err == nil || !strings.Contains(err.Error(), "net, sync, syscall, sched, cpu, wall") {
		t.Errorf("ParseKind(heap): %v, want an error listing the kinds", err)
	}
}

// TestUncompressed checks that WithoutCompression writes the same profile,
// not compressed.
func TestUncompressed(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "blocking.go1.26.trace")
	var gz, raw bytes.Buffer
	mapInto(t, path, pprof.NewWriter(&gz, pprof.Sync), pprof.NewWriter(&raw, pprof.Sync, pprof.WithoutCompression()))
	if b := raw.Bytes(); len(b) > 1 && b[0] == 0x1f && b[1] == 0x8b {
		t.Fatal("WithoutCompression wrote gzip")
	}
	p, err := profile.ParseData(raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if g, w := totals(p, false), totals(parse(t, gz.Bytes()), false); fmt.Sprint(g) != fmt.Sprint(w) || len(g) == 0 {
		t.Errorf("uncompressed profile differs: %v\nvs %v", g, w)
	}
}

// feed gives a Writer model items made by hand and returns its profile's
// figures by stack, each stack named by its function names, and by the
// labels state and reason for Wall. A *mapping.Meta or *mapping.Summary
// among the items replaces the one the Writer begins or ends with.
func feed(t *testing.T, kind pprof.Kind, items ...any) map[string]values {
	t.Helper()
	return figures(parse(t, feedBytes(t, kind, nil, items...)))
}

// feedBytes is feed's profile, written with opts.
func feedBytes(t *testing.T, kind pprof.Kind, opts []pprof.Option, items ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pprof.NewWriter(&buf, kind, opts...)
	var err error
	check := func(e error) {
		if err == nil {
			err = e
		}
	}
	meta, sum := &mapping.Meta{Input: "synthetic"}, &mapping.Summary{End: 1000}
	for _, it := range items {
		switch it := it.(type) {
		case *mapping.Meta:
			meta = it
		case *mapping.Summary:
			sum = it
		}
	}
	check(w.Begin(meta))
	for _, it := range items {
		switch it := it.(type) {
		case *mapping.Meta, *mapping.Summary:
		case *mapping.Stack:
			check(w.Stack(it))
		case *mapping.Goroutine:
			check(w.Goroutine(it))
		case *mapping.GoroutineEvent:
			check(w.GoroutineEvent(it))
		case *mapping.GoroutineState:
			check(w.GoroutineState(it))
		default:
			t.Fatalf("feed: unexpected %T", it)
		}
	}
	check(w.End(sum))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// figures adds up a profile's values by stack, named as feed names them.
func figures(p *profile.Profile) map[string]values {
	m := make(map[string]values)
	for _, s := range p.Sample {
		var names []string
		for _, l := range s.Location {
			// A location without a function is "?", not nothing: an
			// empty stack is told from one of nameless frames.
			names = append(names, cmp.Or(l.Line[0].Function.Name, "?"))
		}
		k := strings.Join(names, "<")
		if st := s.Label["state"]; len(st) > 0 {
			k += " " + strings.Join(append(st, s.Label["reason"]...), " ")
		}
		v := m[k]
		m[k] = values{v.n + s.Value[0], v.d + s.Value[1]}
	}
	return m
}

func stack(id mapping.StackID, funcs ...string) *mapping.Stack {
	s := &mapping.Stack{ID: id}
	for i, f := range funcs {
		s.Frames = append(s.Frames, mapping.Frame{PC: uint64(id)<<8 | uint64(i+1), Func: f, File: f + ".go", Line: 1})
	}
	return s
}

func born(id mapping.GoID) *mapping.Goroutine {
	return &mapping.Goroutine{ID: id, Creator: mapping.NoGoroutine}
}

func state(g mapping.GoID, s mapping.GoState, start, end mapping.Time, stk mapping.StackID, reason string, flags mapping.Flags) *mapping.GoroutineState {
	return &mapping.GoroutineState{G: g, State: s, Start: start, End: end, Stack: stk, Reason: reason, Flags: flags}
}

func ended(g mapping.GoID, at mapping.Time) *mapping.GoroutineEvent {
	return &mapping.GoroutineEvent{Kind: mapping.GoEnded, Time: at, G: g}
}

// TestGoToolTraceRules checks go tool trace's accounting on made-up
// timelines, including the cases the test traces do not hold.
func TestGoToolTraceRules(t *testing.T) {
	const (
		syscall  = mapping.GoSyscall
		running  = mapping.GoRunning
		runnable = mapping.GoRunnable
		waiting  = mapping.GoWaiting
	)
	s1, s2, s3 := stack(1, "read", "main"), stack(2, "write", "main"), stack(3, "wake", "main")
	for _, tc := range []struct {
		name  string
		kind  pprof.Kind
		items []any
		want  map[string]values
	}{{
		name: "open, empty and untracked intervals",
		kind: pprof.Sync,
		items: []any{s1, s2, born(1),
			state(1, running, 0, 10, 0, "", mapping.OpenStart),
			state(1, waiting, 10, 20, 1, "chan receive", 0),
			state(1, running, 20, 30, 0, "", 0),
			state(1, waiting, 30, 30, 1, "chan receive", 0), // empty
			state(1, waiting, 30, 40, 2, "sleep", 0),        // not sync
			state(1, waiting, 40, 1000, 2, "select", mapping.OpenEnd),
		},
		want: map[string]values{"read<main": {1, 10}},
	}, {
		// A stack the trace records as one frame of PC 0, no function
		// and no file (a wakeup with no stack of its own) is no stack:
		// go tool trace counts it with the empty stack, not at address 0.
		name: "a frame of nothing",
		kind: pprof.Sched,
		items: []any{s1, &mapping.Stack{ID: 4, Frames: []mapping.Frame{{}}}, born(1),
			state(1, running, 0, 10, 0, "", mapping.OpenStart),
			state(1, waiting, 10, 20, 1, "chan receive", 0),
			&mapping.GoroutineEvent{Kind: mapping.GoUnblocked, Time: 20, G: 1, By: 2, Stack: 4},
			state(1, runnable, 20, 30, 0, "", 0),
			state(1, running, 30, 1000, 0, "", mapping.OpenEnd),
		},
		want: map[string]values{"": {1, 10}},
	}, {
		name: "before the first run",
		kind: pprof.Syscall,
		items: []any{s1, s2, born(1),
			state(1, syscall, 0, 10, 1, "", mapping.OpenStart),
			state(1, running, 10, 20, 0, "", 0),
			state(1, syscall, 20, 25, 2, "", 0),
			state(1, running, 25, 1000, 0, "", mapping.OpenEnd),
		},
		want: map[string]values{"write<main": {1, 5}},
	}, {
		name: "never runs",
		kind: pprof.Syscall,
		items: []any{s1, born(1),
			state(1, syscall, 0, 10, 1, "", mapping.OpenStart),
			state(1, runnable, 10, 1000, 0, "", mapping.OpenEnd),
		},
		want: map[string]values{"read<main": {1, 10}},
	}, {
		// The model may give a reason to a wait found at the start, though
		// the traces of today do not have one.
		name: "never runs, not begun in a syscall",
		kind: pprof.Net,
		items: []any{s1, born(1),
			state(1, waiting, 0, 10, 1, "network", mapping.OpenStart),
			state(1, runnable, 10, 1000, 0, "", mapping.OpenEnd),
		},
		want: map[string]values{"read<main": {1, 10}},
	}, {
		name: "never runs and ends",
		kind: pprof.Syscall,
		items: []any{s1, born(1),
			state(1, syscall, 0, 10, 1, "", mapping.OpenStart),
			ended(1, 10),
		},
		want: map[string]values{"read<main": {1, 10}},
	}, {
		name: "reused ID, the last life runs",
		kind: pprof.Syscall,
		items: []any{s1, s2, born(5),
			state(5, syscall, 10, 20, 0, "", 0),
			state(5, running, 20, 30, 0, "", 0),
			state(5, syscall, 30, 40, 1, "", 0),
			ended(5, 40),
			born(5),
			state(5, syscall, 50, 60, 0, "", 0),
			state(5, running, 60, 70, 0, "", 0),
			state(5, syscall, 70, 75, 2, "", 0),
			ended(5, 75),
		},
		want: map[string]values{"write<main": {1, 5}},
	}, {
		name: "reused ID, the last life never runs",
		kind: pprof.Syscall,
		items: []any{s1, born(5),
			state(5, syscall, 10, 20, 0, "", 0),
			state(5, running, 20, 30, 0, "", 0),
			state(5, syscall, 30, 40, 1, "", 0),
			ended(5, 40),
			born(5),
			state(5, syscall, 50, 65, 0, "", 0),
			ended(5, 65),
		},
		want: map[string]values{"": {2, 25}, "read<main": {1, 10}},
	}, {
		name: "runnable on the waker's stack",
		kind: pprof.Sched,
		items: []any{s1, s2, s3, born(1),
			state(1, runnable, 0, 5, 0, "", 0), // before the first run
			state(1, running, 5, 10, 0, "", 0),
			state(1, waiting, 10, 20, 1, "chan receive", 0),
			&mapping.GoroutineEvent{Kind: mapping.GoUnblocked, Time: 20, G: 1, By: 2, Stack: 3},
			state(1, runnable, 20, 26, 0, "", 0),
			state(1, running, 26, 30, 0, "", 0),
			state(1, runnable, 30, 33, 2, "preempted", 0),
			state(1, running, 33, 1000, 0, "", mapping.OpenEnd),
		},
		want: map[string]values{"wake<main": {1, 6}, "write<main": {1, 3}},
	}, {
		name: "wall time on the goroutine's own stack",
		kind: pprof.Wall,
		items: []any{s1, s2, born(1),
			state(1, running, 0, 10, 0, "", mapping.OpenStart),
			&mapping.GoroutineState{G: 1, State: waiting, Start: 10, End: 20, Stack: 1, Reason: "chan receive"},
			state(1, runnable, 20, 25, 0, "", 0),
			&mapping.GoroutineState{G: 1, State: running, Start: 25, End: 40, EndStack: 2},
			state(1, syscall, 40, 1000, 2, "", mapping.OpenEnd),
		},
		want: map[string]values{
			" running":                       {1, 10},
			"read<main waiting chan receive": {1, 10},
			"read<main runnable":             {1, 5},
			"write<main running":             {1, 15},
			"write<main syscall":             {1, 960},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := feed(t, tc.kind, tc.items...)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestGoToolPprof reads every kind of profile with go tool pprof, as a
// user does: it must print the functions and lines of the trace's stacks
// and nothing on its error output, such as a warning that it found no
// binary to symbolize them with.
func TestGoToolPprof(t *testing.T) {
	tool, err := goToolPprof()
	if err != nil {
		t.Skip(err)
	}
	for _, kind := range []pprof.Kind{pprof.Net, pprof.Sync, pprof.Syscall, pprof.Sched, pprof.CPU, pprof.Wall} {
		t.Run(kind.String(), func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "mixed.go1.26.trace")
			if kind == pprof.CPU {
				path = filepath.Join("..", "..", "testdata", "cpuprofile.go1.26.trace")
			}
			var b bytes.Buffer
			mapInto(t, path, pprof.NewWriter(&b, kind))
			file := filepath.Join(t.TempDir(), kind.String()+".pb.gz")
			if err := os.WriteFile(file, b.Bytes(), 0o666); err != nil {
				t.Fatal(err)
			}
			// The heaviest stack's leaf, with its file and line, as the
			// profile holds it, is what -top -lines must list.
			p := parse(t, b.Bytes())
			// The trace has no network waits: its net profile, without
			// samples, must still read without a word on the error output.
			var want string
			withStack := slices.DeleteFunc(p.Sample, func(s *profile.Sample) bool { return len(s.Location) == 0 })
			if len(withStack) > 0 {
				top := slices.MaxFunc(withStack, func(a, b *profile.Sample) int {
					return cmp.Compare(a.Value[len(a.Value)-1], b.Value[len(b.Value)-1])
				})
				leaf := top.Location[0].Line[0]
				want = fmt.Sprintf("%s %s:%d", leaf.Function.Name, leaf.Function.Filename, leaf.Line)
			} else if kind != pprof.Net {
				t.Fatalf("no samples with a stack of kind %s in %s", kind, path)
			}

			var stdout, stderr bytes.Buffer
			cmd := exec.Command(tool[0], append(slices.Clone(tool[1:]), "-top", "-lines", file)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("go tool pprof -top: %v\n%s", err, stderr.Bytes())
			}
			if stderr.Len() > 0 {
				t.Errorf("go tool pprof -top printed on its error output:\n%s", stderr.Bytes())
			}
			if want != "" && !strings.Contains(stdout.String(), want) {
				t.Errorf("go tool pprof -top -lines does not list %q:\n%s", want, stdout.Bytes())
			}
		})
	}
}
