package mapping_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestRegionFilterGaps checks, on every sample and every region type in
// it, that a region filter keeps of a goroutine only the time inside its
// regions of that type: a running interval across two such regions, or a
// wait between them, is kept as the parts inside each, not from the first
// region's start to the last one's end (which counted the goroutine's time
// between them in a wall profile and in stats).
func TestRegionFilterGaps(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	var pieces int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		whole := newStackItems()
		if _, err := mapping.Map(bytes.NewReader(data), whole); err != nil {
			t.Fatal(err)
		}
		// The spans of each region type, by goroutine, merged where they
		// overlap or touch.
		spans := map[string]map[mapping.GoID][][2]mapping.Time{}
		for _, r := range whole.regions {
			if spans[r.Type] == nil {
				spans[r.Type] = map[mapping.GoID][][2]mapping.Time{}
			}
			spans[r.Type][r.G] = append(spans[r.Type][r.G], [2]mapping.Time{r.Start, r.End})
		}
		for typ, byG := range spans {
			for g, sps := range byG {
				slices.SortFunc(sps, func(a, b [2]mapping.Time) int { return int(a[0] - b[0]) })
				merged := sps[:1]
				for _, sp := range sps[1:] {
					if last := &merged[len(merged)-1]; sp[0] <= last[1] {
						last[1] = max(last[1], sp[1])
					} else {
						merged = append(merged, sp)
					}
				}
				byG[g] = merged
			}
			f := &mapping.Filter{Regions: []string{typ}}
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
			kept := newStackItems()
			if _, err := mapping.Map(bytes.NewReader(data), f.Sink(kept)); err != nil {
				t.Fatalf("%s, region %q: %v", filepath.Base(p), typ, err)
			}
			for g, states := range kept.states {
				sps, ok := byG[g]
				if !ok {
					continue // a goroutine kept whole, related to a region (its creator)
				}
				for _, s := range states {
					inside := slices.ContainsFunc(sps, func(sp [2]mapping.Time) bool { return sp[0] <= s.Start && s.End <= sp[1] })
					if !inside {
						t.Errorf("%s, region %q: G%d %v from %d to %d is not within one of its regions %v",
							filepath.Base(p), typ, g, s.State, s.Start, s.End, sps)
					}
					if len(sps) > 1 {
						pieces++
					}
				}
			}
		}
	}
	if pieces == 0 {
		t.Fatal("no goroutine with two regions of a type: the case is not covered")
	}
}
