package otel

import (
	"bytes"
	"context"
	"fmt"
	"os"
	rtrace "runtime/trace"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// joinModel keeps, of the model, the tasks, their regions and their
// traceparent logs.
type joinModel struct {
	mapping.NopSink
	tasks   map[mapping.TaskID]mapping.Task
	regions []mapping.Region
	tps     []mapping.Log
}

func (m *joinModel) Task(k *mapping.Task) error     { m.tasks[k.ID] = *k; return nil }
func (m *joinModel) Region(r *mapping.Region) error { m.regions = append(m.regions, *r); return nil }
func (m *joinModel) Log(l *mapping.Log) error {
	if l.Category == mapping.CategoryTraceparent && l.Task != mapping.NoTask {
		m.tps = append(m.tps, *l)
	}
	return nil
}

// convertFiltered converts data through f (none if nil) as the command
// does, with the tests' IDs.
func convertFiltered(t *testing.T, data []byte, f *mapping.Filter) (tracetest.SpanStubs, Result) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	s := NewSink(context.Background(), exp, WithIDSeed(testSeed), WithStartTime(fixedStart), WithEventLimit(-1))
	var sink mapping.Sink = s
	if f != nil {
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		sink = f.Sink(s)
	}
	if _, err := mapping.Map(bytes.NewReader(data), sink); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans(), s.Result()
}

func spanAttr(s *tracetest.SpanStub, k attribute.Key) (attribute.Value, bool) {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestFilteredJoin converts the sample with traceparent logs through
// filters that keep request tasks but not their traceparent logs: a
// window that begins after the logs, a type of region, a worker
// goroutine. The spans of the tasks and their regions must be in the
// traces they are in without a filter, the tasks' under the remote spans.
func TestFilteredJoin(t *testing.T) {
	data, err := os.ReadFile("../../testdata/annotations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	model := joinModel{tasks: map[mapping.TaskID]mapping.Task{}}
	sum, err := mapping.Map(bytes.NewReader(data), &model)
	if err != nil {
		t.Fatal(err)
	}
	full, fullRes := convertFiltered(t, data, nil)
	if fullRes.Joined == 0 || fullRes.LateJoins != 0 {
		t.Fatalf("unfiltered: joined %d, late %d", fullRes.Joined, fullRes.LateJoins)
	}
	fullByID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range full {
		fullByID[s.SpanContext.SpanID()] = s
	}
	// The joined tasks; a window that begins after all their traceparents
	// and before any of them ends; a region of one of them run by a
	// goroutine other than the one that logged its traceparent.
	ids := newIDs(testSeed)
	joined := 0
	var lastLog, firstEnd mapping.Time
	var worker mapping.Region
	for _, l := range model.tps {
		if s, ok := fullByID[ids.span(kindTask, uint64(l.Task))]; !ok || !s.Parent.IsRemote() {
			continue
		}
		joined++
		lastLog = max(lastLog, l.Time)
		if end := model.tasks[l.Task].End; firstEnd == 0 || end < firstEnd {
			firstEnd = end
		}
		for _, r := range model.regions {
			if r.Task == l.Task && r.G != l.G && worker.ID == mapping.NoRegion {
				worker = r
			}
		}
	}
	if joined != fullRes.Joined || worker.ID == mapping.NoRegion || lastLog >= firstEnd {
		t.Fatalf("%d joined tasks (the result says %d), region %+v on another goroutine, traceparents until %d, the first ends at %d",
			joined, fullRes.Joined, worker, lastLog, firstEnd)
	}
	from := mapping.Bound{Offset: time.Duration((lastLog+firstEnd)/2 - sum.Start), Set: true}

	for _, tc := range []struct {
		name string
		f    mapping.Filter
		all  bool // it keeps every joined task
	}{
		{"window", mapping.Filter{From: from}, true},
		{"region " + worker.Type, mapping.Filter{Regions: []string{worker.Type}}, false},
		{"region " + worker.Type + " and window", mapping.Filter{Regions: []string{worker.Type}, From: from}, false},
		{"goroutine", mapping.Filter{Goroutines: []mapping.GoID{worker.G}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans, res := convertFiltered(t, data, &tc.f)
			kept, workerKept := 0, false
			for i := range spans {
				s := &spans[i]
				_, inTask := spanAttr(s, keyTaskID)
				placeholder, _ := spanAttr(s, keyPlaceholder)
				want, ok := fullByID[s.SpanContext.SpanID()]
				if !inTask || placeholder.AsBool() || !ok {
					continue // of no task, or not a span of the whole trace
				}
				if s.SpanContext.TraceID() != want.SpanContext.TraceID() {
					t.Errorf("%q: in trace %v, unfiltered in %v", s.Name, s.SpanContext.TraceID(), want.SpanContext.TraceID())
				}
				if want.Parent.IsRemote() {
					kept++
					if !s.Parent.Equal(want.Parent) {
						t.Errorf("%q: parent %v, unfiltered %v", s.Name, s.Parent, want.Parent)
					}
				}
				workerKept = workerKept || s.SpanContext.SpanID() == ids.span(kindTask, uint64(worker.Task))
			}
			if !workerKept {
				t.Fatalf("task %d, which the filter keeps, has no span", worker.Task)
			}
			if tc.all && kept != joined {
				t.Errorf("%d joined tasks kept, want all %d", kept, joined)
			}
			if res.Joined != kept || res.LateJoins != 0 || res.BadTraceparents != 0 {
				t.Errorf("joined %d, late %d, bad %d; want %d, 0, 0", res.Joined, res.LateJoins, res.BadTraceparents, kept)
			}
		})
	}
}

// TestFilteredSubtaskJoin selects a subtask of a request task that logged
// its traceparent, or a region of that subtask: what is kept stays in the
// request's distributed trace, under the request's task, which is kept
// for that (with its traceparent) rather than stood in for by a
// placeholder in a trace of its own.
func TestFilteredSubtaskJoin(t *testing.T) {
	// Not both: a task between the request's and the one selected, under
	// a root that is not the request's, is a placeholder whose parent the
	// trace does not tell, and it stays out of the request's trace.
	for _, c := range []struct{ server, mid bool }{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprint("server=", c.server, ",mid=", c.mid), func(t *testing.T) { testFilteredSubtaskJoin(t, c.server, c.mid) })
	}
}

// testFilteredSubtaskJoin is TestFilteredSubtaskJoin, with the request's
// task under a server's task that logs no traceparent if server is set,
// as the OpenTelemetry SDK begins one for a server span: the request's
// task is not the root, and the server's task, left out, makes no trace
// of its own; and with a task between the request's and the one
// selected if mid is set, which stands in the request's trace too.
func testFilteredSubtaskJoin(t *testing.T, server, mid bool) {
	const tp = "00-abababababababababababababababab-cdcdcdcdcdcdcdcd-01"
	data, err := synth.RecordFunc(func() {
		ctx := context.Background()
		if server {
			var srv *rtrace.Task
			ctx, srv = rtrace.NewTask(ctx, "server")
			defer srv.End()
		}
		ctx, req := rtrace.NewTask(ctx, "req")
		rtrace.Log(ctx, mapping.CategoryTraceparent, tp)
		pctx, m := ctx, (*rtrace.Task)(nil)
		if mid {
			pctx, m = rtrace.NewTask(ctx, "mid")
		}
		cctx, child := rtrace.NewTask(pctx, "child")
		done := make(chan struct{})
		go func() {
			defer close(done)
			rtrace.WithRegion(cctx, "work", func() { time.Sleep(time.Millisecond) })
		}()
		<-done
		child.End()
		if m != nil {
			m.End()
		}
		req.End()
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]*mapping.Filter{
		"task":   {Tasks: []string{"child"}},
		"region": {Regions: []string{"work"}},
	} {
		t.Run(name, func(t *testing.T) {
			spans, _ := convertFiltered(t, data, f)
			byName := map[string]tracetest.SpanStub{}
			for _, sp := range spans {
				byName[sp.Name] = sp
			}
			req, ok := byName["req"]
			if !ok {
				t.Fatalf("no span req, the task that joined the request's trace: %d spans", len(spans))
			}
			if got := req.Parent.SpanID().String(); !req.Parent.IsRemote() || got != "cdcdcdcdcdcdcdcd" {
				t.Errorf("req's parent is %v, want the remote span cdcdcdcdcdcdcdcd", req.Parent)
			}
			for _, sp := range spans {
				if sp.SpanContext.TraceID().String() != "abababababababababababababababab" {
					t.Errorf("span %q is in trace %s, want the request's", sp.Name, sp.SpanContext.TraceID())
				}
			}
			if _, ok := byName["work"]; !ok {
				t.Errorf("the region work was not kept")
			}
			// Its traceparent is on the goroutine that logged it, which
			// the selection keeps: it began and ended the task selected.
			for _, ev := range req.Events {
				for _, a := range ev.Attributes {
					if name == "task" && a.Key == keyGoroutineID && a.Value.AsInt64() < 0 {
						t.Errorf("req's event %q is on no goroutine", ev.Name)
					}
				}
			}
		})
	}
}

// goLives keeps, of the model, the goroutines that have states and when
// each ended.
type goLives struct {
	mapping.NopSink
	stated  map[mapping.GoID]bool
	created map[mapping.GoID]mapping.Time
	ended   map[mapping.GoID]mapping.Time
}

func (g *goLives) Goroutine(x *mapping.Goroutine) error {
	if !x.Updated {
		g.created[x.ID] = x.Created
	}
	return nil
}

func (g *goLives) GoroutineState(s *mapping.GoroutineState) error { g.stated[s.G] = true; return nil }
func (g *goLives) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if e.Kind == mapping.GoEnded {
		g.ended[e.G] = e.Time
	}
	return nil
}

// TestFilteredGoroutineSpans checks that with goroutine spans, a filter
// that selects a goroutine gives the spans of the goroutines whose states
// it keeps, each ending where the model says, and none for goroutines
// only named by what it kept (those it created or woke), whose ends the
// filter does not deliver.
func TestFilteredGoroutineSpans(t *testing.T) {
	data, err := os.ReadFile("../../testdata/mixed.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []mapping.GoID{1, 20} {
		f := &mapping.Filter{Goroutines: []mapping.GoID{g}}
		model := &goLives{stated: map[mapping.GoID]bool{}, created: map[mapping.GoID]mapping.Time{}, ended: map[mapping.GoID]mapping.Time{}}
		_, err := mapping.Map(bytes.NewReader(data), f.Sink(model))
		if err != nil {
			t.Fatal(err)
		}
		exp := tracetest.NewInMemoryExporter()
		s := NewSink(context.Background(), exp, WithIDSeed(testSeed), WithStartTime(fixedStart), WithGoroutineSpans())
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(s)); err != nil {
			t.Fatal(err)
		}
		got := map[mapping.GoID]bool{}
		for _, sp := range exp.GetSpans() {
			v, ok := spanAttr(&sp, keyGoroutineID)
			if !ok || !strings.HasPrefix(sp.Name, "goroutine") {
				continue
			}
			id := mapping.GoID(v.AsInt64())
			got[id] = true
			if !model.stated[id] {
				t.Errorf("--goroutine %d: a span for G%d, of which the filter kept no state", g, id)
				continue
			}
			_, open := spanAttr(&sp, keyOpenEnd)
			// A goroutine that began before the trace has no creation
			// time to measure from.
			if end, ok := model.ended[id]; ok && model.created[id] > 0 && (open || sp.EndTime.Sub(sp.StartTime) != end.Sub(model.created[id])) {
				t.Errorf("--goroutine %d: G%d's span lasts %v (open %v); the model's life %v", g, id, sp.EndTime.Sub(sp.StartTime), open, end.Sub(model.created[id]))
			}
		}
		for id := range model.stated {
			if !got[id] {
				t.Errorf("--goroutine %d: no span for G%d, whose states are kept", g, id)
			}
		}
		if len(got) == 0 {
			t.Errorf("--goroutine %d: no goroutine spans", g)
		}
	}
}

// logCount counts the logs of the model.
type logCount struct {
	mapping.NopSink
	n int
}

func (c *logCount) Log(*mapping.Log) error { c.n++; return nil }

// TestFilteredLogsInOtherTasksRegions checks that a filter that keeps a
// subtask but not its parent keeps every log of the subtask as a span
// event, those logged inside a region of the parent too: that region is
// left out, and its logs had waited for it in vain.
func TestFilteredLogsInOtherTasksRegions(t *testing.T) {
	data, err := synth.RecordFunc(func() {
		ctx, parent := rtrace.NewTask(context.Background(), "parent")
		rtrace.WithRegion(ctx, "outer", func() {
			cctx, child := rtrace.NewTask(ctx, "childInRegion")
			rtrace.Log(cctx, "c1", "in the parent's region")
			child.End()
		})
		rtrace.WithRegion(ctx, "outer2", func() {
			dctx, d := rtrace.NewTask(ctx, "childNested")
			rtrace.WithRegion(dctx, "own", func() { rtrace.Log(dctx, "c3", "in its own region") })
			rtrace.Log(dctx, "c4", "in the parent's region")
			d.End()
		})
		rtrace.Log(ctx, "p", "the parent's")
		parent.End()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*mapping.Filter{
		{Tasks: []string{"childInRegion"}},
		{Tasks: []string{"childNested"}},
		{Tasks: []string{"parent"}},
		{Regions: []string{"own"}},
		{},
	} {
		var model logCount
		if f.NeedsPrepass() {
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := mapping.Map(bytes.NewReader(data), f.Sink(&model)); err != nil {
			t.Fatal(err)
		}
		spans, res := convertFiltered(t, data, f)
		events := 0
		for _, sp := range spans {
			events += len(sp.Events)
		}
		if events != model.n || model.n == 0 || res.UnplacedLogs != 0 {
			t.Errorf("tasks %v, regions %v: %d span events (%d unplaced), the filter keeps %d logs", f.Tasks, f.Regions, events, res.UnplacedLogs, model.n)
		}
	}
}

// TestFilteredLateTraceparent: a task that logs its traceparent after one
// of its regions ended joins its request's trace, over the whole trace,
// because another task logged a traceparent before (the conversion then
// holds a task's spans for its own). A filter that keeps the late task
// and leaves out the other must join it too: its prepass saw the other's
// traceparent, and the spans wait from then, as over the whole trace. A
// task whose region ends before any traceparent was logged stays in a
// trace of its own, linked, in both.
func TestFilteredLateTraceparent(t *testing.T) {
	const (
		tpFirst = "00-11111111111111111111111111111111-1111111111111111-01"
		tpEarly = "00-22222222222222222222222222222222-2222222222222222-01"
		tpLate  = "00-33333333333333333333333333333333-3333333333333333-01"
	)
	data, err := synth.RecordFunc(func() {
		ctx := context.Background()
		// Its region ends before any traceparent: late over the whole
		// trace too.
		ectx, early := rtrace.NewTask(ctx, "early")
		rtrace.WithRegion(ectx, "step", func() { time.Sleep(time.Millisecond) })
		fctx, first := rtrace.NewTask(ctx, "first")
		rtrace.Log(fctx, mapping.CategoryTraceparent, tpFirst)
		first.End()
		lctx, late := rtrace.NewTask(ctx, "late")
		rtrace.WithRegion(lctx, "work", func() { time.Sleep(time.Millisecond) })
		rtrace.Log(lctx, mapping.CategoryTraceparent, tpLate)
		rtrace.Log(ectx, mapping.CategoryTraceparent, tpEarly)
		early.End()
		late.End()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // span: the trace it is in
		"late": "33333333333333333333333333333333",
		"work": "33333333333333333333333333333333",
	}
	for name, f := range map[string]*mapping.Filter{
		"whole":  nil,
		"task":   {Tasks: []string{"late", "early"}},
		"region": {Regions: []string{"work", "step"}},
	} {
		t.Run(name, func(t *testing.T) {
			spans, res := convertFiltered(t, data, f)
			byName := map[string]tracetest.SpanStub{}
			for _, sp := range spans {
				byName[sp.Name] = sp
			}
			for span, tid := range want {
				sp, ok := byName[span]
				if !ok {
					t.Fatalf("no span %q among %d", span, len(spans))
				}
				if got := sp.SpanContext.TraceID().String(); got != tid {
					t.Errorf("span %q is in trace %s, want %s, the late traceparent's", span, got, tid)
				}
			}
			if sp := byName["step"]; sp.SpanContext.TraceID().String() == "22222222222222222222222222222222" {
				t.Errorf("the region step, ended before any traceparent, joined its task's late traceparent: spans were held from the trace's start")
			}
			if res.LateJoins != 1 {
				t.Errorf("%d late joins, want 1 (the early task's)", res.LateJoins)
			}
		})
	}
}
