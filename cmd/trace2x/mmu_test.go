package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/mmu"
	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// gcTrace is a sample trace with GC cycles.
var gcTrace = filepath.Join("..", "..", "testdata", "gc.go1.26.trace")

type mmuJSON struct {
	DurationNS int64 `json:"duration_ns"`
	MMU        []struct {
		WindowNS int64   `json:"window_ns"`
		MMU      float64 `json:"mmu"`
		Worst    []struct {
			StartNS int64   `json:"start_ns"`
			DurNS   int64   `json:"duration_ns"`
			Util    float64 `json:"utilization"`
		} `json:"worst_windows"`
	} `json:"mmu"`
}

// meter measures the MMU of path directly, for the stats to agree with.
func meter(t *testing.T, path string) []mmu.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mmu.New(stats.MMUWindows)
	if _, err := mapping.Map(f, m); err != nil {
		t.Fatal(err)
	}
	return m.Results()
}

func TestStatsMMU(t *testing.T) {
	want := meter(t, gcTrace)
	code, out, errs := runCmd(t, nil, "stats", "--json", gcTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r mmuJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.MMU) != 2 || r.MMU[0].WindowNS != int64(time.Millisecond) || r.MMU[1].WindowNS != int64(10*time.Millisecond) {
		t.Fatalf("mmu %+v, want windows of 1ms and 10ms", r.MMU)
	}
	for i, m := range r.MMU {
		if m.MMU != want[i].MMU || m.MMU <= 0 || m.MMU >= 1 {
			t.Errorf("MMU %v = %v, want %v, strictly between 0 and 1 in a trace with GC", want[i].Window, m.MMU, want[i].MMU)
		}
		if len(m.Worst) == 0 || m.Worst[0].Util != m.MMU {
			t.Errorf("%dns: worst windows %+v do not begin with the MMU", m.WindowNS, m.Worst)
		}
		for j, w := range m.Worst {
			if w.DurNS != m.WindowNS || w.StartNS < 0 || w.StartNS+w.DurNS > r.DurationNS || w.Util >= 1 {
				t.Errorf("%dns: window %d %+v is not a window with GC work within the trace of %dns", m.WindowNS, j, w, r.DurationNS)
			}
		}
	}

	code, text, errs := runCmd(t, nil, "stats", gcTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, m := range r.MMU {
		want := fmt.Sprintf("MMU %v:", time.Duration(m.WindowNS))
		at := time.Duration(m.Worst[0].StartNS).Round(time.Microsecond)
		if got := statsLine(text, want); got != fmt.Sprintf("%.1f%% (worst window at %v)", math.Floor(1000*m.MMU)/10, at) {
			t.Errorf("text stats say %q %q for MMU %v at %v", want, got, m.MMU, at)
		}
	}
}

// statsLine returns what the text stats print after key.
func statsLine(text, key string) string {
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func TestStatsMMUWithoutGC(t *testing.T) {
	code, out, errs := runCmd(t, nil, "stats", "--json", sample(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r mmuJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.MMU {
		if m.MMU != 1 || m.Worst == nil || len(m.Worst) != 0 {
			t.Errorf("%dns: MMU %v, worst windows %v; want 1 and none in a trace without GC", m.WindowNS, m.MMU, m.Worst)
		}
	}
	_, text, _ := runCmd(t, nil, "stats", sample(t))
	for _, key := range []string{"MMU 1ms:", "MMU 10ms:"} {
		if got := statsLine(text, key); got != "100.0% (no GC work)" {
			t.Errorf("text stats say %q %q, want 100.0%% (no GC work)", key, got)
		}
	}
}

func TestConvertStatsMMU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.json")
	if code, _, errs := runCmd(t, nil, "convert", "--stats", path, gcTrace); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r mmuJSON
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	want := meter(t, gcTrace)
	if len(r.MMU) != len(want) || r.MMU[0].MMU != want[0].MMU || r.MMU[1].MMU != want[1].MMU {
		t.Errorf("convert --stats gives MMU %+v, want %v", r.MMU, want)
	}
}
