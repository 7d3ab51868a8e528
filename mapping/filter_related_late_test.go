package mapping

import (
	"testing"

	"golang.org/x/exp/trace"
)

// TestRelatedAfterTaskEnd: a goroutine that becomes related to the one
// selected only after its task ended has that task kept, and the
// traceparent another goroutine of the task logged (one the filter
// leaves out) at the time it was logged. The prepass learns the relation
// at its end, after the task; the traceparent is not held until the task
// ends, which would move it there.
func TestRelatedAfterTaskEnd(t *testing.T) {
	var e synth
	const (
		goOther = 3
		procC   = 2
		thrC    = 102
	)
	onMain, onWorker, onOther := onG(goMain, procA, thrA), onG(goWorker, procB, thrB), onG(goOther, procC, thrC)
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	evs := []trace.Event{
		e.sync(1000),
		e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
		e.procStatus(1002, onM(thrB), procB, trace.ProcRunning),
		e.goStatus(1003, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
		e.goStatus(1004, onP(procB, thrB), goWorker, trace.GoRunning, trace.NoStack),
		e.procStatus(1005, onM(thrC), procC, trace.ProcRunning),
		e.goStatus(1006, onP(procC, thrC), goOther, trace.GoRunning, trace.NoStack),
		e.task(1020, trace.EventTaskBegin, onOther, stkNewTask, 7, trace.NoTask, "request"),
		e.log(1021, onOther, stkLog, 7, CategoryTraceparent, tp),
		e.log(1025, onWorker, stkLog, 7, "step", "in the request"),
		e.task(1030, trace.EventTaskEnd, onOther, stkTaskEnd, 7, trace.NoTask, "request"),
		e.goBlock(1040, onWorker, "chan receive", stkRecv),
		e.goUnblock(1050, onMain, stkSend, goWorker),
		e.sync(1100),
	}
	f := &Filter{Goroutines: []GoID{goMain}, Related: true}
	if !f.NeedsPrepass() {
		t.Fatal("a related filter needs no prepass")
	}
	if _, _, err := smFeed(f.Prepass(), evs); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	if _, _, err := smFeed(f.Sink(r), evs); err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, k := range r.tasks {
		kept = kept || k.ID == 7
	}
	if !kept {
		t.Fatal("the task of the related goroutine was not kept")
	}
	var logs []Log
	for _, l := range r.logs {
		if l.Category == CategoryTraceparent {
			logs = append(logs, l)
		}
	}
	if len(logs) != 1 || logs[0].Message != tp || logs[0].Time != 1021 {
		t.Fatalf("traceparent logs %+v, want %q at 1021", logs, tp)
	}
}
