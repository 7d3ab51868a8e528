package otel

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// traces lists the traces to convert: the samples, the conformance
// harness's regression traces and Go's old-format test traces.
func traces(t testing.TB) []string { return testtraces.All(t, "../..") }

// recorder keeps, from the model, what the spans must show. It is fed
// ahead of the sink under test, so it sees each item first.
type recorder struct {
	mapping.NopSink
	meta    mapping.Meta
	end     mapping.Time
	tasks   map[mapping.TaskID]mapping.Task
	regions map[mapping.RegionID]mapping.Region
	logs    []recLog
	ended   map[mapping.TaskID]bool // tasks delivered so far
	gos     map[mapping.GoID]int    // goroutine lives by ID so far
	ranges  int
	seconds int // the last second of the trace in which a range begins
}

// recLog is a log and what the model said when it came.
type recLog struct {
	mapping.Log
	taskEnded bool // its task had ended when it was logged
	life      int  // the life of its goroutine's ID
}

func newRecorder() *recorder {
	return &recorder{
		tasks:   map[mapping.TaskID]mapping.Task{},
		regions: map[mapping.RegionID]mapping.Region{},
		ended:   map[mapping.TaskID]bool{},
		gos:     map[mapping.GoID]int{},
	}
}

func (r *recorder) Begin(m *mapping.Meta) error  { r.meta = *m; return nil }
func (r *recorder) End(s *mapping.Summary) error { r.end = s.End; return nil }
func (r *recorder) Goroutine(g *mapping.Goroutine) error {
	if !g.Updated {
		r.gos[g.ID]++
	}
	return nil
}
func (r *recorder) Task(t *mapping.Task) error {
	c := *t
	c.Goroutines = nil
	r.tasks[t.ID] = c
	r.ended[t.ID] = true
	return nil
}
func (r *recorder) Region(x *mapping.Region) error { r.regions[x.ID] = *x; return nil }
func (r *recorder) Log(l *mapping.Log) error {
	r.logs = append(r.logs, recLog{Log: *l, taskEnded: r.ended[l.Task], life: r.gos[l.G]})
	return nil
}
func (r *recorder) Range(x *mapping.Range) error {
	if x.Kind == mapping.RangeGCMark || x.Kind == mapping.RangeSTW {
		r.ranges++
		r.seconds = max(r.seconds, int(x.Start.Sub(r.meta.Start)/time.Second))
	}
	return nil
}

var testSeed = []byte("trace2x test")

// fixedStart is the start given to traces without a clock snapshot.
var fixedStart = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

// convert maps a trace into the sink under test and the recorder at once,
// exporting to memory.
func convert(t *testing.T, path string, opts ...Option) (*recorder, tracetest.SpanStubs, Result) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := tracetest.NewInMemoryExporter()
	rec := newRecorder()
	opts = append([]Option{WithIDSeed(testSeed), WithStartTime(fixedStart), WithEventLimit(-1), WithVersion("test")}, opts...)
	s := NewSink(context.Background(), exp, opts...)
	if _, err := mapping.Map(f, mapping.FanOut(rec, s), mapping.WithInputName(filepath.Base(path))); err != nil {
		t.Fatal(err)
	}
	return rec, exp.GetSpans(), s.Result()
}

// TestConvertAll converts every trace and checks that the spans match the
// tasks and regions one for one (names, exact times, parents), that every
// log is an event on the span it belongs to, and that the parents form
// trees within each trace.
func TestConvertAll(t *testing.T) {
	for _, path := range traces(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rec, spans, res := convert(t, path)
			checkSpans(t, rec, spans, res)
		})
	}
}

// TestConvertAllOptions converts every trace with goroutine and runtime
// spans: one span per goroutine life, one per GC cycle or pause, under a
// "Go runtime" span per second of the trace in which they begin, each
// second a trace of its own.
func TestConvertAllOptions(t *testing.T) {
	for _, path := range traces(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rec, spans, res := convert(t, path, WithGoroutineSpans(), WithRuntimeSpans())
			lives := 0
			for _, n := range rec.gos {
				lives += n
			}
			if res.Goroutines != int64(lives) {
				t.Errorf("%d goroutine spans, want one per goroutine life: %d", res.Goroutines, lives)
			}
			x := newIDs(testSeed)
			seconds := map[trace.TraceID]int64{}
			for sec := range int64(rec.seconds) + 1 {
				seconds[x.trace(kindRuntimeTrace, uint64(sec))] = sec
			}
			var other []tracetest.SpanStub
			roots, runtime := map[int64]bool{}, 0
			for _, s := range spans {
				sec, ok := seconds[s.SpanContext.TraceID()]
				if !ok {
					other = append(other, s)
					continue
				}
				runtime++
				root := x.span(kindRuntimeRoot, uint64(sec))
				switch {
				case s.SpanContext.SpanID() == root:
					if s.Name != "Go runtime" || s.Parent.IsValid() || roots[sec] {
						t.Errorf("second %d: root %q with parent %v", sec, s.Name, s.Parent.SpanID())
					}
					roots[sec] = true
				case s.Parent.SpanID() != root:
					t.Errorf("runtime span %q: parent %v, want the root of second %d", s.Name, s.Parent.SpanID(), sec)
				case !strings.HasPrefix(s.Name, "GC") && !strings.HasPrefix(s.Name, "stop-the-world"):
					t.Errorf("runtime span %q", s.Name)
				}
			}
			if runtime != rec.ranges+len(roots) || res.Runtime != int64(runtime) {
				t.Errorf("%d runtime spans (result: %d), want %d GC cycles and pauses and %d roots", runtime, res.Runtime, rec.ranges, len(roots))
			}
			if rec.ranges > 0 && len(roots) == 0 {
				t.Errorf("no Go runtime root for %d runtime spans", rec.ranges)
			}
			res.Runtime = 0
			res.Exported -= int64(runtime)
			checkSpans(t, rec, other, res)
		})
	}
}

func checkSpans(t *testing.T, rec *recorder, spans tracetest.SpanStubs, res Result) {
	t.Helper()
	x := newIDs(testSeed)
	base := fixedStart
	if c := rec.meta.Clock; c != nil {
		base = c.WallTime(rec.meta.Start)
	}
	wall := func(tm mapping.Time) time.Time { return base.Add(tm.Sub(rec.meta.Start)) }

	byID := map[trace.SpanID]*tracetest.SpanStub{}
	for i := range spans {
		s := &spans[i]
		if old := byID[s.SpanContext.SpanID()]; old != nil {
			t.Fatalf("span ID %v used by %q and %q", s.SpanContext.SpanID(), old.Name, s.Name)
		}
		byID[s.SpanContext.SpanID()] = s
	}
	// Spans of neither a task nor a region must be placeholders for a
	// task or region the model names and never delivers, or goroutines'.
	known := map[trace.SpanID]bool{}
	for id := range rec.tasks {
		known[x.span(kindTask, uint64(id))] = true
	}
	for id := range rec.regions {
		known[x.region(id)] = true
	}
	named := map[trace.SpanID]bool{}
	for _, tk := range rec.tasks {
		named[x.span(kindTask, uint64(tk.Parent))] = tk.Parent != mapping.NoTask
	}
	for _, r := range rec.regions {
		named[x.span(kindTask, uint64(r.Task))] = r.Task != mapping.NoTask
		named[x.region(r.Parent)] = r.Parent != mapping.NoRegion
	}
	for _, l := range rec.logs {
		named[x.span(kindTask, uint64(l.Task))] = l.Task != mapping.NoTask
	}
	goroutineSpans, placeholders := 0, 0
	for _, s := range spans {
		if known[s.SpanContext.SpanID()] {
			continue
		}
		if attr(&s, keyPlaceholder).AsBool() {
			placeholders++
			if !named[s.SpanContext.SpanID()] {
				t.Errorf("placeholder %q stands for nothing the model names", s.Name)
			}
			known[s.SpanContext.SpanID()] = true
			continue
		}
		goroutineSpans++
		if fn := attr(&s, keyStartFunc).AsString(); s.Name != strings.TrimSpace("goroutine "+fn) || attr(&s, keyGoroutineID).Type() != attribute.INT64 || s.Parent.IsValid() {
			t.Errorf("span %q (parent %v) is of no task, region or goroutine", s.Name, s.Parent.SpanID())
		}
	}
	if want := len(rec.tasks) + len(rec.regions) + goroutineSpans + placeholders; len(spans) != want {
		t.Errorf("%d spans, want %d tasks + %d regions + %d goroutines + %d placeholders", len(spans), len(rec.tasks), len(rec.regions), goroutineSpans, placeholders)
	}
	if res.Placeholders != int64(placeholders) {
		t.Errorf("result: %d placeholders, the exporter got %d", res.Placeholders, placeholders)
	}
	if res.Spans() != int64(len(spans)) || res.Exported != int64(len(spans)) || res.Failed != 0 {
		t.Errorf("result: %d spans, %d exported, %d failed; the exporter got %d", res.Spans(), res.Exported, res.Failed, len(spans))
	}

	get := func(what string, id trace.SpanID) *tracetest.SpanStub {
		s := byID[id]
		if s == nil {
			t.Errorf("no span for %s", what)
		}
		return s
	}
	checkTimes := func(what string, s *tracetest.SpanStub, start, end mapping.Time, flags mapping.Flags) {
		if !s.StartTime.Equal(wall(start)) || !s.EndTime.Equal(wall(end)) {
			t.Errorf("%s: span from %v to %v, want %v to %v", what, s.StartTime, s.EndTime, wall(start), wall(end))
		}
		if got := attr(s, keyOpenStart).AsBool(); got != flags.Has(mapping.OpenStart) {
			t.Errorf("%s: open_start %v, want flags %v", what, got, flags)
		}
		if got := attr(s, keyOpenEnd).AsBool(); got != flags.Has(mapping.OpenEnd) {
			t.Errorf("%s: open_end %v, want flags %v", what, got, flags)
		}
	}
	// checkParent checks that s's parent is the span want, in the same
	// trace, or that s links to it where the traces differ.
	checkParent := func(what string, s *tracetest.SpanStub, want trace.SpanID) {
		if s.Parent.SpanID() == want {
			if p := byID[want]; p != nil && p.SpanContext.TraceID() != s.SpanContext.TraceID() {
				t.Errorf("%s: parent %q is in another trace", what, p.Name)
			}
			return
		}
		for _, l := range s.Links {
			if l.SpanContext.SpanID() == want {
				if l.SpanContext.TraceID() == s.SpanContext.TraceID() {
					t.Errorf("%s: links to its parent in its own trace", what)
				}
				return
			}
		}
		t.Errorf("%s: parent %v, want %v", what, s.Parent.SpanID(), want)
	}

	joined := 0
	remoteOf := map[mapping.TaskID]trace.SpanContext{} // first traceparent of each task
	for _, l := range rec.logs {
		if l.Category == "traceparent" && l.Task != mapping.NoTask && !l.taskEnded {
			if _, ok := remoteOf[l.Task]; !ok {
				sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": l.Message}))
				if sc.IsValid() {
					remoteOf[l.Task] = sc
				}
			}
		}
	}
	for id, tk := range rec.tasks {
		what := fmt.Sprintf("task %d %q", id, tk.Type)
		s := get(what, x.span(kindTask, uint64(id)))
		if s == nil {
			continue
		}
		name := asUTF8(tk.Type)
		if name == "" {
			name = "task"
		}
		if s.Name != name {
			t.Errorf("%s: span named %q", what, s.Name)
		}
		checkTimes(what, s, tk.Start, tk.End, tk.Flags)
		if got := attr(s, keyTaskID).AsInt64(); got != int64(id) {
			t.Errorf("%s: go.task.id %d", what, got)
		}
		switch remote, ok := remoteOf[id]; {
		case s.Parent.IsRemote():
			joined++
			if !ok || s.Parent.SpanID() != remote.SpanID() || s.SpanContext.TraceID() != remote.TraceID() {
				t.Errorf("%s: remote parent %v, want %v", what, s.Parent, remote)
			}
		case ok && len(s.Links) == 0:
			t.Errorf("%s: logged traceparent %v but neither joined nor linked", what, remote)
		case tk.Parent != mapping.NoTask:
			checkParent(what, s, x.span(kindTask, uint64(tk.Parent)))
		case s.Parent.IsValid():
			t.Errorf("%s: root task has parent %v", what, s.Parent.SpanID())
		}
	}
	if joined != res.Joined {
		t.Errorf("%d tasks with a remote parent, result says %d joined", joined, res.Joined)
	}
	for id, r := range rec.regions {
		what := fmt.Sprintf("region %d %q on G%d", id, r.Type, r.G)
		s := get(what, x.region(id))
		if s == nil {
			continue
		}
		if name := asUTF8(cmpOr(r.Type, "region")); s.Name != name {
			t.Errorf("%s: span named %q", what, s.Name)
		}
		checkTimes(what, s, r.Start, r.End, r.Flags)
		if got := attr(s, keyGoroutineID).AsInt64(); got != int64(r.G) {
			t.Errorf("%s: go.goroutine.id %d", what, got)
		}
		switch {
		case r.Parent != mapping.NoRegion && r.ParentTask == r.Task:
			if s.Parent.SpanID() != x.region(r.Parent) {
				t.Errorf("%s: parent %v, want region %d", what, s.Parent.SpanID(), r.Parent)
			}
		case r.Task != mapping.NoTask:
			checkParent(what, s, x.span(kindTask, uint64(r.Task)))
		default:
			p := get(what+"'s goroutine", s.Parent.SpanID())
			if p != nil && (!strings.HasPrefix(p.Name, "goroutine") || attr(p, keyGoroutineID).AsInt64() != int64(r.G)) {
				t.Errorf("%s: parent %q, want its goroutine's span", what, p.Name)
			}
		}
	}
	// Every local parent must have been exported, in the same trace.
	for _, s := range spans {
		p := s.Parent
		if !p.IsValid() || p.IsRemote() {
			continue
		}
		switch ps := byID[p.SpanID()]; {
		case ps == nil:
			t.Errorf("span %q: parent %v was never exported", s.Name, p.SpanID())
		case ps.SpanContext.TraceID() != s.SpanContext.TraceID() || p.TraceID() != s.SpanContext.TraceID():
			t.Errorf("span %q: parent %q is in another trace", s.Name, ps.Name)
		}
	}
	// A task that joined no remote trace, nor descends from one that did,
	// is in the trace of its root task.
	for id, tk := range rec.tasks {
		s := byID[x.span(kindTask, uint64(id))]
		if s == nil || s.Parent.IsRemote() || len(s.Links) > 0 {
			continue
		}
		joinedAbove := false
		for p := tk.Parent; p != mapping.NoTask && !joinedAbove; p = rec.tasks[p].Parent {
			ps := byID[x.span(kindTask, uint64(p))]
			joinedAbove = ps != nil && (ps.Parent.IsRemote() || len(ps.Links) > 0)
			if _, ok := rec.tasks[p]; !ok {
				break
			}
		}
		if want := x.trace(kindTaskTrace, uint64(tk.Root)); !joinedAbove && s.SpanContext.TraceID() != want {
			t.Errorf("task %d: in trace %v, want its root %d's %v", id, s.SpanContext.TraceID(), tk.Root, want)
		}
	}

	// Events: one per log, on the span the log belongs to.
	type evKey struct {
		span trace.SpanID
		name string
		msg  string
		at   time.Time
	}
	events := map[evKey]int{}
	nEvents := 0
	for _, s := range spans {
		for _, e := range s.Events {
			msg := ""
			for _, a := range e.Attributes {
				if a.Key == keyMessage {
					msg = a.Value.AsString()
				}
			}
			events[evKey{s.SpanContext.SpanID(), e.Name, msg, e.Time}]++
			nEvents++
		}
	}
	if nEvents != len(rec.logs) || res.Events != int64(nEvents) || res.UnplacedLogs != 0 {
		t.Errorf("%d events (result: %d, %d unplaced), want one per log: %d", nEvents, res.Events, res.UnplacedLogs, len(rec.logs))
	}
	for _, l := range rec.logs {
		target := l.Region
		for target != mapping.NoRegion && rec.regions[target].Task != l.Task {
			target = rec.regions[target].Parent
		}
		var on trace.SpanID
		switch {
		case target != mapping.NoRegion:
			on = x.region(target)
		case l.Task != mapping.NoTask && !l.taskEnded:
			on = x.span(kindTask, uint64(l.Task))
		default:
			// Its goroutine's span: find it by name, as the sink numbers
			// goroutine lives itself.
			for _, s := range spans {
				if !known[s.SpanContext.SpanID()] && attr(&s, keyGoroutineID).AsInt64() == int64(l.G) {
					if k := (evKey{s.SpanContext.SpanID(), asUTF8(cmpOr(l.Category, "log")), asUTF8(l.Message), wall(l.Time)}); events[k] > 0 {
						on = k.span
					}
				}
			}
		}
		k := evKey{on, asUTF8(cmpOr(l.Category, "log")), asUTF8(l.Message), wall(l.Time)}
		if l.Category == "datadog.uint64_span_id" {
			continue // its message is rewritten; see TestDatadog
		}
		if events[k] == 0 {
			t.Errorf("log %q %q at %v (G%d, task %d, region %d): no such event on span %v", l.Category, l.Message, l.Time, l.G, l.Task, l.Region, on)
			continue
		}
		events[k]--
	}
}

func attr(s *tracetest.SpanStub, k attribute.Key) attribute.Value {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value
		}
	}
	return attribute.Value{}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestDeterministicIDs converts a trace twice through Convert, once
// compressed, and expects the same IDs.
func TestDeterministicIDs(t *testing.T) {
	path := "../../testdata/annotations.go1.26.trace"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	gzipTo(t, &gz, data)
	ids := func(in []byte) []string {
		exp := tracetest.NewInMemoryExporter()
		if _, err := Convert(context.Background(), bytes.NewReader(in), exp); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range exp.GetSpans() {
			out = append(out, s.SpanContext.TraceID().String()+"/"+s.SpanContext.SpanID().String()+"/"+s.Parent.SpanID().String())
		}
		return out
	}
	a, b, c := ids(data), ids(data), ids(gz.Bytes())
	if len(a) == 0 || strings.Join(a, ",") != strings.Join(b, ",") || strings.Join(a, ",") != strings.Join(c, ",") {
		t.Errorf("IDs differ between conversions of the same trace:\n%v\n%v\n%v", a, b, c)
	}
	other := ids(mustRead(t, "../../testdata/gotest.go1.26.trace"))
	if len(other) > 0 && strings.SplitN(other[0], "/", 2)[0] == strings.SplitN(a[0], "/", 2)[0] {
		t.Errorf("two traces share the trace ID %s", strings.SplitN(a[0], "/", 2)[0])
	}
}

func gzipTo(t *testing.T, w io.Writer, data []byte) {
	t.Helper()
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// asUTF8 is what the sink makes of a string from the trace: each byte that
// is not part of a valid UTF-8 encoding becomes U+FFFD, as Go's own
// conversion of a string to []rune does.
func asUTF8(s string) string { return string([]rune(s)) }

// TestConvertStreamBreaksEarly checks that a stream that breaks within the
// bytes the IDs are derived from (a capture whose target died) is
// converted as far as it came, as the same bytes from a file are, with
// the read error reported.
func TestConvertStreamBreaksEarly(t *testing.T) {
	data := mustRead(t, "../../testdata/mixed.go1.26.trace")
	if len(data) >= seedBytes {
		t.Fatalf("the trace has %d bytes, want fewer than the %d the seed takes", len(data), seedBytes)
	}
	reset := errors.New("connection reset by peer")
	spans := func(r io.Reader) (int, error) {
		exp := tracetest.NewInMemoryExporter()
		_, err := Convert(context.Background(), r, exp)
		return len(exp.GetSpans()), err
	}
	someSpans := false
	for _, cut := range []int{len(data), len(data) * 3 / 4, len(data) / 2} {
		want, _ := spans(bytes.NewReader(data[:cut]))
		// The connection reports the reset once, and then ends.
		got, err := spans(io.MultiReader(bytes.NewReader(data[:cut]), &onceErr{err: reset}))
		if !errors.Is(err, reset) {
			t.Errorf("cut at %d: error %v, want one that wraps %v", cut, err, reset)
		}
		if got != want {
			t.Errorf("cut at %d by a broken connection: %d spans, want the %d of the same bytes as a file", cut, got, want)
		}
		someSpans = someSpans || want > 0
	}
	if !someSpans {
		t.Error("no cut gave spans: the test checks nothing")
	}
}

// TestNilExporter checks that a nil exporter is an error returned to the
// caller: inside the SDK's goroutine it would crash the program.
func TestNilExporter(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	if _, err := Convert(context.Background(), bytes.NewReader(data), nil); !errors.Is(err, ErrNoExporter) {
		t.Errorf("Convert: %v, want ErrNoExporter", err)
	}
	s := NewSink(context.Background(), nil)
	if _, err := mapping.Map(bytes.NewReader(data), s); !errors.Is(err, ErrNoExporter) {
		t.Errorf("Map into NewSink(nil): %v, want ErrNoExporter", err)
	}
}

// TestSecondTrace maps two traces into one Sink: the second is refused,
// and the Result stays the first's.
func TestSecondTrace(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	exp := tracetest.NewInMemoryExporter()
	s := NewSink(context.Background(), exp)
	if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
		t.Fatal(err)
	}
	first := s.Result()
	if _, err := mapping.Map(bytes.NewReader(data), s); !errors.Is(err, ErrSecondTrace) {
		t.Errorf("a second trace: %v, want ErrSecondTrace", err)
	}
	if got := s.Result(); got.Spans() != first.Spans() || int64(len(exp.GetSpans())) != first.Spans() {
		t.Errorf("after the second trace: %d spans made, %d exported; the first made %d", got.Spans(), len(exp.GetSpans()), first.Spans())
	}
}

// TestExportedUntil converts a trace again with the spans that
// ended before a time of it left out, as the flight recorder converts an
// overlapping snapshot: exactly the spans that end at or after that time
// are exported, with the IDs they had.
func TestExportedUntil(t *testing.T) {
	data, res, all := convertAll(t, "../../testdata/annotations.go1.26.trace")
	sum := res.Summary
	for _, frac := range []int64{0, 2, 3, 4} {
		until := sum.End
		if frac > 0 {
			until = sum.Start + (sum.End-sum.Start)/mapping.Time(frac)
		}
		wall := res.Start.Add(time.Duration(until - sum.Start))
		checkLeftOut(t, fmt.Sprintf("until 1/%d of the trace", frac), data, all, func(_, end time.Time) bool { return end.Before(wall) }, WithExportedUntil(until))
	}
}

// TestExported converts a trace again as if windows of it had been
// exported already: exactly the spans that lie wholly within one of them
// are left out, whichever part of the trace the windows cover.
func TestExported(t *testing.T) {
	data, res, all := convertAll(t, "../../testdata/annotations.go1.26.trace")
	sum := res.Summary
	at := func(num, den int64) mapping.Time {
		return sum.Start + (sum.End-sum.Start)*mapping.Time(num)/mapping.Time(den)
	}
	wall := func(t mapping.Time) time.Time { return res.Start.Add(time.Duration(t - sum.Start)) }
	for _, ws := range [][][2]mapping.Time{
		{{sum.Start - 1, sum.End + 1}},                   // the whole trace
		{{at(1, 3), sum.End + 1}},                        // its end
		{{at(1, 4), at(1, 2)}},                           // a window inside it
		{{at(1, 4), at(1, 2)}, {at(2, 3), at(1, 1) + 1}}, // two
	} {
		var opts []Option
		for _, w := range ws {
			opts = append(opts, WithExported(w[0], w[1]))
		}
		within := func(start, end time.Time) bool {
			for _, w := range ws {
				if start.After(wall(w[0])) && end.Before(wall(w[1])) {
					return true
				}
			}
			return false
		}
		checkLeftOut(t, fmt.Sprintf("windows %v", ws), data, all, within, opts...)
	}
}

// convertAll converts the trace at path, every span kept.
func convertAll(t *testing.T, path string) ([]byte, *Result, *tracetest.InMemoryExporter) {
	t.Helper()
	data := mustRead(t, path)
	all := tracetest.NewInMemoryExporter()
	res, err := Convert(context.Background(), bytes.NewReader(data), all)
	if err != nil {
		t.Fatal(err)
	}
	return data, res, all
}

// checkLeftOut converts data again with opts and checks that exactly the
// spans of all that leftOut picks are left out, and counted so, and that
// some are and some are not unless every span is.
func checkLeftOut(t *testing.T, what string, data []byte, all *tracetest.InMemoryExporter, leftOut func(start, end time.Time) bool, opts ...Option) {
	t.Helper()
	want := map[trace.SpanID]bool{}
	for _, sp := range all.GetSpans() {
		if !leftOut(sp.StartTime, sp.EndTime) {
			want[sp.SpanContext.SpanID()] = true
		}
	}
	if len(want) == len(all.GetSpans()) {
		t.Fatalf("%s: no span is to be left out: the case checks nothing", what)
	}
	again := tracetest.NewInMemoryExporter()
	res, err := Convert(context.Background(), bytes.NewReader(data), again, opts...)
	if err != nil {
		t.Fatal(err)
	}
	got := again.GetSpans()
	if len(got) != len(want) || res.Repeated != int64(len(all.GetSpans())-len(want)) {
		t.Errorf("%s: %d spans exported, %d left out; want %d and %d", what, len(got), res.Repeated, len(want), len(all.GetSpans())-len(want))
	}
	for _, sp := range got {
		if !want[sp.SpanContext.SpanID()] {
			t.Errorf("%s: span %s (%v to %v) exported, which was to be left out", what, sp.Name, sp.StartTime, sp.EndTime)
		}
	}
}

// TestNilContext converts with a nil context, which is taken as
// context.Background.
func TestNilContext(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	exp := tracetest.NewInMemoryExporter()
	res, err := Convert(nil, bytes.NewReader(data), exp)
	if err != nil || res.Spans() == 0 || int64(len(exp.GetSpans())) != res.Spans() {
		t.Errorf("Convert with a nil context: %v, %d spans exported", err, len(exp.GetSpans()))
	}
}

// onceErr returns err once, then io.EOF.
type onceErr struct {
	err  error
	done bool
}

func (r *onceErr) Read([]byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return 0, r.err
}
