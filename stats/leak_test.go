package stats

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"
)

// TestLeakRows: goroutines that pile up blocked and barely run, a leak,
// rank last by time; the text lists the groups with the most alive at
// the end after the top ten, and the JSON has every group's count.
func TestLeakRows(t *testing.T) {
	r := &Report{GoroutineGroups: map[string]*GroupTimes{
		"main.leak": {Goroutines: 4000, AliveAtEnd: 3871, WaitingNS: map[string]int64{"chan send": 9e9}},
		"main.few":  {Goroutines: 9, AliveAtEnd: 9, WaitingNS: map[string]int64{"select": 1e9}},
	}}
	for i := range 11 {
		r.GoroutineGroups[fmt.Sprintf("main.busy%02d", i)] = &GroupTimes{Goroutines: 1, RunningNS: int64(i+1) * 1e6}
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^Goroutines by start function \(top 10 by running time, then most alive\) +count +alive +running`,
		`(?m)^  main\.leak +4000 +3871 +0s +0s +0s +9s \(100% chan send\)$`,
		`(?m)^  \.\.\. and 2 more; --json lists them all$`,
	} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", want, b.Bytes())
		}
	}
	// Fewer than minLeakRow alive is not a leak worth a row.
	if regexp.MustCompile(`(?m)^  main\.few `).Match(b.Bytes()) {
		t.Errorf("main.few, 9 alive, is listed:\n%s", b.Bytes())
	}
}

// TestRegionWaitShares: a region type's wait is followed by the shares of
// it on the network and on sync, each at least half a percent: a sliver
// of sync in a wait that was something else read "(0% sync)".
func TestRegionWaitShares(t *testing.T) {
	r := &Report{RegionLatency: map[string]Latency{
		"route": {Count: 1, MaxNS: 7e6, Time: &StateTimes{Running: 1e6, Waiting: 5306e3, Sync: 10e3}},
		"fetch": {Count: 1, MaxNS: 7e6, Time: &StateTimes{Running: 1e6, Waiting: 6e6, Network: 3e6, Sync: 1e6}},
	}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^  route +6\.306ms +1ms +0s +0s +5\.306ms +0s$`, `(?m)^  fetch +7ms +1ms +0s +0s +6ms \(50% network, 17% sync\) +0s$`} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", want, b.Bytes())
		}
	}
}

// TestSlowestAt: the text gives the slowest one's start cut down to the
// microsecond, never rounded up: --from the time shown must keep the
// whole of it (950.891712ms rounded read 950.892ms, after its start).
func TestSlowestAt(t *testing.T) {
	r := &Report{
		RegionLatency:  map[string]Latency{"load-index": {Count: 1, MaxNS: 136477632}},
		SlowestRegions: map[string][]Instance{"load-index": {{Task: 676, Goroutine: 2727, StartNS: 950891712, DurNS: 136477632}}},
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := `(?m)^  load-index +1 .* G2727, task 676, at 950\.891ms$`; !regexp.MustCompile(want).Match(b.Bytes()) {
		t.Errorf("no line %s in\n%s", want, b.Bytes())
	}
}

// TestTextTimesKeepWhole checks that the text gives where a pause, an MMU
// window and a generation begin cut down to the microsecond, and where a
// generation ends rounded up, so that --from and --to those times keep
// the whole of it: rounded to the nearest, 4.953ms would cut a pause that
// began at 4.952512ms.
func TestTextTimesKeepWhole(t *testing.T) {
	r := &Report{
		DurationNS:      20e6,
		GenerationSpans: []Generation{{Index: 1, Number: 1, Offset: 16, Bytes: 100, StartNS: 1_000_600, EndNS: 9_000_400}},
		Generations:     1,
		LongestPauses:   []Pause{{Reason: "GC sweep termination", StartNS: 4_952_512, DurNS: 62_848}, {Reason: "GC mark termination", StartNS: 659_328, DurNS: 1000}},
		MMU:             []MMU{{WindowNS: 1e6, MMU: 0.4, Worst: []MMUWindow{{StartNS: 11_480_640, DurNS: 1e6, Util: 0.4}}}},
		GCTime:          GCTimes{Mark: 5_873_024},
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^  GC sweep termination +4\.952ms +62\.8µs$`,
		`(?m)^  GC mark termination +659\.328µs +1µs$`, // exact under a millisecond
		`(?m)^MMU 1ms: +40\.0% \(worst window at 11\.48ms\)$`,
		`(?m)^  #1: +1ms to 9\.001ms, `,      // 1.0006ms and 9.0004ms
		`(?m)^GC time: +5\.873024ms marking`, // exact, as the lines around it
	} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", want, b.Bytes())
		}
	}
}
