package mapping_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// itemLog renders every item a sink receives as a line, with stack IDs
// replaced by the frames they stand for. Identifiers that the mapping
// numbers in the order it meets things (stacks, regions, flows, GC
// cycles) are left out: a pass that starts at a later generation numbers
// them from there.
//
// What a pass cannot know of the generations before the ones it read is
// left out too, for both passes alike (MapWindow's doc lists it): how a
// goroutine was created and the label the runtime gave it, why a goroutine already waiting waits (the
// generation restates that it waits and where, from the runtime's point
// of view, not the reason), and so the reason its unblocking gives, and
// the enclosing region of a region and its nesting depth, which count
// the regions seen. Of a task
// begun before the window, its times; of a region, its goroutine, type
// and end. Of an interval that goes on past the window, how it ended
// (its end stack, the goroutine that ended a task, the goroutines that
// joined a task later) is not compared: a
// full pass reads on to where it ends. Resources (threads, Ps) and the counter values restated at
// the window's start are logged apart, as the pass over fewer generations
// knows fewer of them; and a goroutine's later label changes, which a
// full pass delivers when they happen after the window, are not logged.
//
// A counter the pass over fewer generations has not seen before the
// window has no level at its start; its first sample in the window can
// then repeat the level a full pass had, which the full pass does not
// deliver again: such a sample is not a difference.
type itemLog struct {
	stacks map[mapping.StackID]string
	lines  []string
	extra  []string // resources and restated counters
	from   mapping.Time
	// skipped is the Meta's Skipped, which the two passes differ in.
	skipped bool
	// levels are the counter values restated at the window's start,
	// seen the counters met so far, and first the first samples in the
	// window of counters with no level there.
	levels map[ctrKey]uint64
	seen   map[ctrKey]bool
	first  map[string]bool
}

type ctrKey struct {
	kind mapping.CounterKind
	name string
}

func newItemLog() *itemLog {
	return &itemLog{stacks: map[mapping.StackID]string{}, levels: map[ctrKey]uint64{}, seen: map[ctrKey]bool{}, first: map[string]bool{}}
}

// repeatsLevel reports whether line, a sample only in the seek, is the
// first sample of a counter the seek had no level for at the window's
// start, repeating the level the full pass had there.
func repeatsLevel(line string, seek, full *itemLog) bool {
	if !seek.first[line] {
		return false
	}
	for k, v := range full.levels {
		if _, ok := seek.levels[k]; ok {
			continue
		}
		if strings.HasPrefix(line, fmt.Sprintf("counter {Kind:%v Name:%s ", k.kind, k.name)) && strings.HasSuffix(line, fmt.Sprintf(" Value:%d}", v)) {
			return true
		}
	}
	return false
}

func (l *itemLog) add(format string, args ...any) error {
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	return nil
}

func (l *itemLog) stk(id mapping.StackID) string { return l.stacks[id] }

func (l *itemLog) Begin(m *mapping.Meta) error {
	l.from, l.skipped = m.Start, m.Skipped
	c := *m
	c.Clock, c.Skipped = nil, false
	return l.add("begin %+v %+v", c, m.Clock)
}
func (l *itemLog) Stack(s *mapping.Stack) error {
	var b strings.Builder
	for _, f := range s.Frames {
		fmt.Fprintf(&b, "%s:%d;", f.Func, f.Line)
	}
	l.stacks[s.ID] = b.String()
	return nil
}
func (l *itemLog) Goroutine(g *mapping.Goroutine) error {
	if g.Updated {
		return nil
	}
	return l.add("goroutine %d %s", g.ID, g.StartFunc)
}
func (l *itemLog) Proc(p *mapping.Proc) error {
	l.extra = append(l.extra, fmt.Sprintf("proc %+v", *p))
	return nil
}
func (l *itemLog) Thread(t *mapping.Thread) error {
	l.extra = append(l.extra, fmt.Sprintf("thread %+v", *t))
	return nil
}

// endStack is the stack an interval ended with, unless it goes on past
// the window: a full pass reads on to where it ends, a pass over the
// generations the window needs does not.
func (l *itemLog) endStack(id mapping.StackID, f mapping.Flags) string {
	if f&mapping.OpenEnd != 0 {
		return ""
	}
	return l.stk(id)
}

func (l *itemLog) GoroutineState(s *mapping.GoroutineState) error {
	c := *s
	c.Stack, c.EndStack = 0, 0
	if s.Flags&mapping.OpenStart != 0 {
		c.Reason = ""
		return l.add("state %+v", c)
	}
	return l.add("state %+v %s %s", c, l.stk(s.Stack), l.endStack(s.EndStack, s.Flags))
}
func (l *itemLog) ProcRun(r *mapping.ProcRun) error { return l.add("procrun %+v", *r) }
func (l *itemLog) Range(r *mapping.Range) error {
	c := *r
	c.Stack, c.EndStack, c.Cycle = 0, 0, 0
	return l.add("range %+v %s %s", c, l.stk(r.Stack), l.endStack(r.EndStack, r.Flags))
}
func (l *itemLog) Task(t *mapping.Task) error {
	if t.Flags&mapping.OpenStart != 0 {
		l.extra = append(l.extra, fmt.Sprintf("task %d %d %d %v", t.ID, t.Start, t.End, t.Flags))
		return nil
	}
	c := *t
	c.Stack, c.EndStack = 0, 0
	if t.Flags&mapping.OpenEnd != 0 {
		c.EndG, c.Goroutines = mapping.NoGoroutine, nil
	}
	return l.add("task %+v %s %s", c, l.stk(t.Stack), l.endStack(t.EndStack, t.Flags))
}
func (l *itemLog) Region(r *mapping.Region) error {
	if r.Flags&mapping.OpenStart != 0 {
		l.extra = append(l.extra, fmt.Sprintf("region %d %q %d %v", r.G, r.Type, r.End, r.Flags))
		return nil
	}
	// A region whose begin both passes read has one ID in both; its
	// parent may have begun before the generations read.
	c := *r
	c.Stack, c.EndStack, c.Parent, c.ParentTask, c.Depth = 0, 0, 0, 0, 0
	return l.add("region %+v %s %s", c, l.stk(r.Stack), l.endStack(r.EndStack, r.Flags))
}
func (l *itemLog) Log(g *mapping.Log) error {
	c := *g
	c.Stack, c.Region = 0, 0
	return l.add("log %+v %s", c, l.stk(g.Stack))
}
func (l *itemLog) GoroutineEvent(e *mapping.GoroutineEvent) error {
	c := *e
	c.Stack = 0
	if e.Kind == mapping.GoUnblocked {
		c.Reason = ""
	}
	return l.add("gevent %+v %s", c, l.stk(e.Stack))
}
func (l *itemLog) Flow(f *mapping.Flow) error {
	c := *f
	c.ID, c.Stack = 0, 0
	return l.add("flow %+v %s", c, l.stk(f.Stack))
}
func (l *itemLog) Counter(c *mapping.Counter) error {
	k := ctrKey{c.Kind, c.Name}
	if c.Time == l.from {
		l.levels[k], l.seen[k] = c.Value, true
		l.extra = append(l.extra, fmt.Sprintf("counter %+v", *c))
		return nil
	}
	if !l.seen[k] {
		l.seen[k] = true
		l.first[fmt.Sprintf("counter %+v", *c)] = true
	}
	return l.add("counter %+v", *c)
}
func (l *itemLog) CPUSample(s *mapping.CPUSample) error {
	c := *s
	c.Stack = 0
	return l.add("sample %+v %s", c, l.stk(s.Stack))
}
func (l *itemLog) Experimental(x *mapping.Experimental) error { return l.add("exp %+v", *x) }
func (l *itemLog) End(s *mapping.Summary) error               { return nil }

// TestSeekWindow converts windows of traces of many generations twice,
// by a full pass and by MapWindow, which reads only the generations the
// window needs, and compares what the filter passes on, item by item: a
// trace of this process with a dozen generations, and every test trace
// with three or more that the runtime wrote: a window relies on every
// generation restating every P and goroutine, which Go's hand-written
// parser tests need not do.
func TestSeekWindow(t *testing.T) {
	traces := withGenerations(t, 3, true, map[string][]byte{"recorded": recordGenerations(t, 5)})
	for name, data := range traces {
		t.Run(name, func(t *testing.T) { testSeekWindows(t, data) })
	}
}

func testSeekWindows(t *testing.T, data []byte) {
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	start := gens[0].Start
	off := func(ns int64) mapping.Bound { return mapping.Bound{Offset: time.Duration(ns - start), Set: true} }
	unset := mapping.Bound{}
	type window struct {
		name     string
		from, to mapping.Bound
	}
	var windows []window
	for i := 1; i < len(gens)-1; i += 3 {
		g := gens[i]
		mid := (g.Start + g.End) / 2
		windows = append(windows,
			window{fmt.Sprintf("gen%d", i), off(g.Start), off(g.End)},
			window{fmt.Sprintf("mid%d", i), off(mid), off(mid + (g.End-g.Start)/8)})
	}
	last := gens[len(gens)-1]
	windows = append(windows,
		window{"end", off(last.Start + 1), unset},
		window{"start", unset, off(gens[1].Start)})
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			full, part := newItemLog(), newItemLog()
			ff := &mapping.Filter{From: w.from, To: w.to}
			fsum, err := mapping.Map(bytes.NewReader(data), ff.Sink(full))
			if err != nil {
				t.Fatal(err)
			}
			pf := &mapping.Filter{From: w.from, To: w.to}
			sum, err := mapping.MapWindow(bytes.NewReader(data), int64(len(data)), w.from, w.to, pf.Sink(part))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Generations >= len(gens) {
				t.Errorf("read %d generations of %d", sum.Generations, len(gens))
			}
			// The Meta says whether the first generation was skipped: by
			// the seek to the last, not by the full pass, nor by the seek
			// of a window at the start.
			if want := w.name == "end"; full.skipped || (w.name == "end" || w.name == "start") && part.skipped != want {
				t.Errorf("the Meta says skipped: %v of the full pass, %v of the seek", full.skipped, part.skipped)
			}
			// A goroutine made runnable before the generations read end
			// runs after them: its flow is not one without a target.
			if sum.UnmatchedFlows > fsum.UnmatchedFlows {
				t.Errorf("%d flows without a target in the generations read, %d in the whole trace", sum.UnmatchedFlows, fsum.UnmatchedFlows)
			}
			if len(full.lines) == 0 {
				t.Fatal("the window holds nothing")
			}
			onlyFull, onlySeek := multisetDiff(full.lines, part.lines)
			onlySeek = slices.DeleteFunc(onlySeek, func(l string) bool { return repeatsLevel(l, part, full) })
			seekLines := slices.DeleteFunc(slices.Clone(part.lines), func(l string) bool {
				return repeatsLevel(l, part, full) && !slices.Contains(full.lines, l)
			})
			for i, l := range onlyFull {
				if i < 10 {
					t.Errorf("only in the full pass: %s", l)
				}
			}
			for i, l := range onlySeek {
				if i < 10 {
					t.Errorf("only in the seek: %s", l)
				}
			}
			// What the seek knows of resources and of what began before
			// the window, the full pass knows too.
			_, extra := multisetDiff(full.extra, part.extra)
			for _, l := range extra {
				t.Errorf("only in the seek: %s", l)
			}
			// Instants come in time order in both.
			if a, b := instants(full.lines), instants(seekLines); !slices.Equal(a, b) {
				t.Errorf("the instants come in another order")
			}
			if len(onlyFull)+len(onlySeek) > 0 {
				t.Logf("%d items compared; %d only in the full pass, %d only in the seek; %d generations read of %d",
					len(full.lines), len(onlyFull), len(onlySeek), sum.Generations, len(gens))
			}
		})
	}
}

// instants returns the lines of instants, which a sink receives in time
// order.
func instants(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "log ") || strings.HasPrefix(l, "gevent ") || strings.HasPrefix(l, "counter ") || strings.HasPrefix(l, "sample ") {
			out = append(out, l)
		}
	}
	return out
}

// multisetDiff returns the lines of a that b lacks and those of b that a
// lacks, counting repeats.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	n := map[string]int{}
	for _, l := range a {
		n[l]++
	}
	for _, l := range b {
		n[l]--
	}
	for _, l := range a {
		if n[l] > 0 {
			onlyA = append(onlyA, l)
			n[l]--
		}
	}
	for _, l := range b {
		if n[l] < 0 {
			onlyB = append(onlyB, l)
			n[l]++
		}
	}
	return onlyA, onlyB
}

// TestWindowOutsideTrace: a window that ends before the trace's start is
// refused from the index of generations, with the error a Filter gives
// after a full pass, before any generation is read and without a call of
// the sink. One that starts after the trace's end reads the last
// generations only, since only their events tell where the trace ends
// (the batch headers tell when batches began), gives the error of a
// full pass, word for word, and ends the sink it began.
func TestWindowOutsideTrace(t *testing.T) {
	data := recordedOnce(t)
	size := int64(len(data))
	indexing := &countingReaderAt{r: bytes.NewReader(data)}
	idx, err := tracefile.Read(indexing, size)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := mapping.Map(bytes.NewReader(data), mapping.NopSink{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Clock == nil || len(idx.Generations) < 3 {
		t.Fatalf("the trace has %d generations and clock %v", len(idx.Generations), sum.Clock)
	}
	d := time.Duration(sum.End - sum.Start)
	start := sum.Clock.Wall.Add(time.Duration(sum.Start - sum.Clock.Trace))
	for _, tc := range []struct {
		name     string
		from, to mapping.Bound
		want     string
		indexed  bool // refused from the index alone
	}{
		{"from after the end", mapping.Bound{Offset: d + time.Second, Set: true}, mapping.Bound{}, "after the trace ends", false},
		{"from just after the end", mapping.Bound{Offset: d + time.Nanosecond, Set: true}, mapping.Bound{}, "after the trace ends", false},
		{"after the end, by offsets", mapping.Bound{Offset: d + time.Second}, mapping.Bound{Offset: d + 2*time.Second}, "after the trace ends", false},
		{"after the end, by wall clock", mapping.Bound{Wall: start.Add(d + time.Second)}, mapping.Bound{}, "after the trace ends", false},
		{"before the start, by wall clock", mapping.Bound{Wall: start.Add(-time.Hour)}, mapping.Bound{Wall: start.Add(-time.Minute)}, "before the trace starts", true},
		{"ends before it starts", mapping.Bound{Offset: d / 2}, mapping.Bound{Offset: d / 3}, "before it starts", true},
		{"ends before it starts, wall clock and offset", mapping.Bound{Wall: start.Add(d / 2)}, mapping.Bound{Offset: d / 3}, "before it starts", true},
	} {
		// What a full pass says.
		flt := &mapping.Filter{From: tc.from, To: tc.to}
		_, want := mapping.Map(bytes.NewReader(data), flt.Sink(mapping.NopSink{}))
		if !errors.Is(want, mapping.ErrWindow) || !strings.Contains(want.Error(), tc.want) {
			t.Fatalf("%s: a full pass gives %v", tc.name, want)
		}
		r := &countingReaderAt{r: bytes.NewReader(data)}
		sink := &beginEnd{}
		wsum, err := mapping.MapWindow(r, size, tc.from, tc.to, flt.Sink(sink))
		if !errors.Is(err, mapping.ErrWindow) || err.Error() != want.Error() {
			t.Errorf("%s: MapWindow says %v; a full pass %q", tc.name, err, want)
		}
		// Refused from the index, the sink gets no call; refused at the
		// pass's end, it ends what began.
		if wantCalls := !tc.indexed; sink.began != sink.ended || (sink.began == 1) != wantCalls || sink.began > 1 {
			t.Errorf("%s: the sink began %d and ended %d times; want %v", tc.name, sink.began, sink.ended, map[bool]string{true: "once each", false: "neither"}[wantCalls])
		}
		if tc.indexed {
			if wsum != nil || r.reads.Load() != indexing.reads.Load() {
				t.Errorf("%s: MapWindow returned %v after %d reads where indexing takes %d; want no summary, and the index alone read", tc.name, wsum, r.reads.Load(), indexing.reads.Load())
			}
			continue
		}
		if wsum == nil || wsum.Generations >= sum.Generations {
			t.Errorf("%s: MapWindow read the whole trace (%+v), want its last generations", tc.name, wsum)
		}
	}
}

// TestWindowBeforeBreak checks that a window of a file that breaks off
// after it is converted whole, without the break's error, as the same
// window of the whole file is: what it asks for is all there. A window
// that reaches the break reads up to it and fails.
func TestWindowBeforeBreak(t *testing.T) {
	data := recordGenerations(t, 5)
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	if len(gens) < 4 {
		t.Fatalf("only %d generations", len(gens))
	}
	// Cut inside the last generation: those before it are whole.
	lastG := gens[len(gens)-1]
	cut := data[:lastG.Offset+lastG.Size/2]
	off := func(ns int64) mapping.Bound {
		return mapping.Bound{Offset: time.Duration(ns - gens[0].Start), Set: true}
	}
	window := func(input []byte, to mapping.Bound) (*itemLog, error) {
		l := newItemLog()
		f := &mapping.Filter{To: to}
		_, err := mapping.MapWindow(bytes.NewReader(input), int64(len(input)), mapping.Bound{}, to, f.Sink(l))
		return l, err
	}
	to := off(gens[1].Start) // before the last whole generation begins
	whole, err := window(data, to)
	if err != nil {
		t.Fatal(err)
	}
	broken, err := window(cut, to)
	if err != nil {
		t.Fatalf("a window before the break: %v", err)
	}
	if len(whole.lines) == 0 || !slices.Equal(whole.lines, broken.lines) {
		t.Errorf("the window of the broken file gives %d items, that of the whole file %d", len(broken.lines), len(whole.lines))
	}
	var me *mapping.Error
	if _, err := window(cut, off(lastG.Start)); !errors.As(err, &me) {
		t.Errorf("a window that reaches the break: %v, want a *mapping.Error", err)
	}
}
