package perfetto_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestManyTaskTypes gives a task type per task, as a program that puts a
// request's ID in the type does: the Tasks group keeps a bounded number of
// groups, the rest sharing lanes, and every task is still drawn with its
// own type as its name.
func TestManyTaskTypes(t *testing.T) {
	const start, tasks = mapping.Time(1000), 2000
	var out bytes.Buffer
	w, must := begun(t, &out, "task types", start)
	for i := range tasks {
		at := start + mapping.Time(100*i)
		must(w.Task(&mapping.Task{ID: mapping.TaskID(i + 1), Parent: mapping.NoTask, Type: fmt.Sprintf("GET /users/%d", i),
			Start: at, End: at + 50}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100*tasks + 1000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	var tasksTrack uint64
	for _, tr := range rep.Tracks {
		if tr.Name == "Tasks" {
			tasksTrack = tr.UUID
		}
	}
	groups := 0
	for _, tr := range rep.Tracks {
		if tasksTrack != 0 && tr.Parent == tasksTrack {
			groups++
		}
	}
	if groups > 300 || groups < 2 {
		t.Errorf("%d task type groups for %d types, want at most about 256", groups, tasks)
	}
	named := map[string]bool{}
	for _, s := range rep.Slices {
		if s.Category == "task" {
			named[s.Name] = true
		}
	}
	if len(named) != tasks {
		t.Errorf("%d tasks drawn with their own type, want %d", len(named), tasks)
	}
}

// TestEmptyTaskType checks that a task begun in the trace with an empty
// type (trace.NewTask(ctx, "")) is not drawn as one begun before the
// trace, whose type is unknown.
func TestEmptyTaskType(t *testing.T) {
	const start = mapping.Time(1000)
	var out bytes.Buffer
	w, must := begun(t, &out, "empty task type", start)
	must(w.Task(&mapping.Task{ID: 1, Parent: mapping.NoTask, Start: start, End: start + 50, Flags: mapping.OpenStart}))
	must(w.Task(&mapping.Task{ID: 2, Parent: mapping.NoTask, Start: start + 100, End: start + 150}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 1000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	names := map[uint64]string{}
	for _, tr := range rep.Tracks {
		names[tr.UUID] = tr.Name
	}
	group := map[string]string{} // task slice name: its lane's group
	for _, tr := range rep.Tracks {
		for _, s := range rep.Slices {
			if s.Category == "task" && s.Track == tr.UUID {
				group[s.Name] = names[tr.Parent]
			}
		}
	}
	if g := group["task 1"]; g != "tasks of unknown type" {
		t.Errorf("a task begun before the trace is under %q, want tasks of unknown type", g)
	}
	if g := group["task 2"]; g != `tasks of type ""` {
		t.Errorf("a task of empty type is under %q, want tasks of type \"\"", g)
	}
}
