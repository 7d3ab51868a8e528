package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestRenameLateStartFunc draws a goroutine alive at the start before
// any stack tells its start function, as the runtime's background
// goroutines often are, then learns it: its track, and its regions
// track, take the name, and no slice is left with the name it had (a
// track of its own has no lifetime slice, whose name could not change);
// a goroutine of a shared lane is not renamed.
func TestRenameLateStartFunc(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "rename", start)
	g3 := mapping.Goroutine{ID: 3, Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}
	must(w.Goroutine(&g3))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoWaiting, Reason: "GC background sweeper wait",
		Start: start, End: start + 100, P: -1, M: mapping.NoThread, Flags: mapping.OpenStart}))
	must(w.Region(&mapping.Region{ID: 1, G: 3, Type: "sweep", Start: start + 100, End: start + 150}))
	g3.StartFunc, g3.Updated = "runtime.bgsweep", true
	must(w.Goroutine(&g3))
	must(w.GoroutineState(&mapping.GoroutineState{G: 3, State: mapping.GoRunning, Start: start + 100, End: start + 200, P: 0, M: 1}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 300}))
	must(w.Close())

	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatalf("invalid Perfetto trace: %v", err)
	}
	names := map[string]bool{}
	for _, tr := range rep.Tracks {
		names[tr.Name] = true
	}
	for _, want := range []string{"G3 runtime.bgsweep", "G3 runtime.bgsweep regions"} {
		if !names[want] {
			t.Errorf("no track named %q; tracks: %v", want, names)
		}
	}
	for _, old := range []string{"G3", "G3 regions"} {
		if names[old] {
			t.Errorf("a track is still named %q", old)
		}
	}
	for _, s := range rep.Slices {
		if s.Name == "G3" || s.Category == "lifetime" {
			t.Errorf("slice %q (%s) on goroutine 3's own track", s.Name, s.Category)
		}
	}
}
