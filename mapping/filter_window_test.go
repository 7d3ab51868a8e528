package mapping_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestSelectionWindow checks that a task or region selection given no
// window takes the time of what it keeps as its window: the pass gives
// what the same selection gives with that window, so the process-wide
// context (GC, pauses, counters) lies within it, and a file read from
// that window's generations only keeps the same items. A goroutine
// selection, and a selection that keeps nothing, keep the whole trace.
func TestSelectionWindow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "annotations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	whole := newLifeRecorder()
	sum, err := mapping.Map(bytes.NewReader(data), whole)
	if err != nil {
		t.Fatal(err)
	}
	firstTask := &taskRecorder{}
	if _, err := mapping.Map(bytes.NewReader(data), firstTask); err != nil {
		t.Fatal(err)
	}
	if len(firstTask.ids) == 0 || len(whole.regs) == 0 {
		t.Fatal("the sample has no tasks or no regions")
	}
	pass := func(f *mapping.Filter, window bool) []string {
		t.Helper()
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		log := &callLog{}
		var err error
		if window {
			from, to := f.Window()
			_, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, to, f.Sink(log))
		} else {
			_, err = mapping.Map(bytes.NewReader(data), f.Sink(log))
		}
		if err != nil {
			t.Fatal(err)
		}
		return log.lines
	}
	var selections []*mapping.Filter
	selections = append(selections, &mapping.Filter{Tasks: []string{fmt.Sprint(firstTask.ids[0])}})
	for typ := range whole.tasks {
		selections = append(selections, &mapping.Filter{Tasks: []string{typ}})
	}
	for typ := range whole.regs {
		selections = append(selections, &mapping.Filter{Regions: []string{typ}})
	}
	narrower := 0
	for _, f := range selections {
		name := fmt.Sprintf("tasks %q regions %q", f.Tasks, f.Regions)
		got := pass(f, false)
		from, to := f.Window()
		if !from.Set || !to.Set || to.Offset < from.Offset {
			t.Errorf("%s: window %v to %v, want one that holds what it keeps", name, from, to)
			continue
		}
		if from.Offset > 0 || sum.Start+mapping.Time(to.Offset) < sum.End {
			narrower++
		}
		explicit := &mapping.Filter{Tasks: f.Tasks, Regions: f.Regions, From: from, To: to}
		sameLines(t, name+": sink calls, against the window given", pass(explicit, false), got)
		lo, hi := sum.Start+mapping.Time(from.Offset), sum.Start+mapping.Time(to.Offset)
		for _, l := range got {
			call, item, _ := strings.Cut(l, " ")
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(item), &fields); err != nil {
				t.Fatal(err)
			}
			var at struct{ Start, End, Time mapping.Time }
			for name, v := range map[string]*mapping.Time{"Start": &at.Start, "End": &at.End, "Time": &at.Time} {
				_ = json.Unmarshal(fields[name], v) // a Region's Time is its times by state
			}
			switch call {
			case "Range", "GoroutineState", "Task", "Region":
				if at.Start < lo || at.End > hi {
					t.Errorf("%s: %s outside the window [%d, %d]", name, l, lo, hi)
				}
			case "Counter", "Log", "CPUSample":
				if at.Time < lo || at.Time > hi {
					t.Errorf("%s: %s outside the window [%d, %d]", name, l, lo, hi)
				}
			}
		}
		// Read from the window's generations only, the items are the
		// same (stacks and the summary's bytes are of what was read).
		items := func(lines []string) []string {
			var out []string
			for _, l := range lines {
				if !strings.HasPrefix(l, "Stack ") && !strings.HasPrefix(l, "End ") && !strings.HasPrefix(l, "Begin ") {
					out = append(out, l)
				}
			}
			return out
		}
		sameLines(t, name+": items, read from the window's generations", items(got), items(pass(f, true)))
	}
	if narrower == 0 {
		t.Error("no selection of the sample keeps less than the whole trace's time: the test checks nothing")
	}
	for _, f := range []*mapping.Filter{
		{Goroutines: []mapping.GoID{1}},
		{Goroutines: []mapping.GoID{1}, Related: true},
		{Goroutines: []mapping.GoID{1}, Tasks: []string{fmt.Sprint(firstTask.ids[0])}},
		{Tasks: []string{"no such task type"}},
		{Regions: []string{"no such region type"}},
	} {
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		if from, to := f.Window(); from.Set || to.Set {
			t.Errorf("goroutines %v tasks %q regions %q: window %v to %v, want the whole trace", f.Goroutines, f.Tasks, f.Regions, from, to)
		}
	}
}
