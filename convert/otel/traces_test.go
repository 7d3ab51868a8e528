package otel

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// traceOf returns the trace ID of the span with the given ID, failing the
// test if there is none.
func (sc *script) traceOf(spans map[trace.SpanID]tracetest.SpanStub, id trace.SpanID) trace.TraceID {
	sc.t.Helper()
	s, ok := spans[id]
	if !ok {
		sc.t.Fatalf("no span %v", id)
	}
	return s.SpanContext.TraceID()
}

// TestTracePerRootTask: each root task is a trace of its own, with its
// child tasks, their regions and its logs; no two root tasks share one.
func TestTracePerRootTask(t *testing.T) {
	for _, joinedElsewhere := range []bool{false, true} {
		sc := newScript(t)
		sc.tree(2, 1, 3, 2, 5, 4)
		if joinedElsewhere {
			// Another task of the file joins a remote trace, so the
			// sink holds the spans of tasks not yet known to be roots.
			sc.log(1001, 9, 0, "traceparent", tp1)
			sc.task(9, 0, 1000, 1002)
		}
		rg3 := sc.region(3, 1210, 1220)
		sc.task(3, 2, 1200, 1230)
		sc.log(1250, 2, 0, "step", "in task 2")
		sc.task(2, 1, 1150, 1400)
		rg1 := sc.region(1, 1410, 1420)
		rg5 := sc.region(5, 1510, 1520)
		sc.task(5, 4, 1500, 1600)
		sc.task(1, 0, 1000, 2000)
		sc.task(4, 0, 1400, 2100)
		spans := sc.finish()

		tr1, tr4 := sc.x.trace(kindTaskTrace, 1), sc.x.trace(kindTaskTrace, 4)
		if tr1 == tr4 {
			t.Fatal("two root tasks share a trace ID")
		}
		for _, c := range []struct {
			what string
			id   trace.SpanID
			want trace.TraceID
		}{
			{"task 1", sc.x.span(kindTask, 1), tr1},
			{"task 2", sc.x.span(kindTask, 2), tr1},
			{"task 3", sc.x.span(kindTask, 3), tr1},
			{"region of task 1", sc.x.region(rg1), tr1},
			{"region of task 3", sc.x.region(rg3), tr1},
			{"task 4", sc.x.span(kindTask, 4), tr4},
			{"task 5", sc.x.span(kindTask, 5), tr4},
			{"region of task 5", sc.x.region(rg5), tr4},
		} {
			if got := sc.traceOf(spans, c.id); got != c.want {
				t.Errorf("joined elsewhere %v: %s in trace %v, want %v", joinedElsewhere, c.what, got, c.want)
			}
		}
		if t2 := sc.taskSpan(spans, 2); len(t2.Events) != 1 {
			t.Errorf("task 2: events %v", t2.Events)
		}
		if res := sc.s.Result(); res.Placeholders != 0 {
			t.Errorf("%d placeholders for a tree the trace holds whole", res.Placeholders)
		}
	}
}

// TestPlaceholderTask: the children of a task begun and ended outside the
// trace (a flight-recorder snapshot's long-lived parent) get a placeholder
// parent in their trace, clipped to the trace and marked open at both ends.
func TestPlaceholderTask(t *testing.T) {
	for _, joinedElsewhere := range []bool{false, true} {
		sc := newScript(t)
		sc.tree(2, 7, 3, 7, 4, 3)
		if joinedElsewhere {
			sc.log(1001, 9, 0, "traceparent", tp1)
			sc.task(9, 0, 1000, 1002)
		}
		rg := sc.region(2, 1110, 1120)
		sc.task(2, 7, 1100, 1200)
		sc.task(4, 3, 1310, 1320)
		sc.log(1330, 7, 0, "note", "in the outer task")
		sc.task(3, 7, 1300, 1400)
		spans := sc.finish()

		p, ok := spans[sc.x.span(kindTask, 7)]
		if !ok {
			t.Fatalf("joined elsewhere %v: no placeholder for task 7", joinedElsewhere)
		}
		tr7 := sc.x.trace(kindTaskTrace, 7)
		if p.Name != "task placeholder" || attr(&p, keyTaskID).AsInt64() != 7 || p.Parent.IsValid() || p.SpanContext.TraceID() != tr7 ||
			!attr(&p, keyPlaceholder).AsBool() || !attr(&p, keyOpenStart).AsBool() || !attr(&p, keyOpenEnd).AsBool() {
			t.Errorf("placeholder %q, parent %v, trace %v, attributes %v", p.Name, p.Parent.SpanID(), p.SpanContext.TraceID(), p.Attributes)
		}
		if !p.StartTime.Equal(fixedStart) || !p.EndTime.Equal(fixedStart.Add(9000)) {
			t.Errorf("placeholder from %v to %v, want the trace's bounds", p.StartTime, p.EndTime)
		}
		if len(p.Events) != 1 || p.Events[0].Name != "note" {
			t.Errorf("placeholder events %v, want the task's log", p.Events)
		}
		for _, c := range []struct {
			what   string
			id     trace.SpanID
			parent trace.SpanID
		}{
			{"task 2", sc.x.span(kindTask, 2), sc.x.span(kindTask, 7)},
			{"task 3", sc.x.span(kindTask, 3), sc.x.span(kindTask, 7)},
			{"task 4", sc.x.span(kindTask, 4), sc.x.span(kindTask, 3)},
			{"region of task 2", sc.x.region(rg), sc.x.span(kindTask, 2)},
		} {
			s := spans[c.id]
			if s.Parent.SpanID() != c.parent || s.SpanContext.TraceID() != tr7 {
				t.Errorf("joined elsewhere %v: %s: parent %v in %v, want %v in %v", joinedElsewhere, c.what, s.Parent.SpanID(), s.SpanContext.TraceID(), c.parent, tr7)
			}
		}
		if res := sc.s.Result(); res.Placeholders != 1 || res.UnplacedLogs != 0 {
			t.Errorf("result %+v", res)
		}
	}
}

// TestPlaceholderJoined: a placeholder task whose log carries a
// traceparent joins the remote trace with its children.
func TestPlaceholderJoined(t *testing.T) {
	sc := newScript(t)
	sc.tree(2, 7)
	sc.log(1050, 7, 0, "traceparent", tp1)
	sc.region(2, 1110, 1120)
	sc.task(2, 7, 1100, 1200)
	spans := sc.finish()
	r := remote(t, tp1)
	p := sc.taskSpan(spans, 7)
	if p.Parent.SpanID() != r.SpanID() || p.SpanContext.TraceID() != r.TraceID() {
		t.Errorf("placeholder: parent %v in %v, want the remote span", p.Parent, p.SpanContext.TraceID())
	}
	if t2 := sc.taskSpan(spans, 2); t2.SpanContext.TraceID() != r.TraceID() || t2.Parent.SpanID() != sc.x.span(kindTask, 7) {
		t.Errorf("task 2: parent %v in %v", t2.Parent.SpanID(), t2.SpanContext.TraceID())
	}
}

// TestRegionTraces: regions outside any task are in a trace per
// goroutine, under its span; a region inside another task's region is a
// child of its own task, in its task's trace; and a parent region that
// never came (a filter cut it) gets a placeholder.
func TestRegionTraces(t *testing.T) {
	sc := newScript(t)
	sc.must(sc.s.Goroutine(&mapping.Goroutine{ID: 2, StartFunc: "main.worker", Creator: 1, Created: 1001}))
	region := func(r mapping.Region) mapping.RegionID {
		t.Helper()
		sc.next++
		r.ID, r.Type, r.Root = sc.next, "work", r.Task
		sc.must(sc.s.Region(&r))
		return r.ID
	}
	// Goroutine 1: a task's region inside a region of no task.
	const outer = 10
	inTask := region(mapping.Region{G: 1, Task: 5, Parent: outer, ParentTask: mapping.NoTask, Start: 1110, End: 1120})
	sc.task(5, 0, 1100, 1130)
	sc.next = outer - 1
	region(mapping.Region{G: 1, Start: 1050, End: 1200})
	// Goroutine 2: two regions of no task, the parent of one never
	// delivered.
	cut := mapping.RegionID(20)
	sc.next = 20
	free := region(mapping.Region{G: 2, Start: 1300, End: 1310})
	orphan := region(mapping.Region{G: 2, Parent: cut, Start: 1320, End: 1330})
	sc.must(sc.s.GoroutineEvent(&mapping.GoroutineEvent{Kind: mapping.GoEnded, Time: 1400, G: 2}))
	spans := sc.finish()

	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	g1, g2 := byName["goroutine main.main"], byName["goroutine main.worker"]
	if !g1.SpanContext.IsValid() || !g2.SpanContext.IsValid() || g1.SpanContext.TraceID() == g2.SpanContext.TraceID() {
		t.Fatalf("goroutine spans %v and %v: want one trace each", g1.SpanContext, g2.SpanContext)
	}
	tr5 := sc.x.trace(kindTaskTrace, 5)
	if tr5 == g1.SpanContext.TraceID() {
		t.Fatal("a task shares its goroutine's trace")
	}
	check := func(what string, id, parent trace.SpanID, tr trace.TraceID) {
		t.Helper()
		s, ok := spans[id]
		if !ok {
			t.Fatalf("%s: no span", what)
		}
		if s.Parent.SpanID() != parent || s.SpanContext.TraceID() != tr {
			t.Errorf("%s: parent %v in %v, want %v in %v", what, s.Parent.SpanID(), s.SpanContext.TraceID(), parent, tr)
		}
	}
	check("region of task 5 in a region of no task", sc.x.region(inTask), sc.x.span(kindTask, 5), tr5)
	check("region of no task", sc.x.region(outer), g1.SpanContext.SpanID(), g1.SpanContext.TraceID())
	check("region of no task on G2", sc.x.region(free), g2.SpanContext.SpanID(), g2.SpanContext.TraceID())
	check("region whose parent was cut", sc.x.region(orphan), sc.x.region(cut), g2.SpanContext.TraceID())
	check("placeholder region", sc.x.region(cut), g2.SpanContext.SpanID(), g2.SpanContext.TraceID())
	if p := spans[sc.x.region(cut)]; p.Name != "region placeholder" || !attr(&p, keyPlaceholder).AsBool() {
		t.Errorf("placeholder %q %v", p.Name, p.Attributes)
	}
	if res := sc.s.Result(); res.Placeholders != 1 || res.Goroutines != 2 {
		t.Errorf("result %+v", res)
	}
}
