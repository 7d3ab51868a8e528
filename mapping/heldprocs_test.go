package mapping_test

import (
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestHeldProcs: an M's track shows one P at a time. Of two Ps an old
// trace gives one M at its start, the second is left to its P's track;
// a later run on the same M, and runs on other Ms, are drawn.
func TestHeldProcs(t *testing.T) {
	var h mapping.HeldProcs
	for i, c := range []struct {
		run  mapping.ProcRun
		want bool
	}{
		{mapping.ProcRun{P: 0, M: 1, Start: 0, End: 100, Flags: mapping.OpenStart}, true},
		{mapping.ProcRun{P: 1, M: 1, Start: 0, End: 50, Flags: mapping.OpenStart}, false},
		{mapping.ProcRun{P: 1, M: 2, Start: 0, End: 50, Flags: mapping.OpenStart}, true},
		{mapping.ProcRun{P: 1, M: 1, Start: 100, End: 200}, true},
		{mapping.ProcRun{P: 0, M: mapping.NoThread, Start: 200, End: 300}, false},
		{mapping.ProcRun{P: -1, M: 1, Start: 200, End: 300}, false},
	} {
		if got := h.Holds(&c.run); got != c.want {
			t.Errorf("run %d (%+v): Holds = %v, want %v", i, c.run, got, c.want)
		}
	}
}
