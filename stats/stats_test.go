package stats

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// TestLatencyQuantiles checks the histogram's percentiles against exact
// ones, within the 2^(1/16) width of its buckets.
func TestLatencyQuantiles(t *testing.T) {
	var l latency
	for i := 1; i <= 10000; i++ {
		l.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.9, 9000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}} {
		got := l.quantile(c.q)
		if ratio := float64(got) / float64(c.want); ratio < 1 || ratio > 1.05 {
			t.Errorf("p%v = %v, want %v to 5%% above", c.q*100, got, c.want)
		}
	}
	if l.quantile(1) != 10000*time.Microsecond || l.max != 10000*time.Microsecond {
		t.Errorf("p100 %v, max %v, want 10ms", l.quantile(1), l.max)
	}
}

// mapBoth maps path into a Sink and, in the same pass, into mapping's
// Tally, which counts the same items its own way.
func mapBoth(t *testing.T, path string) (*Report, *mapping.Tally) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tally mapping.Tally
	s := NewSink()
	// The Tally counts the experimental events delivered to it; the Sink
	// reads the mapping's own count of them, which it also makes when
	// they are not delivered.
	if _, err := mapping.Map(f, mapping.FanOut(&tally, s), mapping.WithExperimentalEvents()); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if r == nil {
		t.Fatal("no report after End")
	}
	return r, &tally
}

// TestAgreesWithTally checks the Report's counts against mapping.Tally on
// every test trace, and that the time of the goroutine groups adds up to
// all the time the goroutines spent in each state.
func TestAgreesWithTally(t *testing.T) {
	for _, path := range testtraces.All(t, "..") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r, tl := mapBoth(t, path)
			flows := 0
			for _, n := range tl.Flows {
				flows += n
			}
			for _, c := range []struct {
				what      string
				got, want int
			}{
				{"stacks", r.Stacks, tl.Stacks},
				{"logs", r.Logs, tl.Logs},
				{"GC cycles", r.GCCycles, tl.GCCycles},
				{"sweeps", r.Sweeps, tl.Ranges[mapping.RangeSweep]},
				{"mark assists", r.MarkAssists, tl.Ranges[mapping.RangeMarkAssist]},
				{"CPU samples", r.CPUSamples, tl.CPUSamples},
				{"flows", r.Flows, flows},
				{"tasks begun", r.Tasks.Begun, tl.TasksBegun},
				{"tasks ended", r.Tasks.Ended, tl.TasksEnded},
				{"tasks open", r.Tasks.Open, tl.TasksOpen},
				{"regions", r.Regions.Total, tl.Regions},
				{"regions open", r.Regions.Open, tl.RegionsOpen},
				{"pauses", r.STW.Count, tl.STW.Count},
				{"pause time", int(r.STW.TotalNS), int(tl.STW.Total)},
				{"longest pause", int(r.STW.MaxNS), int(tl.STW.Max)},
				{"incomplete kinds", len(r.Incomplete), len(tl.Incomplete)},
				{"experiments", len(r.Experimental), len(tl.Experiments)},
			} {
				if c.got != c.want {
					t.Errorf("%s: %d, Tally counts %d", c.what, c.got, c.want)
				}
			}
			for k, n := range tl.Incomplete {
				if r.Incomplete[k] != n {
					t.Errorf("incomplete %s: %d, Tally counts %d", k, r.Incomplete[k], n)
				}
			}
			for k, n := range tl.Experiments {
				if r.Experimental[k] != n {
					t.Errorf("experimental %s: %d, Tally counts %d", k, r.Experimental[k], n)
				}
			}
			var running, runnable, syscall, waiting int64
			grouped := 0
			for _, g := range r.GoroutineGroups {
				running += g.RunningNS
				runnable += g.RunnableNS
				syscall += g.SyscallNS
				for _, ns := range g.WaitingNS {
					waiting += ns
				}
				grouped += g.Goroutines
			}
			for _, c := range []struct {
				state mapping.GoState
				got   int64
			}{{mapping.GoRunning, running}, {mapping.GoRunnable, runnable}, {mapping.GoSyscall, syscall}, {mapping.GoWaiting, waiting}} {
				if want := int64(tl.GoStateTime[c.state]); c.got != want {
					t.Errorf("%v: %d ns in the groups, %d in all", c.state, c.got, want)
				}
			}
			if grouped > r.Goroutines || grouped == 0 && r.Goroutines > 0 {
				t.Errorf("%d goroutines in the groups of %d", grouped, r.Goroutines)
			}
			if len(r.LongestPauses) != min(r.STW.Count, maxPauses) {
				t.Errorf("%d longest pauses of %d", len(r.LongestPauses), r.STW.Count)
			}
			for i, p := range r.LongestPauses {
				if i == 0 && p.DurNS != r.STW.MaxNS || i > 0 && p.DurNS > r.LongestPauses[i-1].DurNS {
					t.Errorf("pause %d lasts %dns: not longest first (max %dns)", i, p.DurNS, r.STW.MaxNS)
				}
			}
		})
	}
}

// TestTextFromJSON checks that the text form says nothing the JSON form
// leaves out: a Report read back from its JSON prints the same text.
func TestTextFromJSON(t *testing.T) {
	for _, name := range []string{"annotations.go1.26.trace", "gc.go1.26.trace", "mixed.go1.22.trace"} {
		r, _ := mapBoth(t, filepath.Join("..", "testdata", name))
		var js, want, got bytes.Buffer
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteText(&want); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if err := back.WriteText(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: the text of the JSON form differs:\n%s\nwant:\n%s", name, got.String(), want.String())
		}
		if len(r.GoroutineGroups) == 0 || !strings.Contains(want.String(), "Goroutines by start function") {
			t.Errorf("%s: no goroutine groups:\n%s", name, want.String())
		}
	}
}

// TestTopGroups checks the order of the goroutine groups: most time
// first, of equal times by name.
func TestTopGroups(t *testing.T) {
	r := &Report{GoroutineGroups: map[string]*GroupTimes{
		"b":    {RunningNS: 5, WaitingNS: map[string]int64{"sleep": 5}},
		"a":    {RunnableNS: 10},
		"c":    {SyscallNS: 3},
		"busy": {WaitingNS: map[string]int64{"select": 7, "sleep": 8}},
	}}
	got := strings.Join(r.TopGroups(), " ")
	if want := "busy a b c"; got != want {
		t.Errorf("TopGroups() = %s, want %s", got, want)
	}
}

// TestTopReason checks each group's line in the text: its waiting time
// and its longest reason, in parentheses once.
func TestTopReason(t *testing.T) {
	r := &Report{GoroutineGroups: map[string]*GroupTimes{
		"main.old":  {Goroutines: 1, WaitingNS: map[string]int64{"(unknown)": 5e6, "select": 1e6}},
		"main.busy": {Goroutines: 2, RunningNS: 1e6, WaitingNS: map[string]int64{"chan receive": 2e6, "(unknown)": 1e6}},
		"main.cpu":  {Goroutines: 1, RunningNS: 9e6},
	}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`main\.old +1 +0s +0s +0s +6ms \(unknown\)\n`, `main\.busy +2 +1ms +0s +0s +3ms \(chan receive\)\n`, `main\.cpu +1 +9ms +0s +0s +0s\n`} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", want, b.Bytes())
		}
	}
}

// TestGenerations checks the generations listed from a file's batch
// headers against the count the pass read, and that a file that is no
// trace lists none.
func TestGenerations(t *testing.T) {
	path := filepath.Join("..", "testdata", "mixed.go1.26.trace")
	r, _ := mapBoth(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ReadGenerations(f, st.Size()); err != nil {
		t.Fatal(err)
	}
	if len(r.GenerationSpans) != r.Generations {
		t.Fatalf("%d generation spans, the pass read %d generations", len(r.GenerationSpans), r.Generations)
	}
	for i, g := range r.GenerationSpans {
		if g.EndNS <= g.StartNS || g.Bytes <= 0 || i > 0 && g.Offset != r.GenerationSpans[i-1].Offset+r.GenerationSpans[i-1].Bytes {
			t.Errorf("generation %d: %+v", i, g)
		}
	}
	junk := strings.NewReader("not a trace at all, but long enough to have a header")
	if err := (&Report{}).ReadGenerations(junk, junk.Size()); err == nil {
		t.Error("generations listed for a file that is no trace")
	}
}

// TestBrokenTrace checks that a trace that breaks off is reported up to
// the break, with the error, and that input that is no trace gives no
// report.
func TestBrokenTrace(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "mixed.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink()
	_, mapErr := mapping.Map(bytes.NewReader(data[:len(data)/2]), s, mapping.WithInputName("cut.trace"))
	var me *mapping.Error
	if !errors.As(mapErr, &me) {
		t.Fatalf("mapping half a trace: %v, want a *mapping.Error", mapErr)
	}
	r := s.Report()
	if r == nil || r.Error == "" || r.Events == 0 || !strings.Contains(r.Error, "cut.trace") {
		t.Fatalf("report of a cut trace: %+v", r)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "Cut short:") {
		t.Errorf("text of a cut trace (%v):\n%s", err, text.String())
	}
	s = NewSink()
	if _, err := mapping.Map(strings.NewReader("hello"), s); err == nil || s.Report() != nil {
		t.Errorf("input that is no trace: error %v, report %+v", err, s.Report())
	}
}

// lives records, for every goroutine's life, the start function it was
// last given and the time of its states: the groups as the report should
// make them, with a goroutine whose function a later stack told counted,
// with all its time, under that function.
type lives struct {
	mapping.NopSink
	live    map[mapping.GoID]*life
	all     []*life
	renamed int // lives named after they had time
}

type life struct {
	name  string
	times GroupTimes
	ran   bool // had a state
}

func (l *lives) Goroutine(g *mapping.Goroutine) error {
	lf := l.live[g.ID]
	if lf == nil || !g.Updated {
		lf = &life{times: GroupTimes{WaitingNS: map[string]int64{}}}
		l.live[g.ID] = lf
		l.all = append(l.all, lf)
	}
	name := cmp.Or(g.StartFunc, "(unknown)")
	if lf.ran && name != lf.name {
		l.renamed++
	}
	lf.name = name
	return nil
}

func (l *lives) GoroutineState(s *mapping.GoroutineState) error {
	lf := l.live[s.G]
	if lf == nil {
		return nil
	}
	lf.ran = true
	d := int64(s.End - s.Start)
	switch s.State {
	case mapping.GoRunning:
		lf.times.RunningNS += d
	case mapping.GoRunnable:
		lf.times.RunnableNS += d
	case mapping.GoSyscall:
		lf.times.SyscallNS += d
	case mapping.GoWaiting:
		lf.times.WaitingNS[cmp.Or(s.Reason, "(unknown)")] += d
	}
	return nil
}

func (l *lives) groups() map[string]*GroupTimes {
	out := map[string]*GroupTimes{}
	for _, lf := range l.all {
		if !lf.ran {
			continue
		}
		g := out[lf.name]
		if g == nil {
			g = &GroupTimes{WaitingNS: map[string]int64{}}
			out[lf.name] = g
		}
		g.Goroutines++
		g.RunningNS += lf.times.RunningNS
		g.RunnableNS += lf.times.RunnableNS
		g.SyscallNS += lf.times.SyscallNS
		for r, ns := range lf.times.WaitingNS {
			g.WaitingNS[r] += ns
		}
	}
	return out
}

// TestGroupsByStartFunction checks every group of the report against the
// goroutines' lives on every test trace: a goroutine alive at the start,
// whose function only a later stack tells, is counted with all its time
// under that function, not under "(unknown)".
func TestGroupsByStartFunction(t *testing.T) {
	renamed := 0
	for _, path := range testtraces.All(t, "..") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l := &lives{live: map[mapping.GoID]*life{}}
			s := NewSink()
			if _, err := mapping.Map(f, mapping.FanOut(l, s)); err != nil {
				t.Fatal(err)
			}
			want, got := l.groups(), s.Report().GoroutineGroups
			for name, w := range want {
				g := got[name]
				if g == nil || g.Goroutines != w.Goroutines || g.RunningNS != w.RunningNS || g.RunnableNS != w.RunnableNS ||
					g.SyscallNS != w.SyscallNS || !maps.Equal(g.WaitingNS, w.WaitingNS) {
					t.Errorf("group %s: %+v, want %+v", name, g, w)
				}
			}
			for name := range got {
				if want[name] == nil {
					t.Errorf("group %s: %+v, want none", name, got[name])
				}
			}
			renamed += l.renamed
		})
	}
	if renamed == 0 {
		t.Error("no goroutine in the test traces was named after it had time: the test proves nothing")
	}
}
