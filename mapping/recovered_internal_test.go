package mapping

import (
	"errors"
	"testing"
)

// raiseHere panics in its own body, where it also recovers, as mapBatch
// does for the events it maps.
//
//go:noinline
func raiseHere(s []int, i int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(p, " at event 7")
		}
	}()
	_ = s[i]
	return nil
}

// TestRecoveredInRecoveringFunction: a panic raised in the body of the
// function that recovers it is placed there, so that one in the mapping's
// own code is called a bug of trace2x, not code the pass called (with no
// name).
func TestRecoveredInRecoveringFunction(t *testing.T) {
	err := raiseHere(nil, 1)
	if !errors.Is(err, ErrInternal) {
		t.Errorf("got %v, want ErrInternal", err)
	}
}
