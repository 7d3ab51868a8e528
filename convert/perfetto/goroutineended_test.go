package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestRegionGoroutineEnded: a region whose goroutine exited with it open
// says so, not that it was open at the end of the trace, which it was
// not; one open at the end of the trace says that.
func TestRegionGoroutineEnded(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "exited", start)
	for _, g := range []mapping.GoID{3, 4} {
		must(w.Goroutine(&mapping.Goroutine{ID: g, Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart, StartFunc: "main.worker"}))
	}
	must(w.Region(&mapping.Region{ID: 1, G: 3, Type: "exited", Start: start + 100, End: start + 150, Flags: mapping.OpenEnd, GoroutineEnded: true}))
	must(w.Region(&mapping.Region{ID: 2, G: 4, Type: "open", Start: start + 100, End: start + 300, Flags: mapping.OpenEnd}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 300}))
	must(w.Close())
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"exited": "its goroutine exited before it ended", "open": "open at the end of the trace"}
	for _, s := range rep.Slices {
		arg, ok := want[s.Name]
		if !ok {
			continue
		}
		delete(want, s.Name)
		if s.Args[arg] != true || len(s.Args) != 1 {
			t.Errorf("region %q: arguments %v, want %q alone", s.Name, s.Args, arg)
		}
	}
	if len(want) != 0 {
		t.Errorf("regions not drawn: %v", want)
	}
}
