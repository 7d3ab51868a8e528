package chromejson_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// traces lists the traces to convert: the samples, the conformance
// harness's regression traces and Go's old-format test traces.
func traces(t testing.TB) []string { return testtraces.All(t, "../..") }

// expect counts, from the model, what the output must hold.
type expect struct {
	mapping.NopSink
	procs                    map[mapping.ProcID]bool
	ms                       map[mapping.ThreadID]bool
	states, onProc, onThread int
	regions, tasks, ranges   int
	logs, ends, flows        int
	samples                  int
	counters                 map[string]int // C events, by counter
	groupAt                  map[string]mapping.Time
	goNames                  map[mapping.GoID]string
	startFuncs               map[string]bool
	held                     mapping.HeldProcs
	// A run, a syscall that kept its P (same P and M, not blocked) and
	// the run after it are one running slice: lastRun and sysAfter follow
	// each goroutine's, merged counts them.
	lastRun  map[mapping.GoID]mapping.GoroutineState
	sysAfter map[mapping.GoID]mapping.GoroutineState
	merged   int
}

func newExpect() *expect {
	return &expect{procs: map[mapping.ProcID]bool{}, ms: map[mapping.ThreadID]bool{},
		counters: map[string]int{}, groupAt: map[string]mapping.Time{}, goNames: map[mapping.GoID]string{},
		startFuncs: map[string]bool{}, lastRun: map[mapping.GoID]mapping.GoroutineState{},
		sysAfter: map[mapping.GoID]mapping.GoroutineState{}}
}

func (e *expect) Proc(p *mapping.Proc) error     { e.procs[p.ID] = true; return nil }
func (e *expect) Thread(m *mapping.Thread) error { e.ms[m.ID] = true; return nil }
func (e *expect) Goroutine(g *mapping.Goroutine) error {
	e.goNames[g.ID] = g.Name()
	e.startFuncs[g.StartFunc] = true
	return nil
}
func (e *expect) GoroutineState(s *mapping.GoroutineState) error {
	e.states++
	if s.State == mapping.GoRunning && e.procs[s.P] {
		e.onProc++
	}
	r, held := e.lastRun[s.G]
	y, inSys := e.sysAfter[s.G]
	delete(e.lastRun, s.G)
	delete(e.sysAfter, s.G)
	switch {
	case held && !inSys && s.State == mapping.GoSyscall && !s.Blocked && s.Start == r.End && s.P == r.P && s.M == r.M:
		e.lastRun[s.G], e.sysAfter[s.G] = r, *s
	case inSys && s.State == mapping.GoRunning && s.Start == y.End && s.P == r.P && s.M == r.M:
		// One slice fewer on the goroutine's row, and on the P's.
		e.states--
		if e.procs[s.P] {
			e.onProc--
		}
		e.merged++
		r.End = s.End
		e.lastRun[s.G] = r
	case s.State == mapping.GoRunning:
		e.lastRun[s.G] = *s
	}
	if s.State == mapping.GoSyscall && s.Blocked && e.ms[s.M] {
		e.onThread++
	}
	return nil
}

// ProcRun counts the Ps the Ms held, one at a time (mapping.HeldProcs,
// tested on its own; conformance checks each against its oracle).
func (e *expect) ProcRun(r *mapping.ProcRun) error {
	if e.held.Holds(r) {
		e.onThread++
	}
	return nil
}
func (e *expect) Region(*mapping.Region) error { e.regions++; return nil }
func (e *expect) Task(*mapping.Task) error     { e.tasks++; return nil }
func (e *expect) Range(*mapping.Range) error   { e.ranges++; return nil }
func (e *expect) Log(*mapping.Log) error       { e.logs++; return nil }
func (e *expect) GoroutineEvent(g *mapping.GoroutineEvent) error {
	if g.Kind == mapping.GoEnded {
		e.ends++
	}
	return nil
}
func (e *expect) Flow(*mapping.Flow) error           { e.flows++; return nil }
func (e *expect) CPUSample(*mapping.CPUSample) error { e.samples++; return nil }

// Counter counts the counter events: goroutines and threads by state are
// one counter each, with one event per time any of its series changes;
// every other counter has an event per sample.
func (e *expect) Counter(c *mapping.Counter) error {
	key := ""
	switch c.Kind {
	case mapping.CounterGoroutinesRunning, mapping.CounterGoroutinesRunnable,
		mapping.CounterGoroutinesWaiting, mapping.CounterGoroutinesSyscall:
		key = "3/Goroutines"
	case mapping.CounterThreadsRunning, mapping.CounterThreadsSyscall:
		key = "2/Threads"
	case mapping.CounterGOMAXPROCS:
		e.counters["1/"+c.Name]++
		return nil
	default:
		e.counters["5/"+c.Name]++
		return nil
	}
	if at, ok := e.groupAt[key]; !ok || at != c.Time {
		e.counters[key]++
	}
	e.groupAt[key] = c.Time
	return nil
}

// convert maps a trace into a Writer and the expectation at once.
func convert(t *testing.T, path string, opts ...chromejson.Option) ([]byte, *expect) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	e := newExpect()
	w := chromejson.NewWriter(&buf, append([]chromejson.Option{chromejson.WithVersion("test")}, opts...)...)
	if _, err := mapping.Map(f, mapping.FanOut(e, w), mapping.WithInputName(filepath.Base(path))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), e
}

// TestConvertAll converts every trace and checks that the output is
// valid (see chromecheck) and holds one slice, instant, counter event or
// flow for each item of the model.
func TestConvertAll(t *testing.T) {
	for _, path := range traces(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, e := convert(t, path)
			rep, err := chromecheck.Check(data)
			if err != nil {
				t.Fatalf("invalid output: %v", err)
			}
			for _, c := range []struct {
				ph, cat string
				want    int
			}{
				{"X", "goroutine", e.states},
				{"X", "proc", e.onProc},
				{"X", "thread", e.onThread},
				{"X", "region", e.regions},
				{"X", "gc", e.ranges},
				{"b", "task", e.tasks},
				{"e", "task", e.tasks},
				{"i", "log", e.logs},
				{"i", "goroutine", e.ends + e.flows},
				{"i", "cpu", e.samples},
				{"s", "flow", e.flows},
				{"f", "flow", e.flows},
			} {
				if got := rep.Count(c.ph, c.cat); got != c.want {
					t.Errorf("%d %q events of category %q, want %d", got, c.ph, c.cat, c.want)
				}
			}
			// Goroutine lifetimes enclose the states on their lanes.
			if got := rep.Count("X", "") - rep.Count("X", "lifetime"); got != e.states+e.onProc+e.onThread+e.regions+e.ranges {
				t.Errorf("%d slices in all but lifetimes, want %d", got, e.states+e.onProc+e.onThread+e.regions+e.ranges)
			}
			if e.states > 0 && rep.Count("X", "lifetime") == 0 {
				t.Error("no goroutine lifetime slices")
			}
			if rep.AsyncPairs["task"] != e.tasks {
				t.Errorf("%d task pairs, want %d", rep.AsyncPairs["task"], e.tasks)
			}
			if len(rep.Flows) != e.flows {
				t.Errorf("%d flows, want %d", len(rep.Flows), e.flows)
			}
			got := map[string]int{}
			for k, evs := range rep.Counters {
				got[k] = len(evs)
			}
			if fmt.Sprint(got) != fmt.Sprint(e.counters) {
				t.Errorf("counter events:\n got %v\nwant %v", got, e.counters)
			}
			checkFlowsBind(t, rep)
			checkNames(t, rep, e)
			checkLifetimesFirst(t, rep)
			in := fileSize(t, path)
			t.Logf("%d bytes in, %d out (%.1fx), %d events, %d stack frames", in, len(data), float64(len(data))/float64(in), len(rep.Events), len(rep.StackFrames))
		})
	}
}

// checkLifetimesFirst checks that no slice on a goroutine's lane begins
// with the lifetime slice that encloses it: catapult nests slices that
// begin together in the order of the file, and a lifetime is written
// after its states, when the goroutine ends; it would draw the state
// beside the goroutine, or the goroutine inside its first state.
func checkLifetimesFirst(t *testing.T, rep *chromecheck.Report) {
	t.Helper()
	bad := 0
	for _, evs := range rep.Slices {
		starts := map[int64]bool{}
		for _, e := range evs {
			if e.Cat == "lifetime" {
				starts[e.TS] = true
			}
		}
		for _, e := range evs {
			if e.Ph == "X" && e.Cat != "lifetime" && starts[e.TS] {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d slices begin with a goroutine's lifetime slice, on its row", bad)
	}
}

// checkFlowsBind checks that every flow finishes on the slice where its
// goroutine starts running, as catapult binds it. (Its start is on the
// instant of its cause, or on a slice that ends there: chromecheck checks
// there is one.)
func checkFlowsBind(t *testing.T, rep *chromecheck.Report) {
	t.Helper()
	bad := 0
	for _, f := range rep.Flows {
		fs := f.FinishSlice
		// A run of zero length cannot hold the finish; catapult binds it
		// to the slice before.
		if fs.Cat != "goroutine" || (fs.Name != "running" && fs.TS+fs.Dur != f.Finish.TS) || f.Finish.TS-fs.TS > 1 {
			if bad++; bad <= 3 {
				t.Errorf("flow %s finishes on %s", f.Finish.Raw, fs.Raw)
			}
		}
	}
}

// checkNames checks the processes and that rows have the names of what
// they show.
func checkNames(t *testing.T, rep *chromecheck.Report, e *expect) {
	t.Helper()
	want := map[int64]string{1: "Procs", 2: "Threads", 3: "Goroutines", 4: "Tasks", 5: "GC"}
	if fmt.Sprint(rep.ProcessNames) != fmt.Sprint(want) {
		t.Errorf("processes %v, want %v", rep.ProcessNames, want)
	}
	for row, name := range rep.ThreadNames {
		switch row.PID {
		case 2:
			// An M's row has its OS thread ID as tid (traces before Go
			// 1.22, which have none, number the Ms from 1, and a thread
			// 0, which only a trace written by hand has, gets a private
			// tid); the row of its syscalls that lost their P, one of
			// the private range.
			m, sys := strings.CutSuffix(name, " syscalls")
			tid := row.TID
			switch rep.Metadata["go-trace-format"] {
			case "go1.11", "go1.19", "go1.21":
				tid--
			}
			if m == "M0" && tid >= 1<<31 {
				tid = 0
			}
			if !sys && (tid < 0 || m != fmt.Sprintf("M%d", tid)) || sys && row.TID < 1<<31 || !strings.HasPrefix(m, "M") {
				t.Errorf("thread row %d named %q", row.TID, name)
			}
		case 3:
			// A goroutine's own lane, or a lane shared by the goroutines
			// of a start function: "<function> #<n>".
			var id mapping.GoID
			if _, err := fmt.Sscanf(name, "G%d", &id); err == nil {
				if !strings.HasPrefix(name, e.goNames[id]) {
					t.Errorf("goroutine row named %q, want %q", name, e.goNames[id])
				}
			} else if fn, _, ok := strings.Cut(name, " #"); !ok || !e.startFuncs[fn] {
				t.Errorf("goroutine row named %q: neither a goroutine nor a start function's lane", name)
			}
		}
		if row.PID != 2 && row.TID < 1<<31 {
			t.Errorf("row %q has tid %d, in the range of OS threads", name, row.TID)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// canonical returns the events of a file other than metadata, each as
// canonical JSON, sorted.
func canonical(t *testing.T, rep *chromecheck.Report) []string {
	t.Helper()
	var out []string
	for _, e := range rep.Events {
		if e.Ph == "M" || isRun(e) {
			continue
		}
		out = append(out, canonicalEvent(t, e))
	}
	slices.Sort(out)
	return out
}

// argsOf is e's arguments as JSON with their keys sorted.
func argsOf(t *testing.T, e *chromecheck.Event) string {
	t.Helper()
	b, err := json.Marshal(e.Args)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// canonicalEvent is e as JSON with its keys sorted.
func canonicalEvent(t *testing.T, e *chromecheck.Event) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// isRun says whether e is a running slice, on a goroutine's row or a P's.
func isRun(e *chromecheck.Event) bool {
	return e.Ph == "X" && (e.Cat == "proc" || e.Cat == "goroutine" && e.Name == "running")
}

// runPieces returns the running slices of rep as the runs between the
// syscalls that kept their P: a part of a split output ends with the
// runs it holds, which cuts a run with such a syscall in it where the
// whole output has one slice (see chromejson.Writer.GoroutineState).
// A piece is "row start end" for a goroutine's row, "P<n> G<id> start
// end" for a P's.
func runPieces(t *testing.T, reps ...*chromecheck.Report) []string {
	t.Helper()
	type span struct{ start, end int64 }
	sys := map[int64][]span{} // by goroutine, from every part: a part can end between a run and a syscall in it
	var runs []*chromecheck.Event
	for _, rep := range reps {
		for _, e := range rep.Events {
			if e.Ph == "X" && e.Cat == "goroutine" && e.Name == "syscall" {
				g := goArg(t, e)
				sys[g] = append(sys[g], span{e.TS, e.TS + e.Dur})
			}
			if isRun(e) {
				runs = append(runs, e)
			}
		}
	}
	for _, y := range sys {
		slices.SortFunc(y, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	}
	var out []string
	for _, e := range runs {
		var g int64
		key := fmt.Sprintf("%d/%d", e.PID, e.TID)
		if e.Cat == "proc" {
			if _, err := fmt.Sscanf(e.Name, "G%d", &g); err != nil {
				t.Fatalf("slice %s on a P's row names no goroutine", e.Raw)
			}
			key += " " + e.Name
		} else {
			g = goArg(t, e)
		}
		start, end := e.TS, e.TS+e.Dur
		for _, y := range sys[g] {
			if y.start >= start && y.end <= end {
				// A split output's run cut after many syscalls goes on
				// in a slice that begins with the next one.
				if y.start > start {
					out = append(out, fmt.Sprintf("%s %d %d", key, start, y.start))
				}
				start = y.end
			}
		}
		out = append(out, fmt.Sprintf("%s %d %d", key, start, end))
	}
	slices.Sort(out)
	return out
}

// goArg returns the goroutine argument of e.
func goArg(t *testing.T, e *chromecheck.Event) int64 {
	t.Helper()
	n, ok := e.Args["goroutine"].(json.Number)
	g, err := n.Int64()
	if !ok || err != nil {
		t.Fatalf("state %s has no goroutine argument", e.Raw)
	}
	return g
}

// TestSplit splits the largest sample, and one with CPU samples, into
// parts: each must be valid alone, name what it uses, carry the frames it
// refers to and list its own CPU samples, and together they must hold the
// events and samples of the whole.
func TestSplit(t *testing.T) {
	for _, path := range []string{"../../testdata/allocfree.go1.26.trace", "../../testdata/cpuprofile.go1.26.trace"} {
		t.Run(filepath.Base(path), func(t *testing.T) { testSplit(t, path) })
	}
}

func testSplit(t *testing.T, path string) {
	whole, _ := convert(t, path)
	wrep, err := chromecheck.Check(whole)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{int64(len(whole)) / 3, int64(len(whole)) / 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var parts []*bytes.Buffer
			w := chromejson.NewSplitWriter(limit, func(n int) (io.WriteCloser, error) {
				if n != len(parts)+1 {
					t.Fatalf("part %d opened after %d", n, len(parts))
				}
				parts = append(parts, new(bytes.Buffer))
				return nopCloser{parts[n-1]}, nil
			}, chromejson.WithVersion("test"))
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := mapping.Map(f, w, mapping.WithInputName(filepath.Base(path))); err != nil {
				t.Fatal(err)
			}
			if len(parts) < 3 || w.Parts() != len(parts) {
				t.Fatalf("%d parts (Parts says %d) of %d bytes, want several", len(parts), w.Parts(), len(whole))
			}
			var all []string
			var reps []*chromecheck.Report
			samples := 0
			// Each part after the first restates every counter an earlier
			// part has drawn, with its last value there, marked
			// "restated", at a time where the whole has that value: at the
			// value's own time or later, and before the part's own
			// values of it. The restated events are not the whole's.
			type value struct {
				ts   int64
				args string
			}
			whole := map[string][]value{} // by counter, in time order
			for _, e := range wrep.Events {
				if e.Ph == "C" {
					key := fmt.Sprint(e.PID, " ", e.Name)
					whole[key] = append(whole[key], value{e.TS, argsOf(t, e)})
				}
			}
			at := func(key string, ts int64) string {
				vs := whole[key]
				i := sort.Search(len(vs), func(i int) bool { return vs[i].ts > ts })
				if i == 0 {
					return ""
				}
				return vs[i-1].args
			}
			drawn := map[string]bool{}
			for i, p := range parts {
				rep, err := chromecheck.Check(p.Bytes())
				if err != nil {
					t.Fatalf("part %d: %v", i+1, err)
				}
				var kept []*chromecheck.Event
				restated := map[string]bool{}
				first := map[string]int64{} // a counter's first own time in the part
				for _, e := range rep.Events {
					if e.Ph == "C" && !isRestated(e) {
						key := fmt.Sprint(e.PID, " ", e.Name)
						if f, ok := first[key]; !ok || e.TS < f {
							first[key] = e.TS
						}
					}
				}
				// A counter's samples, restated ones included, are in
				// time order in the file: catapult keeps them in file
				// order and finds the ones in view by binary search.
				last := map[string]int64{}
				for _, e := range rep.Events {
					if e.Ph == "C" {
						key := fmt.Sprint(e.PID, " ", e.Name)
						if l, ok := last[key]; ok && e.TS < l {
							t.Errorf("part %d: counter %s at %d after one at %d in the file (restated %v)", i+1, key, e.TS, l, isRestated(e))
						}
						last[key] = e.TS
					}
				}
				for _, e := range rep.Events {
					if e.Ph == "C" && isRestated(e) {
						key := fmt.Sprint(e.PID, " ", e.Name)
						if i == 0 || restated[key] || !drawn[key] {
							t.Errorf("part %d restates %s: first part %v, twice %v, never drawn before %v", i+1, key, i == 0, restated[key], !drawn[key])
						}
						if got, want := argsOf(t, e), at(key, e.TS); got != want {
							t.Errorf("part %d restates %s at %d as %s; the whole has %s there", i+1, key, e.TS, got, want)
						}
						if f, ok := first[key]; ok && e.TS >= f {
							t.Errorf("part %d restates %s at %d, not before its own first value at %d", i+1, key, e.TS, f)
						}
						restated[key] = true
						continue
					}
					kept = append(kept, e)
				}
				for key := range drawn {
					if !restated[key] && !slices.ContainsFunc(kept, func(e *chromecheck.Event) bool { return e.Ph == "C" && fmt.Sprint(e.PID, " ", e.Name) == key }) {
						t.Errorf("part %d has no event of counter %s, which earlier parts draw", i+1, key)
					}
				}
				for _, e := range kept {
					if e.Ph == "C" {
						drawn[fmt.Sprint(e.PID, " ", e.Name)] = true
					}
				}
				rep.Events = kept
				if i < len(parts)-1 && int64(p.Len()) > limit+limit/4 {
					t.Errorf("part %d has %d bytes, limit %d", i+1, p.Len(), limit)
				}
				if got := rep.Metadata["part"]; fmt.Sprint(got) != fmt.Sprint(i+1) {
					t.Errorf("part %d says it is part %v", i+1, got)
				}
				all = append(all, canonical(t, rep)...)
				reps = append(reps, rep)
				samples += len(rep.Samples)
			}
			if samples != len(wrep.Samples) {
				t.Errorf("the parts list %d CPU samples, the whole %d", samples, len(wrep.Samples))
			}
			if runs, want := runPieces(t, reps...), runPieces(t, wrep); !slices.Equal(runs, want) {
				t.Errorf("the parts run %d pieces, the whole %d; they differ", len(runs), len(want))
				for i := range min(len(runs), len(want)) {
					if runs[i] != want[i] {
						t.Errorf("first difference:\n got %s\nwant %s", runs[i], want[i])
						break
					}
				}
			}
			slices.Sort(all)
			want := canonical(t, wrep)
			if !slices.Equal(all, want) {
				t.Errorf("the parts hold %d events, the whole %d; they differ", len(all), len(want))
				for i := range min(len(all), len(want)) {
					if all[i] != want[i] {
						t.Errorf("first difference:\n got %s\nwant %s", all[i], want[i])
						break
					}
				}
			}
		})
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// TestPretty checks that indented output holds the same events.
func TestPretty(t *testing.T) {
	path := "../../testdata/annotations.go1.26.trace"
	compact, _ := convert(t, path)
	pretty, _ := convert(t, path, chromejson.WithPretty(true))
	crep, err := chromecheck.Check(compact)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := chromecheck.Check(pretty)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(canonical(t, crep), canonical(t, prep)) {
		t.Error("pretty output holds other events")
	}
	if !bytes.Contains(pretty, []byte("\n    \"ph\": \"X\"")) {
		t.Errorf("pretty output is not indented:\n%.500s", pretty)
	}
	if n := bytes.Count(compact, []byte("\n")); n != len(crep.Events)+len(crep.StackFrames)+2 {
		t.Errorf("compact output has %d lines for %d events and %d frames, want one each and two more", n, len(crep.Events), len(crep.StackFrames))
	}
}

// failingWriter fails once it has taken n bytes.
type failingWriter struct{ n int }

var errFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriteError checks that the first write error stops the mapping and
// comes back from End.
func TestWriteError(t *testing.T) {
	for _, n := range []int{0, 100, 300 << 10} {
		f, err := os.Open("../../testdata/allocfree.go1.26.trace")
		if err != nil {
			t.Fatal(err)
		}
		w := chromejson.NewWriter(&failingWriter{n: n})
		_, err = mapping.Map(f, w)
		f.Close()
		if !errors.Is(err, errFull) {
			t.Errorf("after %d bytes: Map returned %v, want the write error", n, err)
		}
		if err := w.End(nil); !errors.Is(err, errFull) {
			t.Errorf("after %d bytes: End returned %v, want the write error", n, err)
		}
	}
	// A part that cannot be created is an error too.
	f, err := os.Open("../../testdata/gc.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := chromejson.NewSplitWriter(1<<20, func(int) (io.WriteCloser, error) { return nil, errFull })
	if _, err := mapping.Map(f, w); !errors.Is(err, errFull) {
		t.Errorf("Map returned %v, want the error of creating the part", err)
	}
	// One that gives no writer and no error is an error of its own, not
	// a panic of the Writer.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	w = chromejson.NewSplitWriter(1<<20, func(int) (io.WriteCloser, error) { return nil, nil })
	_, err = mapping.Map(f, w)
	if err == nil || errors.As(err, new(*mapping.SinkPanicError)) || !strings.Contains(err.Error(), "no writer") {
		t.Errorf("Map returned %v, want the create function said to give no writer", err)
	}
}

// TestSplitNoLimit checks that a split writer given no size (0 or less)
// writes one valid part, not a part per item.
func TestSplitNoLimit(t *testing.T) {
	for _, size := range []int64{0, -1} {
		var parts []*bytes.Buffer
		w := chromejson.NewSplitWriter(size, func(n int) (io.WriteCloser, error) {
			parts = append(parts, new(bytes.Buffer))
			return nopCloser{parts[n-1]}, nil
		})
		f, err := os.Open("../../testdata/gc.go1.26.trace")
		if err != nil {
			t.Fatal(err)
		}
		_, err = mapping.Map(f, w)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 1 {
			t.Fatalf("size %d: %d parts, want 1", size, len(parts))
		}
		if _, err := chromecheck.Check(parts[0].Bytes()); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
	}
}

// isRestated reports whether a counter event restates a value of an
// earlier part. It carries the same category as the part's own, so that
// catapult, which keys a counter by category and name, draws both on one
// row.
func isRestated(e *chromecheck.Event) bool {
	return bytes.Contains(e.Raw, []byte(`,"restated":true`)) && e.Cat == ""
}
