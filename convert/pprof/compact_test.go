package pprof_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestOnlyWhatSamplesUse checks that a profile holds the locations and
// functions its samples use, no others: a trace's stacks are many, and a
// profile of one kind uses few. The gc sample has no network waits.
func TestOnlyWhatSamplesUse(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "gc.go1.26.trace")
	for _, kind := range pprof.Kinds() {
		var b bytes.Buffer
		mapInto(t, path, pprof.NewWriter(&b, kind))
		p := parse(t, b.Bytes())
		locs, funcs := map[uint64]bool{}, map[uint64]bool{}
		for _, s := range p.Sample {
			for _, l := range s.Location {
				locs[l.ID] = true
				for _, ln := range l.Line {
					funcs[ln.Function.ID] = true
				}
			}
		}
		if len(p.Location) != len(locs) || len(p.Function) != len(funcs) {
			t.Errorf("%s: %d locations and %d functions; the samples use %d and %d", kind, len(p.Location), len(p.Function), len(locs), len(funcs))
		}
		if kind == pprof.Net && (len(p.Sample) > 0 || b.Len() > 200) {
			t.Errorf("net: %d samples in %d bytes; want none, in a profile of its header alone", len(p.Sample), b.Len())
		}
	}
}

// TestEqualStacksMerged checks that intervals on stacks that become the
// same once frames are left out (a frame of nothing, runtime.goexit) are
// one sample, as a profile has one sample per stack and labels.
func TestEqualStacksMerged(t *testing.T) {
	const (
		running  = mapping.GoRunning
		runnable = mapping.GoRunnable
	)
	goexit := mapping.Frame{PC: 0x9000, Func: "runtime.goexit", File: "asm.s", Line: 1}
	main := mapping.Frame{PC: 0x1000, Func: "main.main", File: "main.go", Line: 5}
	items := []any{
		&mapping.Stack{ID: 1, Frames: []mapping.Frame{{}}},
		&mapping.Stack{ID: 2, Frames: []mapping.Frame{goexit}},
		&mapping.Stack{ID: 3, Frames: []mapping.Frame{main}},
		&mapping.Stack{ID: 4, Frames: []mapping.Frame{main, goexit}},
		born(1),
		state(1, running, 0, 10, 0, "", mapping.OpenStart),
		state(1, runnable, 10, 20, 0, "preempted", 0),
		state(1, running, 20, 30, 0, "", 0),
		state(1, runnable, 30, 40, 1, "preempted", 0),
		state(1, running, 40, 50, 0, "", 0),
		state(1, runnable, 50, 60, 2, "preempted", 0),
		state(1, running, 60, 70, 0, "", 0),
		state(1, runnable, 70, 80, 3, "preempted", 0),
		state(1, running, 80, 90, 0, "", 0),
		state(1, runnable, 90, 100, 4, "preempted", 0),
		state(1, running, 100, 1000, 0, "", mapping.OpenEnd),
	}
	p := parse(t, feedBytes(t, pprof.Sched, nil, items...))
	got := map[string]values{}
	for _, s := range p.Sample {
		k := stackKey(s.Location, false)
		if _, dup := got[k]; dup {
			t.Errorf("two samples of the stack\n%s", indent(k))
		}
		got[k] = values{s.Value[0], s.Value[1]}
	}
	want := map[string]values{"": {3, 30}, frameKey("main.main", "main.go", 5) + "\n": {2, 20}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
