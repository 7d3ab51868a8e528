package conformance

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

var corpusGlob = flag.String("corpus", filepath.Join("..", "testdata", "*.trace"),
	"`glob` of the traces that TestCorpus and TestStatsJSON check")

// corpus returns the project's trace corpus. An empty corpus fails the
// test: a glob that matches nothing would otherwise pass silently.
func corpus(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(*corpusGlob)
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("no traces match %s: generate the corpus first (make testdata)", *corpusGlob)
	}
	return files
}

// goroot asks the go command for GOROOT. go test puts GOROOT/bin first on
// PATH, so "go" is the toolchain running the tests.
var goroot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// goTraces returns Go's own test traces: those in the old formats (Go
// 1.11 to 1.21) that Go publishes with its own trace parser, read where the
// toolchain keeps them, and the parser tests of the formats since Go 1.22
// that Go expects to parse, written out from their text form.
func goTraces(t *testing.T) []string {
	t.Helper()
	root, err := goroot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "src", "internal", "trace", "internal", "tracev1", "testdata")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("Go's old-format test traces: %v", err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		t.Fatalf("no traces in %s", dir)
	}
	good, _ := testtraces.GoTests(t, "..")
	return append(files, good...)
}

// asUTF8 is what every output makes of a string from the trace: each byte
// that is not part of a valid UTF-8 encoding becomes U+FFFD. Go's own
// conversion of a string to []rune does exactly that, apart from the code
// under test.
func asUTF8(s string) string { return string([]rune(s)) }

// asPerfetto is what the Perfetto output makes of a string from the
// trace: asUTF8, and U+FFFD for each NUL too, which would end the
// string in the trace processor's answers to the UI.
func asPerfetto(s string) string { return strings.ReplaceAll(asUTF8(s), "\x00", "\uFFFD") }

// logEntry is a log as an output shows it.
type logEntry struct {
	time     int64
	cat, msg string
}

// logEntryOf reads a log instant of either output: the trace's time of
// it and its category and message arguments.
func logEntryOf(time int64, args map[string]any) logEntry {
	c, _ := args["category"].(string)
	m, _ := args["message"].(string)
	return logEntry{time, c, m}
}

// compareLogs compares the logs an output holds with the model's, by
// time, category and message.
func compareLogs(t *testing.T, what string, rec *recorder, got []logEntry, fix func(string) string) {
	t.Helper()
	var want []logEntry
	for _, l := range rec.logs {
		want = append(want, logEntry{int64(l.Time), fix(l.Category), fix(l.Message)})
	}
	diffMultiset(t, what, want, got, func(l logEntry) string {
		return fmt.Sprintf("%d %q %q", l.time, l.cat, l.msg)
	})
}

// flowName is the name both outputs give a goroutine flow.
func flowName(k mapping.GoEventKind) string {
	return [...]string{mapping.GoCreated: "go", mapping.GoUnblocked: "unblock", mapping.GoSyscallExitBlocked: "syscall exit"}[k]
}

// TestCorpus checks the mapping of every trace in the corpus against the
// oracle.
func TestCorpus(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			checkTrace(t, f)
		})
	}
}

// regressionGlob matches traces kept with this package because they show
// what the corpus does not, or not reliably: the corpus is regenerated,
// and as its traces record timings, an interleaving caught once can
// vanish. testdata/gen holds the programs that wrote them.
//
//   - openstartend-task-named-after-end: from the corpus's own
//     openstartend program, a run in which a region of task 2, begun in an
//     earlier tracing session, ends after task 2 itself ended.
//   - generations (edges -scenario generations): two generations; a task
//     and a region begun before the trace end in the second, and another
//     task and region cross from the first into the second.
//   - window (edges -scenario window): a flight recorder snapshot whose
//     first generation is not the recording's first; a task and region
//     begun before the window end in its second generation.
//   - nestedopen (edges -scenario nestedopen): two nested regions begun
//     before the trace end inside it.
//   - goexit (edges -scenario goexit): a goroutine exits with two regions
//     open.
//   - cgoreuse (cgoreuse): threads created in C call into Go one after the
//     other, and each gets the same goroutine ID.
//   - latesample (latesample): a CPU sample of a goroutine written after
//     the goroutine ended.
const regressionGlob = "testdata/*.trace"

// regressionTraces returns this package's own traces.
func regressionTraces(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(regressionGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no traces match %s (%v)", regressionGlob, err)
	}
	return files
}

// TestRegressionTraces checks the mapping of this package's own traces
// against the oracle.
func TestRegressionTraces(t *testing.T) {
	for _, f := range regressionTraces(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			checkTrace(t, f)
		})
	}
}

// TestGoTraces checks the mapping of Go's own test traces: the old-format
// ones, which x/exp/trace converts to the new event model, and the parser
// tests of the new formats.
func TestGoTraces(t *testing.T) {
	for _, f := range goTraces(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			checkTrace(t, f)
		})
	}
}

// readOracle reads the oracle for the trace in file.
func readOracle(t *testing.T, file string) (*Oracle, []byte) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Read(bytes.NewReader(data))
	if err != nil {
		// Every trace checked here is a good one; the parser failing on
		// it leaves nothing to compare with.
		t.Fatalf("oracle: %v", err)
	}
	if !o.EndSync {
		t.Errorf("oracle: the trace does not end with a Sync event")
	}
	return o, data
}

// checkTrace maps one trace and compares the result with the oracle.
func checkTrace(t *testing.T, file string) {
	o, data := readOracle(t, file)
	rec, sum := mapTrace(t, file, data)
	if sum != nil {
		compare(t, o, rec, sum)
	}
}

// mapTrace runs mapping.Map over data with a recorder.
func mapTrace(t *testing.T, file string, data []byte) (*recorder, *mapping.Summary) {
	t.Helper()
	rec := newRecorder()
	sum, err := mapping.Map(bytes.NewReader(data), rec, mapping.WithInputName(filepath.Base(file)))
	if err != nil {
		t.Errorf("Map: %v", err)
	}
	return rec, sum
}

// reporter is the part of testing.T the comparison uses, so that the
// harness's own test can collect what it reports.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// compare checks what the mapping delivered against the oracle and the
// model's invariants, reporting every disagreement to r.
func compare(r reporter, o *Oracle, rec *recorder, sum *mapping.Summary) {
	r.Helper()
	for _, p := range rec.problems {
		r.Errorf("delivery: %s", p)
	}
	if rec.summary == nil {
		r.Errorf("Sink.End was never called")
	}
	c := &checker{t: r, o: o, rec: rec}
	c.summary(sum)
	c.tasks()
	c.regions()
	c.regionTimes()
	c.logs()
	c.goroutines()
	c.ranges()
	c.samples()
	c.goroutineStates()
	c.procRuns()
	c.flows()
	c.regionNesting()
}

type checker struct {
	t   reporter
	o   *Oracle
	rec *recorder
}

// at shows a timestamp as an offset from the trace start, which is
// shorter to read than the raw clock and the same for both sides.
func (c *checker) at(x int64) string {
	return fmt.Sprintf("+%d", x-int64(c.o.Start))
}

// maxShown is how many differences of one kind a report lists.
const maxShown = 5

// report reports the problems of one kind found, the first few in full.
func (c *checker) report(what string, bad []string) {
	c.t.Helper()
	n := len(bad)
	if n == 0 {
		return
	}
	if n > maxShown {
		bad = append(bad[:maxShown:maxShown], fmt.Sprintf("... and %d more", n-maxShown))
	}
	c.t.Errorf("%s: %d bad (times are ns after the trace start):\n\t%s", what, n, strings.Join(bad, "\n\t"))
}

// diffMultiset reports the elements of want and got that the other lacks,
// counting repeats: every element must appear exactly as often in both.
func diffMultiset[K comparable](t reporter, what string, want, got []K, show func(K) string) {
	t.Helper()
	count := make(map[K]int)
	for _, k := range want {
		count[k]++
	}
	for _, k := range got {
		count[k]--
	}
	var missing, extra []string
	for k, n := range count {
		switch {
		case n > 0:
			missing = append(missing, fmt.Sprintf("%s (x%d)", show(k), n))
		case n < 0:
			extra = append(extra, fmt.Sprintf("%s (x%d)", show(k), -n))
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	slices.Sort(missing)
	slices.Sort(extra)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d in the oracle, %d delivered; %d missing, %d unexpected or wrong (times are ns after the trace start)",
		what, len(want), len(got), len(missing), len(extra))
	list := func(label string, xs []string) {
		for i, x := range xs {
			if i == maxShown {
				fmt.Fprintf(&b, "\n\t... and %d more", len(xs)-maxShown)
				break
			}
			fmt.Fprintf(&b, "\n\t%s %s", label, x)
		}
	}
	list("missing:   ", missing)
	list("unexpected:", extra)
	t.Errorf("%s", b.String())
}

// span is what the model should say about an oracle span: an unknown
// begin is the trace start with OpenStart, an unknown end the trace end
// with OpenEnd (see mapping.Flags). The trace start is right whatever
// generation the item first shows up in: a trace loses no events between
// its start and its end, so a begin that is not in it came before it.
func (c *checker) span(s Span) (start, end int64, f mapping.Flags) {
	start, end = int64(s.Begin), int64(s.End)
	if !s.HasBegin {
		start, f = int64(c.o.Start), f|mapping.OpenStart
	}
	if !s.HasEnd {
		end, f = int64(c.o.End), f|mapping.OpenEnd
	}
	return c.tm(start), c.tm(end), f
}

// tm is the time to compare: the time itself, except in an old-format
// trace, where the parser does not decide the exact times of tied events
// (see Oracle.OldFormat) and a time stands for its run of ties.
func (c *checker) tm(x int64) int64 {
	if c.o.OldFormat() {
		if s, ok := c.o.Ties[trace.Time(x)]; ok {
			return int64(s)
		}
	}
	return x
}

func (c *checker) summary(sum *mapping.Summary) {
	t, o := c.t, c.o
	if got := int64(sum.Start); got != int64(o.Start) {
		t.Errorf("Summary.Start = %d, want the first Sync's time %d", got, o.Start)
	}
	if c.rec.meta != nil && c.rec.meta.Start != sum.Start {
		t.Errorf("Meta.Start = %d at Begin, but Summary.Start = %d", c.rec.meta.Start, sum.Start)
	}
	if got := int64(sum.End); got != int64(o.End) {
		t.Errorf("Summary.End = %d (%s), want the last event's time %d (%s)", got, c.at(got), o.End, c.at(int64(o.End)))
	}
	if want := max(o.Syncs-1, 0); sum.Generations != want {
		t.Errorf("Summary.Generations = %d, want %d (one per Sync after the first)", sum.Generations, want)
	}
	if sum.Events != o.Events {
		t.Errorf("Summary.Events = %d, want %d", sum.Events, o.Events)
	}
	if sum.Err != nil {
		t.Errorf("Summary.Err = %v", sum.Err)
	}
}

type taskKey struct {
	ID         mapping.TaskID
	Start, End int64
	Flags      mapping.Flags
}

func (c *checker) tasks() {
	showKey := func(k taskKey) string {
		return fmt.Sprintf("task %d [%s, %s] %v", k.ID, c.at(k.Start), c.at(k.End), k.Flags)
	}
	var want, got []taskKey
	var bad []string
	type detail struct {
		typ       string
		typeKnown bool
		parent    mapping.TaskID
		parentOK  bool
	}
	details := make(map[taskKey]detail)
	for _, k := range c.o.Tasks {
		s, e, f := c.span(k.Span)
		key := taskKey{mapping.TaskID(k.ID), s, e, f}
		want = append(want, key)
		// The parent is known from a begin, or from an end that names one.
		details[key] = detail{k.Type, k.TypeKnown, mapping.TaskID(k.Parent), k.HasBegin || k.Parent != 0}
	}
	for _, k := range c.rec.tasks {
		key := taskKey{k.ID, c.tm(int64(k.Start)), c.tm(int64(k.End)), k.Flags}
		got = append(got, key)
		d, ok := details[key]
		if !ok {
			continue
		}
		if d.typeKnown && k.Type != d.typ {
			bad = append(bad, fmt.Sprintf("%s: Type = %q, want %q", showKey(key), k.Type, d.typ))
		}
		if d.parentOK && k.Parent != d.parent {
			bad = append(bad, fmt.Sprintf("%s: Parent = %d, want %d", showKey(key), k.Parent, d.parent))
		}
	}
	diffMultiset(c.t, "tasks", want, got, showKey)
	c.report("task types and parents", bad)
}

type regionKey struct {
	G          mapping.GoID
	Type       string
	Task       mapping.TaskID
	Start, End int64
	Flags      mapping.Flags
	GoEnded    bool // its goroutine exited with it open
}

func (c *checker) regions() {
	var want, got []regionKey
	for _, r := range c.o.Regions {
		s, e, f := c.span(r.Span)
		if !r.HasBegin {
			// Regions open at the trace start nest, and mapping.OpenStart
			// keeps that visible: each starts a nanosecond before the
			// trace start for each of them it encloses.
			s = c.tm(int64(c.o.Start) - int64(r.Encloses))
		}
		if r.HasGoExit {
			// A region cannot outlive its goroutine: package mapping
			// documents that the regions of a goroutine that ends are
			// closed when it ends, still marked OpenEnd as their end is not
			// in the trace.
			e = c.tm(int64(r.GoExit))
		}
		want = append(want, regionKey{mapping.GoID(r.G), r.Type, mapping.TaskID(r.Task), s, e, f, r.HasGoExit})
	}
	for _, r := range c.rec.regions {
		got = append(got, regionKey{r.G, r.Type, r.Task, c.tm(int64(r.Start)), c.tm(int64(r.End)), r.Flags, r.GoroutineEnded})
	}
	diffMultiset(c.t, "regions", want, got, func(k regionKey) string {
		return fmt.Sprintf("region G%d %q task %d [%s, %s] %v goroutine ended %v", k.G, k.Type, k.Task, c.at(k.Start), c.at(k.End), k.Flags, k.GoEnded)
	})
}

// regionTimes checks where each region's goroutine spent the region's
// time: for a region begun in the trace, the oracle's sum of its
// goroutine's states by kind, from the transitions, and none for one
// begun before it.
func (c *checker) regionTimes() {
	type timesKey struct {
		G          mapping.GoID
		Type       string
		Start, End int64
		Timed      bool
		Times      StateTimes
	}
	var want, got []timesKey
	for _, r := range c.o.Regions {
		if r.HasBegin {
			s, e, _ := c.span(r.Span)
			if r.HasGoExit {
				e = c.tm(int64(r.GoExit))
			}
			want = append(want, timesKey{mapping.GoID(r.G), r.Type, s, e, true, r.Times})
		}
	}
	for _, r := range c.rec.regions {
		if r.Timed {
			t := r.Time
			got = append(got, timesKey{r.G, r.Type, c.tm(int64(r.Start)), c.tm(int64(r.End)), true,
				StateTimes{int64(t.Running), int64(t.Runnable), int64(t.Syscall), int64(t.Waiting), int64(t.Network), int64(t.Sync),
					int64(t.STW), int64(t.MarkAssist), int64(t.Sweep)}})
		} else if !r.Flags.Has(mapping.OpenStart) {
			c.t.Errorf("region G%d %q at %s: begun in the trace, but without its times", r.G, r.Type, c.at(int64(r.Start)))
		}
	}
	diffMultiset(c.t, "region times", want, got, func(k timesKey) string {
		return fmt.Sprintf("region G%d %q [%s, %s] %+v", k.G, k.Type, c.at(k.Start), c.at(k.End), k.Times)
	})
}

type logKey struct {
	Time              int64
	G                 mapping.GoID
	Task              mapping.TaskID
	Category, Message string
}

func (c *checker) logs() {
	var want, got []logKey
	for _, l := range c.o.Logs {
		want = append(want, logKey{c.tm(int64(l.Time)), mapping.GoID(l.G), mapping.TaskID(l.Task), l.Category, l.Message})
	}
	for _, l := range c.rec.logs {
		got = append(got, logKey{c.tm(int64(l.Time)), l.G, l.Task, l.Category, l.Message})
	}
	diffMultiset(c.t, "logs", want, got, func(k logKey) string {
		return fmt.Sprintf("log at %s G%d task %d %q %q", c.at(k.Time), k.G, k.Task, k.Category, k.Message)
	})
}

// goroutines checks that every goroutine the trace names was delivered
// once, none other, and with its creation as the trace tells it.
func (c *checker) goroutines() {
	var extra, twice, missing []mapping.GoID
	for g, n := range c.rec.goroutines {
		switch {
		case c.o.Goroutines[trace.GoID(g)] == nil:
			extra = append(extra, g)
		case n != c.o.Goroutines[trace.GoID(g)].Lives:
			// A reused ID (cgo callbacks on C threads) is delivered
			// once per life.
			twice = append(twice, g)
		}
	}
	var created []string
	for _, g := range slices.Sorted(maps.Keys(c.o.Goroutines)) {
		id := mapping.GoID(g)
		if c.rec.goroutines[id] == 0 {
			missing = append(missing, id)
			continue
		}
		og, info := c.o.Goroutines[g], c.rec.firstG[id]
		want, flags := int64(c.o.Start), mapping.OpenStart
		if og.HasCreated {
			want, flags = int64(og.Created), 0
		}
		if c.tm(int64(info.Created)) != c.tm(want) || info.Flags != flags {
			created = append(created, fmt.Sprintf("G%d: Created %s %v, want %s %v",
				g, c.at(int64(info.Created)), info.Flags, c.at(want), flags))
		}
	}
	show := func(gs []mapping.GoID) string {
		slices.Sort(gs)
		var parts []string
		for i, g := range gs {
			if i == maxShown {
				parts = append(parts, fmt.Sprintf("... and %d more", len(gs)-maxShown))
				break
			}
			parts = append(parts, fmt.Sprintf("G%d (delivered %d times)", g, c.rec.goroutines[g]))
		}
		return strings.Join(parts, ", ")
	}
	if len(missing) > 0 {
		c.t.Errorf("goroutines: %d named in the trace but never delivered: %s", len(missing), show(missing))
	}
	if len(extra) > 0 {
		c.t.Errorf("goroutines: %d delivered but never named in the trace: %s", len(extra), show(extra))
	}
	if len(twice) > 0 {
		c.t.Errorf("goroutines: %d delivered without Updated other than once per life: %s", len(twice), show(twice))
	}
	c.report("goroutine creations", created)
}

type rangeKey struct {
	Name       string
	Scope      trace.ResourceKind
	ID         int64
	Start, End int64
	Flags      mapping.Flags
	Attrs      string
}

// attrString shows a range's attributes, in order, as one comparable
// string.
func attrString[A any](attrs []A, nv func(A) (string, uint64)) string {
	var parts []string
	for _, a := range attrs {
		name, value := nv(a)
		parts = append(parts, fmt.Sprintf("%s=%d", name, value))
	}
	return strings.Join(parts, ",")
}

// rangeKindOf is what the model should call a range of this name. It is
// the documentation of mapping.RangeKind written as a table, not the
// mapping's code.
func rangeKindOf(name string) (mapping.RangeKind, string) {
	if r, ok := strings.CutPrefix(name, "stop-the-world ("); ok && strings.HasSuffix(r, ")") {
		return mapping.RangeSTW, r[:len(r)-1]
	}
	kind, ok := map[string]mapping.RangeKind{
		"GC concurrent mark phase": mapping.RangeGCMark,
		"GC incremental sweep":     mapping.RangeSweep,
		"GC mark assist":           mapping.RangeMarkAssist,
	}[name]
	if !ok {
		return mapping.RangeOther, ""
	}
	return kind, ""
}

func (c *checker) ranges() {
	var want, got []rangeKey
	for _, r := range c.o.Ranges {
		s, e, f := c.span(r.Span)
		attrs := attrString(r.Attrs, func(a Attr) (string, uint64) { return a.Name, a.Value })
		want = append(want, rangeKey{r.Name, r.Scope, r.ID, s, e, f, attrs})
	}
	var gcBegun []mapping.Range
	for _, r := range c.rec.ranges {
		key := rangeKey{Name: r.Name, Start: c.tm(int64(r.Start)), End: c.tm(int64(r.End)), Flags: r.Flags}
		switch r.Scope {
		case mapping.ScopeGlobal:
			key.Scope = trace.ResourceNone
		case mapping.ScopeGoroutine:
			key.Scope, key.ID = trace.ResourceGoroutine, int64(r.G)
		case mapping.ScopeProc:
			key.Scope, key.ID = trace.ResourceProc, int64(r.P)
		case mapping.ScopeThread:
			key.Scope, key.ID = trace.ResourceThread, int64(r.M)
		default:
			c.t.Errorf("range %q has an unknown scope %d", r.Name, r.Scope)
		}
		key.Attrs = attrString(r.Attrs, func(a mapping.Attr) (string, uint64) { return a.Name, a.Value })
		got = append(got, key)

		kind, reason := rangeKindOf(r.Name)
		if r.Kind != kind || r.Reason != reason {
			c.t.Errorf("range %q: Kind %v, Reason %q; want %v, %q", r.Name, r.Kind, r.Reason, kind, reason)
		}
		if r.Kind == mapping.RangeGCMark {
			if r.Flags.Has(mapping.OpenStart) {
				if r.Cycle != 0 {
					c.t.Errorf("GC cycle begun before the trace has Cycle %d, want 0", r.Cycle)
				}
			} else {
				gcBegun = append(gcBegun, r)
			}
		}
	}
	diffMultiset(c.t, "ranges", want, got, func(k rangeKey) string {
		s := fmt.Sprintf("range %q %v %d [%s, %s] %v", k.Name, k.Scope, k.ID, c.at(k.Start), c.at(k.End), k.Flags)
		if k.Attrs != "" {
			s += " " + k.Attrs
		}
		return s
	})
	// Cycles begun in the trace are numbered from 1 in order of their start.
	slices.SortFunc(gcBegun, func(a, b mapping.Range) int { return cmp.Compare(a.Start, b.Start) })
	for i, r := range gcBegun {
		if r.Cycle != i+1 {
			c.t.Errorf("GC cycle begun at %s has Cycle %d, want %d", c.at(int64(r.Start)), r.Cycle, i+1)
			break
		}
	}
}

type sampleKey struct {
	Time int64
	G    mapping.GoID
	P    mapping.ProcID
	M    mapping.ThreadID
}

func (c *checker) samples() {
	var want, got []sampleKey
	for _, s := range c.o.Samples {
		want = append(want, sampleKey{c.tm(int64(s.Time)), mapping.GoID(s.G), mapping.ProcID(s.P), mapping.ThreadID(s.M)})
	}
	for _, s := range c.rec.samples {
		got = append(got, sampleKey{c.tm(int64(s.Time)), s.G, s.P, s.M})
	}
	diffMultiset(c.t, "CPU samples", want, got, func(k sampleKey) string {
		return fmt.Sprintf("sample at %s G%d P%d M%d", c.at(k.Time), k.G, k.P, k.M)
	})
}

// interval is what the overlap checks need of an interval item.
type interval struct {
	owner      int64
	start, end int64
	desc       string
}

// checkIntervals reports intervals that end before they start, fall
// outside the trace, or overlap another of the same owner.
func (c *checker) checkIntervals(what string, items []interval) {
	var bad []string
	slices.SortFunc(items, func(a, b interval) int {
		return cmp.Or(cmp.Compare(a.owner, b.owner), cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end))
	})
	for i, x := range items {
		if x.start > x.end {
			bad = append(bad, fmt.Sprintf("%s ends before it starts", x.desc))
		}
		if x.start < int64(c.o.Start) || x.end > int64(c.o.End) {
			bad = append(bad, fmt.Sprintf("%s lies outside the trace [%s, %s]", x.desc, c.at(int64(c.o.Start)), c.at(int64(c.o.End))))
		}
		if i > 0 && items[i-1].owner == x.owner && items[i-1].end > x.start {
			bad = append(bad, fmt.Sprintf("%s overlaps %s", x.desc, items[i-1].desc))
		}
	}
	c.report(what, bad)
}

func (c *checker) goroutineStates() {
	var items []interval
	for _, s := range c.rec.states {
		items = append(items, interval{int64(s.G), int64(s.Start), int64(s.End),
			fmt.Sprintf("G%d %v [%s, %s] %v", s.G, s.State, c.at(int64(s.Start)), c.at(int64(s.End)), s.Flags)})
	}
	c.checkIntervals("goroutine states", items)
}

func (c *checker) procRuns() {
	var items []interval
	for _, p := range c.rec.procRuns {
		items = append(items, interval{int64(p.P), int64(p.Start), int64(p.End),
			fmt.Sprintf("P%d run [%s, %s] %v", p.P, c.at(int64(p.Start)), c.at(int64(p.End)), p.Flags)})
	}
	c.checkIntervals("proc runs", items)
}

// flows checks that every flow points forward in time at the start of a
// running interval of its target goroutine, on the P and M it ran on.
func (c *checker) flows() {
	type runStart struct {
		g mapping.GoID
		t mapping.Time
	}
	runs := make(map[runStart]mapping.GoroutineState)
	for _, s := range c.rec.states {
		if s.State == mapping.GoRunning {
			runs[runStart{s.G, s.Start}] = s
		}
	}
	ids := make(map[uint64]bool)
	var bad []string
	for _, f := range c.rec.flows {
		desc := fmt.Sprintf("flow %d (%v) from G%d at %s to G%d at %s", f.ID, f.Kind,
			f.From.G, c.at(int64(f.From.Time)), f.To.G, c.at(int64(f.To.Time)))
		if ids[f.ID] {
			bad = append(bad, desc+": ID used twice")
		}
		ids[f.ID] = true
		if f.From.Time > f.To.Time {
			bad = append(bad, desc+": goes back in time")
		}
		s, ok := runs[runStart{f.To.G, f.To.Time}]
		switch {
		case !ok:
			bad = append(bad, desc+": the target has no running interval starting then")
		case s.P != f.To.P || s.M != f.To.M:
			bad = append(bad, fmt.Sprintf("%s: lands on P%d M%d, but the goroutine ran on P%d M%d", desc, f.To.P, f.To.M, s.P, s.M))
		}
	}
	c.report("flows", bad)
}

// regionNesting checks that a region's parent is a region of the same
// goroutine that contains it in time, that its depth counts its
// ancestors, and that a log's region is one of its goroutine's that
// contains it.
func (c *checker) regionNesting() {
	byID := make(map[mapping.RegionID]mapping.Region)
	var bad []string
	for _, r := range c.rec.regions {
		if r.ID == mapping.NoRegion {
			bad = append(bad, fmt.Sprintf("region %q on G%d has no ID", r.Type, r.G))
		} else if _, dup := byID[r.ID]; dup {
			bad = append(bad, fmt.Sprintf("region ID %d delivered twice", r.ID))
		}
		byID[r.ID] = r
	}
	for _, r := range slices.SortedFunc(maps.Values(byID), func(a, b mapping.Region) int { return cmp.Compare(a.ID, b.ID) }) {
		if r.Parent == mapping.NoRegion {
			if r.Depth != 0 {
				bad = append(bad, fmt.Sprintf("region %d %q on G%d: Depth %d without a parent", r.ID, r.Type, r.G, r.Depth))
			}
			continue
		}
		desc := fmt.Sprintf("region %d %q on G%d [%s, %s]", r.ID, r.Type, r.G, c.at(int64(r.Start)), c.at(int64(r.End)))
		p, ok := byID[r.Parent]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s: parent %d was never delivered", desc, r.Parent))
		case p.G != r.G:
			bad = append(bad, fmt.Sprintf("%s: parent %d is on G%d", desc, p.ID, p.G))
		case p.Start > r.Start || p.End < r.End:
			bad = append(bad, fmt.Sprintf("%s: parent %d %q [%s, %s] does not contain it", desc, p.ID, p.Type, c.at(int64(p.Start)), c.at(int64(p.End))))
		case r.Depth != p.Depth+1:
			bad = append(bad, fmt.Sprintf("%s: Depth %d, but its parent's is %d", desc, r.Depth, p.Depth))
		}
	}
	for _, l := range c.rec.logs {
		if l.Region == mapping.NoRegion {
			continue
		}
		desc := fmt.Sprintf("log %q on G%d at %s", l.Message, l.G, c.at(int64(l.Time)))
		r, ok := byID[l.Region]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s: region %d was never delivered", desc, l.Region))
		case r.G != l.G || r.Start > l.Time || r.End < l.Time:
			bad = append(bad, fmt.Sprintf("%s: region %d %q on G%d [%s, %s] does not contain it",
				desc, r.ID, r.Type, r.G, c.at(int64(r.Start)), c.at(int64(r.End))))
		}
	}
	c.report("region nesting", bad)
}
