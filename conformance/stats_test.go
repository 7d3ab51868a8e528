package conformance

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// binDir holds the trace2x binary while the tests run.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildTrace2x builds the command, once per test run.
var buildTrace2x = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "trace2x-conformance-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "trace2x")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/trace2x/trace2x/cmd/trace2x").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building trace2x: %v\n%s", err, out)
	}
	return bin, nil
})

// TestStatsJSON checks that `trace2x stats --json` counts what the oracle
// counts, for every trace in the corpus and this package's own.
func TestStatsJSON(t *testing.T) {
	files := append(corpus(t), regressionTraces(t)...)
	bin, err := buildTrace2x()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			checkStats(t, bin, f)
		})
	}
}

func checkStats(t *testing.T, bin, file string) {
	o, _ := readOracle(t, file)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "stats", "--json", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("trace2x stats --json: %v\n%s", err, stderr.Bytes())
	}
	var got map[string]any
	dec := json.NewDecoder(&stdout)
	dec.UseNumber() // counts are compared exactly
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding the output of trace2x stats --json: %v", err)
	}
	if e, ok := got["error"]; ok {
		t.Errorf("trace2x stats --json reports an error: %v", e)
	}

	want := map[string]int64{
		"events":      o.Events,
		"duration_ns": int64(o.End - o.Start),
		"goroutines":  lives(o),
		"logs":        int64(len(o.Logs)),
		"cpu_samples": int64(len(o.Samples)),
		// Every region, including those open at either end of the trace.
		"regions.total": int64(len(o.Regions)),
		// Those whose goroutine exited with them open.
		"regions.goroutine_exited": 0,
		"tasks.begun":              0,
		"tasks.ended":              0,
		// Ranges are counted by the model's kind, including those open at
		// either end of the trace.
		"gc_cycles":            0,
		"stop_the_world.count": 0,
		"sweeps":               0,
		"mark_assists":         0,
		// And their times.
		"gc_time_ns.mark":        0,
		"gc_time_ns.mark_assist": 0,
		"gc_time_ns.sweep":       0,
	}
	for _, r := range o.Regions {
		if r.HasGoExit {
			want["regions.goroutine_exited"]++
		}
	}
	for _, k := range o.Tasks {
		if k.HasBegin {
			want["tasks.begun"]++
		}
		if k.HasEnd {
			want["tasks.ended"]++
		}
	}
	for _, r := range o.Ranges {
		// Its time within the trace: one open at either end is cut there.
		begin, end := o.Start, o.End
		if r.HasBegin {
			begin = r.Begin
		}
		if r.HasEnd {
			end = r.End
		}
		switch kind, _ := rangeKindOf(r.Name); kind {
		case mapping.RangeGCMark:
			want["gc_cycles"]++
			want["gc_time_ns.mark"] += int64(end - begin)
		case mapping.RangeSTW:
			want["stop_the_world.count"]++
		case mapping.RangeSweep:
			want["sweeps"]++
			want["gc_time_ns.sweep"] += int64(end - begin)
		case mapping.RangeMarkAssist:
			want["mark_assists"]++
			want["gc_time_ns.mark_assist"] += int64(end - begin)
		}
	}

	var diffs []string
	for _, path := range slices.Sorted(maps.Keys(want)) {
		v, err := jsonInt(got, path)
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: %v", path, err))
		} else if v != want[path] {
			diffs = append(diffs, fmt.Sprintf("%s = %d, want %d", path, v, want[path]))
		}
	}
	// Where each region type's time went, summed over the regions whole
	// in the trace, as the oracle sums its goroutine's states.
	sums := map[string]*StateTimes{}
	for _, r := range o.Regions {
		if r.HasBegin && r.HasEnd && !r.HasGoExit {
			if sums[r.Type] == nil {
				sums[r.Type] = &StateTimes{}
			}
			x := sums[r.Type]
			x.Running += r.Times.Running
			x.Runnable += r.Times.Runnable
			x.Syscall += r.Times.Syscall
			x.Waiting += r.Times.Waiting
			x.Network += r.Times.Network
			x.Sync += r.Times.Sync
			x.STW += r.Times.STW
			x.MarkAssist += r.Times.MarkAssist
			x.Sweep += r.Times.Sweep
		}
	}
	lat, _ := got["region_latency"].(map[string]any)
	for _, typ := range slices.Sorted(maps.Keys(sums)) {
		w := sums[typ]
		l, _ := lat[asUTF8(typ)].(map[string]any)
		for _, f := range []struct {
			name string
			want int64
		}{{"running", w.Running}, {"runnable", w.Runnable}, {"syscall", w.Syscall}, {"waiting", w.Waiting}, {"network", w.Network}, {"sync", w.Sync},
			{"stw", w.STW}, {"mark_assist", w.MarkAssist}, {"sweep", w.Sweep}} {
			if v, err := jsonInt(l, "time_ns."+f.name); err != nil || v != f.want {
				diffs = append(diffs, fmt.Sprintf("region_latency[%q].time_ns.%s = %d (%v), want %d", typ, f.name, v, err, f.want))
			}
		}
	}
	diffs = append(diffs, checkSlowest(got, o)...)
	// The goroutines alive at the end, over every group.
	var alive, wantAlive int64
	groups, _ := got["goroutine_groups"].(map[string]any)
	for name, g := range groups {
		// By key: a start function's name holds dots.
		n, err := jsonInt(map[string]any{"g": g}, "g.alive_at_end")
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("goroutine_groups[%q].alive_at_end: %v", name, err))
		}
		alive += n
	}
	for _, g := range o.Goroutines {
		if !g.dead {
			wantAlive++
		}
	}
	if alive != wantAlive {
		diffs = append(diffs, fmt.Sprintf("goroutines alive at the end: %d over the groups, want %d", alive, wantAlive))
	}
	if len(diffs) > 0 {
		t.Errorf("trace2x stats --json disagrees with the oracle:\n\t%s", strings.Join(diffs, "\n\t"))
	}
}

// slow is one of the slowest tasks or regions of a type, as stats
// --json names it.
type slow struct {
	Task      uint64 `json:"task"`
	Goroutine int64  `json:"goroutine"`
	StartNS   int64  `json:"start_ns"`
	DurNS     int64  `json:"duration_ns"`
}

// checkSlowest compares the slowest tasks and regions of each type that
// stats names with the oracle's: of those whole in the trace, the five
// longest, longest first, then earliest, then by task and goroutine.
func checkSlowest(got map[string]any, o *Oracle) []string {
	want := map[string]map[string][]slow{"slowest_tasks": {}, "slowest_regions": {}}
	for _, k := range o.Tasks {
		if k.HasBegin && k.HasEnd {
			typ := asUTF8(k.Type)
			want["slowest_tasks"][typ] = append(want["slowest_tasks"][typ],
				slow{uint64(k.ID), int64(k.BeginG), int64(k.Begin - o.Start), int64(k.End - k.Begin)})
		}
	}
	for _, r := range o.Regions {
		if r.HasBegin && r.HasEnd && !r.HasGoExit {
			typ := asUTF8(r.Type)
			want["slowest_regions"][typ] = append(want["slowest_regions"][typ],
				slow{uint64(r.Task), int64(r.G), int64(r.Begin - o.Start), int64(r.End - r.Begin)})
		}
	}
	var diffs []string
	for _, key := range []string{"slowest_tasks", "slowest_regions"} {
		b, err := json.Marshal(got[key])
		var g map[string][]slow
		if err == nil {
			err = json.Unmarshal(b, &g)
		}
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		for typ, all := range want[key] {
			slices.SortFunc(all, func(a, b slow) int {
				return cmp.Or(cmp.Compare(b.DurNS, a.DurNS), cmp.Compare(a.StartNS, b.StartNS), cmp.Compare(a.Task, b.Task), cmp.Compare(a.Goroutine, b.Goroutine))
			})
			if w := all[:min(len(all), 5)]; !slices.Equal(g[typ], w) {
				diffs = append(diffs, fmt.Sprintf("%s[%q] = %v, want %v", key, typ, g[typ], w))
			}
		}
		if len(g) != len(want[key]) {
			diffs = append(diffs, fmt.Sprintf("%s: %d types, want %d", key, len(g), len(want[key])))
		}
	}
	return diffs
}

// jsonInt returns the integer at a dotted path ("tasks.begun") in a
// decoded JSON object. A missing field is an error, not zero: a renamed
// field must not pass for a count of nothing.
func jsonInt(obj map[string]any, path string) (int64, error) {
	var v any = obj
	for _, name := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return 0, fmt.Errorf("not inside an object")
		}
		if v, ok = m[name]; !ok {
			return 0, fmt.Errorf("no such field in the output")
		}
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return n.Int64()
}

// lives counts the goroutines of the trace, a reused ID once per life.
func lives(o *Oracle) int64 {
	var n int64
	for _, g := range o.Goroutines {
		n += int64(g.Lives)
	}
	return n
}
