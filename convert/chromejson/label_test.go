package chromejson_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
)

// TestLabelsOnSlices: the runtime relabels a GC mark worker at every mode
// it works in (dedicated, fractional, idle). A row has one name for its
// whole length, the last catapult and Perfetto read: so a goroutine's
// row is named without its label, written once, and the slices it runs
// carry the label they ran under.
func TestLabelsOnSlices(t *testing.T) {
	data, _ := convert(t, filepath.Join("..", "..", "testdata", "flightrecorder.go1.26.trace"))
	rep, err := chromecheck.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	names := map[chromecheck.Row]map[string]bool{}
	for _, e := range rep.Events {
		if e.Ph != "M" || e.Name != "thread_name" || e.PID != 3 {
			continue
		}
		name, _ := e.Args["name"].(string)
		if strings.Contains(name, "(GC (") {
			t.Errorf("row %d named %q, with a label", e.TID, name)
		}
		r := chromecheck.Row{PID: e.PID, TID: e.TID}
		if names[r] == nil {
			names[r] = map[string]bool{}
		}
		names[r][name] = true
	}
	for r, n := range names {
		if len(n) > 2 {
			t.Errorf("row %d named %d ways: %v", r.TID, len(n), n)
		}
	}
	// The labels are still told, by the slices of each worker's runs.
	labelled := regexp.MustCompile(`^(G[0-9]+) runtime\.gcBgMarkWorker \((GC \([a-z]+\))\)$`)
	labels := map[string]map[string]bool{}
	for _, e := range rep.Events {
		if m := labelled.FindStringSubmatch(e.Name); m != nil && e.Ph == "X" {
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
