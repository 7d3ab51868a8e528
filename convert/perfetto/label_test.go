package perfetto_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestLabelsOnSlices: the runtime relabels a GC mark worker at every mode
// it works in (dedicated, fractional, idle), and a track has one name for
// its whole length: a goroutine's tracks are named without its label,
// and the slices of its runs on the P tracks carry the label they ran
// under.
func TestLabelsOnSlices(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "flightrecorder.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	w := perfetto.NewWriter(&out)
	if _, err := mapping.Map(f, w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatalf("invalid Perfetto trace: %v", err)
	}
	workers := 0
	for _, tr := range rep.Tracks {
		if strings.Contains(tr.Name, "(GC (") {
			t.Errorf("track named %q, with a label", tr.Name)
		}
		if strings.HasSuffix(tr.Name, " runtime.gcBgMarkWorker") {
			workers++
		}
	}
	if workers == 0 {
		t.Errorf("no track of a GC worker named after its function")
	}
	labelled := regexp.MustCompile(`^(G[0-9]+) runtime\.gcBgMarkWorker \((GC \([a-z]+\))\)$`)
	labels := map[string]map[string]bool{}
	for _, s := range rep.Slices {
		if m := labelled.FindStringSubmatch(s.Name); m != nil {
			if labels[m[1]] == nil {
				labels[m[1]] = map[string]bool{}
			}
			labels[m[1]][m[2]] = true
		}
	}
	changed := false
	for _, l := range labels {
		changed = changed || len(l) > 1
	}
	if !changed {
		t.Errorf("no GC worker's slices carry two labels: %v", labels)
	}
}
