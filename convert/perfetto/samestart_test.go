package perfetto_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestSameStartRegions nests three regions of one task that begin in the
// same nanosecond, as they do where the trace's clock is coarse or a
// window cuts them. The model delivers them innermost first, and the
// trace processor nests slices that begin together in the order of the
// file: each must still end where it ended, inside the one it nests in.
// The outermost also lasts longer than the writer holds packets to put
// them in order, so its begin is written out of order.
func TestSameStartRegions(t *testing.T) {
	const start, at = mapping.Time(1000), mapping.Time(5000)
	for _, ends := range [][3]mapping.Time{{5, 10, 20}, {0, 0, 0}, {0, 5, 5}, {5, 5, 50_000_000}} {
		t.Run(fmt.Sprint(ends), func(t *testing.T) {
			var out bytes.Buffer
			w, must := begun(t, &out, "same start", start)
			must(w.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
			names := []string{"outer", "middle", "inner"}
			for d := 2; d >= 0; d-- {
				parent, ptask := mapping.RegionID(d), mapping.TaskID(7)
				if d == 0 {
					parent, ptask = mapping.NoRegion, mapping.NoTask
				}
				must(w.Region(&mapping.Region{ID: mapping.RegionID(d + 1), Parent: parent, ParentTask: ptask, Task: 7, G: 1,
					Type: names[d], Depth: d, Start: at, End: at + ends[2-d]}))
			}
			must(w.Task(&mapping.Task{ID: 7, Parent: mapping.NoTask, Type: "req", Start: at - 100, End: at + ends[2] + 100, Goroutines: []mapping.GoID{1}}))
			must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: at + ends[2] + 1000}))
			rep, err := perfettocheck.Check(&out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]perfettocheck.Slice{}
			for _, s := range rep.Slices {
				if s.Category == "region" {
					got[s.Name] = s
				}
			}
			base := got["inner"].Start
			for d, name := range names {
				s, ok := got[name]
				if !ok {
					t.Fatalf("no region %q", name)
				}
				// Each begins a nanosecond before the one nested in it.
				if s.Start != base-uint64(2-d) || s.End != base+uint64(ends[2-d]) {
					t.Errorf("%s drawn [%+d, %+d], want [%+d, %+d]", name, int64(s.Start-base), int64(s.End-base), d-2, ends[2-d])
				}
			}
			// The inner ones leave the task to the outermost, unless of
			// no length: then the trace processor might put them beside it.
			for d := 1; d < 3; d++ {
				_, own := got[names[d]].Args["task"]
				if want := ends[2-d] == 0; own != want {
					t.Errorf("%s of %d ns names its task: %v, want %v", names[d], ends[2-d], own, want)
				}
			}
		})
	}
}
