package mapping_test

import (
	"bytes"
	"context"
	"runtime"
	"runtime/trace"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// acrossSink records the regions and tasks a filter passes on.
type acrossSink struct {
	mapping.NopSink
	regions map[string][]mapping.Region
	tasks   map[string][]mapping.Task
}

func (s *acrossSink) Region(r *mapping.Region) error {
	s.regions[r.Type] = append(s.regions[r.Type], *r)
	return nil
}

func (s *acrossSink) Task(t *mapping.Task) error {
	c := *t
	c.Goroutines = nil
	s.tasks[t.Type] = append(s.tasks[t.Type], c)
	return nil
}

// TestRegionAcrossWindow selects a region open across a window in the
// middle of a trace, in a task with nothing else: a pass over the
// window's generations reads neither the region's begin nor its end, nor
// anything of the task, and must still keep both, cut to the window, as
// the pass over the whole trace does. So must a task selection with the
// region in its task.
func TestRegionAcrossWindow(t *testing.T) {
	const gens = 8
	data, err := synth.RecordFunc(func() {
		ctx, req := trace.NewTask(context.Background(), "request")
		wait := trace.StartRegion(ctx, "wait")
		done := make(chan bool)
		go func() {
			for i := range gens {
				_, step := trace.NewTask(context.Background(), "step")
				trace.WithRegion(context.Background(), "work", func() { time.Sleep(time.Millisecond) })
				step.End()
				runtime.GC()
				if i < gens-1 {
					// Starting a flight recorder ends the generation.
					fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
					if fr.Start() == nil {
						fr.Stop()
					}
				}
			}
			done <- true
		}()
		<-done
		wait.End()
		req.End()
	})
	if err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	g := idx.Generations
	if len(g) < 7 {
		t.Fatalf("%d generations, want 7 or more", len(g))
	}
	// The fourth generation: the pass reads from the second or third to the
	// fifth or sixth (generations overlap a little in time).
	from := mapping.Bound{Offset: time.Duration(g[3].Start - g[0].Start + 1), Set: true}
	to := mapping.Bound{Offset: time.Duration(g[3].End - g[0].Start - 1), Set: true}
	for _, f := range []mapping.Filter{
		{Regions: []string{"wait"}, From: from, To: to},
		{Tasks: []string{"request"}, From: from, To: to},
	} {
		var got [2]*acrossSink
		for i, seek := range []bool{false, true} {
			f := f
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
			got[i] = &acrossSink{regions: map[string][]mapping.Region{}, tasks: map[string][]mapping.Task{}}
			var sum *mapping.Summary
			if seek {
				sum, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, to, f.Sink(got[i]))
			} else {
				sum, err = mapping.Map(bytes.NewReader(data), f.Sink(got[i]))
			}
			if err != nil {
				t.Fatal(err)
			}
			if seek && sum.Generations > len(g)-3 {
				t.Fatalf("the window's pass read %d generations of %d: it may read the region's begin or end", sum.Generations, len(g))
			}
		}
		full, seek := got[0], got[1]
		for _, name := range []string{"full", "seek"} {
			s := full
			if name == "seek" {
				s = seek
			}
			if len(s.regions["wait"]) != 1 || len(s.tasks["request"]) != 1 {
				t.Fatalf("%v, %s pass: %d regions wait and %d tasks request, want 1 of each", f.Regions, name, len(s.regions["wait"]), len(s.tasks["request"]))
			}
			if r := s.regions["wait"][0]; !r.Flags.Has(mapping.OpenStart) || !r.Flags.Has(mapping.OpenEnd) {
				t.Errorf("%v, %s pass: region flags %v, want it cut at both ends", f.Regions, name, r.Flags)
			}
		}
		fr, sr := full.regions["wait"][0], seek.regions["wait"][0]
		if fr.Start != sr.Start || fr.End != sr.End || fr.Task != sr.Task {
			t.Errorf("%v: region [%d, %d] of task %d over the window's generations, [%d, %d] of task %d over the whole trace",
				f.Regions, sr.Start, sr.End, sr.Task, fr.Start, fr.End, fr.Task)
		}
		ft, st := full.tasks["request"][0], seek.tasks["request"][0]
		if ft.ID != st.ID || ft.Start != st.Start || ft.End != st.End {
			t.Errorf("%v: task %d [%d, %d] over the window's generations, %d [%d, %d] over the whole trace",
				f.Regions, st.ID, st.Start, st.End, ft.ID, ft.Start, ft.End)
		}
	}
}
