package mapping_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// TestSeekTaskTraceparent: a task selected under a window that a pass over
// the window's generations reads keeps the traceparent it logged long
// before, in a generation that pass does not read, as a full pass keeps
// it: the task selection's prepass read the whole trace.
func TestSeekTaskTraceparent(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var buf bytes.Buffer
	if err := synth.RecordGenerationsTraceparent(&buf, 5, tp); err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	data := buf.Bytes()
	gens, from := lastGenerationOf(t, data)
	var fullStack string // the functions of the log's stack in the full pass
	for _, seek := range []bool{false, true} {
		t.Run(fmt.Sprintf("seek=%v", seek), func(t *testing.T) {
			f := &mapping.Filter{Tasks: []string{"long"}, From: from}
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
			got := newTPRecorder()
			var sum *mapping.Summary
			var err error
			if seek {
				sum, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, mapping.Bound{}, f.Sink(got))
			} else {
				sum, err = mapping.Map(bytes.NewReader(data), f.Sink(got))
			}
			if err != nil {
				t.Fatal(err)
			}
			if seek && sum.Generations >= gens-1 {
				t.Fatalf("the seek read %d generations of %d: the traceparent's was read", sum.Generations, gens)
			}
			var long mapping.Task
			for _, k := range got.tasks {
				if k.Type == "long" {
					long = k
				}
			}
			if long.ID == 0 {
				t.Fatal("the long task was not kept")
			}
			var logs []mapping.Log
			for _, l := range got.logs {
				if l.Category == mapping.CategoryTraceparent {
					logs = append(logs, l)
				}
			}
			if len(logs) != 1 || logs[0].Message != tp || logs[0].Task != long.ID {
				t.Fatalf("traceparent logs %+v, want %q of task %d", logs, tp, long.ID)
			}
			// Its stack, if it has one, is its own: the pass over the
			// window's generations numbers stacks afresh.
			if stk := logs[0].Stack; !seek {
				fullStack = got.stacks[stk]
			} else if stk != mapping.NoStack && got.stacks[stk] != fullStack {
				t.Errorf("traceparent's stack %q, want %q or none", got.stacks[stk], fullStack)
			}
			// The task as kept begins no sooner than the window.
			if at := logs[0].Time; at < long.Start || at > long.End {
				t.Errorf("traceparent at %d, outside the task as kept [%d, %d]", at, long.Start, long.End)
			}
			for _, p := range got.problems {
				t.Error(p)
			}
		})
	}
}
