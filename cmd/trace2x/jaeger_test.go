package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/jaegertest"
	"github.com/trace2x/trace2x/internal/otelcoltest"
	"github.com/trace2x/trace2x/internal/synth"
)

var tracesRE = regexp.MustCompile(`spans? \(.*\) in (\d+) traces?`)

// wantSpan is a span as the command's OTLP JSON has it.
type wantSpan struct {
	trace, parent, name string
}

// TestOTLPJaeger pushes traces to a real Jaeger and reads them back
// through its query API, as its UI shows them: samples of the cases that
// shape traces (remote parents, a placeholder parent, a task per request,
// deep stacks, the same trace pushed twice) and every sample trace with
// runtime and goroutine spans. Every span must arrive
// with the trace, parent and name that the command's OTLP JSON gives it
// for the same trace; Jaeger must list as many traces as the command says
// it made (a trace per request for a service with a task per request);
// Jaeger must flag no span for a missing parent (or as a duplicate, when
// the same trace is pushed again), but those whose parent is the remote
// span that a task joined by its traceparent.
func TestOTLPJaeger(t *testing.T) {
	j := jaegertest.Start(t, jaegertest.Binary(t, filepath.Join("..", "..")))
	var rec bytes.Buffer
	if err := synth.RecordService(&rec, 512<<10); err != nil {
		t.Fatal(err)
	}
	service := filepath.Join(t.TempDir(), "service.trace")
	if err := os.WriteFile(service, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Stacks 100 frames deep: a batch of their spans is about 10 MB, over
	// the 4 MiB a message that Jaeger's OTLP/gRPC receiver takes.
	rec.Reset()
	if err := synth.RecordDeepStacks(&rec, 1200, 100); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(t.TempDir(), "deep.trace")
	if err := os.WriteFile(deep, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	type pushCase struct {
		name, path string
		remote     bool // tasks join remote traces by traceparent
		svc        string
		flags      []string
	}
	cases := []pushCase{
		{name: "annotations", path: filepath.Join("..", "..", "testdata", "annotations.go1.26.trace"), remote: true},
		{name: "frsubtasks", path: filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")},
		{name: "service", path: service},
		{name: "deep-stacks", path: deep},
		// The same trace again, with more spans: its IDs are derived from
		// the trace, so Jaeger keeps one copy of the spans pushed twice.
		{name: "service-again", path: service, svc: "service", flags: []string{"--runtime-spans", "--goroutine-spans"}},
	}
	// Every sample, with every kind of span; those pushed above again,
	// under the same service.
	samples, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.trace"))
	for _, path := range samples {
		name := strings.TrimSuffix(filepath.Base(path), ".trace")
		c := pushCase{name: "sample-" + name, path: path, flags: []string{"--runtime-spans", "--goroutine-spans"}}
		for _, earlier := range cases[:2] {
			if earlier.path == path {
				c.svc, c.remote = earlier.name, earlier.remote
			}
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := "trace2x-test-" + c.name
			if c.svc != "" {
				svc = "trace2x-test-" + c.svc
			}
			jsonPath := filepath.Join(t.TempDir(), "spans.jsonl")
			args := append([]string{"--service-name", svc}, c.flags...)
			if code, _, errs := runOTLP(t, append(args, "--json", "-o", jsonPath, c.path)...); code != 0 {
				t.Fatalf("otlp --json: exit %d: %s", code, errs)
			}
			want := jsonSpans(t, jsonPath)
			code, _, errs := runOTLP(t, append(args, "--endpoint", j.GRPCAddr, c.path)...)
			if code != 0 {
				t.Fatalf("otlp: exit %d: %s", code, errs)
			}
			pushed := spansReported(t, errs)
			m := tracesRE.FindStringSubmatch(errs)
			if m == nil {
				t.Fatalf("no trace count in:\n%s", errs)
			}
			madeTraces, _ := strconv.Atoi(m[1])
			if pushed != len(want) {
				t.Fatalf("pushed %d spans, the JSON holds %d", pushed, len(want))
			}

			traces := j.WaitForSpans(svc, pushed, 30*time.Second)
			if len(traces) != madeTraces {
				t.Errorf("Jaeger lists %d traces; the command made %d", len(traces), madeTraces)
			}
			got := 0
			remoteParents := 0
			for _, tr := range traces {
				roots := 0
				for _, s := range tr.Spans {
					got++
					id := padHex(s.SpanID, 16)
					w, ok := want[id]
					if !ok {
						t.Errorf("Jaeger has span %s %q, which the command did not write", id, s.OperationName)
						continue
					}
					parent := ""
					if p := s.Parent(); p != "" {
						parent = padHex(p, 16)
					}
					if padHex(s.TraceID, 32) != w.trace || parent != w.parent || s.OperationName != w.name {
						t.Errorf("span %s: Jaeger has %q in trace %s under %q; the JSON %q in %s under %q",
							id, s.OperationName, s.TraceID, parent, w.name, w.trace, w.parent)
					}
					_, local := want[parent]
					switch {
					case parent == "":
						roots++
					case !local:
						// The task's parent is the request's span in the
						// application's own trace, not pushed here.
						remoteParents++
						if !c.remote {
							t.Errorf("span %s %q: parent %s is in no span pushed", id, s.OperationName, parent)
						}
						continue
					}
					if len(s.Warnings) > 0 {
						t.Errorf("Jaeger warns of span %s %q: %q", id, s.OperationName, s.Warnings)
					}
				}
				if roots > 1 {
					t.Errorf("trace %s has %d roots", tr.TraceID, roots)
				}
			}
			if got != len(want) {
				t.Errorf("Jaeger holds %d spans of %s, want %d", got, svc, len(want))
			}
			if c.remote && remoteParents == 0 {
				t.Errorf("no task joined a remote trace; the sample's tasks log traceparents")
			}
			if c.path == service && madeTraces < 100 {
				t.Errorf("%d traces for a service recording with a task per request", madeTraces)
			}
		})
	}
}

// jsonSpans reads the spans of the command's OTLP JSON by span ID.
func jsonSpans(t *testing.T, path string) map[string]wantSpan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]wantSpan{}
	for _, rs := range otelcoltest.DecodeJSON(t, data) {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				spans[hex.EncodeToString(s.SpanId)] = wantSpan{
					trace:  hex.EncodeToString(s.TraceId),
					parent: hex.EncodeToString(s.ParentSpanId),
					name:   s.Name,
				}
			}
		}
	}
	return spans
}

// padHex writes an ID as Jaeger's API may give it, without its leading
// zeros, at its full width.
func padHex(id string, width int) string {
	id = strings.ToLower(id)
	if len(id) < width {
		return strings.Repeat("0", width-len(id)) + id
	}
	return id
}
