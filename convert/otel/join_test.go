package otel

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// script drives a Sink with model items, as the mapping would.
type script struct {
	t       *testing.T
	s       *Sink
	exp     *tracetest.InMemoryExporter
	x       ids
	next    mapping.RegionID
	parents map[mapping.TaskID]mapping.TaskID // as the mapping knows them when tasks begin
}

func newScript(t *testing.T, opts ...Option) *script {
	exp := tracetest.NewInMemoryExporter()
	opts = append([]Option{WithIDSeed(testSeed), WithStartTime(fixedStart)}, opts...)
	sc := &script{t: t, s: NewSink(context.Background(), exp, opts...), exp: exp, x: newIDs(testSeed),
		parents: map[mapping.TaskID]mapping.TaskID{}}
	sc.must(sc.s.Begin(&mapping.Meta{Input: "script", FormatVersion: "go1.26", Start: 1000}))
	sc.must(sc.s.Goroutine(&mapping.Goroutine{ID: 1, StartFunc: "main.main", Creator: mapping.NoGoroutine, Created: 1000}))
	return sc
}

func (sc *script) must(err error) {
	sc.t.Helper()
	if err != nil {
		sc.t.Fatal(err)
	}
}

// tree declares task parents, as the trace shows them when the tasks
// begin, before anything of them is delivered.
func (sc *script) tree(childParent ...mapping.TaskID) {
	for i := 0; i+1 < len(childParent); i += 2 {
		sc.parents[childParent[i]] = childParent[i+1]
	}
}

// root is the mapping's Task.Root for the tree declared.
func (sc *script) root(id mapping.TaskID) mapping.TaskID {
	for id != mapping.NoTask {
		p, ok := sc.parents[id]
		if !ok || p == mapping.NoTask {
			return id
		}
		id = p
	}
	return id
}

func (sc *script) log(at mapping.Time, task mapping.TaskID, region mapping.RegionID, cat, msg string) {
	sc.t.Helper()
	sc.must(sc.s.Log(&mapping.Log{Time: at, G: 1, Task: task, Root: sc.root(task), Region: region, Category: cat, Message: msg}))
}

func (sc *script) region(task mapping.TaskID, start, end mapping.Time) mapping.RegionID {
	sc.t.Helper()
	sc.next++
	sc.must(sc.s.Region(&mapping.Region{ID: sc.next, G: 1, Task: task, Root: sc.root(task), Type: "work", Start: start, End: end}))
	return sc.next
}

func (sc *script) task(id, parent mapping.TaskID, start, end mapping.Time) {
	sc.t.Helper()
	if p, ok := sc.parents[id]; ok && p != parent {
		sc.t.Fatalf("task %d: parent %d, declared %d", id, parent, p)
	}
	sc.parents[id] = parent
	sc.must(sc.s.Task(&mapping.Task{ID: id, Parent: parent, Root: sc.root(id), Type: "op", Start: start, End: end, StartG: 1, EndG: 1}))
}

// finish ends the pass and returns the spans by span ID.
func (sc *script) finish() map[trace.SpanID]tracetest.SpanStub {
	sc.t.Helper()
	sc.must(sc.s.End(&mapping.Summary{End: 10000}))
	out := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range sc.exp.GetSpans() {
		out[s.SpanContext.SpanID()] = s
	}
	return out
}

func (sc *script) taskSpan(spans map[trace.SpanID]tracetest.SpanStub, id mapping.TaskID) tracetest.SpanStub {
	sc.t.Helper()
	s, ok := spans[sc.x.span(kindTask, uint64(id))]
	if !ok {
		sc.t.Fatalf("no span for task %d", id)
	}
	return s
}

func (sc *script) regionSpan(spans map[trace.SpanID]tracetest.SpanStub, id mapping.RegionID) tracetest.SpanStub {
	sc.t.Helper()
	s, ok := spans[sc.x.region(id)]
	if !ok {
		sc.t.Fatalf("no span for region %d", id)
	}
	return s
}

const (
	tp1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

func remote(t *testing.T, tp string) trace.SpanContext {
	t.Helper()
	tid, err := trace.TraceIDFromHex(tp[3:35])
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(tp[36:52])
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true})
}

// TestJoin: a task that logs a traceparent becomes a child of the remote
// span, and its descendants, whose regions end before anything says they
// descend from it, follow it into the remote trace.
func TestJoin(t *testing.T) {
	sc := newScript(t)
	sc.tree(2, 1, 3, 2)
	r1 := remote(t, tp1)
	sc.log(1100, 1, 0, "traceparent", tp1)
	// Task 2 is a child of task 1, task 3 of task 2; their regions end
	// before they do.
	rg3 := sc.region(3, 1210, 1220)
	sc.task(3, 2, 1200, 1230)
	rg2 := sc.region(2, 1240, 1300)
	sc.log(1250, 2, 0, "step", "in task 2")
	sc.task(2, 1, 1150, 1400)
	// Task 4 is a root task that never joins: it is a trace of its own.
	rg4 := sc.region(4, 1510, 1520)
	sc.task(4, 0, 1500, 1600)
	// Task 5 logs its traceparent after one of its regions ended: still in
	// time, since the region waited.
	rg5 := sc.region(5, 1710, 1750)
	sc.log(1800, 5, 0, "traceparent", tp2)
	sc.task(5, 0, 1700, 1900)
	sc.task(1, 0, 1000, 2000)
	spans := sc.finish()

	t1 := sc.taskSpan(spans, 1)
	if t1.Parent.SpanID() != r1.SpanID() || !t1.Parent.IsRemote() || t1.SpanContext.TraceID() != r1.TraceID() {
		t.Errorf("task 1: parent %v in trace %v, want the remote %v", t1.Parent, t1.SpanContext.TraceID(), r1)
	}
	for _, c := range []struct {
		what   string
		span   tracetest.SpanStub
		parent trace.SpanID
		trace  trace.TraceID
	}{
		{"task 2", sc.taskSpan(spans, 2), sc.x.span(kindTask, 1), r1.TraceID()},
		{"task 3", sc.taskSpan(spans, 3), sc.x.span(kindTask, 2), r1.TraceID()},
		{"region of task 2", sc.regionSpan(spans, rg2), sc.x.span(kindTask, 2), r1.TraceID()},
		{"region of task 3", sc.regionSpan(spans, rg3), sc.x.span(kindTask, 3), r1.TraceID()},
		{"task 4", sc.taskSpan(spans, 4), trace.SpanID{}, sc.x.trace(kindTaskTrace, 4)},
		{"region of task 4", sc.regionSpan(spans, rg4), sc.x.span(kindTask, 4), sc.x.trace(kindTaskTrace, 4)},
		{"task 5", sc.taskSpan(spans, 5), remote(t, tp2).SpanID(), remote(t, tp2).TraceID()},
		{"region of task 5", sc.regionSpan(spans, rg5), sc.x.span(kindTask, 5), remote(t, tp2).TraceID()},
	} {
		if c.span.Parent.SpanID() != c.parent || c.span.SpanContext.TraceID() != c.trace {
			t.Errorf("%s: parent %v in trace %v, want %v in %v", c.what, c.span.Parent.SpanID(), c.span.SpanContext.TraceID(), c.parent, c.trace)
		}
	}
	if got := attr(&t1, keyTraceparent).AsString(); got != tp1 {
		t.Errorf("task 1: go.task.traceparent %q", got)
	}
	if res := sc.s.Result(); res.Joined != 2 || res.LateJoins != 0 || res.Tasks != 5 || res.Regions != 4 {
		t.Errorf("result %+v", res)
	}
}

// TestLateJoin: a traceparent logged after a region of its task was sent
// cannot move the task; it is linked.
func TestLateJoin(t *testing.T) {
	sc := newScript(t)
	rg := sc.region(1, 1100, 1200)
	sc.log(1300, 1, 0, "traceparent", tp1)
	sc.task(1, 0, 1000, 2000)
	spans := sc.finish()
	t1 := sc.taskSpan(spans, 1)
	if t1.Parent.IsValid() || t1.SpanContext.TraceID() != sc.x.trace(kindTaskTrace, 1) {
		t.Errorf("task 1: parent %v in trace %v, want a root in a trace of its own", t1.Parent, t1.SpanContext.TraceID())
	}
	if len(t1.Links) != 1 || t1.Links[0].SpanContext.SpanID() != remote(t, tp1).SpanID() {
		t.Errorf("task 1: links %v, want one to the remote span", t1.Links)
	}
	if r := sc.regionSpan(spans, rg); r.SpanContext.TraceID() != sc.x.trace(kindTaskTrace, 1) {
		t.Errorf("region in trace %v", r.SpanContext.TraceID())
	}
	if res := sc.s.Result(); res.Joined != 0 || res.LateJoins != 1 {
		t.Errorf("result %+v", res)
	}
}

// TestTraceparentsExpected: with WithTraceparentsExpected, the first
// traceparent of the trace joins even when a region of its task ended
// before it (a long request's task, begun before the trace, that restates
// its traceparent at its end): the region waited for it.
func TestTraceparentsExpected(t *testing.T) {
	sc := newScript(t, WithTraceparentsExpected())
	rg := sc.region(1, 1100, 1200)
	sc.log(1300, 1, 0, "traceparent", tp1)
	sc.task(1, 0, 1000, 2000)
	spans := sc.finish()
	r1 := remote(t, tp1)
	if t1 := sc.taskSpan(spans, 1); t1.Parent.SpanID() != r1.SpanID() || t1.SpanContext.TraceID() != r1.TraceID() || len(t1.Links) != 0 {
		t.Errorf("task 1: parent %v in trace %v, links %v; want the remote %v", t1.Parent, t1.SpanContext.TraceID(), t1.Links, r1)
	}
	if r := sc.regionSpan(spans, rg); r.SpanContext.TraceID() != r1.TraceID() {
		t.Errorf("region in trace %v, want the remote %v", r.SpanContext.TraceID(), r1.TraceID())
	}
	if res := sc.s.Result(); res.Joined != 1 || res.LateJoins != 0 {
		t.Errorf("%d joined and %d late, want 1 and 0", res.Joined, res.LateJoins)
	}
}

// TestLateFirstJoin: a first traceparent that comes late makes the file
// one that joins all the same: the spans of later tasks wait for their
// task's traceparent, so one logged after a region of its task ended (a
// middleware's region before the handler logs it) still joins.
func TestLateFirstJoin(t *testing.T) {
	sc := newScript(t)
	sc.region(1, 1100, 1200)
	sc.log(1300, 1, 0, "traceparent", tp1)
	sc.task(1, 0, 1000, 1400)
	rg2 := sc.region(2, 1500, 1600)
	sc.log(1700, 2, 0, "traceparent", tp2)
	sc.task(2, 0, 1450, 1800)
	spans := sc.finish()
	r2 := remote(t, tp2)
	if t2 := sc.taskSpan(spans, 2); t2.Parent.SpanID() != r2.SpanID() || t2.SpanContext.TraceID() != r2.TraceID() || len(t2.Links) != 0 {
		t.Errorf("task 2: parent %v in trace %v, links %v; want the remote %v", t2.Parent, t2.SpanContext.TraceID(), t2.Links, r2)
	}
	if r := sc.regionSpan(spans, rg2); r.SpanContext.TraceID() != r2.TraceID() {
		t.Errorf("region of task 2 in trace %v, want the remote %v", r.SpanContext.TraceID(), r2.TraceID())
	}
	if res := sc.s.Result(); res.Joined != 1 || res.LateJoins != 1 {
		t.Errorf("%d joined and %d late, want 1 and 1", res.Joined, res.LateJoins)
	}
}

// TestPendingOverflow: spans held back beyond the limit are settled in
// their root's trace, and a traceparent after that is late.
func TestPendingOverflow(t *testing.T) {
	sc := newScript(t, WithMaxPendingSpans(2))
	sc.log(1010, 9, 0, "traceparent", tp2) // the file has joined traces
	for i := range 3 {
		sc.region(5, 1100+mapping.Time(i)*10, 1105+mapping.Time(i)*10)
	}
	if n := len(sc.exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans exported while held back", n)
	}
	sc.log(1200, 5, 0, "traceparent", tp1)
	sc.task(5, 0, 1050, 1300)
	sc.task(9, 0, 1000, 1400)
	spans := sc.finish()
	t5 := sc.taskSpan(spans, 5)
	if t5.SpanContext.TraceID() != sc.x.trace(kindTaskTrace, 5) || len(t5.Links) != 1 {
		t.Errorf("task 5: trace %v, links %v; want its own trace and a link", t5.SpanContext.TraceID(), t5.Links)
	}
	if res := sc.s.Result(); res.Regions != 3 || res.LateJoins != 1 {
		t.Errorf("result %+v", res)
	}
}

// TestCrossTraceParent: a task that joins a remote trace under a parent
// task in its own trace links to its parent.
func TestCrossTraceParent(t *testing.T) {
	sc := newScript(t)
	sc.tree(2, 1)
	sc.region(1, 1010, 1020) // decides task 1 into its own trace
	sc.log(1100, 2, 0, "traceparent", tp1)
	sc.task(2, 1, 1050, 1200)
	sc.task(1, 0, 1000, 1300)
	spans := sc.finish()
	t2 := sc.taskSpan(spans, 2)
	if t2.Parent.SpanID() != remote(t, tp1).SpanID() {
		t.Errorf("task 2: parent %v, want the remote span", t2.Parent)
	}
	if len(t2.Links) != 1 || t2.Links[0].SpanContext.SpanID() != sc.x.span(kindTask, 1) || t2.Links[0].SpanContext.TraceID() != sc.x.trace(kindTaskTrace, 1) {
		t.Errorf("task 2: links %v, want one to task 1", t2.Links)
	}
}

// TestDatadog: the span ID a Datadog tracer logs becomes an attribute.
func TestDatadog(t *testing.T) {
	sc := newScript(t)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 12345678901234567890)
	sc.log(1100, 1, 0, "datadog.uint64_span_id", string(b[:]))
	sc.task(1, 0, 1000, 2000)
	spans := sc.finish()
	t1 := sc.taskSpan(spans, 1)
	if got := attr(&t1, keyDatadogSpanID).AsString(); got != "12345678901234567890" {
		t.Errorf("datadog.span_id %q", got)
	}
	if len(t1.Events) != 1 || t1.Events[0].Attributes[0].Value.AsString() != "12345678901234567890" {
		t.Errorf("events %v", t1.Events)
	}
}

// TestLogPlacement: a log in a region of another task waits for the
// region to end and goes on its own task's span, which waits for it.
func TestLogPlacement(t *testing.T) {
	sc := newScript(t)
	sc.next = 10
	sc.log(1100, 2, 11, "cat", "logged in task 2, inside region 11 of task 1")
	sc.task(2, 0, 1050, 1150) // ends before region 11 does
	if n := len(sc.exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported before region 11 ended", n)
	}
	sc.must(sc.s.Region(&mapping.Region{ID: 11, G: 1, Task: 1, Type: "outer", Start: 1010, End: 1200}))
	sc.task(1, 0, 1000, 1300)
	spans := sc.finish()
	t2 := sc.taskSpan(spans, 2)
	if len(t2.Events) != 1 || t2.Events[0].Name != "cat" {
		t.Errorf("task 2's events: %v", t2.Events)
	}
	if !t2.EndTime.Equal(fixedStart.Add(150)) {
		t.Errorf("task 2 ends at %v", t2.EndTime)
	}
}

// TestEventLimit keeps the first logs of a span and counts the rest.
func TestEventLimit(t *testing.T) {
	sc := newScript(t, WithEventLimit(2))
	for i := range 5 {
		sc.log(1100+mapping.Time(i), 1, 0, "n", "")
	}
	sc.task(1, 0, 1000, 2000)
	spans := sc.finish()
	t1 := sc.taskSpan(spans, 1)
	if len(t1.Events) != 2 || t1.DroppedEvents != 3 {
		t.Errorf("%d events, %d dropped; want 2 and 3", len(t1.Events), t1.DroppedEvents)
	}
	if res := sc.s.Result(); res.DroppedLogs != 3 || res.Events != 2 {
		t.Errorf("result %+v", res)
	}
}

// TestAnnotationsJoin converts the sample with traceparent logs and checks
// that its request tasks joined the traces they name.
func TestAnnotationsJoin(t *testing.T) {
	f, err := os.Open("../../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := tracetest.NewInMemoryExporter()
	res, err := Convert(context.Background(), f, exp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Joined == 0 || res.LateJoins != 0 || res.BadTraceparents != 0 {
		t.Fatalf("joined %d, late %d, bad %d", res.Joined, res.LateJoins, res.BadTraceparents)
	}
	spans := exp.GetSpans()
	byTrace := map[trace.TraceID]int{}
	remoteParents := 0
	for _, s := range spans {
		byTrace[s.SpanContext.TraceID()]++
		if s.Parent.IsRemote() {
			remoteParents++
			if s.Parent.TraceID() != s.SpanContext.TraceID() {
				t.Errorf("%q: remote parent in trace %v, span in %v", s.Name, s.Parent.TraceID(), s.SpanContext.TraceID())
			}
		}
	}
	if remoteParents != res.Joined {
		t.Errorf("%d spans with remote parents, %d joined", remoteParents, res.Joined)
	}
	// Every span of a joined task's tree is in the remote trace: count the
	// regions of the http.request tasks.
	for _, s := range spans {
		if s.Name == "lookup" || s.Name == "encode" || s.Name == "wait-results" {
			if s.SpanContext.TraceID().String()[:24] != "4bf92f3577b34da6a3ce929d" {
				t.Errorf("region %q of a request is in trace %v", s.Name, s.SpanContext.TraceID())
			}
		}
	}
	t.Logf("%d spans in %d traces; %d joined", len(spans), len(byTrace), res.Joined)
}

// TestSharedJoins: tasks that join the same remote trace make one trace
// between them, which the result counts once, and says which trace drew
// the most tasks, and the most that logged one traceparent (a fan-out
// logs many spans of one trace).
func TestSharedJoins(t *testing.T) {
	sc := newScript(t)
	for i := range 5 {
		id := mapping.TaskID(10 + i)
		at := mapping.Time(1100 + 100*i)
		tp := tp1
		switch i {
		case 3:
			tp = tp2
		case 4:
			tp = strings.Replace(tp1, "00f067aa0ba902b7", "00f067aa0ba902b8", 1) // another span of tp1's trace
		}
		sc.log(at, id, 0, "traceparent", tp)
		sc.task(id, 0, at, at+50)
	}
	sc.task(20, 0, 1700, 1800) // a root task of its own trace
	spans := sc.finish()
	res := sc.s.Result()
	traces := map[trace.TraceID]bool{}
	for _, s := range spans {
		traces[s.SpanContext.TraceID()] = true
	}
	if res.Joined != 5 || res.SharedJoins != 3 || res.Traces() != int64(len(traces)) || len(traces) != 3 {
		t.Errorf("joined %d, shared %d, traces %d; want 5, 3 and the %d trace IDs the spans have (3)", res.Joined, res.SharedJoins, res.Traces(), len(traces))
	}
	if res.MostJoined != 4 || res.MostJoinedTrace != remote(t, tp1).TraceID() || res.MostSameParent != 3 {
		t.Errorf("most joined %d, of %v, most under one span %d; want 4, of %v, and 3", res.MostJoined, res.MostJoinedTrace, res.MostSameParent, remote(t, tp1).TraceID())
	}
}

// TestDefaultResource: a conversion names no service of its own accord
// (the semantic conventions' unknown_service, not the input's name, which
// would make each capture a service of its own), and a capture from a URL
// names the instance, as a scraping receiver does; the variables and
// WithServiceName override both.
func TestDefaultResource(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	data, err := os.ReadFile("../../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		input, env string
		opts       []Option
		name, inst string
	}{
		{input: "/tmp/checkout-20260101T000000.trace", name: "unknown_service"},
		{input: "stdin", name: "unknown_service"},
		{input: "http://checkout:6060/debug/pprof/trace?seconds=5", name: "unknown_service", inst: "checkout:6060"},
		{input: "https://admin:xxxxx@payments.internal/debug/flight", name: "unknown_service", inst: "payments.internal:443"},
		{input: "http://[::1]/debug/pprof/trace", name: "unknown_service", inst: "[::1]:80"},
		{input: "http://checkout:6060/debug/pprof/trace", env: "service.instance.id=pod-7", opts: []Option{WithServiceName("checkout")}, name: "checkout", inst: "pod-7"},
	} {
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", c.env)
		exp := tracetest.NewInMemoryExporter()
		opts := append([]Option{WithInputName(c.input)}, c.opts...)
		if _, err := Convert(context.Background(), bytes.NewReader(data), exp, opts...); err != nil {
			t.Fatalf("%s: %v", c.input, err)
		}
		spans := exp.GetSpans()
		if len(spans) == 0 {
			t.Fatalf("%s: no spans", c.input)
		}
		res := spans[0].Resource
		name, _ := res.Set().Value("service.name")
		inst, hasInst := res.Set().Value("service.instance.id")
		if name.AsString() != c.name || inst.AsString() != c.inst || hasInst != (c.inst != "") {
			t.Errorf("%s: service.name %q, service.instance.id %q (set %v); want %q and %q", c.input, name.AsString(), inst.AsString(), hasInst, c.name, c.inst)
		}
	}
}

func TestResourceEnv(t *testing.T) {
	for v, want := range map[string]string{
		"":                               "",
		"team=a,env=prod":                "",
		"service.name=a%2Cb, team = a ":  "",
		"team=a,env":                     `"env" is not key=value`,
		"team=a,,env=prod":               "an empty pair",
		"=a":                             `"=a" has no key`,
		"team=100%":                      "the value of team is not percent-encoded",
		"team=a,deployment.environment=": "",
	} {
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", v)
		err := CheckEnv()
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want no error", v, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want an error saying %s", v, err, want)
		}
	}

	// A conversion refuses it too, before any span goes out: the flight
	// recorder and the Collector's receiver do not call CheckEnv.
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team")
	f, err := os.Open("../../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := tracetest.NewInMemoryExporter()
	if _, err := Convert(context.Background(), f, exp); err == nil || !strings.Contains(err.Error(), "OTEL_RESOURCE_ATTRIBUTES") {
		t.Errorf("Convert: %v, want the variable refused", err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported, want none", n)
	}

	// WithoutEnvResource leaves the variables out, valid or not: in a
	// Collector they describe the Collector, not the traced program.
	for _, v := range []string{"team", "k8s.pod.name=otel-collector-0"} {
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", v)
		t.Setenv("OTEL_SERVICE_NAME", "collector")
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		exp.Reset()
		if _, err := Convert(context.Background(), f, exp, WithoutEnvResource(), WithServiceName("checkout")); err != nil {
			t.Fatalf("Convert with OTEL_RESOURCE_ATTRIBUTES=%q: %v", v, err)
		}
		spans := exp.GetSpans()
		if len(spans) == 0 {
			t.Fatal("no spans")
		}
		for _, kv := range spans[0].Resource.Attributes() {
			if kv.Key == "k8s.pod.name" || kv.Key == "service.name" && kv.Value.AsString() != "checkout" {
				t.Errorf("OTEL_RESOURCE_ATTRIBUTES=%q: resource has %s=%s", v, kv.Key, kv.Value.Emit())
			}
		}
	}
}

// TestTraceSizes: the largest trace is told by its spans, also when many
// other traces got spans between two of its own, and the traces counted
// at once stay bounded.
func TestTraceSizes(t *testing.T) {
	var sz traceSizes
	id := func(n int) trace.TraceID { return trace.TraceID{byte(n), byte(n >> 8), byte(n >> 16), 1} }
	sz.add(id(0))
	sz.add(id(0))
	for n := 1; n <= maxSized+10; n++ {
		sz.add(id(n))
	}
	sz.add(id(0)) // counted before the others filled the table
	if sz.largest != 3 || sz.largestID != id(0) {
		t.Errorf("largest %d spans in %v, want 3 in %v", sz.largest, sz.largestID, id(0))
	}
	if n := len(sz.cur) + len(sz.prev); n > 2*maxSized {
		t.Errorf("%d traces counted at once, want at most %d", n, 2*maxSized)
	}
}

// TestSampledOnly: with WithSampledOnly, a task that joins a remote trace
// the application did not sample is left out, with its regions and its
// child tasks, and counted; a sampled one is sent. Without it, both are.
func TestSampledOnly(t *testing.T) {
	for _, only := range []bool{false, true} {
		var opts []Option
		if only {
			opts = append(opts, WithSampledOnly())
		}
		sc := newScript(t, opts...)
		sc.tree(11, 10)
		// Task 10 (and its child 11) in tp2's trace, unsampled; task 20
		// in tp1's, sampled.
		sc.log(1100, 10, 0, "traceparent", tp2)
		sc.region(10, 1110, 1120)
		sc.region(11, 1130, 1140)
		sc.task(11, 10, 1125, 1150)
		sc.task(10, 0, 1100, 1200)
		sc.log(1300, 20, 0, "traceparent", tp1)
		sc.region(20, 1310, 1320)
		sc.task(20, 0, 1300, 1400)
		spans := sc.finish()
		byTrace := map[trace.TraceID]int{}
		for _, s := range spans {
			byTrace[s.SpanContext.TraceID()]++
		}
		unsampled, sampled := byTrace[remote(t, tp2).TraceID()], byTrace[remote(t, tp1).TraceID()]
		res := sc.s.Result()
		if sampled != 2 {
			t.Errorf("sampled only %v: %d spans in the sampled trace, want 2", only, sampled)
		}
		if want := map[bool]int{false: 4, true: 0}[only]; unsampled != want || res.Unsampled != int64(4-want) {
			t.Errorf("sampled only %v: %d spans in the unsampled trace, %d counted as left out; want %d and %d", only, unsampled, res.Unsampled, want, 4-want)
		}
	}
}

// TestTasklessTraceparent: a traceparent logged outside any task joins
// nothing, and is counted, so that the command can say why.
func TestTasklessTraceparent(t *testing.T) {
	sc := newScript(t)
	sc.log(1100, mapping.NoTask, 0, "traceparent", tp1)
	sc.log(1150, 10, 0, "traceparent", tp2)
	sc.task(10, 0, 1100, 1200)
	spans := sc.finish()
	res := sc.s.Result()
	if res.TasklessTraceparents != 1 || res.Joined != 1 {
		t.Errorf("%d traceparents outside a task, %d joined; want 1 and 1", res.TasklessTraceparents, res.Joined)
	}
	for _, s := range spans {
		if s.SpanContext.TraceID() == remote(t, tp1).TraceID() {
			t.Errorf("span %q joined the trace of a traceparent logged outside any task", s.Name)
		}
	}
}

// TestSampledOnlyByTask: the sampling of a join is its task's: a task that
// joined a trace sampled keeps its spans when another joins the same trace
// unsampled; a long request stays left out however many others join
// meanwhile; tasks left out count no trace.
func TestSampledOnlyByTask(t *testing.T) {
	sampledT := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	unsampledT := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-00"
	sc := newScript(t, WithSampledOnly())
	sc.log(1100, 10, 0, "traceparent", sampledT)
	sc.region(10, 1110, 1120)
	sc.log(1130, 20, 0, "traceparent", unsampledT)
	sc.region(20, 1140, 1150)
	sc.region(10, 1160, 1170)
	sc.task(20, 0, 1130, 1180)
	sc.task(10, 0, 1100, 1190)
	// A long request left out, open while more remote traces join than
	// are remembered.
	sc.log(1200, 30, 0, "traceparent", tp2)
	for i := range maxSampling + 10 {
		id := mapping.TaskID(1000 + i)
		at := mapping.Time(1210 + 2*i)
		sc.log(at, id, 0, "traceparent", fmt.Sprintf("00-%032x-00f067aa0ba902b7-00", i+1))
		sc.task(id, 0, at, at+1)
	}
	end := mapping.Time(1210 + 2*maxSampling + 100)
	sc.region(30, end-50, end-40)
	sc.task(30, 0, 1200, end)
	spans := sc.finish()
	res := sc.s.Result()
	inSampled := 0
	for _, s := range spans {
		if s.SpanContext.TraceID() == remote(t, sampledT).TraceID() && s.Parent.SpanID() != remote(t, unsampledT).SpanID() {
			inSampled++
		}
	}
	if len(spans) != 3 || inSampled != 3 {
		t.Errorf("%d spans sent, %d of them the sampled task's; want its 3 alone", len(spans), inSampled)
	}
	if want := int64(2 + (maxSampling + 10) + 2); res.Unsampled != want {
		t.Errorf("%d spans left out, want %d", res.Unsampled, want)
	}
	if res.Traces() != 1 || res.MostSameParent != 1 {
		t.Errorf("%d traces, most tasks under one traceparent %d; want 1 and 1", res.Traces(), res.MostSameParent)
	}
}

// TestLogOfNoGoroutine: a log without its goroutine (a traceparent a
// filter restated for its task) is an event without go.goroutine.id, not
// one of goroutine -1.
func TestLogOfNoGoroutine(t *testing.T) {
	sc := newScript(t)
	sc.must(sc.s.Log(&mapping.Log{Time: 1100, G: mapping.NoGoroutine, P: mapping.NoProc, M: mapping.NoThread, Task: 2, Root: 2, Category: "cat", Message: "m"}))
	sc.log(1120, 2, mapping.NoRegion, "cat", "on G1")
	sc.task(2, 0, 1050, 1150)
	spans := sc.finish()
	evs := sc.taskSpan(spans, 2).Events
	if len(evs) != 2 {
		t.Fatalf("task 2's events: %v", evs)
	}
	for i, want := range []string{"", "1"} {
		got := ""
		for _, a := range evs[i].Attributes {
			if a.Key == keyGoroutineID {
				got = a.Value.Emit()
			}
		}
		if got != want {
			t.Errorf("event %d: go.goroutine.id %q, want %q", i, got, want)
		}
	}
}
