package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
)

// TestCounterResolution converts a GC-heavy trace with counters thinned
// by default and exact (--counter-resolution 0): both outputs are valid,
// and the thinned ones have far fewer counter samples but every counter
// the exact ones have.
func TestCounterResolution(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "gc.go1.26.trace")
	dir := t.TempDir()
	counters := func(args ...string) (perfetto, chrome map[string]int) {
		t.Helper()
		pf, cj := filepath.Join(dir, "t.pftrace"), filepath.Join(dir, "t.json")
		if code, _, errs := runCmd(t, nil, append([]string{"convert", "--perfetto", pf, "--chrome", cj}, append(args, in)...)...); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		rep := checkPerfetto(t, pf)
		perfetto = map[string]int{}
		for uuid, vals := range rep.Counters {
			perfetto[rep.Tracks[uuid].Name] += len(vals)
		}
		data, err := os.ReadFile(cj)
		if err != nil {
			t.Fatal(err)
		}
		crep, err := chromecheck.Check(data)
		if err != nil {
			t.Fatalf("invalid Chrome JSON: %v", err)
		}
		chrome = map[string]int{}
		for name, evs := range crep.Counters {
			chrome[name] = len(evs)
		}
		return perfetto, chrome
	}
	fullPF, fullCJ := counters("--counter-resolution", "0")
	thinPF, thinCJ := counters()
	for _, c := range []struct {
		format     string
		full, thin map[string]int
	}{{"perfetto", fullPF, thinPF}, {"chrome", fullCJ, thinCJ}} {
		total, thinTotal := 0, 0
		for name, n := range c.full {
			total += n
			thinTotal += c.thin[name]
			if c.thin[name] == 0 || c.thin[name] > n {
				t.Errorf("%s: counter %q has %d samples thinned, %d in full", c.format, name, c.thin[name], n)
			}
		}
		if thinTotal*2 > total {
			t.Errorf("%s: the default --counter-resolution kept %d of %d counter samples", c.format, thinTotal, total)
		}
		t.Logf("%s: %d of %d counter samples kept", c.format, thinTotal, total)
	}
}
