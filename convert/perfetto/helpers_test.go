package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
)

// begun returns a Writer to out, begun on a trace named input that starts
// at start, and a function that fails the test on an error.
func begun(t *testing.T, out *bytes.Buffer, input string, start mapping.Time) (*perfetto.Writer, func(error)) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := perfetto.NewWriter(out)
	must(w.Begin(&mapping.Meta{Input: input, FormatVersion: "go1.26", Start: start}))
	return w, must
}
