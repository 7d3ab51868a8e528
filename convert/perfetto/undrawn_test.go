package perfetto_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestUndrawnGoroutine: a goroutine described and ended with nothing of
// its own drawn (one that a filter's kept items only name) gets no track,
// and a flow out of it that comes after its end starts on the P.
func TestUndrawnGoroutine(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "undrawn", start)
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
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatalf("invalid: %v", err)
	}
	for _, tr := range rep.Tracks {
		if strings.Contains(tr.Name, "G4") || strings.Contains(tr.Name, "main.named") {
			t.Errorf("track %q for a goroutine with nothing drawn", tr.Name)
		}
	}
	for _, s := range rep.Slices {
		if strings.Contains(s.Name, "G4") {
			t.Errorf("slice %q for a goroutine with nothing drawn", s.Name)
		}
	}
	if len(rep.FlowEnds) != 1 {
		t.Fatalf("%d flows, want 1", len(rep.FlowEnds))
	}
	var from *perfettocheck.Instant
	for i, in := range rep.Instants {
		if in.Time == uint64(start+1000) {
			from = &rep.Instants[i]
		}
	}
	if from == nil {
		t.Fatal("no instant where the flow starts")
	}
	if name := rep.Tracks[from.Track].Name; name != "P0" {
		t.Errorf("the flow starts on track %q, want P0", name)
	}
}

// TestSelectedThreads: where a filter selected, an M's thread track is
// declared once something is drawn on it or sampled in it, and a sampled
// thread is named before the samples that name it by ID alone.
func TestSelectedThreads(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w := perfetto.NewWriter(&out)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Begin(&mapping.Meta{Input: "selected", FormatVersion: "go1.26", Start: start, Filtered: true, Selected: true}))
	for _, m := range []mapping.ThreadID{5, 6, 7} {
		must(w.Thread(&mapping.Thread{ID: m}))
	}
	must(w.Goroutine(&mapping.Goroutine{ID: 3, StartFunc: "main.kept", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	must(w.CPUSample(&mapping.CPUSample{Time: start + 10, G: mapping.NoGoroutine, P: mapping.NoProc, M: 5}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoSyscall, Blocked: true, P: mapping.NoProc, M: 7, Start: start + 100, End: start + 200}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 1000}))
	must(w.Close())
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatalf("invalid: %v", err)
	}
	var named []string
	for _, tr := range rep.Tracks {
		if tr.Thread != nil {
			named = append(named, tr.Thread.GetThreadName())
		}
	}
	slices.Sort(named)
	if want := []string{"M5", "M7"}; !slices.Equal(named, want) {
		t.Errorf("thread tracks %q, want %q: the sampled one and the one drawn on", named, want)
	}
}
