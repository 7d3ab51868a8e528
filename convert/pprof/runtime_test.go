package pprof_test

import (
	"bytes"
	"runtime"
	rpprof "runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

//go:noinline
func burnCPU(d time.Duration) (n int) {
	for start := time.Now(); time.Since(start) < d; {
		for i := range 10000 {
			n += i
		}
	}
	return n
}

//go:noinline
func blockOnChan(ch chan int) { <-ch }

// profileOf maps a trace recorded in the test into a profile of a kind.
func profileOf(t *testing.T, tr []byte, kind pprof.Kind) *profile.Profile {
	t.Helper()
	var b bytes.Buffer
	if _, err := mapping.Map(bytes.NewReader(tr), pprof.NewWriter(&b, kind)); err != nil {
		t.Fatal(err)
	}
	return parse(t, b.Bytes())
}

// rootsThrough returns the outermost function of every sample whose stack
// passes through fn.
func rootsThrough(p *profile.Profile, fn string) []string {
	var roots []string
	for _, s := range p.Sample {
		through := slices.ContainsFunc(s.Location, func(l *profile.Location) bool {
			return slices.ContainsFunc(l.Line, func(ln profile.Line) bool { return strings.HasSuffix(ln.Function.Name, fn) })
		})
		if through {
			root := s.Location[len(s.Location)-1].Line
			roots = append(roots, root[len(root)-1].Function.Name)
		}
	}
	slices.Sort(roots)
	return slices.Compact(roots)
}

// TestCPURootsAsRuntime records a CPU profile with runtime/pprof and a
// trace at once: the CPU profile of the trace must root its stacks where
// the runtime's does, so that the two diff and merge frame for frame.
func TestCPURootsAsRuntime(t *testing.T) {
	var cpu, tr bytes.Buffer
	if err := rpprof.StartCPUProfile(&cpu); err != nil {
		t.Skip(err) // a CPU profile of the test binary is on
	}
	if err := trace.Start(&tr); err != nil {
		rpprof.StopCPUProfile()
		t.Skip(err)
	}
	done := make(chan bool)
	go func() { burnCPU(200 * time.Millisecond); done <- true }()
	burnCPU(200 * time.Millisecond)
	<-done
	trace.Stop()
	rpprof.StopCPUProfile()
	rt, err := profile.Parse(&cpu)
	if err != nil {
		t.Fatal(err)
	}
	want := rootsThrough(rt, ".burnCPU")
	if len(want) == 0 {
		t.Skip("the CPU profiler took no sample of the burning goroutines")
	}
	if got := rootsThrough(profileOf(t, tr.Bytes(), pprof.CPU), ".burnCPU"); !slices.Equal(got, want) {
		t.Errorf("the trace's CPU profile roots its stacks in %q; runtime/pprof's in %q", got, want)
	}
}

// TestMergesWithBlockProfile merges a sync profile with the block profile
// runtime/pprof writes for the same wait, as go tool pprof does to diff
// them.
func TestMergesWithBlockProfile(t *testing.T) {
	runtime.SetBlockProfileRate(1)
	defer runtime.SetBlockProfileRate(0)
	var tr bytes.Buffer
	if err := trace.Start(&tr); err != nil {
		t.Skip(err)
	}
	ch := make(chan int)
	go func() { time.Sleep(20 * time.Millisecond); ch <- 1 }()
	blockOnChan(ch)
	trace.Stop()
	var blk bytes.Buffer
	if err := rpprof.Lookup("block").WriteTo(&blk, 0); err != nil {
		t.Fatal(err)
	}
	block, err := profile.Parse(&blk)
	if err != nil {
		t.Fatal(err)
	}
	sync := profileOf(t, tr.Bytes(), pprof.Sync)
	merged, err := profile.Merge([]*profile.Profile{sync, block})
	if err != nil {
		t.Fatalf("merging with the runtime's block profile: %v", err)
	}
	var through int64
	for _, s := range merged.Sample {
		if slices.ContainsFunc(s.Location, func(l *profile.Location) bool { return strings.HasSuffix(l.Line[0].Function.Name, ".blockOnChan") }) {
			through += s.Value[0]
		}
	}
	if through < 2 {
		t.Errorf("the merged profile has %d contentions in blockOnChan, want the trace's and the block profile's", through)
	}
}
