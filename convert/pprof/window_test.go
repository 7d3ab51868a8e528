package pprof_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestWindowRules checks, on made-up timelines, how a window and spans
// count the waits they cut: each for its part within them, first run or
// not, and its contention where it ends.
func TestWindowRules(t *testing.T) {
	const (
		running = mapping.GoRunning
		waiting = mapping.GoWaiting
	)
	s1, s2, s3 := stack(1, "recv", "main"), stack(2, "send", "main"), stack(3, "lock", "main")
	// The window [100, 200] of a trace that starts at 0 and goes on.
	window := []any{&mapping.Meta{Input: "synthetic", Filtered: true, Origin: 0, Start: 100, WindowEnd: 200},
		&mapping.Summary{End: 200}}
	for _, tc := range []struct {
		name  string
		opts  []pprof.Option
		items []any
		want  map[string]values
	}{{
		name: "a window",
		items: append(slices.Clone(window), s1, s2, s3, born(1), born(2), born(3),
			state(1, waiting, 100, 150, 1, "chan receive", mapping.OpenStart), // cut at the start
			state(1, running, 150, 200, 0, "", mapping.OpenEnd),
			state(2, waiting, 120, 200, 2, "chan send", mapping.OpenEnd), // cut at the end
			state(3, waiting, 110, 130, 3, "sync", 0),                    // before its first run
			state(3, running, 130, 200, 0, "", mapping.OpenEnd),
		),
		want: map[string]values{"recv<main": {1, 50}, "send<main": {0, 80}, "lock<main": {1, 20}},
	}, {
		name: "a window to past the trace's end",
		items: []any{&mapping.Meta{Input: "synthetic", Filtered: true, WindowEnd: 5000}, s1, s2, born(1), born(2),
			state(1, waiting, 10, 20, 1, "chan receive", 0),
			state(1, waiting, 20, 1000, 2, "chan send", mapping.OpenEnd), // open at the trace's end
		},
		want: map[string]values{"recv<main": {1, 10}},
	}, {
		name: "spans",
		opts: []pprof.Option{pprof.WithinSpans()},
		items: []any{s1, s2, s3, born(1), born(2), born(3),
			state(1, waiting, 10, 50, 1, "chan receive", mapping.OpenEnd), // cut where a span ends
			state(1, waiting, 60, 70, 1, "chan receive", mapping.OpenStart),
			state(2, waiting, 10, 30, 2, "chan send", mapping.OpenEnd), // cut, and its last
			state(3, waiting, 900, 1000, 3, "sync", mapping.OpenEnd),   // open at the trace's end
		},
		want: map[string]values{"recv<main": {1, 50}, "send<main": {0, 20}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := figures(parse(t, feedBytes(t, pprof.Sync, tc.opts, tc.items...)))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// openEnds adds up, by stack, the time before mid of the waits of one
// kind still going on when the trace ends.
type openEnds struct {
	mapping.NopSink
	kind   pprof.Kind
	mid    mapping.Time
	stacks map[mapping.StackID]string
	byKey  map[string]int64
}

func (o *openEnds) Stack(s *mapping.Stack) error {
	var b strings.Builder
	for _, f := range s.Frames {
		// Frames the profiles leave out: a frame of nothing, and
		// runtime.goexit, as the runtime's profiles do.
		if f.PC == 0 && f.Func == "" && f.File == "" || f.Func == "runtime.goexit" {
			continue
		}
		b.WriteString(frameKey(f.Func, f.File, int64(f.Line)))
		b.WriteByte('\n')
	}
	o.stacks[s.ID] = b.String()
	return nil
}

func (o *openEnds) GoroutineState(s *mapping.GoroutineState) error {
	var kept bool
	switch o.kind {
	case pprof.Net:
		kept = s.State == mapping.GoWaiting && s.Reason == "network"
	case pprof.Sync:
		kept = s.State == mapping.GoWaiting && (strings.Contains(s.Reason, "chan") || strings.Contains(s.Reason, "sync") || strings.Contains(s.Reason, "select"))
	case pprof.Syscall:
		kept = s.State == mapping.GoSyscall
	}
	if kept && s.Flags.Has(mapping.OpenEnd) && s.Start < o.mid {
		o.byKey[o.stacks[s.Stack]] += int64(o.mid - s.Start)
	}
	return nil
}

// TestAdjacentWindows profiles each sample trace in two windows that meet
// in its middle. Every wait counts for its part in each window, and its
// contention in the one where it ends, so together they hold, stack by
// stack, what the whole trace holds counted as within spans (every wait
// that ends, first run or not): the same contentions, and the same delay
// but for the waits still going on at the trace's end, whose part in the
// first window counts (the window does not see them go on to the end).
// The whole trace by go tool trace's rules holds no more, and at least
// one trace has a wait across the middle that it counts.
func TestAdjacentWindows(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/*.go1.26.trace")
	across := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := mapping.Map(bytes.NewReader(data), mapping.NopSink{})
		if err != nil {
			continue // a broken sample
		}
		half := time.Duration(sum.End-sum.Start) / 2
		for _, kind := range []pprof.Kind{pprof.Net, pprof.Sync, pprof.Syscall, pprof.Sched} {
			profileOf := func(f *mapping.Filter, opts ...pprof.Option) *profile.Profile {
				var b bytes.Buffer
				var sink mapping.Sink = pprof.NewWriter(&b, kind, opts...)
				if f != nil {
					sink = f.Sink(sink)
				}
				if _, err := mapping.Map(bytes.NewReader(data), sink); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				return parse(t, b.Bytes())
			}
			open := &openEnds{kind: kind, mid: sum.Start + mapping.Time(half), stacks: map[mapping.StackID]string{}, byKey: map[string]int64{}}
			if _, err := mapping.Map(bytes.NewReader(data), open); err != nil {
				t.Fatal(err)
			}
			within := totals(profileOf(nil, pprof.WithinSpans()), false)
			whole := totals(profileOf(nil), false)
			first := totals(profileOf(&mapping.Filter{To: mapping.Bound{Offset: half}}), false)
			second := totals(profileOf(&mapping.Filter{From: mapping.Bound{Offset: half}}), false)
			keys := map[string]bool{}
			for _, m := range []map[string]values{within, first, second} {
				for k := range m {
					keys[k] = true
				}
			}
			var wholeN, withinN, windowsN, withinD, windowsD int64
			for k := range keys {
				got := values{first[k].n + second[k].n, first[k].d + second[k].d}
				want := values{within[k].n, within[k].d + open.byKey[k]}
				wholeN += whole[k].n
				withinN, withinD = withinN+want.n, withinD+want.d
				windowsN, windowsD = windowsN+got.n, windowsD+got.d
				if kind == pprof.Sched {
					// A wait the second window cuts at its start began
					// with a wakeup or creation outside it, whose stack
					// it does not have: compared in total below.
					continue
				}
				if got != want {
					t.Errorf("%s, %s: stack\n%s has %d contentions, %d ns in the two windows; want %d, %d ns",
						filepath.Base(path), kind, indent(k), got.n, got.d, want.n, want.d)
				}
				if first[k].n < within[k].n && second[k].n > 0 && first[k].d > 0 && whole[k].n > 0 {
					across++
				}
			}
			// The open waits are not tallied for sched: the windows may
			// hold more time, not fewer contentions.
			if windowsN != withinN || windowsD < withinD || wholeN > windowsN {
				t.Errorf("%s, %s: %d contentions, %d ns in the two windows; %d, %d ns in the whole trace counted as within spans, %d contentions by go tool trace's rules",
					filepath.Base(path), kind, windowsN, windowsD, withinN, withinD, wholeN)
			}
		}
	}
	if across == 0 {
		t.Error("no wait the whole trace counts lies across the middle of a trace")
	}
}

// TestReasonlessWaitsOfRuntime: of the waits under way at the start of a
// pass over a file's later generations, those of the runtime's own
// goroutines (the finalizers', the GC's) are not counted as waits a
// Sync or Net profile might miss: they are never of either.
func TestReasonlessWaitsOfRuntime(t *testing.T) {
	w := pprof.NewWriter(&bytes.Buffer{}, pprof.Sync)
	items := []func() error{
		func() error { return w.Begin(&mapping.Meta{Input: "synthetic", Skipped: true, Start: 100}) },
		func() error {
			return w.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.worker", Flags: mapping.OpenStart})
		},
		func() error {
			return w.Goroutine(&mapping.Goroutine{ID: 2, StartFunc: "runtime.forcegchelper", Flags: mapping.OpenStart})
		},
		func() error {
			return w.Goroutine(&mapping.Goroutine{ID: 3, StartFunc: "runtime/trace.Start.func1", Flags: mapping.OpenStart})
		},
		func() error { return w.GoroutineState(state(1, mapping.GoWaiting, 100, 150, 0, "", mapping.OpenStart)) },
		func() error { return w.GoroutineState(state(2, mapping.GoWaiting, 100, 400, 0, "", mapping.OpenStart)) },
		func() error { return w.GoroutineState(state(3, mapping.GoWaiting, 100, 400, 0, "", mapping.OpenStart)) },
		func() error { return w.End(&mapping.Summary{End: 400}) },
	}
	for _, f := range items {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.ReasonlessWaits(); got != 50 {
		t.Errorf("ReasonlessWaits %v, want 50ns: main.worker's alone", got)
	}
}
