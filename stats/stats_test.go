package stats

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// TestLatencyQuantiles checks the histogram's percentiles, used past
// maxExact durations, against exact ones: within the half-width of its
// buckets and the rounding to it, and marked as approximate.
func TestLatencyQuantiles(t *testing.T) {
	var l latency
	for i := 1; i <= 10000; i++ {
		l.add(time.Duration(i) * time.Microsecond)
	}
	l.finish()
	if l.exact != nil {
		t.Errorf("%d durations kept of %d, want none past %d", len(l.exact), l.count, maxExact)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.9, 9000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}} {
		got, exact := l.quantile(c.q)
		if ratio := float64(got) / float64(c.want); exact || ratio < 0.97 || ratio > 1.03 {
			t.Errorf("p%v = %v (exact %v), want %v within 3%%, not exact", c.q*100, got, exact, c.want)
		}
	}
	// Near the worst case: half a bucket, and the rounding to the digits
	// the bucket knows, both the same way.
	var w latency
	for range 2500 {
		w.add(10 * time.Millisecond)
	}
	for range 2600 {
		w.add(49554062)
	}
	w.add(60 * time.Millisecond)
	w.finish()
	if got, exact := w.quantile(0.9); exact || math.Abs(float64(got)/49554062-1) > 0.032 {
		t.Errorf("p90 = %v (exact %v), want 49.554062ms within 3.2%%, not exact", got, exact)
	}
	if p, _ := l.quantile(1); p != 10000*time.Microsecond || l.max != 10000*time.Microsecond {
		t.Errorf("p100 %v, max %v, want 10ms", p, l.max)
	}
}

// TestLatencyExact checks that the percentiles of a type with few
// durations are the exact nearest-rank ones, not bucket bounds: eight
// tasks whose durations all fall in one bucket have a p50 below the max.
func TestLatencyExact(t *testing.T) {
	var l latency
	// The durations of the eight tasks of a real trace, in the order
	// they ended.
	for _, ms := range []float64{1513.794, 1497.950, 1511.710, 1503.210, 1508.959, 1512.509, 1509.474, 1513.056} {
		l.add(time.Duration(ms * 1e6))
	}
	l.finish()
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 1509474 * time.Microsecond}, {0.9, 1513794 * time.Microsecond}, {0.1, 1497950 * time.Microsecond}} {
		if got, exact := l.quantile(c.q); got != c.want || !exact {
			t.Errorf("p%v = %v (exact %v), want %v, exact", c.q*100, got, exact, c.want)
		}
	}
	for i := l.count; i < maxExact; i++ {
		l.add(2 * time.Second)
	}
	if l.finish(); l.buckets != nil || len(l.exact) != maxExact {
		t.Errorf("%d durations kept of %d, want all", len(l.exact), l.count)
	}
	if got, exact := l.quantile(0.0001); got != 1497950*time.Microsecond || !exact {
		t.Errorf("p0.01 of %d = %v (exact %v), want the least", maxExact, got, exact)
	}
}

// TestLatencyRounding checks that a percentile from the histogram is
// rounded to the digits it knows, and printed as approximate.
func TestLatencyRounding(t *testing.T) {
	var l latency
	for i := range maxExact + 1 {
		l.add(30*time.Millisecond + time.Duration(i)*time.Nanosecond*97)
	}
	l.finish()
	got, exact := l.quantile(0.5)
	if exact || got%(100*time.Microsecond) != 0 || got < l.min || got > l.max {
		t.Errorf("p50 = %v (exact %v), want an approximate multiple of 100µs within [%v, %v]", got, exact, l.min, l.max)
	}
	r := &Report{TaskLatency: latencies(map[string]*latency{"t": &l})}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  t +4097 +~[0-9.]+ms +~[0-9.]+ms +~[0-9.]+ms +30\.397ms$`).Match(b.Bytes()) {
		t.Errorf("no approximate row for t in\n%s", b.Bytes())
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

// TestNullGroup checks that a Report decoded from JSON whose group is null
// prints, without that group.
func TestNullGroup(t *testing.T) {
	var r Report
	if err := json.Unmarshal([]byte(`{"goroutine_groups":{"a":null,"b":{"running_ns":5}}}`), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.TopGroups(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("TopGroups = %q, want [b]", got)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil || !strings.Contains(out.String(), "\n  b ") {
		t.Errorf("WriteText: %v\n%s", err, out.String())
	}
}

// TestTopGroups checks the order of the goroutine groups: most running
// time first, then most time runnable or in syscalls, then by name; time
// waiting does not count.
func TestTopGroups(t *testing.T) {
	r := &Report{GoroutineGroups: map[string]*GroupTimes{
		"b":      {RunningNS: 5, WaitingNS: map[string]int64{"sleep": 5}},
		"a":      {RunnableNS: 10},
		"c":      {SyscallNS: 3},
		"d":      {RunnableNS: 3},
		"parked": {WaitingNS: map[string]int64{"select": 7, "sleep": 8}},
	}}
	got := strings.Join(r.TopGroups(), " ")
	if want := "b a c d parked"; got != want {
		t.Errorf("TopGroups() = %s, want %s", got, want)
	}
}

// TestTopGroupsText checks that the text lists the groups that ran most,
// says what they are ranked by, and how many it left out: goroutines
// parked for the whole trace do not push out one that ran.
func TestTopGroupsText(t *testing.T) {
	r := &Report{GoroutineGroups: map[string]*GroupTimes{
		"main.receiver": {Goroutines: 1, RunningNS: 364e6, WaitingNS: map[string]int64{"chan receive": 700e6}},
	}}
	for i := range 12 {
		r.GoroutineGroups[fmt.Sprintf("main.parked%02d", i)] = &GroupTimes{Goroutines: 3, WaitingNS: map[string]int64{"select": 4e9}}
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^Goroutines by start function \(top 10 by running time\) +count`,
		`(?m)^  main\.receiver +1 +0 +364ms `, `(?m)^  \.\.\. and 3 more; --json lists them all$`} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", want, b.Bytes())
		}
	}
}

// TestManyRegionTypes checks that the text lists at most 20 region
// types, the most frequent, and says how many it left out, while a short
// list keeps every type.
func TestManyRegionTypes(t *testing.T) {
	r := &Report{RegionLatency: map[string]Latency{}, TaskLatency: map[string]Latency{"job": {Count: 3}}}
	for i := range 1000 {
		r.RegionLatency[fmt.Sprintf("rt-%04d", i)] = Latency{Count: 1}
	}
	r.RegionLatency["frequent"] = Latency{Count: 500}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{`(?m)^Region latency \(top 20 types by count\) +count`, `(?m)^  frequent +500 `,
		`(?m)^  \.\.\. and 981 more; --json lists them all$`, `(?m)^Task latency +count`, `(?m)^  job +3 `} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("no line %s in\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n  rt-"); n != 19 {
		t.Errorf("%d region types listed besides the most frequent, want 19:\n%s", n, text)
	}
}

// TestTopReason checks each group's line in the text: its waiting time,
// and its longest reason with the share of that time it holds, in
// parentheses once.
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
	for _, want := range []string{`main\.old +1 +0 +0s +0s +0s +6ms \(83% reason unknown\)\n`, `main\.busy +2 +0 +1ms +0s +0s +3ms \(67% chan receive\)\n`, `main\.cpu +1 +0 +9ms +0s +0s +0s\n`} {
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
		if g.EndNS <= g.StartNS || g.Bytes <= 0 || i > 0 && g.Offset != r.GenerationSpans[i-1].Offset+r.GenerationSpans[i-1].Bytes || g.Index != i+1 {
			t.Errorf("generation %d: %+v", i, g)
		}
	}
	// A flight recorder's snapshot begins with a generation the runtime
	// did not number 1: its place in the file is 1 all the same.
	fr, err := os.ReadFile(filepath.Join("..", "testdata", "flightrecorder.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	var snap Report
	if err := snap.ReadGenerations(bytes.NewReader(fr), int64(len(fr))); err != nil || len(snap.GenerationSpans) == 0 {
		t.Fatalf("%d generations, error %v", len(snap.GenerationSpans), err)
	}
	if g := snap.GenerationSpans[0]; g.Index != 1 || g.Number == 1 {
		t.Errorf("a snapshot's first generation: %+v; want index 1 and the runtime's later number", g)
	}
	// A file that breaks off in its last generation lists the others.
	two, err := os.Open(filepath.Join("..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	st, err = two.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var whole Report
	if err := whole.ReadGenerations(two, st.Size()); err != nil || len(whole.GenerationSpans) != 2 {
		t.Fatalf("%d generations, error %v: the test needs a trace of 2", len(whole.GenerationSpans), err)
	}
	last := whole.GenerationSpans[1]
	cut := io.NewSectionReader(two, 0, last.Offset+last.Bytes/2)
	if err := whole.ReadGenerations(cut, cut.Size()); err == nil {
		t.Error("no error for a file that breaks off")
	}
	if len(whole.GenerationSpans) != 1 || whole.GenerationSpans[0].Offset != 16 {
		t.Errorf("generations listed for a file cut in the second of 2: %+v; want the first", whole.GenerationSpans)
	}
	// The report says where the list stops, which the parser, reading
	// the whole generations it holds, may read past.
	whole.Generations = 2
	var b bytes.Buffer
	if err := whole.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Generations: +2 read; the file's batches list 1, up to byte [0-9]+, where a batch of [0-9]+ bytes runs past the end`).Match(b.Bytes()) {
		t.Errorf("text of a file whose batches stop making sense:\n%s", b.Bytes())
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

// TestCell checks how a table shows a name from the trace: printable ones
// as they are, others quoted with Go's escapes, nothing left that a
// terminal or the table's columns would take for their own, long ones cut
// with a mark to the columns a terminal gives them, and an empty one
// named.
func TestCell(t *testing.T) {
	long := strings.Repeat("x", 1024)
	for _, c := range []struct{ in, want string }{
		{"http.request", "http.request"},
		{"café ☕ </script> back\\slash", "café ☕ </script> back\\slash"},
		{"", "(none)"},
		{"req\x1b[31mRED\x1b[0m", `"req\x1b[31mRED\x1b[0m"`},
		{"fake\n  injected-row  99  1h", `"fake\n  injected-row  99  1h"`},
		{"tab\tcol", `"tab\tcol"`},
		{"bad\xff\xfeutf8", `"bad\xff\xfeutf8"`},
		{"nul\x00del\x7f", `"nul\x00del\x7f"`},
		{"\u2028\u202e", `"\u2028\u202e"`},
		{`"quoted"`, `"\"quoted\""`},
		{"(unknown)", `"(unknown)"`},
		{" indented", `" indented"`},
		{"cut…", `"cut…"`},
		{long, strings.Repeat("x", maxNameWidth-1) + "…"},
		{"\x01" + long, `"\x01` + strings.Repeat("x", maxNameWidth-7) + `"…`},
		{strings.Repeat("\x01", 100), `"` + strings.Repeat(`\x01`, (maxNameWidth-3)/4) + `"…`},
		// Cut by the columns a terminal gives them: two a kanji, none
		// the accent that goes on the e before it.
		{strings.Repeat("注", 40), strings.Repeat("注", (maxNameWidth-1)/2) + "…"},
		{"ab" + strings.Repeat("注", 40), "ab" + strings.Repeat("注", (maxNameWidth-3)/2) + "…"},
		{strings.Repeat("e\u0301", 100), strings.Repeat("e\u0301", maxNameWidth-1) + "…"},
		{"\x01" + strings.Repeat("注", 40), `"\x01` + strings.Repeat("注", (maxNameWidth-7)/2) + `"…`},
		// An emoji sequence is one emoji, two columns, cut whole.
		{strings.Repeat("\u2764\uFE0F", 40), strings.Repeat("\u2764\uFE0F", (maxNameWidth-1)/2) + "…"},
		{strings.Repeat("👍\U0001F3FD", 40), strings.Repeat("👍\U0001F3FD", (maxNameWidth-1)/2) + "…"},
		{strings.Repeat("x", maxNameWidth-2) + "\u2764\uFE0Fy", strings.Repeat("x", maxNameWidth-2) + "…"},
	} {
		got := cell(c.in, "(none)")
		if got != c.want {
			t.Errorf("cell(%q) = %s, want %s", c.in, got, c.want)
		}
		if n := termWidth(got); n > maxNameWidth {
			t.Errorf("cell(%q) is %d columns wide, more than %d", c.in, n, maxNameWidth)
		}
	}
	if got, want := escape("cut\x00here\n\xff"), `cut\x00here\n\xff`; got != want {
		t.Errorf("escape = %s, want %s", got, want)
	}
}

// checkPrintable fails if text holds anything but printable UTF-8 and
// newlines, a line wider than width characters, or a table row without
// a name or with more columns than its header.
func checkPrintable(t *testing.T, text string, width int) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Errorf("text is not UTF-8:\n%q", text)
	}
	for _, r := range text {
		if r != '\n' && !strconv.IsPrint(r) {
			t.Errorf("text holds %U:\n%q", r, text)
			break
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(line); n > width {
			t.Errorf("a line of %d characters: %q", n, line)
		}
	}
	for _, table := range []string{"Task latency", "Region latency"} {
		_, rows, ok := strings.Cut(text, "\n"+table)
		if !ok {
			t.Errorf("no %s table in\n%s", table, text)
			continue
		}
		rows, _, _ = strings.Cut(rows, "\n\n")
		for _, row := range strings.Split(rows, "\n")[1:] {
			// A name, then count, p50, p90, p99, max, and where the
			// slowest is.
			if !regexp.MustCompile(`^  [^ ].*? +[0-9]+( +~?[0-9.]+(µs|ms|s|ns|m|h)+){4}( +(task [0-9]+, )?G-?[0-9]+(, task [0-9]+)?, at [0-9.]+(µs|ms|s|ns|m|h)+)?$`).MatchString(row) {
				t.Errorf("%s: row %q", table, row)
			}
		}
	}
}

// TestTextNames checks the text of a trace whose task and region types
// hold controls, invalid UTF-8, quotes, line separators and a long name,
// and of one made to forge rows and colour the terminal: all of it
// printable, every row in its columns, the names whole in the JSON.
func TestTextNames(t *testing.T) {
	r, _ := mapBoth(t, filepath.Join("..", "testdata", "oddstrings.go1.26.trace"))
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	checkPrintable(t, text.String(), 200)
	if !regexp.MustCompile(`(?m)^  \(no type\) +1 `).Match(text.Bytes()) {
		t.Errorf("no row for the empty task type in\n%s", text.Bytes())
	}
	odd, long := 0, 0
	for typ := range r.TaskLatency {
		if !utf8.ValidString(typ) || strings.ContainsAny(typ, "\x00\x01") {
			odd++
		}
		long = max(long, len(strconv.Quote(typ)))
	}
	if odd == 0 || long <= maxNameWidth {
		t.Errorf("task types: %d odd, the longest %d bytes quoted; the trace has both: the test proves nothing", odd, long)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	// JSON has no form for invalid UTF-8: the names are made valid as
	// every output makes them, so that the JSON holds each whole.
	for typ, l := range r.TaskLatency {
		if !utf8.ValidString(typ) {
			t.Errorf("task type %q is not valid UTF-8", typ)
		}
		if got, ok := back.TaskLatency[typ]; !ok || got != l {
			t.Errorf("the JSON has %+v for task type %q, want %+v", got, typ, l)
		}
	}
	if len(back.TaskLatency) != len(r.TaskLatency) {
		t.Errorf("the JSON has %d task types, the report %d", len(back.TaskLatency), len(r.TaskLatency))
	}

	forged := &Report{
		TaskLatency: map[string]Latency{"req\x1b[31mRED\x1b[0m": {Count: 1, P50NS: 3e3, P90NS: 3e3, P99NS: 3e3, MaxNS: 3e3}},
		RegionLatency: map[string]Latency{
			"fake\n  injected-row\t99\t1h\t1h\t1h\t1h": {Count: 1, MaxNS: 1e3},
			"":                        {Count: 2, MaxNS: 1e3},
			strings.Repeat("y", 1024): {Count: 3, MaxNS: 1e3},
		},
		LongestPauses:   []Pause{{Reason: "\x1b]0;title\x07", DurNS: 5e3}, {Reason: "", DurNS: 1e3}},
		GoroutineGroups: map[string]*GroupTimes{"main.\x1b[2J": {Goroutines: 1, RunningNS: 1, WaitingNS: map[string]int64{"chan\nreceive": 1}}},
		Error:           "broken near \x1b[31m",
	}
	text.Reset()
	if err := forged.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	checkPrintable(t, text.String(), 130) // the widest row: a name cut short, and seven columns
	for _, want := range []string{`(?m)^  "fake\\n  injected-row\\t99\\t1h\\t1h\\t1h\\t1h" +1 `, `(?m)^  \(no type\) +2 `,
		`(?m)^  y{63}… +3 `, `(?m)^  "\\x1b\]0;title\\a" `, `(?m)^  \(no reason\) `, `(?m)^  "main\.\\x1b\[2J" .* \(100% "chan\\nreceive"\)$`} {
		if !regexp.MustCompile(want).Match(text.Bytes()) {
			t.Errorf("no line %s in\n%s", want, text.Bytes())
		}
	}
}

// TestFilteredGoroutines checks that a pass through a filter counts the
// goroutines it kept, those of the groups, and not those the filter
// declared only because what it kept names them.
// TestInvalidNamesOneEntry checks that region types that differ only in
// bytes that are not UTF-8 are one type, in the text and in the JSON
// alike: the JSON, which replaces such bytes, had two entries under one
// key, and a decoder kept one of them.
func TestInvalidNamesOneEntry(t *testing.T) {
	s := NewSink()
	if err := s.Begin(&mapping.Meta{Input: "synthetic", FormatVersion: "go1.26", Start: 0}); err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"\xff", "\xfe", "ok\xff"} {
		r := mapping.Region{ID: mapping.RegionID(i + 1), G: 1, Type: typ, Start: 100, End: 100 + mapping.Time(1000*(i+1)),
			Task: mapping.NoTask, Root: mapping.NoTask, ParentTask: mapping.NoTask, Stack: mapping.NoStack, EndStack: mapping.NoStack}
		if err := s.Region(&r); err != nil {
			t.Fatal(err)
		}
	}
	short := mapping.Region{ID: 9, G: 1, Type: "short", Start: 100, End: 420,
		Task: mapping.NoTask, Root: mapping.NoTask, ParentTask: mapping.NoTask, Stack: mapping.NoStack, EndStack: mapping.NoStack}
	if err := s.Region(&short); err != nil {
		t.Fatal(err)
	}
	if err := s.End(&mapping.Summary{End: 10000}); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	want := map[string]int{"\ufffd": 2, "ok\ufffd": 1, "short": 1}
	got := map[string]int{}
	for typ, l := range r.RegionLatency {
		got[typ] = l.Count
	}
	if !maps.Equal(got, want) {
		t.Errorf("region types %v, want %v", got, want)
	}
	var js, text, back bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded Report
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := decoded.WriteText(&back); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  ok\x{fffd} +1 +3µs +3µs +3µs +3µs +G1, at 100ns$`).MatchString(text.String()) {
		t.Errorf("no row for region type ok\ufffd in\n%s", text.String())
	}
	if !regexp.MustCompile(`(?m)^  short +1 +320ns +320ns +320ns +320ns +G1, at 100ns$`).MatchString(text.String()) {
		t.Errorf("a region of 320ns is not shown so in\n%s", text.String())
	}
	if text.String() != back.String() {
		t.Errorf("the report decoded from its JSON prints\n%s\nnot\n%s", back.String(), text.String())
	}
}

func TestFilteredGoroutines(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "blocking.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := NewSink()
	filter := &mapping.Filter{Goroutines: []mapping.GoID{1}}
	sum, err := mapping.Map(f, filter.Sink(s))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	grouped := 0
	for _, g := range r.GoroutineGroups {
		grouped += g.Goroutines
	}
	if r.Goroutines != 1 || grouped != 1 {
		t.Errorf("goroutines %d, %d in the groups; want 1 and 1", r.Goroutines, grouped)
	}
	if sum.Goroutines <= 1 {
		t.Errorf("the filter declared %d goroutines: the test proves nothing", sum.Goroutines)
	}
}

// gcReport is the report of testdata/gc.go1.26.trace, through f if it is
// not nil.
func gcReport(t *testing.T, f *mapping.Filter) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "gc.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink()
	var sink mapping.Sink = s
	if f != nil {
		sink = f.Sink(s)
	}
	if _, err := mapping.Map(bytes.NewReader(data), sink); err != nil {
		t.Fatal(err)
	}
	return s.Report()
}

// TestSelectionNoMMU checks that the MMU of a goroutine selection is not
// given: the selection leaves out the GC's mark workers, and what was left
// (the pauses alone) passed for the MMU, far higher than the trace's.
func TestSelectionNoMMU(t *testing.T) {
	if r := gcReport(t, nil); len(r.MMU) == 0 || r.MMUOmitted {
		t.Fatalf("the whole trace has MMU %+v, omitted %v: the test proves nothing", r.MMU, r.MMUOmitted)
	}
	r := gcReport(t, &mapping.Filter{Goroutines: []mapping.GoID{1}})
	if len(r.MMU) != 0 || !r.MMUOmitted {
		t.Errorf("a selection has MMU %+v, omitted %v; want none, omitted", r.MMU, r.MMUOmitted)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "MMU:") || strings.Contains(text.String(), "MMU 1ms") {
		t.Errorf("the text does not say the MMU is not measured:\n%s", text.String())
	}
}

// TestWindowTimes checks that a window's report gives times from the
// trace's start, as its bounds are given: its pauses are found at the
// times the whole trace's report gives them.
func TestWindowTimes(t *testing.T) {
	// The whole trace's report lists its longest pauses only: a pause of
	// the window as long as the shortest listed must be listed.
	at := make(map[int64]bool)
	shortest := int64(math.MaxInt64)
	whole := gcReport(t, nil)
	for _, p := range whole.LongestPauses {
		at[p.StartNS] = true
		shortest = min(shortest, p.DurNS)
	}
	from := 7 * time.Millisecond
	r := gcReport(t, &mapping.Filter{From: mapping.Bound{Offset: from}, To: mapping.Bound{Offset: 20 * time.Millisecond}})
	if r.StartNS != int64(from) || r.DurationNS != int64(13*time.Millisecond) {
		t.Errorf("the window's report starts at %v and lasts %v; want 7ms and 13ms", time.Duration(r.StartNS), time.Duration(r.DurationNS))
	}
	// Its wall-clock start is the trace's, from which its times count.
	if r.WallStart == nil || whole.WallStart == nil || !r.WallStart.Equal(*whole.WallStart) {
		t.Errorf("the window's wall-clock start is %v, the trace's %v", r.WallStart, whole.WallStart)
	}
	checked := 0
	for _, p := range r.LongestPauses {
		if p.StartNS < int64(from) {
			t.Errorf("the window has a pause at %v, before its start", time.Duration(p.StartNS))
		}
		if p.DurNS >= shortest {
			checked++
			if !at[p.StartNS] {
				t.Errorf("the window has a pause of %v at %v, which the whole trace has not", time.Duration(p.DurNS), time.Duration(p.StartNS))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no pause of the window is among the trace's longest: the test proves nothing")
	}
}

// TestJSONKeys checks that the report's JSON has every list and map of
// the analysis, empty as they may be, for the scripts that index it: a
// selection without tasks, regions, pauses or MMU, and a trace that
// holds only its header.
func TestJSONKeys(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "gc.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		sink func(mapping.Sink) mapping.Sink
	}{
		{"selection", data, (&mapping.Filter{Goroutines: []mapping.GoID{1}}).Sink},
		{"header", data[:16], func(s mapping.Sink) mapping.Sink { return s }},
	} {
		s := NewSink()
		mapping.Map(bytes.NewReader(c.data), c.sink(s))
		var out bytes.Buffer
		if err := s.Report().WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"anomalies", "goroutine_groups", "task_latency", "region_latency", "longest_pauses", "mmu", "incomplete", "events_by_kind"} {
			switch got[k].(type) {
			case map[string]any, []any:
			default:
				t.Errorf("%s: %q is %v, want a list or a map", c.name, k, got[k])
			}
		}
	}
}

// TestSecondTrace checks that a Sink refuses a second trace at Begin and
// keeps the Report of the first.
func TestSecondTrace(t *testing.T) {
	path := filepath.Join("..", "testdata", "annotations.go1.26.trace")
	s := NewSink()
	mapFile := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = mapping.Map(f, s)
		return err
	}
	if err := mapFile(path); err != nil {
		t.Fatal(err)
	}
	var first, again bytes.Buffer
	if err := s.Report().WriteJSON(&first); err != nil {
		t.Fatal(err)
	}
	if err := mapFile(filepath.Join("..", "testdata", "gc.go1.26.trace")); !errors.Is(err, ErrClosed) {
		t.Errorf("a second trace: error %v, want one wrapping ErrClosed", err)
	}
	if err := s.Report().WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if first.String() != again.String() {
		t.Errorf("the report changed with a second trace:\n%s\nwas:\n%s", again.String(), first.String())
	}
	if err := s.Begin(&mapping.Meta{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin after End: %v, want an error wrapping ErrClosed", err)
	}
	s = NewSink()
	if err := s.Begin(&mapping.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Begin(&mapping.Meta{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Begin twice: %v, want an error wrapping ErrClosed", err)
	}
}

// TestReportDuringMap checks, under the race detector, that Report may be
// called while the pass runs: nil until End, then the same figures as
// afterwards.
func TestReportDuringMap(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "gc.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := NewSink()
	done := make(chan struct{})
	seen := make(chan *Report, 1)
	go func() {
		defer close(seen)
		for {
			if r := s.Report(); r != nil {
				seen <- r
				return
			}
			select {
			case <-done:
				seen <- s.Report()
				return
			default:
			}
		}
	}()
	_, err = mapping.Map(f, s)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	r := <-seen
	var during, after bytes.Buffer
	if err := r.WriteJSON(&during); err != nil {
		t.Fatal(err)
	}
	if err := s.Report().WriteJSON(&after); err != nil {
		t.Fatal(err)
	}
	if during.String() != after.String() {
		t.Errorf("the report read during the pass differs from the one after it")
	}
}

// TestUnfinishedGeneration checks that the text marks a generation the
// trace's writer stopped in.
func TestUnfinishedGeneration(t *testing.T) {
	r := &Report{GenerationSpans: []Generation{{Number: 1, Offset: 16, Bytes: 1000, EndNS: 1e9}, {Number: 2, Offset: 1016, Bytes: 25, StartNS: 1e9, EndNS: 1e9, Unfinished: true}}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  #2: +1s to 1s, 0\.0 kB at byte 1016 \(unfinished: the trace's writer stopped in it\)$`).Match(b.Bytes()) ||
		strings.Contains(b.String(), "byte 16 (unfinished") {
		t.Errorf("text:\n%s", b.Bytes())
	}
	// Of a window, the count read is told from the file's list.
	r.Generations = 1
	b.Reset()
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Generations: +1 read, of the trace's 2:$`).Match(b.Bytes()) {
		t.Errorf("text of a window:\n%s", b.Bytes())
	}
}

// TestNoGOMAXPROCSNoMMU: a trace that records no GOMAXPROCS (some of Go's
// own old-format test traces) has no MMU, and the report says why rather
// than leaving it out without a word.
func TestNoGOMAXPROCSNoMMU(t *testing.T) {
	seen := 0
	for _, path := range testtraces.OldFormat(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSink()
		if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
			continue
		}
		r := s.Report()
		if len(r.MMU) > 0 {
			continue
		}
		seen++
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if !r.MMUOmitted || !strings.Contains(r.MMUNote, "GOMAXPROCS recorded at the start is not read") || !strings.Contains(text.String(), "MMU:") {
			t.Errorf("%s: no MMU, omitted %v, note %q; want it said why", filepath.Base(path), r.MMUOmitted, r.MMUNote)
		}
	}
	if seen == 0 {
		t.Fatal("every old-format test trace has an MMU: the test proves nothing")
	}
}

// TestRoundDur checks the durations of the text's tables: three
// significant digits under a millisecond, where rounding to the
// microsecond made a region of 1408ns read 1µs.
func TestRoundDur(t *testing.T) {
	for _, tt := range []struct {
		ns   int64
		want string
	}{
		{0, "0s"}, {320, "320ns"}, {999, "999ns"}, {1408, "1.41µs"}, {1690, "1.69µs"},
		{14080, "14.1µs"}, {140800, "141µs"}, {999_999, "1ms"}, {1_234_567, "1.235ms"}, {693_434_321, "693.434ms"},
	} {
		if got := roundDur(tt.ns).String(); got != tt.want {
			t.Errorf("roundDur(%d) = %s, want %s", tt.ns, got, tt.want)
		}
	}
}

// TestTextWords checks words of the text that depend on the figures: a
// format without generations says so rather than count one, and one
// pause is one pause.
func TestTextWords(t *testing.T) {
	for _, tc := range []struct {
		r    Report
		want string
	}{
		{Report{FormatVersion: "go1.11", Generations: 1}, `(?m)^Generations: +none \(a format before Go 1\.22\)$`},
		{Report{FormatVersion: "go1.22", Generations: 1}, `(?m)^Generations: +1$`},
		{Report{STW: STWStats{Count: 1, TotalNS: 5, MaxNS: 5}}, `(?m)^Stop-the-world: +1 pause, 5ns total, 5ns max$`},
		{Report{STW: STWStats{Count: 2, TotalNS: 5, MaxNS: 3}}, `(?m)^Stop-the-world: +2 pauses, `},
	} {
		var b bytes.Buffer
		if err := tc.r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(tc.want).Match(b.Bytes()) {
			t.Errorf("no line %s in\n%s", tc.want, b.Bytes())
		}
	}
}

// TestStreamGenerations: the generations of a trace read as a stream,
// whole, compressed or cut short, are listed as ReadGenerations lists
// those of the same bytes as a file.
func TestStreamGenerations(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "mixed.go1.2*.trace"))
	files = append(files, filepath.Join("..", "testdata", "frsubtasks.go1.26.trace"), filepath.Join("..", "conformance", "testdata", "generations.go1.26.trace"))
	several := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var file Report
		if err := file.ReadGenerations(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n := len(file.GenerationSpans)
		if n > 1 {
			several++
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		last := file.GenerationSpans[n-1]
		for _, c := range []struct {
			name  string
			input []byte
			want  []Generation
		}{
			{"whole", data, file.GenerationSpans},
			{"gzip-compressed", gz.Bytes(), file.GenerationSpans},
			{"cut inside its last generation", data[:last.Offset+last.Bytes/2], file.GenerationSpans[:n-1]},
		} {
			s := NewSink()
			if _, err := mapping.Map(bytes.NewReader(c.input), s); err != nil && c.name != "cut inside its last generation" {
				t.Fatalf("%s %s: %v", path, c.name, err)
			}
			r := s.Report()
			got := r.GenerationSpans
			if len(got) != len(c.want) || len(got) > 0 && !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s %s: generations\n%+v\nwant\n%+v", path, c.name, got, c.want)
			}
			// The offsets of a compressed input's are the trace's
			// decompressed, and the bytes read its own: said so.
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			gz := c.name == "gzip-compressed"
			if r.Compressed != gz || strings.Contains(text.String(), "bytes read, compressed)") != gz || strings.Contains(text.String(), "at byte 16 of the decompressed trace\n") != gz {
				t.Errorf("%s %s: compressed %v, text\n%s", path, c.name, r.Compressed, text.String())
			}
		}
	}
	if several == 0 {
		t.Error("no trace of several generations")
	}
}

// TestWindowLine: a report of a window says so, one that begins at the
// trace's start too (--to alone), and one of a whole trace, or of
// goroutines selected over it, does not.
func TestWindowLine(t *testing.T) {
	for _, c := range []struct {
		name string
		f    *mapping.Filter
		want bool
	}{
		{"whole", nil, false},
		{"goroutine", &mapping.Filter{Goroutines: []mapping.GoID{1}}, false},
		{"to", &mapping.Filter{To: mapping.Bound{Offset: 5 * time.Millisecond, Set: true}}, true},
		{"from", &mapping.Filter{From: mapping.Bound{Offset: 5 * time.Millisecond, Set: true}}, true},
	} {
		r := gcReport(t, c.f)
		var out bytes.Buffer
		if err := r.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "\nWindow:"); got != c.want || r.Window != c.want {
			t.Errorf("%s: a Window line %v, Window %v; want %v", c.name, got, r.Window, c.want)
		}
	}
}

// TestJSONAsEncoder checks that WriteJSON, which writes the report's maps
// an entry at a time, writes what encoding/json's Encoder writes of the
// whole report with the same indent, on every sample trace and on a
// header alone (empty maps and lists) and a goroutine selection; and that
// it stops at a writer's error.
func TestJSONAsEncoder(t *testing.T) {
	reports := map[string]*Report{}
	for _, path := range testtraces.All(t, "..") {
		reports[filepath.Base(path)], _ = mapBoth(t, path)
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "annotations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	for name, sink := range map[string]func(mapping.Sink) mapping.Sink{
		"header":    func(s mapping.Sink) mapping.Sink { return s },
		"selection": (&mapping.Filter{Goroutines: []mapping.GoID{1}}).Sink,
	} {
		in := data
		if name == "header" {
			in = data[:16]
		}
		s := NewSink()
		mapping.Map(bytes.NewReader(in), sink(s))
		reports[name] = s.Report()
	}
	for name, r := range reports {
		var got, want bytes.Buffer
		if err := r.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			g, w := got.String(), want.String()
			i := 0
			for i < min(len(g), len(w)) && g[i] == w[i] {
				i++
			}
			t.Errorf("%s: WriteJSON differs from the encoder at byte %d: %q, want %q", name, i, g[i:min(i+80, len(g))], w[i:min(i+80, len(w))])
		}
	}
	r := reports["annotations.go1.26.trace"]
	if err := r.WriteJSON(failingWriter{}); !errors.Is(err, errWrite) {
		t.Errorf("WriteJSON to a failing writer: %v, want its error", err)
	}
}

var errWrite = errors.New("no space left on device")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }
