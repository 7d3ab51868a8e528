package conformance

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/convert/otel"
)

// checkTraceCuts checks how the spans of a trace are cut into traces,
// against the oracle: each root task is a trace holding exactly its
// subtree (its descendant tasks and all their regions), or, where a task
// logged a traceparent, that task's subtree joins the remote trace; the
// regions outside tasks of a goroutine are a trace with its goroutine's
// span; no trace holds two trees; no span's parent is missing from its
// trace; and a placeholder stands for exactly each task the trace names
// but never shows.
// treeKeys tells, from the oracle, the tree each task's spans belong to.
type treeKeys struct {
	parent map[trace.TaskID]trace.TaskID // of the tasks the trace shows
	joined map[trace.TaskID]bool         // tasks that logged a valid traceparent
}

func newTreeKeys(o *Oracle) *treeKeys {
	k := &treeKeys{parent: map[trace.TaskID]trace.TaskID{}, joined: map[trace.TaskID]bool{}}
	for _, tk := range o.Tasks {
		k.parent[tk.ID] = tk.Parent
	}
	for _, l := range o.Logs {
		if l.Category != "traceparent" || l.Task == 0 {
			continue
		}
		sc := oteltrace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": l.Message}))
		if sc.IsValid() {
			k.joined[l.Task] = true
		}
	}
	return k
}

// of returns the key of task id's tree: the nearest task up its ancestry
// that joined a remote trace, or else its root, which may be a task the
// trace never shows.
func (k *treeKeys) of(id trace.TaskID) string {
	for {
		if k.joined[id] {
			return fmt.Sprintf("joined by task %d", id)
		}
		p, shown := k.parent[id]
		if !shown || p == 0 {
			return fmt.Sprintf("root task %d", id)
		}
		if _, ok := k.parent[p]; !ok {
			if k.joined[p] {
				return fmt.Sprintf("joined by task %d", p)
			}
			return fmt.Sprintf("root task %d", p)
		}
		id = p
	}
}

func checkTraceCuts(t *testing.T, o *Oracle, spans tracetest.SpanStubs, res *otel.Result) {
	t.Helper()
	if res.LateJoins != 0 {
		t.Fatalf("%d late traceparents: the corpus logs them in time", res.LateJoins)
	}
	k := newTreeKeys(o)
	// What each tree must hold: its tasks and their regions, and a
	// placeholder where its root is a task never shown; a goroutine's
	// trace, its regions of no task.
	want := map[string]int{}
	wantPlaceholders := map[trace.TaskID]bool{}
	named := func(id trace.TaskID) {
		if _, ok := k.parent[id]; id != 0 && !ok {
			wantPlaceholders[id] = true
		}
	}
	for _, tk := range o.Tasks {
		want[k.of(tk.ID)]++
		named(tk.Parent)
	}
	for _, r := range o.Regions {
		if r.Task == 0 {
			want[fmt.Sprintf("goroutine %d", r.G)]++
			continue
		}
		want[k.of(r.Task)]++
		named(r.Task)
	}
	for _, l := range o.Logs {
		named(l.Task)
	}
	for id := range wantPlaceholders {
		want[k.of(id)]++
	}

	attrOf := func(s *tracetest.SpanStub, key attribute.Key) (attribute.Value, bool) {
		for _, a := range s.Attributes {
			if a.Key == key {
				return a.Value, true
			}
		}
		return attribute.Value{}, false
	}
	// The tree each span belongs to, by what it says of itself.
	keyOf := func(s *tracetest.SpanStub) (key string, goroutineSpan bool) {
		task, hasTask := attrOf(s, "go.task.id")
		g, _ := attrOf(s, "go.goroutine.id")
		switch {
		case hasTask:
			return k.of(trace.TaskID(task.AsInt64())), false
		case isGoroutineSpan(*s):
			return fmt.Sprintf("goroutine %d", g.AsInt64()), true
		default:
			return fmt.Sprintf("goroutine %d", g.AsInt64()), false
		}
	}

	byID := map[oteltrace.SpanID]*tracetest.SpanStub{}
	for i := range spans {
		byID[spans[i].SpanContext.SpanID()] = &spans[i]
	}
	got := map[string]int{}
	keysOfTrace := map[oteltrace.TraceID][]string{}
	traceOfKey := map[string]oteltrace.TraceID{}
	goroutineSpans := map[string]int{}
	gotPlaceholders := map[trace.TaskID]bool{}
	for i := range spans {
		s := &spans[i]
		tid := s.SpanContext.TraceID()
		key, isG := keyOf(s)
		if isPlaceholder(*s) {
			v, _ := attrOf(s, "go.task.id")
			gotPlaceholders[trace.TaskID(v.AsInt64())] = true
		}
		if isG {
			goroutineSpans[key]++
		} else {
			got[key]++
		}
		if !slices.Contains(keysOfTrace[tid], key) {
			keysOfTrace[tid] = append(keysOfTrace[tid], key)
		}
		if prev, ok := traceOfKey[key]; ok && prev != tid {
			t.Errorf("%s is split over traces %v and %v", key, prev, tid)
		}
		traceOfKey[key] = tid
		if p := s.Parent; p.IsValid() && !p.IsRemote() {
			if ps := byID[p.SpanID()]; ps == nil || ps.SpanContext.TraceID() != tid {
				t.Errorf("span %q (%s): parent %v is not in its trace", s.Name, key, p.SpanID())
			}
		}
	}
	for tid, keys := range keysOfTrace {
		remote := 0
		for _, key := range keys {
			if len(key) > 6 && key[:6] == "joined" {
				remote++
			}
		}
		// Tasks that log the same traceparent join one remote trace;
		// nothing else shares a trace.
		if len(keys) > 1 && remote != len(keys) {
			t.Errorf("trace %v holds several trees: %v", tid, keys)
		}
	}
	for key, n := range goroutineSpans {
		if n != 1 {
			t.Errorf("%s: %d goroutine spans in its trace, want 1", key, n)
		}
	}
	for _, key := range sortedKeys(want, got) {
		if want[key] != got[key] {
			t.Errorf("%s: %d spans in its trace, want %d", key, got[key], want[key])
		}
	}
	for id := range wantPlaceholders {
		if !gotPlaceholders[id] {
			t.Errorf("no placeholder for task %d, which the trace names and never shows", id)
		}
	}
	for id := range gotPlaceholders {
		if !wantPlaceholders[id] {
			t.Errorf("a placeholder for task %d, which the trace shows", id)
		}
	}
	if res.Placeholders != int64(len(gotPlaceholders)) {
		t.Errorf("result: %d placeholders, %d spans", res.Placeholders, len(gotPlaceholders))
	}
}

func sortedKeys(ms ...map[string]int) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
