package conformance

import (
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// checkNoEmptyLanes requires every goroutine lane of a Perfetto trace to
// hold something besides lifetime slices, and every lifetime slice of a
// Chrome JSON file to enclose something on its row: a goroutine that a
// filter's kept items only name (the one that began a task, stopped the
// world or was created by a selected one) has nothing to show, and a lane
// of its whole life is clutter that a selection of one request can
// multiply by dozens. Where the filter selects, which leaves out what the
// Ms held, so must every thread track of the Perfetto trace, unless CPU
// samples, which name a thread by its ID alone, may be in it.
func checkNoEmptyLanes(t *testing.T, f *mapping.Filter, rep *perfettocheck.Report, crep *chromecheck.Report) {
	t.Helper()
	var goroutines uint64
	for uuid, tr := range rep.Tracks {
		if tr.Name == "Goroutines" && rep.Tracks[tr.Parent] != nil && rep.Tracks[tr.Parent].Name == "Go runtime" {
			goroutines = uuid
		}
	}
	if goroutines == 0 {
		t.Error("Perfetto: no Goroutines track")
		return
	}
	items := map[uint64]int{} // by track: what is not a lifetime
	for _, s := range rep.Slices {
		if s.Category != "lifetime" {
			items[s.Track]++
		}
	}
	for _, s := range rep.Instants {
		items[s.Track]++
	}
	selects := len(f.Goroutines) > 0 || len(f.Tasks) > 0 || len(f.Regions) > 0
	for uuid, tr := range rep.Tracks {
		p := rep.Tracks[tr.Parent]
		lane := tr.Thread == nil && (tr.Parent == goroutines || p != nil && p.Parent == goroutines)
		thread := tr.Thread != nil && selects && rep.PerfSamples == 0
		if !lane && !thread {
			continue
		}
		kids := 0
		for _, c := range rep.Tracks {
			if c.Parent == uuid {
				kids++
			}
		}
		switch {
		case items[uuid] > 0 || kids > 0:
		case lane:
			t.Errorf("Perfetto: goroutine lane %q holds nothing but lifetimes", tr.Name)
		default:
			t.Errorf("Perfetto: thread track %q holds nothing", tr.Thread.GetThreadName())
		}
	}
	for row, evs := range crep.Slices {
		for _, life := range evs {
			if life.Cat != "lifetime" {
				continue
			}
			inside := false
			for _, e := range evs {
				// The goroutine's end is drawn for every goroutine drawn.
				end := e.Ph == "i" && e.Cat == "goroutine" && e.Name == "end"
				if e != life && e.Cat != "lifetime" && !end && e.TS >= life.TS && e.TS <= life.TS+life.Dur {
					inside = true
					break
				}
			}
			if !inside {
				t.Errorf("Chrome JSON: lifetime %q (row %v) encloses nothing", life.Name, row)
			}
		}
	}
}
