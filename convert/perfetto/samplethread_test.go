package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestSampleWithoutThread: a CPU sample that names no M (a trace before
// Go 1.22 whose P ran nothing) goes to a thread of its own, not to thread
// 0, which is the kernel's idle thread to the trace processor; the
// checker refuses a sample without a thread.
func TestSampleWithoutThread(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "samples", start)
	must(w.Thread(&mapping.Thread{ID: 3}))
	for i, m := range []mapping.ThreadID{3, mapping.NoThread, mapping.NoThread} {
		must(w.CPUSample(&mapping.CPUSample{Time: start + 10 + mapping.Time(i), G: mapping.NoGoroutine, P: mapping.NoProc, M: m, Stack: mapping.NoStack}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PerfSamples != 3 {
		t.Errorf("%d perf samples, want 3", rep.PerfSamples)
	}
}

// TestWideThreadIDs: a thread ID past Perfetto's 32 bits (a damaged
// trace's, or a system with wider ones) gets a thread ID of its own,
// not its low 32 bits, which would be 0, the kernel's idle thread, or
// another thread's.
func TestWideThreadIDs(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "tids", start)
	ms := []mapping.ThreadID{5, 1 << 32, 1<<32 + 5, 1 << 31, 1<<63 - 1}
	for _, m := range ms {
		must(w.Thread(&mapping.Thread{ID: m}))
		must(w.CPUSample(&mapping.CPUSample{Time: start + 1, G: mapping.NoGoroutine, P: mapping.NoProc, M: m, Stack: mapping.NoStack}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	tids := map[int32]string{}
	for _, tr := range rep.Tracks {
		if tr.Thread == nil {
			continue
		}
		if other, ok := tids[tr.Thread.GetTid()]; ok || tr.Thread.GetTid() <= 0 {
			t.Errorf("thread %s has tid %d, as %q", tr.Name, tr.Thread.GetTid(), other)
		}
		tids[tr.Thread.GetTid()] = tr.Name
	}
	if len(tids) != len(ms) {
		t.Errorf("%d thread tracks, want %d: %v", len(tids), len(ms), tids)
	}
}
