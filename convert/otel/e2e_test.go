package otel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trace2x/trace2x/mapping"
)

// This file tests against a real OpenTelemetry Collector, built from the
// manifest in scripts/otelcol by the Collector's own builder and cached
// between runs. Where it cannot be built (no network, no module proxy),
// the tests are skipped, unless the environment variable CI is set: in CI
// they fail.

// collector is the Collector of a test, with the test's own way of
// waiting for spans.
type collector struct {
	*otelcoltest.Collector
	t *testing.T
}

func collectorBinary(t *testing.T) string { return otelcoltest.Binary(t, filepath.Join("..", "..")) }

func startCollector(t *testing.T, bin string) *collector {
	return &collector{Collector: otelcoltest.Start(t, bin), t: t}
}

// spans waits until the Collector's file holds all of want (by span ID)
// and returns what it holds, each span once.
func (c *collector) spans(want map[string]string) map[string]*tracepb.Span {
	c.t.Helper()
	got := map[string]*tracepb.Span{}
	c.WaitFor(30*time.Second, fmt.Sprintf("the %d spans pushed", len(want)), func(rss []*tracepb.ResourceSpans) bool {
		clear(got)
		for _, rs := range rss {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					got[fmt.Sprintf("%x", s.SpanId)] = s
				}
			}
		}
		for id := range want {
			if got[id] == nil {
				return false
			}
		}
		return true
	})
	return got
}

// describeStub and describeOTLP give the same text for the same span, one
// from what the SDK exported, one from what the Collector wrote.
func describeStub(s tracetest.SpanStub) string {
	var attrs, events, links []string
	for _, a := range s.Attributes {
		attrs = append(attrs, string(a.Key)+"="+a.Value.String())
	}
	for _, e := range s.Events {
		var ea []string
		for _, a := range e.Attributes {
			ea = append(ea, string(a.Key)+"="+a.Value.String())
		}
		events = append(events, fmt.Sprintf("%s@%d{%s}", e.Name, e.Time.UnixNano(), strings.Join(ea, ",")))
	}
	for _, l := range s.Links {
		links = append(links, l.SpanContext.TraceID().String()+"/"+l.SpanContext.SpanID().String())
	}
	parent := ""
	if s.Parent.IsValid() {
		parent = s.Parent.SpanID().String()
	}
	return describe(s.SpanContext.TraceID().String(), parent, s.Name, s.StartTime.UnixNano(), s.EndTime.UnixNano(), s.Parent.IsRemote(), attrs, events, links)
}

func describeOTLP(s *tracepb.Span) string {
	var attrs, events, links []string
	for _, a := range s.Attributes {
		attrs = append(attrs, a.Key+"="+anyText(a.Value))
	}
	for _, e := range s.Events {
		var ea []string
		for _, a := range e.Attributes {
			ea = append(ea, a.Key+"="+anyText(a.Value))
		}
		events = append(events, fmt.Sprintf("%s@%d{%s}", e.Name, e.TimeUnixNano, strings.Join(ea, ",")))
	}
	for _, l := range s.Links {
		links = append(links, fmt.Sprintf("%x/%x", l.TraceId, l.SpanId))
	}
	remote := s.Flags&uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK) != 0
	return describe(fmt.Sprintf("%x", s.TraceId), fmt.Sprintf("%x", s.ParentSpanId), s.Name, int64(s.StartTimeUnixNano), int64(s.EndTimeUnixNano), remote, attrs, events, links)
}

func describe(tid, parent, name string, start, end int64, remote bool, attrs, events, links []string) string {
	slices.Sort(attrs)
	return fmt.Sprintf("trace %s parent %s (remote %v) %q %d..%d\n  attrs %s\n  events %s\n  links %s",
		tid, parent, remote, name, start, end, strings.Join(attrs, " "), strings.Join(events, " "), strings.Join(links, " "))
}

func anyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// expected converts a trace to memory, as it will be pushed, and describes
// each span by its ID.
func expected(t *testing.T, path string, opts ...Option) map[string]string {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, path)), mem, opts...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range mem.GetSpans() {
		want[s.SpanContext.SpanID().String()] = describeStub(s)
	}
	if int64(len(want)) != res.Spans() {
		t.Fatalf("%d distinct spans, %d made", len(want), res.Spans())
	}
	return want
}

func grpcExporter(t *testing.T, c *collector) sdktrace.SpanExporter {
	t.Helper()
	exp, err := otlptracegrpc.New(context.Background(),
		otlptracegrpc.WithEndpoint(c.GRPCAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Shutdown(context.Background()) })
	return exp
}

func httpExporter(t *testing.T, c *collector) sdktrace.SpanExporter {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpoint(c.HTTPAddr), otlptracehttp.WithInsecure(), otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Shutdown(context.Background()) })
	return exp
}

// TestCollector pushes the sample with tasks, regions, logs and
// traceparents over gRPC and over HTTP, and checks that the Collector
// wrote every span with its parent, attributes, events and links.
func TestCollector(t *testing.T) {
	bin := collectorBinary(t)
	c := startCollector(t, bin)
	// oddstrings carries names and messages that are not UTF-8, which the
	// Collector's protobuf decoding would reject.
	for _, path := range []string{"../../testdata/annotations.go1.26.trace", "../../testdata/oddstrings.go1.26.trace"} {
		for _, proto := range []string{"grpc", "http"} {
			t.Run(filepath.Base(path)+"/"+proto, func(t *testing.T) {
				// A seed per push keeps the pushes' IDs apart.
				opts := []Option{WithIDSeed([]byte(path + proto)), WithServiceName("e2e-" + proto), WithRuntimeSpans()}
				want := expected(t, path, opts...)
				exp := grpcExporter(t, c)
				if proto == "http" {
					exp = httpExporter(t, c)
				}
				res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, path)), exp, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if res.Exported != int64(len(want)) || res.Failed != 0 {
					t.Errorf("exported %d, failed %d; want %d and 0", res.Exported, res.Failed, len(want))
				}
				got := c.spans(want)
				for id, w := range want {
					if g := describeOTLP(got[id]); g != w {
						t.Errorf("span %s:\n got %s\nwant %s", id, g, w)
					}
				}
			})
		}
	}
	// The resource arrives as set.
	data, _ := os.ReadFile(c.Out)
	for _, want := range []string{`"e2e-grpc"`, `"e2e-http"`, `"process.runtime.name"`, `"telemetry.sdk.version"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the collector's file lacks %s", want)
		}
	}
}

// restarter stops the Collector just before the export of a given batch
// and starts it again a while later, so that the batch, and those after
// it until the Collector is back, fail and must be retried.
type restarter struct {
	sdktrace.SpanExporter
	c     *collector
	at    int           // the batch before which the collector stops
	down  time.Duration // how long it stays down
	mu    sync.Mutex
	calls int
	done  chan error
}

func (r *restarter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	r.calls++
	if r.calls == r.at {
		r.c.Stop()
		go func() {
			time.Sleep(r.down)
			r.done <- r.c.Run()
		}()
	}
	r.mu.Unlock()
	return r.SpanExporter.ExportSpans(ctx, spans)
}

// TestCollectorRestart stops the Collector in the middle of a push and
// starts it again: the push retries, and no span is lost.
func TestCollectorRestart(t *testing.T) {
	bin := collectorBinary(t)
	path := "../../testdata/gomaxprocs.go1.26.trace"
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			c := startCollector(t, bin)
			opts := []Option{
				WithIDSeed([]byte("restart " + proto)), WithRuntimeSpans(), WithGoroutineSpans(),
				WithMaxExportBatchSize(10), WithRetry(20 * time.Second),
			}
			want := expected(t, path, opts...)
			exp := grpcExporter(t, c)
			if proto == "http" {
				exp = httpExporter(t, c)
			}
			r := &restarter{SpanExporter: exp, c: c, at: 3, down: 1500 * time.Millisecond, done: make(chan error, 1)}
			res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, path)), r, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-r.done; err != nil {
				t.Fatalf("restarting the collector: %v", err)
			}
			if r.calls < r.at {
				t.Fatalf("only %d batches: the collector was never stopped", r.calls)
			}
			if res.Exported != int64(len(want)) || res.Failed != 0 {
				t.Errorf("exported %d, failed %d; want %d and 0", res.Exported, res.Failed, len(want))
			}
			got := c.spans(want)
			for id, w := range want {
				if g := describeOTLP(got[id]); g != w {
					t.Errorf("span %s:\n got %s\nwant %s", id, g, w)
				}
			}
			t.Logf("%d spans in %d batches, all written across a restart", len(want), r.calls)
		})
	}
}

// TestCollectorReadsJSON posts each line that JSONExporter writes to the
// Collector's OTLP/HTTP receiver as application/json: the Collector must
// take every span, with everything the protobuf pushes carry.
func TestCollectorReadsJSON(t *testing.T) {
	bin := collectorBinary(t)
	c := startCollector(t, bin)
	path := "../../testdata/annotations.go1.26.trace"
	opts := []Option{WithIDSeed([]byte("json")), WithServiceName("e2e-json"), WithRuntimeSpans(), WithGoroutineSpans()}
	want := expected(t, path, opts...)
	var out bytes.Buffer
	exp := NewJSONExporter(&out)
	if _, err := Convert(context.Background(), bytes.NewReader(mustRead(t, path)), exp, opts...); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		resp, err := http.Post("http://"+c.HTTPAddr+"/v1/traces", "application/json", bytes.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the Collector refused a line of OTLP JSON: %s: %s", resp.Status, body)
		}
	}
	got := c.spans(want)
	for id, w := range want {
		if g := describeOTLP(got[id]); g != w {
			t.Errorf("span %s:\n got %s\nwant %s", id, g, w)
		}
	}
}

// TestCollectorTraces pushes a capture of a server (a trace per request)
// over gRPC and HTTP, and a flight-recorder snapshot whose requests are
// children of a task begun and ended outside it, and reads back from the
// Collector's file alone: one trace per root task, each with one root
// span, no span whose parent is missing from its trace, and as many spans
// as the root task's subtree has tasks and regions in the model (and the
// placeholder standing for a root never shown).
func TestCollectorTraces(t *testing.T) {
	bin := collectorBinary(t)
	c := startCollector(t, bin)
	for _, tc := range []struct{ file, proto string }{
		{"pprofhttp.go1.26.trace", "grpc"},
		{"pprofhttp.go1.26.trace", "http"},
		{"frsubtasks.go1.26.trace", "grpc"},
	} {
		t.Run(tc.file+"/"+tc.proto, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", tc.file)
			opts := []Option{WithIDSeed([]byte("traces " + tc.file + tc.proto))}
			want := expected(t, path, opts...)
			exp := grpcExporter(t, c)
			if tc.proto == "http" {
				exp = httpExporter(t, c)
			}
			if _, err := Convert(context.Background(), bytes.NewReader(mustRead(t, path)), exp, opts...); err != nil {
				t.Fatal(err)
			}
			all := c.spans(want)

			// The model's trees: root task -> tasks and regions under it.
			rec := newRecorder()
			if _, err := mapping.Map(bytes.NewReader(mustRead(t, path)), rec); err != nil {
				t.Fatal(err)
			}
			subtree := map[int64]int{}
			for _, tk := range rec.tasks {
				subtree[int64(tk.Root)]++
			}
			for _, r := range rec.regions {
				if r.Task != mapping.NoTask {
					subtree[int64(r.Root)]++
				}
			}
			for root := range subtree {
				if _, shown := rec.tasks[mapping.TaskID(root)]; !shown {
					subtree[root]++ // its placeholder
				}
			}

			byTrace := map[string][]*tracepb.Span{}
			for id := range want {
				s := all[id]
				tid := fmt.Sprintf("%x", s.TraceId)
				byTrace[tid] = append(byTrace[tid], s)
			}
			if len(byTrace) != len(subtree) {
				t.Errorf("%d traces in the Collector's file, want one per root task: %d", len(byTrace), len(subtree))
			}
			largest := 0
			for tid, spans := range byTrace {
				ids := map[string]bool{}
				for _, s := range spans {
					ids[fmt.Sprintf("%x", s.SpanId)] = true
				}
				var roots []*tracepb.Span
				for _, s := range spans {
					switch {
					case len(s.ParentSpanId) == 0:
						roots = append(roots, s)
					case !ids[fmt.Sprintf("%x", s.ParentSpanId)]:
						t.Errorf("trace %s: span %q has parent %x, not in the trace", tid, s.Name, s.ParentSpanId)
					}
				}
				if len(roots) != 1 {
					t.Errorf("trace %s: %d root spans, want 1", tid, len(roots))
					continue
				}
				var root int64 = -1
				for _, a := range roots[0].Attributes {
					if a.Key == "go.task.id" {
						root = a.Value.GetIntValue()
					}
				}
				if n, ok := subtree[root]; !ok || n != len(spans) {
					t.Errorf("trace %s of root %q (task %d): %d spans, want the task's subtree: %d", tid, roots[0].Name, root, len(spans), n)
				}
				largest = max(largest, len(spans))
			}
			t.Logf("%d spans in %d traces, the largest of %d spans", len(want), len(byTrace), largest)
		})
	}
}
