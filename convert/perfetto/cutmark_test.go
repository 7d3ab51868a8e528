package perfetto_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestBrokenTraceMarked checks that the file of a trace that breaks off
// says so where it ends, with the error, and that of a whole trace does
// not: a valid file would otherwise pass for the whole trace's.
func TestBrokenTraceMarked(t *testing.T) {
	data, err := os.ReadFile("../../testdata/frsubtasks.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		input []byte
		cut   bool
	}{
		{"whole", data, false},
		{"cut", data[:len(data)*3/4], true},
	} {
		var out bytes.Buffer
		w := perfetto.NewWriter(&out)
		sum, err := mapping.Map(bytes.NewReader(tc.input), w)
		var me *mapping.Error
		if tc.cut != errors.As(err, &me) {
			t.Fatalf("%s: Map: %v", tc.name, err)
		}
		r, err := perfettocheck.Check(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var marks []perfettocheck.Instant
		for _, in := range r.Instants {
			if strings.HasPrefix(in.Name, "cut here") {
				marks = append(marks, in)
			}
		}
		if !tc.cut {
			if len(marks) > 0 {
				t.Errorf("whole: marked cut: %+v", marks)
			}
			continue
		}
		if len(marks) != 1 {
			t.Fatalf("cut: %d marks, want 1", len(marks))
		}
		m := marks[0]
		if m.Name != "cut here: the conversion ends early" || m.Args["error"] != me.Error() {
			t.Errorf("cut: the mark is %q with %v; want the error %q", m.Name, m.Args, me.Error())
		}
		if want := uint64(sum.End - sum.Start); m.Time < want-want/100 {
			t.Errorf("cut: marked at %d, the pass ended at %d", m.Time, want)
		}
	}
}
