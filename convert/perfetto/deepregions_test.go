package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestDeepRegions nests 600 regions on one goroutine, as recursion
// annotated with trace.WithRegion does: those past depth 500 are left out
// and counted, so that the trace processor (512 levels a track) drops
// none and every region kept ends where it ended.
func TestDeepRegions(t *testing.T) {
	const start, n = mapping.Time(1000), 600
	var out bytes.Buffer
	w, must := begun(t, &out, "deep regions", start)
	must(w.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	// Delivered as they end: the innermost first.
	for d := n - 1; d >= 0; d-- {
		parent := mapping.RegionID(d)
		if d == 0 {
			parent = mapping.NoRegion
		}
		must(w.Region(&mapping.Region{ID: mapping.RegionID(d + 1), Parent: parent, G: 1, Type: "walk", Depth: d,
			Start: start + mapping.Time(10*d), End: start + mapping.Time(100_000-10*d)}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 200_000}))
	if got := w.OmittedDeepRegions(); got != n-500 {
		t.Errorf("OmittedDeepRegions() = %d, want %d", got, n-500)
	}
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	// Region d began 10d after the outermost and ended 10d before it.
	base := ^uint64(0)
	for _, s := range rep.Slices {
		if s.Name == "walk" {
			base = min(base, s.Start)
		}
	}
	kept := 0
	for _, s := range rep.Slices {
		if s.Name != "walk" {
			continue
		}
		kept++
		d := int(s.Start-base) / 10
		if d >= 500 || s.End != base+uint64(100_000-10*d) {
			t.Errorf("a region from +%d to +%d, depth %d", s.Start-base, s.End-base, d)
		}
	}
	if kept != 500 {
		t.Errorf("%d regions written, want 500", kept)
	}
}
