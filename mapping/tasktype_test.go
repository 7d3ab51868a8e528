package mapping

import (
	"testing"

	"golang.org/x/exp/trace"
)

// TestTaskTypeFromLog checks that a task the trace never shows begin takes
// its type from its first log of CategoryTaskType, and that a task whose
// begin the trace holds keeps the begin's type whatever it logs.
func TestTaskTypeFromLog(t *testing.T) {
	var e synth
	on := onG(goMain, procA, thrA)
	evs := []trace.Event{
		e.sync(1000),
		e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
		e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		// Task 5 began before the trace and restates its type, twice.
		e.log(1010, on, stkLog, 5, CategoryTaskType, "GET /slow/{ms}"),
		e.log(1011, on, stkLog, 5, CategoryTaskType, "a second statement"),
		e.task(1012, trace.EventTaskEnd, on, stkTaskEnd, 5, trace.NoTask, ""),
		// Task 6 begins in the trace: its begin names it.
		e.task(1020, trace.EventTaskBegin, on, stkNewTask, 6, trace.NoTask, "begun"),
		e.log(1021, on, stkLog, 6, CategoryTaskType, "not this"),
		e.task(1022, trace.EventTaskEnd, on, stkTaskEnd, 6, trace.NoTask, "begun"),
		// Task 7 began before the trace and says nothing of its type; a
		// log of another category names nothing.
		e.log(1030, on, stkLog, 7, "route", "GET /other"),
		e.task(1031, trace.EventTaskEnd, on, stkTaskEnd, 7, trace.NoTask, ""),
		e.sync(1100),
	}
	r := newRecorder()
	if _, _, err := smFeed(r, evs); err != nil {
		t.Fatal(err)
	}
	want := map[TaskID]struct {
		typ  string
		open bool
	}{5: {"GET /slow/{ms}", true}, 6: {"begun", false}, 7: {"", true}}
	if len(r.tasks) != len(want) {
		t.Fatalf("%d tasks delivered, want %d: %+v", len(r.tasks), len(want), r.tasks)
	}
	for _, tk := range r.tasks {
		w, ok := want[tk.ID]
		if !ok {
			t.Errorf("task %d delivered, not in the trace", tk.ID)
			continue
		}
		if tk.Type != w.typ || tk.Flags.Has(OpenStart) != w.open {
			t.Errorf("task %d: type %q, begun before the trace %v; want %q, %v", tk.ID, tk.Type, tk.Flags.Has(OpenStart), w.typ, w.open)
		}
	}
}
