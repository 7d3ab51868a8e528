package mapping_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestTallyReused: a Tally given a second pass counts that pass alone, as
// a new one would.
func TestTallyReused(t *testing.T) {
	data := recordedOnce(t)
	var fresh, reused mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), &fresh); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := mapping.Map(bytes.NewReader(data), &reused); err != nil {
			t.Fatal(err)
		}
	}
	if fresh.Goroutines == 0 || fresh.GoStates != reused.GoStates || fresh.Goroutines != reused.Goroutines ||
		!reflect.DeepEqual(fresh.Ranges, reused.Ranges) || fresh.Tasks != reused.Tasks {
		t.Errorf("reused Tally counts %d goroutines, %v states, %v ranges; a fresh one %d, %v, %v",
			reused.Goroutines, reused.GoStates, reused.Ranges, fresh.Goroutines, fresh.GoStates, fresh.Ranges)
	}
}
