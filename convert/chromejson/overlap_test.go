package chromejson_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestOverlapsOfDamagedTraces: a damaged trace can give two pauses of the
// world at once, or an M holding two Ps, on rows that hold one at a time;
// the later goes on a row beside it, so that the file's slices nest (the
// checker refuses slices that overlap without nesting, which the viewers
// misdraw) and every slice keeps its own times.
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
	const start = mapping.Time(1_000_000)
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
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
		start, end mapping.Time // µs
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
		b, e := start+s.start*1000, start+s.end*1000
		if strings.HasPrefix(s.name, "STW") {
			must(w.Range(&mapping.Range{Kind: mapping.RangeSTW, Name: "stop-the-world", Reason: s.name[5:6], Scope: mapping.ScopeGoroutine, G: 1, Start: b, End: e, Stack: mapping.NoStack, EndStack: mapping.NoStack}))
			continue
		}
		must(w.ProcRun(&mapping.ProcRun{P: mapping.ProcID(s.name[1] - '0'), M: 3, Start: b, End: e, TakenFrom: mapping.NoGoroutine}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 200_000}))
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// The file's times count from a little before the trace's start.
	var off int64 = -1
	for _, evs := range rep.Slices {
		for _, e := range evs {
			if e.Name == "STW (a)" {
				off = e.TS - 10_000
			}
		}
	}
	for _, s := range wants {
		found := false
		for row, evs := range rep.Slices {
			for _, e := range evs {
				if e.Name != s.name || e.Ph != "X" || e.TS != off+int64(s.start*1000) {
					continue
				}
				found = true
				if e.Dur != int64((s.end-s.start)*1000) {
					t.Errorf("%s from %d µs lasts %d ns, want %d µs", s.name, s.start, e.Dur, s.end-s.start)
				}
				if spilled := strings.HasSuffix(rep.ThreadNames[row], overlapSuffix(format, s.name)); spilled != s.spilled {
					t.Errorf("%s from %d µs on row %q", s.name, s.start, rep.ThreadNames[row])
				}
			}
		}
		if !found {
			t.Errorf("no slice %s from %d µs", s.name, s.start)
		}
	}
}

// TestWideThreadIDs: an M ID past the OS threads' (a damaged trace's) gets
// a tid of its own that fits 32 bits, not one the importers would cut to
// another thread's.
func TestWideThreadIDs(t *testing.T) {
	const start = mapping.Time(1_000_000)
	var buf bytes.Buffer
	w := chromejson.NewWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Begin(&mapping.Meta{Input: "tids", FormatVersion: "go1.26", Start: start}))
	ms := []mapping.ThreadID{5, 1 << 32, 1<<32 + 5, 1 << 31, 1<<63 - 1}
	for i, m := range ms {
		must(w.Thread(&mapping.Thread{ID: m}))
		must(w.Proc(&mapping.Proc{ID: mapping.ProcID(i)}))
		must(w.ProcRun(&mapping.ProcRun{P: mapping.ProcID(i), M: m, Start: start + 10, End: start + 20, TakenFrom: mapping.NoGoroutine}))
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100}))
	rep, err := chromecheck.Check(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]string{}
	for row, name := range rep.ThreadNames {
		if !strings.HasPrefix(name, "M") || strings.HasSuffix(name, " syscalls") {
			continue
		}
		if other, ok := seen[row.TID]; ok || row.TID <= 0 || row.TID >= 1<<32 {
			t.Errorf("%s has tid %d, as %q", name, row.TID, other)
		}
		seen[row.TID] = name
	}
	if len(seen) != len(ms) {
		t.Errorf("%d M rows, want %d: %v", len(seen), len(ms), seen)
	}
}
