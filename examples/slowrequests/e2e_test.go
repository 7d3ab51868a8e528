package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trace2x/trace2x/internal/otelcoltest"
)

// runtimeScope is the instrumentation scope of the spans converted from
// the execution trace; the client's own spans have another.
const runtimeScope = "github.com/trace2x/trace2x"

type span struct {
	*tracepb.Span
	scope string
}

func (s span) trace() string  { return fmt.Sprintf("%x", s.TraceId) }
func (s span) id() string     { return fmt.Sprintf("%x", s.SpanId) }
func (s span) parent() string { return fmt.Sprintf("%x", s.ParentSpanId) }

func flatten(rss []*tracepb.ResourceSpans) []span {
	var out []span
	for _, rs := range rss {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out = append(out, span{s, ss.GetScope().GetName()})
			}
		}
	}
	return out
}

// TestCollector runs the example against a real OpenTelemetry Collector:
// fast requests, one slow one, fast ones after its snapshot was exported,
// each with its client's traceparent. The Collector must hold the slow
// request's task and regions in the client's trace, under the client's
// span; the fast requests before it, which the window holds, each in its
// own client's trace; and nothing of the execution trace from the fast
// requests after it, whose client spans it does hold.
func TestCollector(t *testing.T) {
	col := otelcoltest.Start(t, otelcoltest.Binary(t, "../.."))
	var out bytes.Buffer
	// The endpoint comes from the standard variable, as for a user who
	// leaves -otlp out.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+col.GRPCAddr)
	cfg := config{addr: "127.0.0.1:0", fast: 10, slow: 700 * time.Millisecond}
	res, err := run(context.Background(), cfg, &out)
	t.Logf("the example's output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if want := "spans exported to http://" + col.GRPCAddr + " (grpc)"; !strings.Contains(out.String(), want) {
		t.Errorf("the output does not say where the spans went: no %q", want)
	}
	if want := "look for trace " + res.Slow.TraceID().String() + " in the Collector's output"; !strings.Contains(out.String(), want) {
		t.Errorf("the output does not say which trace to look for: no %q", want)
	}
	if st := res.Stats; st.Triggers != 1 || st.Snapshots != 1 || st.Exports != 1 || st.LastError != nil {
		t.Errorf("stats %+v; want one trigger, one snapshot exported, no error", st)
	}
	if e := res.Export; e.Reason != "slow" || e.Err != nil || e.Joined < cfg.fast+1 {
		t.Errorf("export %+v; want reason slow, no error, %d tasks joined at least", e, cfg.fast+1)
	}

	// Wait for the client spans of the last requests: then the Collector
	// has everything the example sent.
	last := res.After[len(res.After)-1].SpanID().String()
	spans := flatten(col.WaitFor(30*time.Second, "the last client span", func(rss []*tracepb.ResourceSpans) bool {
		for _, s := range flatten(rss) {
			if s.id() == last {
				return true
			}
		}
		return false
	}))

	// The runtime's spans by trace.
	byTrace := map[string][]span{}
	for _, s := range spans {
		if s.scope == runtimeScope {
			byTrace[s.trace()] = append(byTrace[s.trace()], s)
		}
	}
	// requestTask returns the server task of the request whose client
	// span is sc, and checks it and its regions.
	requestTask := func(sc oteltrace.SpanContext, what string) (span, bool) {
		t.Helper()
		var tasks []span
		for _, s := range byTrace[sc.TraceID().String()] {
			if s.Name == "GET /checkout/{id}" {
				tasks = append(tasks, s)
			}
		}
		if len(tasks) != 1 {
			t.Errorf("%s: %d server tasks in the client's trace %s, want 1", what, len(tasks), sc.TraceID())
			return span{}, false
		}
		task := tasks[0]
		if task.parent() != sc.SpanID().String() {
			t.Errorf("%s: the task's parent is %q, want the client's span %s", what, task.parent(), sc.SpanID())
		}
		regions := map[string]span{}
		for _, s := range byTrace[sc.TraceID().String()] {
			if s.parent() == task.id() {
				regions[s.Name] = s
			}
		}
		if _, ok := regions["db.query"]; !ok {
			t.Errorf("%s: no db.query region under the task", what)
		}
		if _, ok := regions["render"]; !ok {
			t.Errorf("%s: no render region under the task", what)
		}
		return task, true
	}

	if task, ok := requestTask(res.Slow, "the slow request"); ok {
		if d := time.Duration(task.EndTimeUnixNano - task.StartTimeUnixNano); d < cfg.slow {
			t.Errorf("the slow request's task lasted %v, less than the %v it slept", d, cfg.slow)
		}
		var db span
		for _, s := range byTrace[res.Slow.TraceID().String()] {
			if s.Name == "db.query" {
				db = s
			}
		}
		if d := time.Duration(db.EndTimeUnixNano - db.StartTimeUnixNano); d < cfg.slow {
			t.Errorf("the slow request's db.query lasted %v, want %v at least", d, cfg.slow)
		}
	}
	// The client's span is there too, the task's parent: one trace whole.
	found := false
	for _, s := range spans {
		found = found || (s.scope != runtimeScope && s.id() == res.Slow.SpanID().String())
	}
	if !found {
		t.Error("the slow request's client span is not in the Collector's file")
	}

	// The window holds the fast requests just before: each in its own
	// client's trace.
	for i, sc := range res.Before {
		requestTask(sc, fmt.Sprintf("fast request %d before", i))
	}
	// The fast requests after the snapshot: their client spans arrived,
	// nothing of the runtime's.
	clients := map[string]bool{}
	for _, s := range spans {
		if s.scope != runtimeScope {
			clients[s.id()] = true
		}
	}
	for i, sc := range res.After {
		if !clients[sc.SpanID().String()] {
			t.Errorf("fast request %d after: its client span is missing", i)
		}
		if n := len(byTrace[sc.TraceID().String()]); n != 0 {
			t.Errorf("fast request %d after the snapshot: %d runtime spans in its trace, want none", i, n)
		}
	}
}
