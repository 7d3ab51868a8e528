package mapping_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/trace"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// recordBeforeTrace traces 8 iterations, each a generation, with a log at
// the start of each, as a flight recorder's snapshot gives a program's
// work: the task "old" and its regions "outer" and "held" in it begin
// before the trace (a flight recorder running beside it makes them real
// events the trace does not hold) and end in the seventh iteration, with
// nothing of themselves before, outer just after the task, as a deferred
// End has it; "child", a subtask of "old", runs in the third.
func recordBeforeTrace(t *testing.T) []byte {
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
	if err := fr.Start(); err != nil {
		t.Skipf("a flight recorder cannot run here: %v", err)
	}
	defer fr.Stop()
	ctx, old := trace.NewTask(context.Background(), "old")
	outer := trace.StartRegion(ctx, "outer")
	held := trace.StartRegion(ctx, "held")
	data, err := synth.RecordFunc(func() {
		for i := range 8 {
			trace.Log(context.Background(), "iteration", strconv.Itoa(i))
			switch i {
			case 2:
				cctx, child := trace.NewTask(ctx, "child")
				trace.WithRegion(cctx, "in-child", func() {})
				child.End()
			case 6:
				held.End()
				old.End()
				outer.End()
			}
			_, step := trace.NewTask(context.Background(), "step")
			trace.WithRegion(context.Background(), "work", func() {})
			step.End()
			// A snapshot ends the generation.
			if _, err := fr.WriteTo(io.Discard); err != nil {
				t.Errorf("flight recorder: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	return data
}

// TestTaskBeforeTraceAcrossWindow selects, by ID, a task begun before
// the trace that shows nothing of itself up to the generation after a
// window: the first pass over a file, which reads up to there, must read
// on to where it ends, and the window's pass must give it, its regions
// begun before the trace (one ending just after it) and its subtask as
// the whole pass does.
func TestTaskBeforeTraceAcrossWindow(t *testing.T) {
	data := recordBeforeTrace(t)
	logs := &iterationLogs{at: map[string]mapping.Time{}}
	sum, err := mapping.Map(bytes.NewReader(data), logs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Generations < 8 {
		t.Fatalf("the trace has %d generations, want one an iteration", sum.Generations)
	}
	parent := &parentOf{typ: "child"}
	if _, err := mapping.Map(bytes.NewReader(data), parent); err != nil {
		t.Fatal(err)
	}
	old := parent.parent
	if old == mapping.NoTask {
		t.Fatal("no task child of a task in the trace")
	}
	from := mapping.Bound{Offset: time.Duration(logs.at["2"] - sum.Start), Set: true}
	to := mapping.Bound{Offset: time.Duration(logs.at["3"] - sum.Start), Set: true}
	var got [2]*acrossSink
	for i, seek := range []bool{false, true} {
		f := mapping.Filter{Tasks: []string{fmt.Sprint(old)}, From: from, To: to}
		got[i] = &acrossSink{types: map[string]int{}}
		var err error
		if seek {
			if err = f.PrepassFile(bytes.NewReader(data), int64(len(data))); err == nil {
				sum, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, to, f.Sink(got[i]))
			}
		} else if _, err = mapping.Map(bytes.NewReader(data), f.Prepass()); err == nil {
			sum, err = mapping.Map(bytes.NewReader(data), f.Sink(got[i]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	full, seek := got[0], got[1]
	for _, typ := range []string{"held", "outer", "in-child"} {
		if full.types[typ] != 1 {
			t.Errorf("the whole pass kept %d regions %s, want 1", full.types[typ], typ)
		}
	}
	if len(full.tasks) != 2 {
		t.Errorf("the whole pass kept tasks:\n\t%s\nwant the task and its child", joinLines(full.tasks))
	}
	// The IDs of regions begun before the trace are each pass's own.
	strip := func(lines []string) []string {
		out := slices.Clone(lines)
		for i, l := range out {
			if f := bytes.Fields([]byte(l)); len(f) > 3 && (string(f[1]) == "held" || string(f[1]) == "outer") {
				out[i] = string(f[1]) + " " + string(bytes.Join(f[6:], []byte(" ")))
			}
		}
		slices.Sort(out)
		return out
	}
	if a, b := strip(full.regions), strip(seek.regions); !slices.Equal(a, b) {
		t.Errorf("regions over the whole trace:\n\t%s\nover the window's generations:\n\t%s", joinLines(a), joinLines(b))
	}
	slices.Sort(full.tasks)
	slices.Sort(seek.tasks)
	if !slices.Equal(full.tasks, seek.tasks) {
		t.Errorf("tasks over the whole trace:\n\t%s\nover the window's generations:\n\t%s", joinLines(full.tasks), joinLines(seek.tasks))
	}
}

// parentOf records the parent of the tasks of type typ.
type parentOf struct {
	mapping.NopSink
	typ    string
	parent mapping.TaskID
}

func (s *parentOf) Task(t *mapping.Task) error {
	if t.Type == s.typ {
		s.parent = t.Parent
	}
	return nil
}
