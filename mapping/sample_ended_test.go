package mapping

import "testing"

// TestSampleAfterGoroutineEnd checks a CPU sample that the runtime wrote
// after its goroutine had ended, which real traces with CPU profiling
// hold: the sample is kept, without its goroutine, and the goroutine is
// not declared again (it was, as one alive in no state from the trace's
// start to its end, which also made every parallel pass of such a trace
// fall back to one reader). A sample of a goroutine the first generation
// has not stated yet is of one that ran since before the trace.
func TestSampleAfterGoroutineEnd(t *testing.T) {
	var e synth
	evs := append(e.mainCreatesWorker(),
		e.goBlock(1020, onG(goMain, procA, thrA), "select", stkSelect),
		e.goStart(1030, onP(procA, thrA), goWorker),
		e.goEnd(1040, onG(goWorker, procA, thrA)),
		e.sample(1050, onG(goWorker, procA, thrA), stkHandler), // ended in this generation
		e.sample(1060, onG(goThird, procA, thrA), stkHandler),  // not stated yet: ran since before
		e.sync(2000),
		e.sample(2010, onG(goWorker, procA, thrA), stkHandler), // ended in the generation before
		e.sample(2020, onG(goFourth, procA, thrA), stkHandler), // unknown after the first generation
		e.sync(3000),
	)
	r := newRecorder()
	m, _, err := smFeed(r, evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.problems {
		t.Errorf("sink protocol: %s", p)
	}
	var gs []GoID
	for _, s := range r.samples {
		gs = append(gs, s.G)
	}
	smEqual(t, "the samples' goroutines", gs, []GoID{NoGoroutine, goThird, NoGoroutine, NoGoroutine})
	if n := len(r.goroutinesOf(goWorker)); n != 1 {
		t.Errorf("goroutine %d delivered %d times, want once (at its creation)", goWorker, n)
	}
	if n := len(r.goroutinesOf(goFourth)); n != 0 {
		t.Errorf("goroutine %d, named only by a sample after the first generation, delivered %d times", goFourth, n)
	}
	third := r.goroutinesOf(goThird)
	if len(third) == 0 || third[0].Flags&OpenStart == 0 || third[0].Created != 1000 {
		t.Errorf("goroutine %d, first named by a sample in the first generation: %+v, want it from the trace's start", goThird, third)
	}
	if got := m.sum.Anomalies["CPU sample of a goroutine that had ended (the sample kept without it)"]; got != 3 {
		t.Errorf("anomalies %v: want 3 samples counted without their goroutine", m.sum.Anomalies)
	}
	// A parallel pass's join requires every goroutine the mapping holds
	// live to be stated by the next group's lead-in.
	for _, id := range []GoID{goWorker, goFourth} {
		if m.gs.Get(id) != nil {
			t.Errorf("goroutine %d is held live after the pass", id)
		}
	}
	if m.endedEarly.len() != 0 {
		t.Errorf("the %d goroutines ended in the first generation are kept after it", m.endedEarly.len())
	}
}
