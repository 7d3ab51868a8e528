package errjoin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestJoin checks that an error joined twice on its way up (a sink's
// error and its End's, joined by the mapping and again by the command) is
// said once, also where a layer added words of context in front of it,
// and that an error wrapping several with words of its own is kept whole.
func TestJoin(t *testing.T) {
	full := errors.New("writing out.json: no space left on device")
	other := errors.New("closing the input: bad file descriptor")
	wrapped := fmt.Errorf("pushing spans: %w; then %w", full, other)
	for _, tc := range []struct {
		errs []error
		want string
	}{
		{nil, ""},
		{[]error{nil, nil}, ""},
		{[]error{errors.Join(full, full), full, nil}, full.Error()},
		{[]error{errors.Join(nil, errors.Join(full, other)), other, full}, full.Error() + "\n" + other.Error()},
		{[]error{wrapped, full}, wrapped.Error() + "\n" + full.Error()},
		{[]error{fmt.Errorf("exporting spans: %w", full), full}, "exporting spans: " + full.Error()},
		{[]error{full, other, fmt.Errorf("exporting spans: %w", full)}, "exporting spans: " + full.Error() + "\n" + other.Error()},
	} {
		err := Join(tc.errs...)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Join(%q) = %q, want %q", tc.errs, got, tc.want)
		}
		// The errors kept are the errors given, for errors.Is and As.
		for _, e := range []error{full, other, wrapped} {
			if strings.Contains(tc.want, e.Error()) && !errors.Is(err, e) {
				t.Errorf("Join(%q) is not %q", tc.errs, e)
			}
		}
	}
}

// TestSplit checks that Split gives the errors joined, nested joins
// flattened, and keeps an error that wraps several with words of its own.
func TestSplit(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	wrapped := fmt.Errorf("x: %w, %w", a, b)
	for _, tc := range []struct {
		err  error
		want []error
	}{
		{nil, nil},
		{a, []error{a}},
		{errors.Join(a, errors.Join(b, c)), []error{a, b, c}},
		{errors.Join(wrapped, c), []error{wrapped, c}},
	} {
		got := Split(tc.err)
		if len(got) != len(tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.err, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Split(%q) = %q, want %q", tc.err, got, tc.want)
				break
			}
		}
	}
}
