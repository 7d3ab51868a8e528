package mapping_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestFilterSinkWithoutPrepass: a selection that needs a prepass, used
// without one, fails the pass with an error that names the mistake
// instead of panicking inside Map; after the prepass the same filter
// works.
func TestFilterSinkWithoutPrepass(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	for name, f := range map[string]*mapping.Filter{
		"tasks":   {Tasks: []string{"batch"}},
		"regions": {Regions: []string{"inner"}},
		"related": {Goroutines: []mapping.GoID{1}, Related: true},
	} {
		var next mapping.Tally
		_, err := mapping.Map(bytes.NewReader(data), f.Sink(&next))
		if !errors.Is(err, mapping.ErrNoPrepass) {
			t.Errorf("%s: Map returned %v, want ErrNoPrepass", name, err)
		} else {
			t.Log(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
			t.Fatal(err)
		}
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&next)); err != nil {
			t.Errorf("%s: after the prepass: %v", name, err)
		}
		if f.Kept() == 0 {
			t.Errorf("%s: after the prepass, nothing kept", name)
		}
	}
}
