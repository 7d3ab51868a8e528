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

	"github.com/trace2x/trace2x/mapping"
)

var corpusGlob = flag.String("corpus", filepath.Join("..", "testdata", "*.trace"),
	"`glob` of the traces that TestCorpus and TestStatsJSON check")

// corpus returns the project's trace corpus. An empty corpus fails the
// test: a glob that matches nothing would otherwise pass silently.
func corpus(t *testing.T) []string {
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

// goTool returns the go command that runs the tests. go test puts
// GOROOT/bin first on PATH, so this is the toolchain under test.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	return p
}

var goroot = sync.OnceValues(func() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(p, "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
})

// goOldTraces returns the traces in the old format (Go 1.11 to 1.21)
// that Go publishes with its own trace parser. They are read where the
// toolchain keeps them, not copied.
func goOldTraces(t *testing.T) []string {
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
	return files
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

// TestGoOldTraces checks the mapping of Go's published old-format traces,
// which x/exp/trace converts to the new event model.
func TestGoOldTraces(t *testing.T) {
	for _, f := range goOldTraces(t) {
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
	rec := newRecorder()
	sum, err := mapping.Map(bytes.NewReader(data), rec, mapping.WithInputName(filepath.Base(file)))
	if err != nil {
		t.Errorf("Map: %v", err)
	}
	if sum == nil {
		return
	}
	c := &checker{t: t, o: o, rec: rec}
	for _, p := range rec.problems {
		t.Errorf("delivery: %s", p)
	}
	if rec.summary == nil {
		t.Errorf("Sink.End was never called")
	}
	c.summary(sum)
	c.tasks()
	c.regions()
	c.logs()
	c.goroutines()
	c.ranges()
	c.samples()
	c.goroutineStates()
	c.procRuns()
	c.flows()
	c.regionParents()
}

type checker struct {
	t   *testing.T
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

// diffMultiset reports the elements of want and got that the other lacks,
// counting repeats: every element must appear exactly as often in both.
func diffMultiset[K comparable](t *testing.T, what string, want, got []K, show func(K) string) {
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
	fmt.Fprintf(&b, "%s: %d in the oracle, %d delivered; %d missing, %d unexpected or wrong",
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
	t.Error(b.String())
}

// span is what the model should say about an oracle span: an unknown
// begin is the trace start with OpenStart, an unknown end the trace end
// with OpenEnd (see mapping.Flags).
func (c *checker) span(s Span) (start, end int64, f mapping.Flags) {
	start, end = int64(s.Begin), int64(s.End)
	if !s.HasBegin {
		start, f = int64(c.o.Start), f|mapping.OpenStart
	}
	if !s.HasEnd {
		end, f = int64(c.o.End), f|mapping.OpenEnd
	}
	return start, end, f
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
		key := taskKey{k.ID, int64(k.Start), int64(k.End), k.Flags}
		got = append(got, key)
		d, ok := details[key]
		if !ok {
			continue
		}
		if d.typeKnown && k.Type != d.typ {
			c.t.Errorf("%s: Type = %q, want %q", showKey(key), k.Type, d.typ)
		}
		if d.parentOK && k.Parent != d.parent {
			c.t.Errorf("%s: Parent = %d, want %d", showKey(key), k.Parent, d.parent)
		}
	}
	diffMultiset(c.t, "tasks", want, got, showKey)
}

type regionKey struct {
	G          mapping.GoID
	Type       string
	Task       mapping.TaskID
	Start, End int64
	Flags      mapping.Flags
}

func (c *checker) regions() {
	var want, got []regionKey
	exits := make(map[regionKey]int64)
	for _, r := range c.o.Regions {
		s, e, f := c.span(r.Span)
		key := regionKey{mapping.GoID(r.G), r.Type, mapping.TaskID(r.Task), s, e, f}
		want = append(want, key)
		if r.HasGoExit {
			exits[key] = int64(r.GoExit)
		}
	}
	for _, r := range c.rec.regions {
		got = append(got, regionKey{r.G, r.Type, r.Task, int64(r.Start), int64(r.End), r.Flags})
	}
	diffMultiset(c.t, "regions", want, got, func(k regionKey) string {
		s := fmt.Sprintf("region G%d %q task %d [%s, %s] %v", k.G, k.Type, k.Task, c.at(k.Start), c.at(k.End), k.Flags)
		if x, ok := exits[k]; ok {
			s += fmt.Sprintf(" (its goroutine exited at %s with the region open)", c.at(x))
		}
		return s
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
		want = append(want, logKey{int64(l.Time), mapping.GoID(l.G), mapping.TaskID(l.Task), l.Category, l.Message})
	}
	for _, l := range c.rec.logs {
		got = append(got, logKey{int64(l.Time), l.G, l.Task, l.Category, l.Message})
	}
	diffMultiset(c.t, "logs", want, got, func(k logKey) string {
		return fmt.Sprintf("log at %s G%d task %d %q %q", c.at(k.Time), k.G, k.Task, k.Category, k.Message)
	})
}

func (c *checker) goroutines() {
	var extra, twice, missing []mapping.GoID
	for g, n := range c.rec.goroutines {
		switch {
		case !c.o.Goroutines[trace.GoID(g)]:
			extra = append(extra, g)
		case n > 1:
			twice = append(twice, g)
		}
	}
	for g := range c.o.Goroutines {
		if c.rec.goroutines[mapping.GoID(g)] == 0 {
			missing = append(missing, mapping.GoID(g))
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
		c.t.Errorf("goroutines: %d delivered more than once without Updated: %s", len(twice), show(twice))
	}
}

type rangeKey2 struct {
	Name       string
	Scope      trace.ResourceKind
	ID         int64
	Start, End int64
	Flags      mapping.Flags
	Attrs      string
}

func attrString(names []string, values []uint64) string {
	var parts []string
	for i := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", names[i], values[i]))
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
	var want, got []rangeKey2
	for _, r := range c.o.Ranges {
		s, e, f := c.span(r.Span)
		var names []string
		var values []uint64
		for _, a := range r.Attrs {
			names, values = append(names, a.Name), append(values, a.Value)
		}
		want = append(want, rangeKey2{r.Name, r.Scope, r.ID, s, e, f, attrString(names, values)})
	}
	var gcBegun []mapping.Range
	for _, r := range c.rec.ranges {
		key := rangeKey2{Name: r.Name, Start: int64(r.Start), End: int64(r.End), Flags: r.Flags}
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
		var names []string
		var values []uint64
		for _, a := range r.Attrs {
			names, values = append(names, a.Name), append(values, a.Value)
		}
		key.Attrs = attrString(names, values)
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
	diffMultiset(c.t, "ranges", want, got, func(k rangeKey2) string {
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
		want = append(want, sampleKey{int64(s.Time), mapping.GoID(s.G), mapping.ProcID(s.P), mapping.ThreadID(s.M)})
	}
	for _, s := range c.rec.samples {
		got = append(got, sampleKey{int64(s.Time), s.G, s.P, s.M})
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
	if len(bad) > 0 {
		if len(bad) > maxShown {
			bad = append(bad[:maxShown], fmt.Sprintf("... and %d more", len(bad)-maxShown))
		}
		c.t.Errorf("%s: %s", what, strings.Join(bad, "\n\t"))
	}
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
	if len(bad) > 0 {
		n := len(bad)
		if n > maxShown {
			bad = append(bad[:maxShown], fmt.Sprintf("... and %d more", n-maxShown))
		}
		c.t.Errorf("flows: %d bad:\n\t%s", n, strings.Join(bad, "\n\t"))
	}
}

// regionParents checks that a region's parent is a region of the same
// goroutine that contains it in time.
func (c *checker) regionParents() {
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
		}
	}
	if len(bad) > 0 {
		n := len(bad)
		if n > maxShown {
			bad = append(bad[:maxShown], fmt.Sprintf("... and %d more", n-maxShown))
		}
		c.t.Errorf("region parents: %d bad:\n\t%s", n, strings.Join(bad, "\n\t"))
	}
}
