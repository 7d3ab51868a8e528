package mapping_test

import (
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestPrepassHoldsSelection feeds a task filter's prepass many requests,
// each a task with two subtasks that end before it, and one of them
// selected by ID: what the prepass holds follows the tasks kept and those
// still open, not every task of the trace; and the selected request's
// subtasks are kept with it, its neighbours' left out.
func TestPrepassHoldsSelection(t *testing.T) {
	const requests = 100000
	const selected = 3*500 + 1
	f := &mapping.Filter{Tasks: []string{"1501"}}
	p := f.Prepass()
	most, leftBytes := 0, 0
	at := mapping.Time(1000)
	for i := range requests {
		id := mapping.TaskID(3*i + 1)
		for _, sub := range []mapping.TaskID{id + 1, id + 2} {
			if err := p.Task(&mapping.Task{ID: sub, Parent: id, Type: "step", Start: at, End: at + 10, Goroutines: []mapping.GoID{mapping.GoID(i + 10)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Task(&mapping.Task{ID: id, Parent: mapping.NoTask, Type: "request", Start: at - 1, End: at + 20, Goroutines: []mapping.GoID{mapping.GoID(i + 10)}}); err != nil {
			t.Fatal(err)
		}
		held, left := mapping.PrepassHeld(p)
		most, leftBytes = max(most, held), max(leftBytes, left)
		at += 100
	}
	// The tasks left out are remembered, for subtasks that outlive their
	// parents, as a bit each: the tasks held whole are those selected and
	// those waiting for their parent, a few of the 300000 fed.
	if most > 10 || leftBytes > 3*requests/8+4096 {
		t.Errorf("the prepass held up to %d tasks of %d, and %d bytes for those left out", most, 3*requests, leftBytes)
	}
	if err := p.End(&mapping.Summary{}); err != nil {
		t.Fatal(err)
	}
	kept := &taskRecorder{}
	s := f.Sink(kept)
	if err := s.Begin(&mapping.Meta{}); err != nil {
		t.Fatal(err)
	}
	// Within the selected request, as the prepass saw it: the pass keeps
	// nothing outside that (see Filter.Window).
	in := mapping.Time(1000 + 500*100)
	for _, id := range []mapping.TaskID{selected, selected + 1, selected + 2, selected + 3, selected - 1} {
		if err := s.Task(&mapping.Task{ID: id, Parent: mapping.NoTask, Type: "x", Start: in, End: in + 10}); err != nil {
			t.Fatal(err)
		}
	}
	want := []mapping.TaskID{selected, selected + 1, selected + 2}
	if len(kept.ids) != len(want) || kept.ids[0] != want[0] || kept.ids[1] != want[1] || kept.ids[2] != want[2] {
		t.Errorf("the pass kept tasks %v, want %v: the selected request and its subtasks", kept.ids, want)
	}
}

type taskRecorder struct {
	mapping.NopSink
	ids []mapping.TaskID
}

func (r *taskRecorder) Task(t *mapping.Task) error {
	r.ids = append(r.ids, t.ID)
	return nil
}
