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
