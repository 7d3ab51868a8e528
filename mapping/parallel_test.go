package mapping_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// callLog records every Sink call with every field of its item.
type callLog struct{ lines []string }

func (l *callLog) add(call string, item any) error {
	b, err := json.Marshal(item)
	if err != nil {
		return err
	}
	l.lines = append(l.lines, call+" "+string(b))
	return nil
}

func (l *callLog) Begin(m *mapping.Meta) error                    { return l.add("Begin", m) }
func (l *callLog) Stack(s *mapping.Stack) error                   { return l.add("Stack", s) }
func (l *callLog) Goroutine(g *mapping.Goroutine) error           { return l.add("Goroutine", g) }
func (l *callLog) Proc(p *mapping.Proc) error                     { return l.add("Proc", p) }
func (l *callLog) Thread(t *mapping.Thread) error                 { return l.add("Thread", t) }
func (l *callLog) GoroutineState(s *mapping.GoroutineState) error { return l.add("GoroutineState", s) }
func (l *callLog) ProcRun(r *mapping.ProcRun) error               { return l.add("ProcRun", r) }
func (l *callLog) Range(r *mapping.Range) error                   { return l.add("Range", r) }
func (l *callLog) Task(t *mapping.Task) error                     { return l.add("Task", t) }
func (l *callLog) Region(r *mapping.Region) error                 { return l.add("Region", r) }
func (l *callLog) Log(g *mapping.Log) error                       { return l.add("Log", g) }
func (l *callLog) GoroutineEvent(e *mapping.GoroutineEvent) error { return l.add("GoroutineEvent", e) }
func (l *callLog) Flow(f *mapping.Flow) error                     { return l.add("Flow", f) }
func (l *callLog) Counter(c *mapping.Counter) error               { return l.add("Counter", c) }
func (l *callLog) CPUSample(s *mapping.CPUSample) error           { return l.add("CPUSample", s) }
func (l *callLog) Experimental(x *mapping.Experimental) error     { return l.add("Experimental", x) }
func (l *callLog) End(s *mapping.Summary) error {
	cp := *s
	cp.Err = nil
	return l.add("End "+errText(s.Err), &cp)
}

// errText renders an error of a pass for comparison: of an *mapping.Error,
// what the pass found and how far it got, but not where in the input it
// places the damage, which a pass over a file can tell from the file's
// index and one over a stream cannot.
func errText(err error) string {
	var e *mapping.Error
	if errors.As(err, &e) {
		// The first line, as Error gives it: the parser's dump of its
		// state after it lists goroutines in map order.
		msg, _, _ := strings.Cut(e.Err.Error(), "\n")
		return fmt.Sprintf("%s: at byte %d after %d events in %d generations: %s", e.Input, e.Offset, e.Events, e.Generation, msg)
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// pass is what one pass over a trace gives: the sink's calls, the events
// the mapping was given, and the result.
type pass struct {
	calls     []string
	events    []string
	result    string
	fallbacks int
}

// eventString renders an event with the task details the mapping uses
// (read by the parser, not from the event on the mapping's goroutine).
// A Sync's count is left out: the mapping counts Syncs itself.
func eventString(ev *trace.Event, task trace.Task) string {
	switch ev.Kind() {
	case trace.EventSync:
		s := ev.Sync()
		clock := ""
		if c := s.ClockSnapshot; c != nil {
			clock = fmt.Sprintf("%d %d %v", c.Trace, c.Mono, c.Wall.UnixNano())
		}
		return fmt.Sprintf("Sync Time=%d clock=%s experiments=%d", ev.Time(), clock, len(s.ExperimentalBatches))
	case trace.EventTaskBegin, trace.EventTaskEnd:
		return fmt.Sprintf("M=%d P=%d G=%d %v Time=%d %+v", ev.Thread(), ev.Proc(), ev.Goroutine(), ev.Kind(), ev.Time(), task)
	}
	return ev.String()
}

// mapBoth maps data with one reader (Map) and in parallel with a group
// per n generations on workers goroutines (MapFile).
func mapBoth(t *testing.T, data []byte, n, workers int, parOpts ...mapping.Option) (seq, par pass) {
	t.Helper()
	return mapBothWith(t, data, func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error) {
		return mapping.Map(r, sink, opts...)
	}, func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error) {
		opts = append(opts, mapping.WithWorkers(workers), mapping.WithGroupGenerations(n))
		return mapping.MapFile(r, r.Size(), sink, append(opts, parOpts...)...)
	})
}

type mapFunc func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error)

// mapBothWith maps data with one and with another pass.
func mapBothWith(t *testing.T, data []byte, one, other mapFunc) (seq, par pass) {
	t.Helper()
	run := func(p *pass, parallel bool) {
		sink := &callLog{}
		opts := []mapping.Option{
			mapping.WithTap(func(ev *trace.Event, task trace.Task) { p.events = append(p.events, eventString(ev, task)) }),
			mapping.WithExperimentalEvents(),
		}
		opts = append(opts, mapping.WithFallbacks(func() { p.fallbacks++ }))
		pass := one
		if parallel {
			pass = other
		}
		sum, err := pass(bytes.NewReader(data), sink, opts...)
		p.calls = sink.lines
		p.result = "error " + errText(err)
		if sum != nil {
			cp := *sum
			cp.Err = nil
			b, jerr := json.Marshal(&cp)
			if jerr != nil {
				t.Fatal(jerr)
			}
			p.result += " summary " + string(b)
		}
	}
	run(&seq, false)
	run(&par, true)
	return seq, par
}

// samePass requires the parallel pass to give what the single reader
// gives: the same events to the mapping, the same sink calls and the
// same result; and, unless fallbacks is negative, to have gone on with
// one reader that many times.
func samePass(t *testing.T, seq, par pass, fallbacks int) {
	t.Helper()
	if fallbacks >= 0 && par.fallbacks != fallbacks {
		t.Errorf("the parallel pass went on with one reader %d times, want %d", par.fallbacks, fallbacks)
	}
	sameLines(t, "events", seq.events, par.events)
	sameLines(t, "sink calls", canonical(seq.calls), canonical(par.calls))
	if canonicalError(seq.result) != canonicalError(par.result) {
		t.Errorf("result with one reader:\n%s\nin parallel:\n%s", seq.result, par.result)
	}
}

// badStackRE matches the parser's report of a broken stack table. It
// names the first bad stack it finds in a map, whose order differs from
// one reader to the next: two readers of the same broken bytes can name
// different stacks.
var badStackRE = regexp.MustCompile(`found (unknown pc [0-9a-f]+|invalid (func|file) string ID [0-9]+) for stack [0-9]+`)

// canonicalError is s with the parser's choice of a bad stack left out.
func canonicalError(s string) string {
	return badStackRE.ReplaceAllString(s, "found a bad frame in a stack")
}

func canonical(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = canonicalError(l)
	}
	return out
}

// sameLines reports the first difference between two sequences.
func sameLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Errorf("%s %d of %d differs:\n one reader: %s\n parallel:   %s", what, i, len(want), want[i], got[i])
			return
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d %s with one reader, %d in parallel", len(want), what, len(got))
	}
}

var recorded struct {
	sync.Once
	data []byte
}

// recordedOnce is a trace of this process of three rounds (see
// synth.RecordGenerations), recorded once for the tests that share it.
func recordedOnce(t *testing.T) []byte {
	recorded.Do(func() { recorded.data = recordGenerations(t, 3) })
	if recorded.data == nil {
		t.Fatal("no trace recorded")
	}
	return recorded.data
}

// withGenerations adds to traces every test trace with n generations or
// more, and returns it. With runtimeOnly, it leaves out Go's hand-written
// parser tests, whose generations need not restate every P (see
// testtraces.IsGoTest).
func withGenerations(t *testing.T, n int, runtimeOnly bool, traces map[string][]byte) map[string][]byte {
	t.Helper()
	for _, f := range testtraces.All(t, "..") {
		if runtimeOnly && testtraces.IsGoTest(f) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
		if err == nil && len(idx.Generations) >= n {
			traces[filepath.Base(f)] = data
		}
	}
	return traces
}

// TestParallelConformance maps every trace of several generations with
// one reader and in parallel, split at every generation and in pairs, and
// requires the same sink calls with the same items, the same events given
// to the mapping, and the same result; and that every join was proven,
// so that the parallel pass did not fall back to one reader. Go's
// hand-written parser tests may leave a P out of a generation, which the
// join rightly refuses to prove: there the parallel pass must go on with
// one reader and give the same items.
func TestParallelConformance(t *testing.T) {
	traces := withGenerations(t, 2, true, map[string][]byte{"recorded": recordedOnce(t)})
	fallbacks := map[string]int{}
	for name := range traces {
		fallbacks[name] = 0
	}
	traces = withGenerations(t, 2, false, traces)
	for name, data := range traces {
		want, ok := fallbacks[name]
		if !ok {
			want = -1
		}
		for _, cfg := range []struct{ gens, workers int }{{1, 4}, {2, 2}} {
			t.Run(fmt.Sprintf("%s/%dgen/%dworkers", name, cfg.gens, cfg.workers), func(t *testing.T) {
				seq, par := mapBoth(t, data, cfg.gens, cfg.workers)
				samePass(t, seq, par, want)
			})
		}
	}
}

// TestDecodedBatches maps every trace of several generations with one
// reader whose batches the mapping decodes itself, and again with the
// parser decoding some batches (all, or every other one, as when the
// mapping falls behind now and then), and requires the same sink calls
// and result: a generation's stack handles are looked up in both places.
func TestDecodedBatches(t *testing.T) {
	traces := withGenerations(t, 2, false, map[string][]byte{"recorded": recordedOnce(t)})
	withDecode := func(decode func(int) bool) mapFunc {
		return func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error) {
			return mapping.Map(r, sink, append(opts, mapping.WithDecode(decode))...)
		}
	}
	none := withDecode(func(int) bool { return false })
	for name, data := range traces {
		for _, d := range []struct {
			name   string
			decode func(int) bool
		}{
			{"all", func(int) bool { return true }},
			{"even", func(n int) bool { return n%2 == 0 }},
			{"odd", func(n int) bool { return n%2 == 1 }},
		} {
			t.Run(name+"/"+d.name, func(t *testing.T) {
				seq, par := mapBothWith(t, data, none, withDecode(d.decode))
				samePass(t, seq, par, 0)
			})
		}
	}
}

// TestParallelTaskBeforeLeadIn checks that a task begun before a group's
// lead-in ends with its type and parent, as the parser gives them to a
// single reader that saw the begin.
func TestParallelTaskBeforeLeadIn(t *testing.T) {
	data := recordedOnce(t)
	seq, par := mapBoth(t, data, 1, 4)
	var ends []string
	for _, e := range par.events {
		if bytes.Contains([]byte(e), []byte("TaskEnd")) && bytes.Contains([]byte(e), []byte("Type:inner")) {
			ends = append(ends, e)
		}
	}
	if len(ends) != 1 {
		t.Fatalf("%d ends of the task \"inner\" with its type, want 1", len(ends))
	}
	if strings.Contains(ends[0], fmt.Sprintf("Parent:%d ", trace.NoTask)) {
		t.Errorf("the end of \"inner\" lost its parent: %s", ends[0])
	}
	sameLines(t, "events", seq.events, par.events)
}

// TestParallelBrokenTrace corrupts and cuts a trace of several
// generations and requires the parallel pass to deliver what one reader
// delivers, and to fail with the same error.
func TestParallelBrokenTrace(t *testing.T) {
	data := recordedOnce(t)
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	if len(gens) < 4 {
		t.Fatalf("%d generations recorded, want 4 or more", len(gens))
	}
	type variant struct {
		name string
		data []byte
	}
	var variants []variant
	// A corruption that the index passes over and the parser stops at:
	// bytes overwritten inside a batch, past its header, found by trying.
	corrupt := func(g tracefile.Generation) []byte {
		for k := int64(1); k < 16; k++ {
			bad := bytes.Clone(data)
			for i := range min(24, g.Size/16) {
				bad[g.Offset+g.Size*k/16+i] = 0xff
			}
			if x, err := tracefile.Read(bytes.NewReader(bad), int64(len(bad))); err != nil || x.Size != int64(len(bad)) {
				continue
			}
			if r, err := trace.NewReader(bytes.NewReader(bad)); err == nil {
				for {
					if _, err = r.ReadEvent(); err != nil {
						break
					}
				}
				if err != io.EOF {
					return bad
				}
			}
		}
		t.Fatalf("no corruption of generation %d found that the parser reports", g.Number)
		return nil
	}
	g1, mid, last := gens[1], gens[len(gens)/2], gens[len(gens)-2]
	variants = append(variants,
		variant{"cut-after-1", data[:g1.Offset+g1.Size]},
		variant{"cut-inside-1", data[:g1.Offset+g1.Size/2]},
		variant{"cut-after-last-but-one", data[:last.Offset+last.Size]},
		variant{"corrupt-1", corrupt(g1)},
		variant{"corrupt-middle", corrupt(mid)},
		// A process killed while it traced to a file: its last
		// generation has no end mark, and reads as the last.
		variant{"unfinished", data[:len(data)-1]},
	)
	splitErrors := 0
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			seq, par := mapBoth(t, v.data, 1, 4)
			samePass(t, seq, par, -1)
			x, err := tracefile.Read(bytes.NewReader(v.data), int64(len(v.data)))
			if err == nil && x.Size == int64(len(v.data)) && len(x.Generations) >= 2 && !bytes.HasPrefix([]byte(seq.result), []byte("error <nil>")) {
				splitErrors++
			}
		})
	}
	if splitErrors == 0 {
		t.Error("no broken variant went through the parallel pass to an error")
	}
}

// TestParallelRefusedJoin refuses each join in turn: the pass goes on
// with one reader from there, and delivers the same.
func TestParallelRefusedJoin(t *testing.T) {
	data := recordedOnce(t)
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			seq, par := mapBoth(t, data, 1, 4, mapping.WithRefusedJoins(func(g int) bool { return g == k }))
			samePass(t, seq, par, 1)
		})
	}
}

// TestParallelWindow compares MapWindow with one reader and in parallel,
// for windows that start after the first generation.
func TestParallelWindow(t *testing.T) {
	data := recordedOnce(t)
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	start := time.Duration(gens[0].Start)
	for _, w := range [][2]int{{2, len(gens) - 2}, {len(gens) / 2, len(gens) - 1}} {
		from := mapping.Bound{Offset: time.Duration(gens[w[0]].End) - start, Set: true}
		to := mapping.Bound{Offset: time.Duration(gens[w[1]].Start) - start, Set: true}
		t.Run(fmt.Sprintf("%v-%v", from.Offset, to.Offset), func(t *testing.T) {
			window := func(workers int) mapFunc {
				return func(r *bytes.Reader, sink mapping.Sink, opts ...mapping.Option) (*mapping.Summary, error) {
					opts = append(opts, mapping.WithWorkers(workers), mapping.WithGroupGenerations(1))
					flt := &mapping.Filter{From: from, To: to}
					return mapping.MapWindow(r, r.Size(), from, to, flt.Sink(sink), opts...)
				}
			}
			seq, par := mapBothWith(t, data, window(1), window(4))
			samePass(t, seq, par, 0)
			if !strings.Contains(seq.result, `"Generations":`) || strings.Contains(seq.result, fmt.Sprintf(`"Generations":%d,`, len(gens))) {
				t.Errorf("the window read every generation: %s", seq.result)
			}
		})
	}
}

// TestOneParserByDefault checks that a file is parsed on one goroutine
// unless more are asked for, however many cores there are: parsing
// ahead holds each group's events decoded, many times the memory of one
// parser, for little speed (see WithWorkers).
func TestOneParserByDefault(t *testing.T) {
	data := recordedOnce(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	for _, c := range []struct {
		opts     []mapping.Option
		parallel bool
	}{
		{nil, false},
		{[]mapping.Option{mapping.WithWorkers(0)}, false},
		{[]mapping.Option{mapping.WithWorkers(1)}, false},
		{[]mapping.Option{mapping.WithWorkers(3)}, true},
	} {
		var st mapping.PassStats
		opts := append([]mapping.Option{mapping.WithStats(&st), mapping.WithGroupGenerations(1)}, c.opts...)
		if _, err := mapping.MapFile(bytes.NewReader(data), int64(len(data)), mapping.NopSink{}, opts...); err != nil {
			t.Fatal(err)
		}
		if got := st.Groups() > 0; got != c.parallel {
			t.Errorf("with %d options: %d groups parsed apart, want parallel %v", len(c.opts), st.Groups(), c.parallel)
		}
	}
}
