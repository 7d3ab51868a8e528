package chromejson_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestUndrawnGoroutine: a goroutine described and ended with nothing of
// its own drawn (one that a filter's kept items only name) gets no row,
// and a flow out of it that comes after its end starts on the P, not on a
// lane taken for it that nothing would ever end.
func TestUndrawnGoroutine(t *testing.T) {
	const start = mapping.Time(1_000_000)
	var buf bytes.Buffer
	w, must := begun(t, &buf, "undrawn", start)
	must(w.Proc(&mapping.Proc{ID: 0}))
	must(w.Thread(&mapping.Thread{ID: 1}))
	must(w.Goroutine(&mapping.Goroutine{ID: 3, StartFunc: "main.kept", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	must(w.Goroutine(&mapping.Goroutine{ID: 4, StartFunc: "main.named", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoWaiting, Reason: "chan receive", P: mapping.NoProc, M: mapping.NoThread, Start: start, End: start + 5000}))
	must(w.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: 4, By: mapping.NoGoroutine, Time: start + 2000}))
	must(w.Flow(&mapping.Flow{ID: 1, Kind: mapping.GoUnblocked, From: mapping.Endpoint{Time: start + 1000, G: 4, P: 0, M: 1}, To: mapping.Endpoint{Time: start + 6000, G: 3, P: 0, M: 1}}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoRunnable, P: mapping.NoProc, M: mapping.NoThread, Start: start + 5000, End: start + 6000}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoRunning, P: 0, M: 1, Start: start + 6000, End: start + 9000}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 10000}))
	must(w.Close())
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("invalid: %v", err)
	}
	for row, name := range rep.ThreadNames {
		if strings.Contains(name, "G4") || strings.Contains(name, "main.named") {
			t.Errorf("row %v %q for a goroutine with nothing drawn", row, name)
		}
	}
	var lives []string
	for _, e := range rep.Events {
		if e.Cat == "lifetime" {
			lives = append(lives, e.Name)
		}
	}
	if len(lives) != 1 || lives[0] != "G3 main.kept" {
		t.Errorf("lifetimes %q, want G3's alone", lives)
	}
	if len(rep.Flows) != 1 {
		t.Fatalf("%d flows, want 1", len(rep.Flows))
	}
	if f := rep.Flows[0].Start; rep.ProcessNames[f.PID] != "Procs" {
		t.Errorf("the flow starts in process %q, want the P's (Procs)", rep.ProcessNames[f.PID])
	}
}

// TestLateItemOfUndrawnGoroutine: an item that names a goroutine after it
// ended with nothing drawn (a mark assist that the trace's end closed)
// draws it as if it had been drawn when it ended: its lifetime and end,
// on a lane that it gives back, so that lanes follow the goroutines alive.
func TestLateItemOfUndrawnGoroutine(t *testing.T) {
	const start = mapping.Time(1_000_000)
	var buf bytes.Buffer
	w, must := begun(t, &buf, "late", start)
	must(w.Proc(&mapping.Proc{ID: 0}))
	must(w.Thread(&mapping.Thread{ID: 1}))
	const n = 3
	for i := range n {
		id := mapping.GoID(10 + i)
		at := start + mapping.Time(i)*10000
		must(w.Goroutine(&mapping.Goroutine{ID: id, StartFunc: "main.named", Creator: mapping.NoGoroutine, Created: at + 100}))
		must(w.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, G: id, By: mapping.NoGoroutine, Time: at + 2000}))
		must(w.Range(&mapping.Range{Kind: mapping.RangeMarkAssist, Name: "GC mark assist", Scope: mapping.ScopeGoroutine, G: id, Start: at + 1500, End: at + 2500}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100000}))
	must(w.Close())
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatalf("invalid: %v", err)
	}
	lanes := map[string]bool{}
	for _, name := range rep.ThreadNames {
		if strings.Contains(name, "main.named") && !strings.Contains(name, "mark assist") {
			lanes[name] = true
		}
	}
	lives, ends := 0, 0
	for _, e := range rep.Events {
		switch {
		case e.Cat == "lifetime":
			lives++
		case e.Ph == "i" && e.Name == "end":
			ends++
		}
	}
	if lives != n || ends != n {
		t.Errorf("%d lifetimes and %d ends for %d goroutines drawn, want one of each", lives, ends, n)
	}
	if len(lanes) != 1 {
		t.Errorf("lanes %v, want one, taken in turn", lanes)
	}
}

// begun returns a Writer to buf, begun on a trace named input that starts
// at start, and a function that fails the test on an error.
func begun(t *testing.T, buf *bytes.Buffer, input string, start mapping.Time) (*chromejson.Writer, func(error)) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := chromejson.NewWriter(buf)
	must(w.Begin(&mapping.Meta{Input: input, FormatVersion: "go1.26", Start: start}))
	return w, must
}
