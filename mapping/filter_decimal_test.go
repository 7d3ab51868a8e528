package mapping_test

import (
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// taskIDs records the IDs of the tasks passed on.
type taskIDs struct {
	mapping.NopSink
	ids []mapping.TaskID
}

func (r *taskIDs) Task(k *mapping.Task) error { r.ids = append(r.ids, k.ID); return nil }

// TestTaskFilterDecimalType: a task selection by a decimal value keeps
// the task of that ID and the tasks of that type, since programs name
// task types after status codes, years and job numbers; a value that is
// not decimal is a type only.
func TestTaskFilterDecimalType(t *testing.T) {
	tasks := []mapping.Task{
		{ID: 5, Type: "2024", Start: 100, End: 200},
		{ID: 2024, Type: "other", Start: 300, End: 400},
		{ID: 6, Type: "request", Start: 500, End: 600},
		{ID: 7, Type: "0042", Start: 700, End: 800},
		{ID: 42, Type: "other", Start: 850, End: 900},
	}
	feed := func(s mapping.Sink) {
		t.Helper()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.Begin(&mapping.Meta{Input: "tasks", FormatVersion: "go1.26", Start: 0}))
		must(s.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main", Creator: mapping.NoGoroutine}))
		for _, k := range tasks {
			k.Parent, k.Root, k.StartG, k.EndG, k.Goroutines = mapping.NoTask, k.ID, 1, 1, []mapping.GoID{1}
			must(s.Task(&k))
		}
		must(s.End(&mapping.Summary{End: 1000}))
	}
	for _, c := range []struct {
		sel  string
		want []mapping.TaskID
	}{
		{"2024", []mapping.TaskID{5, 2024}}, // a type and an ID
		{"6", []mapping.TaskID{6}},          // an ID only
		{"request", []mapping.TaskID{6}},    // a type only
		{"0042", []mapping.TaskID{7, 42}},   // the type as written, the ID as a number
	} {
		f := &mapping.Filter{Tasks: []string{c.sel}}
		feed(f.Prepass())
		got := &taskIDs{}
		feed(f.Sink(got))
		if !slices.Equal(got.ids, c.want) {
			t.Errorf("--task %s kept tasks %v, want %v", c.sel, got.ids, c.want)
		}
	}
}
