package perfetto_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestOverlapsOfDamagedTraces: a damaged trace can give two pauses of the
// world at once, or an M holding two Ps, on tracks that hold one at a
// time. Written on one track, the importer would pair each end with the
// other's begin; the later goes on a child track, and every slice keeps
// its own times.
func TestOverlapsOfDamagedTraces(t *testing.T) {
	for _, format := range []string{"go1.26", "go1.21"} {
		t.Run(format, func(t *testing.T) { overlaps(t, format) })
	}
}

// overlapSuffix is the end of the name of the row beside the one a slice
// named name overlaps in a trace of format: an M's in a trace before Go
// 1.22 says that the format does not tell its Ps apart, not that the
// trace is damaged.
func overlapSuffix(format, name string) string {
	if format == "go1.21" && strings.HasPrefix(name, "P") {
		return " (overlapping: traces before Go 1.22 do not say which thread holds a P)"
	}
	return " (overlapping: the trace is damaged)"
}

func overlaps(t *testing.T, format string) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w := perfetto.NewWriter(&out)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Begin(&mapping.Meta{Input: "overlaps", FormatVersion: format, Start: start}))
	must(w.Thread(&mapping.Thread{ID: 3}))
	for _, p := range []mapping.ProcID{1, 2} {
		must(w.Proc(&mapping.Proc{ID: p}))
	}
	type want struct {
		name       string
		start, end mapping.Time
		spilled    bool
	}
	wants := []want{
		// In the order of their ends, as the model delivers them.
		{"STW (a)", 10, 50, false},
		{"STW (c)", 60, 70, false},   // after a
		{"STW (b)", 20, 90, true},    // overlaps a, encloses c
		{"STW (d)", 100, 110, false}, // after all
		{"P1", 10, 40, false},
		{"P2", 30, 60, true},
		{"P1", 70, 80, false},
	}
	for _, s := range wants {
		if strings.HasPrefix(s.name, "STW") {
			must(w.Range(&mapping.Range{Kind: mapping.RangeSTW, Name: "stop-the-world", Reason: s.name[5:6], Scope: mapping.ScopeGoroutine, G: 1, Start: start + s.start, End: start + s.end, Stack: mapping.NoStack, EndStack: mapping.NoStack}))
			continue
		}
		p := mapping.ProcID(s.name[1] - '0')
		must(w.ProcRun(&mapping.ProcRun{P: p, M: 3, Start: start + s.start, End: start + s.end, TakenFrom: mapping.NoGoroutine}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 200}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range wants {
		found := false
		for _, got := range rep.Slices {
			if got.Name != s.name || got.Start != uint64(start+s.start) {
				continue
			}
			found = true
			if got.End != uint64(start+s.end) {
				t.Errorf("%s from %d ends at %d, want %d", s.name, s.start, got.End-uint64(start), s.end)
			}
			spilled := strings.HasSuffix(rep.Tracks[got.Track].Name, overlapSuffix(format, s.name))
			if spilled != s.spilled {
				t.Errorf("%s from %d on track %q", s.name, s.start, rep.Tracks[got.Track].Name)
			}
		}
		if !found {
			t.Errorf("no slice %s from %d", s.name, s.start)
		}
	}
}
