package conformance

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/mapping"
)

// TestOTelFilters converts every trace to spans through a time window and
// through selections of a task type and a region type, which cut tasks
// and regions out of the trees the others hang from. Every span's parent
// must still be in its trace (a placeholder where the filter cut it), a
// trace must hold one tree of tasks only, and the placeholders must stand
// for exactly the tasks and regions named and not kept.
func TestOTelFilters(t *testing.T) {
	files := append(corpus(t), regressionTraces(t)...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, data := readOracle(t, file)
			full, sum := mapTrace(t, file, data)
			dur := time.Duration(sum.End - sum.Start)
			filters := map[string]*mapping.Filter{
				"window": {From: mapping.Bound{Offset: dur / 3, Set: true}, To: mapping.Bound{Offset: 2 * dur / 3, Set: true}},
			}
			// The type of a child task, so that its parent is cut; and of
			// a nested region, so that its enclosing one is.
			for _, k := range full.tasks {
				if k.Parent != mapping.NoTask && k.Type != "" {
					filters["task"] = &mapping.Filter{Tasks: []string{k.Type}}
					break
				}
			}
			for _, r := range full.regions {
				if r.Parent != mapping.NoRegion && r.Type != "" {
					filters["region"] = &mapping.Filter{Regions: []string{r.Type}}
					break
				}
			}
			for name, f := range filters {
				t.Run(name, func(t *testing.T) {
					if f.NeedsPrepass() {
						if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
							t.Fatalf("prepass: %v", err)
						}
					}
					rec := newRecorder()
					exp := tracetest.NewInMemoryExporter()
					s := otel.NewSink(context.Background(), exp, otel.WithIDSeed([]byte(file)))
					if _, err := mapping.Map(bytes.NewReader(data), f.Sink(mapping.FanOut(rec, s))); err != nil {
						t.Fatal(err)
					}
					checkFilteredSpans(t, rec, exp.GetSpans(), s.Result())
				})
			}
		})
	}
}

func checkFilteredSpans(t *testing.T, rec *recorder, spans tracetest.SpanStubs, res otel.Result) {
	t.Helper()
	tasks := map[mapping.TaskID]mapping.Task{}
	for _, k := range rec.tasks {
		tasks[k.ID] = k
	}
	regions := map[mapping.RegionID]bool{}
	for _, r := range rec.regions {
		regions[r.ID] = true
	}
	// What the model names and does not deliver.
	missingTasks := map[int64]bool{}
	missingRegions := 0
	name := func(id mapping.TaskID) {
		if _, ok := tasks[id]; id != mapping.NoTask && !ok {
			missingTasks[int64(id)] = true
		}
	}
	for _, k := range rec.tasks {
		name(k.Parent)
	}
	seenParent := map[mapping.RegionID]bool{}
	for _, r := range rec.regions {
		name(r.Task)
		if r.Parent != mapping.NoRegion && r.ParentTask == r.Task && !regions[r.Parent] && !seenParent[r.Parent] {
			seenParent[r.Parent] = true
			missingRegions++
		}
	}
	for _, l := range rec.logs {
		name(l.Task)
	}

	byID := map[oteltrace.SpanID]*tracetest.SpanStub{}
	for i := range spans {
		byID[spans[i].SpanContext.SpanID()] = &spans[i]
	}
	rootOfTrace := map[oteltrace.TraceID]mapping.TaskID{}
	placeholderTasks, placeholderRegions := map[int64]bool{}, 0
	for i := range spans {
		s := &spans[i]
		tid := s.SpanContext.TraceID()
		if p := s.Parent; p.IsValid() && !p.IsRemote() {
			if ps := byID[p.SpanID()]; ps == nil || ps.SpanContext.TraceID() != tid {
				t.Errorf("span %q: parent %v is not in its trace", s.Name, p.SpanID())
			}
		}
		var task int64
		hasTask, placeholder := false, false
		for _, a := range s.Attributes {
			switch a.Key {
			case "go.task.id":
				task, hasTask = a.Value.AsInt64(), true
			case "go.trace.placeholder":
				placeholder = a.Value.AsBool()
			}
		}
		switch {
		case placeholder && len(s.Name) > 5 && s.Name[:5] == "task ":
			placeholderTasks[task] = true
		case placeholder:
			placeholderRegions++
		}
		// Spans of delivered tasks in one trace share a root, but where
		// a task joined a remote trace.
		if k, ok := tasks[mapping.TaskID(task)]; hasTask && ok && !s.Parent.IsRemote() {
			if r, seen := rootOfTrace[tid]; seen && r != k.Root {
				t.Errorf("trace %v holds trees of tasks %d and %d", tid, r, k.Root)
			}
			rootOfTrace[tid] = k.Root
		}
	}
	checkPlaceholderExtents(t, spans)
	if len(placeholderTasks) != len(missingTasks) {
		t.Errorf("%d task placeholders, want one per task named and not kept: %d", len(placeholderTasks), len(missingTasks))
	}
	for id := range placeholderTasks {
		if !missingTasks[id] {
			t.Errorf("a placeholder for task %d, which was kept", id)
		}
	}
	if placeholderRegions != missingRegions {
		t.Errorf("%d region placeholders, want one per enclosing region not kept: %d", placeholderRegions, missingRegions)
	}
	if res.Placeholders != int64(len(placeholderTasks)+placeholderRegions) {
		t.Errorf("result: %d placeholders", res.Placeholders)
	}
}

// checkPlaceholderExtents checks that each placeholder of a filtered
// pass covers what hangs from it, its child spans and its logs, and no
// more: the filter cut a task or region that may have been much shorter
// than the trace, and a backend takes a trace to last from its first
// span's start to its last span's end.
func checkPlaceholderExtents(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	type extent struct {
		start, end time.Time
		any        bool
	}
	kids := map[oteltrace.SpanID]*extent{}
	cover := func(id oteltrace.SpanID, start, end time.Time) {
		e := kids[id]
		if e == nil {
			e = &extent{start: start, end: end, any: true}
			kids[id] = e
		}
		if start.Before(e.start) {
			e.start = start
		}
		if end.After(e.end) {
			e.end = end
		}
	}
	for i := range spans {
		s := &spans[i]
		if p := s.Parent; p.IsValid() && !p.IsRemote() {
			cover(p.SpanID(), s.StartTime, s.EndTime)
		}
		for _, ev := range s.Events {
			cover(s.SpanContext.SpanID(), ev.Time, ev.Time)
		}
	}
	for i := range spans {
		s := &spans[i]
		placeholder := false
		for _, a := range s.Attributes {
			placeholder = placeholder || a.Key == "go.trace.placeholder" && a.Value.AsBool()
		}
		e := kids[s.SpanContext.SpanID()]
		if !placeholder || e == nil {
			continue
		}
		if !s.StartTime.Equal(e.start) || !s.EndTime.Equal(e.end) {
			t.Errorf("%s %v: from %v to %v, want over what hangs from it, from %v to %v", s.Name, s.SpanContext.SpanID(),
				s.StartTime.UnixNano(), s.EndTime.UnixNano(), e.start.UnixNano(), e.end.UnixNano())
		}
	}
}
