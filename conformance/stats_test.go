package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

var (
	binDir   string // holds the trace2x binary, removed by TestMain
	buildCmd sync.Once
	binPath  string
	buildErr string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// trace2x builds the command once per test run and returns its path.
func trace2x(t *testing.T) string {
	t.Helper()
	gocmd := goTool(t)
	buildCmd.Do(func() {
		dir, err := os.MkdirTemp("", "trace2x-conformance-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		binDir = dir
		p := filepath.Join(dir, "trace2x")
		out, err := exec.Command(gocmd, "build", "-o", p, "github.com/trace2x/trace2x/cmd/trace2x").CombinedOutput()
		if err != nil {
			buildErr = err.Error() + "\n" + string(out)
			return
		}
		binPath = p
	})
	if binPath == "" {
		t.Fatalf("building trace2x: %s", buildErr)
	}
	return binPath
}

// statsJSON holds the fields of `trace2x stats --json` that the oracle
// can vouch for.
type statsJSON struct {
	Events     int64 `json:"events"`
	DurationNS int64 `json:"duration_ns"`
	Goroutines int   `json:"goroutines"`
	Tasks      struct {
		Begun int `json:"begun"`
		Ended int `json:"ended"`
	} `json:"tasks"`
	Regions struct {
		Total int `json:"total"`
	} `json:"regions"`
	Logs     int `json:"logs"`
	GCCycles int `json:"gc_cycles"`
	STW      struct {
		Count int `json:"count"`
	} `json:"stop_the_world"`
	Sweeps      int    `json:"sweeps"`
	MarkAssists int    `json:"mark_assists"`
	CPUSamples  int    `json:"cpu_samples"`
	Error       string `json:"error"`
}

// TestStatsJSON checks that `trace2x stats --json` counts what the oracle
// counts, for every trace in the corpus.
func TestStatsJSON(t *testing.T) {
	files := corpus(t)
	bin := trace2x(t)
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
	var got statsJSON
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding the output of trace2x stats --json: %v", err)
	}

	var want statsJSON
	want.Events = o.Events
	want.DurationNS = int64(o.End - o.Start)
	want.Goroutines = len(o.Goroutines)
	for _, k := range o.Tasks {
		if k.HasBegin {
			want.Tasks.Begun++
		}
		if k.HasEnd {
			want.Tasks.Ended++
		}
	}
	want.Regions.Total = len(o.Regions)
	want.Logs = len(o.Logs)
	for _, r := range o.Ranges {
		// Counted by the model's kind, including ranges open at either
		// end of the trace.
		switch kind, _ := rangeKindOf(r.Name); kind {
		case mapping.RangeGCMark:
			want.GCCycles++
		case mapping.RangeSTW:
			want.STW.Count++
		case mapping.RangeSweep:
			want.Sweeps++
		case mapping.RangeMarkAssist:
			want.MarkAssists++
		}
	}
	want.CPUSamples = len(o.Samples)

	if got != want {
		t.Errorf("trace2x stats --json disagrees with the oracle:\n\tgot  %+v\n\twant %+v", got, want)
	}
}
