package mapping

import (
	"testing"

	"golang.org/x/exp/trace"
)

// TestTaskEndedLongAgo checks that a task ended twice, and a log naming a
// task after its end, are told from a task begun before the trace however
// many tasks ended in between (the mapping remembered the last 65,536:
// past them, a second end made up a second task, begun before the
// trace), and that a task ID begun again after its end (a damaged trace)
// is a task again.
func TestTaskEndedLongAgo(t *testing.T) {
	var e synth
	on := onG(goMain, procA, thrA)
	evs := []trace.Event{
		e.sync(1000),
		e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
		e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.task(1010, trace.EventTaskBegin, on, stkNewTask, 1, trace.NoTask, "first"),
		e.task(1011, trace.EventTaskEnd, on, stkTaskEnd, 1, trace.NoTask, "first"),
	}
	const between = maxEnded + 10
	ts := trace.Time(2000)
	for id := trace.TaskID(2); id < 2+between; id++ {
		evs = append(evs,
			e.task(ts, trace.EventTaskBegin, on, stkNewTask, id, trace.NoTask, "other"),
			e.task(ts+1, trace.EventTaskEnd, on, stkTaskEnd, id, trace.NoTask, "other"))
		ts += 2
	}
	evs = append(evs,
		e.task(ts, trace.EventTaskEnd, on, stkTaskEnd, 1, trace.NoTask, "first"),
		e.log(ts+1, on, stkLog, 1, "k", "after its end"),
		e.task(ts+2, trace.EventTaskBegin, on, stkNewTask, 2, trace.NoTask, "again"),
		e.task(ts+3, trace.EventTaskEnd, on, stkTaskEnd, 2, trace.NoTask, "again"),
		e.sync(ts+10),
	)
	r := newRecorder()
	m, _, err := smFeed(r, evs)
	if err != nil {
		t.Fatal(err)
	}
	var first, again int
	for _, tk := range r.tasks {
		switch tk.ID {
		case 1:
			first++
			if tk.Flags.Has(OpenStart) {
				t.Errorf("task 1 made up again, begun before the trace: %+v", tk)
			}
		case 2:
			if tk.Type == "again" {
				again++
			}
		}
	}
	if first != 1 || again != 1 {
		t.Errorf("task 1 delivered %d times, task 2 begun again %d times; want once each", first, again)
	}
	if got := m.sum.Anomalies["task ended twice"]; got != 1 {
		t.Errorf("anomalies %v: want the second end counted", m.sum.Anomalies)
	}
}

// TestPendingFlowAtEarlyStop checks that a goroutine made runnable before
// the end of a pass that stops before the trace's last generation (a
// window's, see MapWindow) does not count as one that never ran again:
// it runs after what the pass read. A pass to the trace's end counts it.
func TestPendingFlowAtEarlyStop(t *testing.T) {
	var e synth
	evs := append(e.mainCreatesWorker(), e.sync(1020))
	for _, early := range []bool{false, true} {
		m := newMapper(newRecorder(), &config{input: "synthetic", stopsEarly: early})
		m.counter = &countingReader{}
		for i := range evs {
			if err := m.event(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.finish(); err != nil {
			t.Fatal(err)
		}
		want := 1
		if early {
			want = 0
		}
		if m.sum.UnmatchedFlows != want {
			t.Errorf("stopping early %v: %d flows without a target, want %d", early, m.sum.UnmatchedFlows, want)
		}
	}
}
