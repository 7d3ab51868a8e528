package conformance

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestAsync maps every trace straight into a recorder and through
// mapping.Async into another: the two must have been given the same
// items, in the same order, under the same protocol.
func TestAsync(t *testing.T) {
	files := append(corpus(t), regressionTraces(t)...)
	if !raceEnabled {
		files = append(files, goTraces(t)...)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, data := readOracle(t, file)
			direct, _ := mapTrace(t, file, data)
			async := newRecorder()
			if _, err := mapping.Map(bytes.NewReader(data), mapping.Async(async), mapping.WithInputName(filepath.Base(file))); err != nil {
				t.Fatal(err)
			}
			for _, p := range async.problems {
				t.Errorf("protocol: %s", p)
			}
			for _, c := range []struct {
				what      string
				want, got any
			}{
				{"meta", direct.meta, async.meta},
				{"summary", direct.summary, async.summary},
				{"states", direct.states, async.states},
				{"proc runs", direct.procRuns, async.procRuns},
				{"ranges", direct.ranges, async.ranges},
				{"tasks", direct.tasks, async.tasks},
				{"regions", direct.regions, async.regions},
				{"logs", direct.logs, async.logs},
				{"flows", direct.flows, async.flows},
				{"samples", direct.samples, async.samples},
				{"counters", direct.counters, async.counters},
				{"goroutines", direct.firstG, async.firstG},
				{"stacks", direct.stacks, async.stacks},
			} {
				if direct.meta.FormatVersion < "go1.22" {
					// The parser's reading of the old formats is not the
					// same to the nanosecond from one pass to the next:
					// only the counts can be compared.
					if reflect.ValueOf(c.want).Kind() == reflect.Slice && reflect.ValueOf(c.want).Len() != reflect.ValueOf(c.got).Len() {
						t.Errorf("%s: %d through Async, %d directly", c.what, reflect.ValueOf(c.got).Len(), reflect.ValueOf(c.want).Len())
					}
					continue
				}
				if !reflect.DeepEqual(c.want, c.got) {
					t.Errorf("%s differ through Async", c.what)
				}
			}
		})
	}
}
