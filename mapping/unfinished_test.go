package mapping_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestUnfinished: a Go 1.26 trace whose writer stopped inside its last
// generation (a process killed while it traced: the generation's end
// mark never written) converts whole, and the Summary says the trace
// ends early, from a file, a window of it and a stream alike; the whole
// trace does not.
func TestUnfinished(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, 3); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	cut, err := synth.KilledAtLastGeneration(data)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(cut), int64(len(cut)))
	if err != nil || !idx.Generations[len(idx.Generations)-1].Unfinished {
		t.Fatalf("the cut trace is not one whose writer stopped in its last generation (%v)", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{{"whole", data, false}, {"unfinished", cut, true}} {
		size := int64(len(tc.data))
		passes := map[string]func() (*mapping.Summary, error){
			"stream": func() (*mapping.Summary, error) { return mapping.Map(bytes.NewReader(tc.data), mapping.NopSink{}) },
			"file": func() (*mapping.Summary, error) {
				return mapping.MapFile(bytes.NewReader(tc.data), size, mapping.NopSink{})
			},
			"window to the end": func() (*mapping.Summary, error) {
				return mapping.MapWindow(bytes.NewReader(tc.data), size, mapping.Bound{Offset: 1, Set: true}, mapping.Bound{}, mapping.NopSink{})
			},
		}
		for how, pass := range passes {
			sum, err := pass()
			if err != nil {
				t.Errorf("%s, %s: %v", tc.name, how, err)
				continue
			}
			if sum.Unfinished != tc.want {
				t.Errorf("%s, %s: Unfinished %v, want %v", tc.name, how, sum.Unfinished, tc.want)
			}
		}
	}
}
