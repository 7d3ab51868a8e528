package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKeptNothingSays: a filter that keeps nothing says what the pass
// read (the types, the goroutines) and the window it was given, where
// what it selects may lie outside: a goroutine that ended before the
// window is no misspelt ID.
func TestKeptNothingSays(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "annotations.go1.26.trace")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--task", "nosuch"}, []string{": the filters kept nothing (task types read: ", "http.request"}},
		{[]string{"--region", "nosuch"}, []string{": the filters kept nothing (region types read: "}},
		{[]string{"--goroutine", "999999"}, []string{": the filters kept nothing (goroutines read: ", ", IDs 1 to "}},
		{[]string{"--goroutine", "1", "--from", "1h"}, []string{"bad window: it starts (1h0m0s) after the trace ends"}},
		{[]string{"--task", "nosuch", "--from", "1ms", "--to", "2ms"}, []string{": the filters kept nothing in the window from 1ms to 2ms (task types read: "}},
		{[]string{"--task", "nosuch", "--from", "1ms"}, []string{"kept nothing in the window from 1ms on ("}},
		{[]string{"--task", "nosuch", "--to", "2ms"}, []string{"kept nothing in the window up to 2ms ("}},
	} {
		code, _, errs := runCmd(t, nil, append(append([]string{"stats"}, c.args...), trace)...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1", c.args, code)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr %q, want it to say %q", c.args, errs, w)
			}
		}
	}
}
