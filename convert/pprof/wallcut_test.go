package pprof_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestWallCutRun: a run a filter cut, with no end stack, is charged to
// where the goroutine was as it began, if the interval before it is in the
// model; after a gap (what a filter left out), to no stack, never to the
// stack of an interval before the gap, whose code the goroutine may have
// left long before.
func TestWallCutRun(t *testing.T) {
	const (
		running  = mapping.GoRunning
		runnable = mapping.GoRunnable
		waiting  = mapping.GoWaiting
	)
	cut := mapping.OpenStart | mapping.OpenEnd
	got := feed(t, pprof.Wall,
		stack(1, "recv", "main"), born(1),
		state(1, waiting, 0, 100, 1, "chan receive", 0),
		state(1, running, 100, 150, mapping.NoStack, "", mapping.OpenEnd), // cut at its end
		state(1, running, 300, 400, mapping.NoStack, "", cut),             // after a gap
		state(1, runnable, 500, 600, mapping.NoStack, "", mapping.OpenStart),
	)
	want := map[string]values{
		"recv<main waiting chan receive": {1, 100},
		"recv<main running":              {1, 50},
		" running":                       {1, 100},
		" runnable":                      {1, 100},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// regionStacks records the leaf frames of the stacks of regions of one
// type: where the code that began and ended them is.
type regionStacks struct {
	mapping.NopSink
	typ    string
	stacks map[mapping.StackID]mapping.Frame
	leaves map[string]bool
}

func (r *regionStacks) Stack(s *mapping.Stack) error {
	if len(s.Frames) > 0 {
		r.stacks[s.ID] = s.Frames[0]
	}
	return nil
}

func (r *regionStacks) Region(x *mapping.Region) error {
	if x.Type == r.typ {
		for _, id := range []mapping.StackID{x.Stack, x.EndStack} {
			if f, ok := r.stacks[id]; ok {
				r.leaves[fmt.Sprintf("%s:%d", f.Func, f.Line)] = true
			}
		}
	}
	return nil
}

// TestWallRegionFilter: the wall profile of the regions a filter selects
// charges their time to code in those regions, never to where a goroutine
// went on to after one ended (the stack of the event that ended the cut
// run, in the trace).
func TestWallRegionFilter(t *testing.T) {
	const typ = "inner"
	data, err := os.ReadFile("../../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	rs := &regionStacks{typ: typ, stacks: map[mapping.StackID]mapping.Frame{}, leaves: map[string]bool{}}
	if _, err := mapping.Map(bytes.NewReader(data), rs); err != nil {
		t.Fatal(err)
	}
	if len(rs.leaves) == 0 {
		t.Fatalf("no %q region with a stack", typ)
	}
	f := &mapping.Filter{Regions: []string{typ}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(pprof.NewWriter(&buf, pprof.Wall))); err != nil {
		t.Fatal(err)
	}
	var inside, total int64
	for _, s := range parse(t, buf.Bytes()).Sample {
		total += s.Value[1]
		if len(s.Location) == 0 {
			continue
		}
		in := false
		for _, l := range s.Location {
			for _, ln := range l.Line {
				in = in || rs.leaves[fmt.Sprintf("%s:%d", ln.Function.Name, ln.Line)]
			}
		}
		if !in {
			t.Errorf("%v ns %v charged outside the %q regions:\n%s", s.Value[1], s.Label["state"], typ, stackKey(s.Location, false))
			continue
		}
		inside += s.Value[1]
	}
	if inside == 0 || inside < total*9/10 {
		t.Errorf("%d ns of %d charged to code in the regions", inside, total)
	}
}

// TestWallTaskFilter: the runs a task filter cuts where the selected task
// ended are charged to where it ended, as those a region filter cuts are
// to where the region ended, not to no stack at all.
func TestWallTaskFilter(t *testing.T) {
	data, err := os.ReadFile("../../testdata/frsubtasks.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	f := &mapping.Filter{Tasks: []string{"request"}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(pprof.NewWriter(&buf, pprof.Wall))); err != nil {
		t.Fatal(err)
	}
	var running, bare int64
	for _, s := range parse(t, buf.Bytes()).Sample {
		if s.Label["state"][0] != "running" {
			continue
		}
		running += s.Value[1]
		if len(s.Location) == 0 {
			bare += s.Value[1]
		}
	}
	if running == 0 || bare > 0 {
		t.Errorf("%d ns of %d running charged to no stack", bare, running)
	}
}
