package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestTaskFlowBound gives one task regions on more goroutines than it
// draws flows to, two regions on each: every region is written, a flow
// leads to the first on each goroutine until the bound, and the writer
// counts the regions it drew none to.
func TestTaskFlowBound(t *testing.T) {
	const regions = 2060
	var out bytes.Buffer
	w, must := begun(t, &out, "bound", 1<<40)
	must(w.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main", Creator: mapping.NoGoroutine, Created: 1 << 40}))
	start := mapping.Time(1<<40 + 10)
	for i := range regions {
		at := start + mapping.Time(10*i)
		g := mapping.GoID(i/2 + 1)
		must(w.Region(&mapping.Region{ID: mapping.RegionID(i + 1), G: g, Task: 7, Type: "step", Start: at, End: at + 5}))
	}
	end := start + 10*regions
	must(w.Task(&mapping.Task{ID: 7, Type: "job", Start: start - 1, End: end, StartG: 1, EndG: 1, Goroutines: []mapping.GoID{1}}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: 1 << 40}, End: end}))
	must(w.Close())

	if got, want := w.OmittedTaskFlows(), int64(regions-2*1024); got != want {
		t.Errorf("OmittedTaskFlows() = %d, want %d", got, want)
	}
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatalf("invalid Perfetto trace: %v", err)
	}
	steps := 0
	for _, s := range rep.Slices {
		if s.Name == "step" {
			steps++
		}
	}
	if steps != regions {
		t.Errorf("%d region slices written, want %d", steps, regions)
	}
	if rep.Flows != 1024 {
		t.Errorf("%d flows with both ends, want 1024", rep.Flows)
	}
}
