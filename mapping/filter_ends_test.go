package mapping_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// lifeRecorder records each goroutine's end, the goroutines with a state,
// and the task and region types.
type lifeRecorder struct {
	mapping.NopSink
	ended       map[mapping.GoID]mapping.Time
	stated      map[mapping.GoID]bool
	tasks, regs map[string]bool
}

func newLifeRecorder() *lifeRecorder {
	return &lifeRecorder{ended: map[mapping.GoID]mapping.Time{}, stated: map[mapping.GoID]bool{},
		tasks: map[string]bool{}, regs: map[string]bool{}}
}

func (r *lifeRecorder) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		r.ended[e.G] = e.Time
	}
	return nil
}

func (r *lifeRecorder) GoroutineState(s *mapping.GoroutineState) error {
	r.stated[s.G] = true
	return nil
}

func (r *lifeRecorder) Task(t *mapping.Task) error {
	if t.Type != "" {
		r.tasks[t.Type] = true
	}
	return nil
}

func (r *lifeRecorder) Region(g *mapping.Region) error {
	r.regs[g.Type] = true
	return nil
}

// TestSelectionKeepsEnds checks, on every sample and every task and
// region type in it, that a goroutine a task or region filter keeps part
// of still ends where it ends, though its end lies outside what the
// filter selects, if that is inside the selection's window: without it,
// an output draws the goroutine alive to the end of the window and never
// gives its lane to another.
func TestSelectionKeepsEnds(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	checked := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		whole := newLifeRecorder()
		sum, err := mapping.Map(bytes.NewReader(data), whole)
		if err != nil {
			t.Fatal(err)
		}
		var filters []*mapping.Filter
		for typ := range whole.tasks {
			filters = append(filters, &mapping.Filter{Tasks: []string{typ}})
		}
		for typ := range whole.regs {
			filters = append(filters, &mapping.Filter{Regions: []string{typ}})
		}
		for _, f := range filters {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
			kept := newLifeRecorder()
			if _, err := mapping.Map(bytes.NewReader(data), f.Sink(kept)); err != nil {
				t.Fatalf("%s, %v: %v", filepath.Base(p), f, err)
			}
			// The selection's window, the time of what it keeps: an
			// end after it is cut as any window cuts it.
			_, to := f.Window()
			for g := range kept.stated {
				end, ended := whole.ended[g]
				if !ended || to.Set && end > sum.Start+mapping.Time(to.Offset) {
					continue
				}
				got, ok := kept.ended[g]
				if !ok || got != end {
					t.Errorf("%s, tasks %q regions %q: G%d, kept in part, ends at %d; the filter gives its end %v at %d",
						filepath.Base(p), f.Tasks, f.Regions, g, end, ok, got)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no goroutine kept in part ends in the samples: the test checks nothing")
	}
}
