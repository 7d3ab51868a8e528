package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestFlowCauseTrack checks on which track a wakeup's instant is drawn
// when goroutines whose IDs share a slot of the table of ended ones
// (IDs 1024 apart, and -1, "no goroutine") have ended: a wakeup with no
// goroutine goes on its P, one by a live goroutine on that goroutine, one
// by an ended goroutine on the ended goroutine's track.
func TestFlowCauseTrack(t *testing.T) {
	const start = mapping.Time(1000)
	var out bytes.Buffer
	w, must := begun(t, &out, "flow causes", start)
	must(w.Proc(&mapping.Proc{ID: 0}))
	must(w.Thread(&mapping.Thread{ID: 1}))
	must(w.ProcRun(&mapping.ProcRun{P: 0, M: 1, Start: start, End: 9000}))
	// G1023 shares the slot of -1, G5 the slot of G1029; both end.
	for i, g := range []mapping.GoID{1023, 5} {
		at := start + mapping.Time(i)*1000
		must(w.Goroutine(&mapping.Goroutine{ID: g, StartFunc: "main.ended", Creator: mapping.NoGoroutine, Created: at}))
		must(w.GoroutineState(&mapping.GoroutineState{G: g, State: mapping.GoRunning, Start: at, End: at + 500, P: 0, M: 1}))
		must(w.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: g, Time: at + 500}))
	}
	must(w.Goroutine(&mapping.Goroutine{ID: 1029, StartFunc: "main.live", Creator: mapping.NoGoroutine, Created: 3000}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 1029, State: mapping.GoRunning, Start: 3000, End: 8000, P: 0, M: 1}))
	must(w.Goroutine(&mapping.Goroutine{ID: 7, StartFunc: "main.woken", Creator: mapping.NoGoroutine, Created: 3000}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 7, State: mapping.GoWaiting, Start: 3000, End: 4000, P: mapping.NoProc, M: mapping.NoThread}))
	causes := []mapping.GoID{mapping.NoGoroutine, 1029, 5}
	for i, from := range causes {
		at := 4000 + mapping.Time(i)*1000
		must(w.GoroutineState(&mapping.GoroutineState{G: 7, State: mapping.GoRunnable, Start: at, End: at + 100, P: mapping.NoProc, M: mapping.NoThread}))
		must(w.Flow(&mapping.Flow{ID: uint64(i + 1), Kind: mapping.GoUnblocked,
			From: mapping.Endpoint{G: from, P: 0, M: 1, Time: at},
			To:   mapping.Endpoint{G: 7, Time: at + 100}}))
		must(w.GoroutineState(&mapping.GoroutineState{G: 7, State: mapping.GoRunning, Start: at + 100, End: at + 200, P: 0, M: 1}))
		must(w.GoroutineState(&mapping.GoroutineState{G: 7, State: mapping.GoWaiting, Start: at + 200, End: at + 1000, P: mapping.NoProc, M: mapping.NoThread}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 9000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	// The track of each cause, by the name the output gives it: goroutines
	// draw on lanes named after their start function.
	want := []string{"P0", "main.live", "main.ended"}
	var got []string
	for _, in := range rep.Instants {
		if in.Name == "unblock" {
			got = append(got, rep.Tracks[in.Track].Name)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("unblock instants on tracks %q, want %d", got, len(want))
	}
	for i := range want {
		if !bytes.Contains([]byte(got[i]), []byte(want[i])) {
			t.Errorf("wakeup by %d drawn on track %q, want %q's", causes[i], got[i], want[i])
		}
	}
}
