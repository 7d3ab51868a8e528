package otel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/internal/synth"
)

// sizeReceiver is an OTLP/gRPC endpoint that keeps the size of every
// request it accepted and counts its spans.
type sizeReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	sizes []int
	spans int
}

func (r *sizeReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes = append(r.sizes, proto.Size(req))
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans += len(ss.Spans)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// serveSize serves a sizeReceiver on 127.0.0.1 that takes messages of up
// to maxRecv bytes (gRPC's default, 4 MiB, if 0), until the test ends.
func serveSize(t *testing.T, maxRecv int) (*sizeReceiver, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if maxRecv > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(maxRecv))
	}
	srv := grpc.NewServer(opts...)
	rec := &sizeReceiver{}
	coltracepb.RegisterTraceServiceServer(srv, rec)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return rec, l.Addr().String()
}

// TestDeepStacks converts a trace whose spans carry stacks 100 frames
// deep (about 10 MB in a batch of 512 spans) and pushes them over
// OTLP/gRPC: to an endpoint with gRPC's default limit of 4 MiB a message,
// which a batch must be cut for, and to one that takes 64 KiB only,
// which refuses the cut requests and must get them again in halves. Every
// span must arrive, none counted as failed, and no accepted request may
// be over the endpoint's limit.
func TestDeepStacks(t *testing.T) {
	var data bytes.Buffer
	if err := synth.RecordDeepStacks(&data, 1200, 100); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 64 << 10} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			rec, addr := serveSize(t, limit)
			exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			counted := &countErrors{SpanExporter: exp}
			res, err := Convert(context.Background(), bytes.NewReader(data.Bytes()), counted)
			if err != nil {
				t.Fatal(err)
			}
			total := res.Exported + res.Failed
			if res.Failed != 0 || res.Exported < 2400 {
				t.Errorf("exported %d and failed %d of %d spans", res.Exported, res.Failed, total)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if int64(rec.spans) != res.Exported {
				t.Errorf("the endpoint got %d spans; %d counted as exported", rec.spans, res.Exported)
			}
			max := limit
			if max == 0 {
				max = 4 << 20
			}
			biggest := 0
			for _, n := range rec.sizes {
				biggest = bigger(biggest, n)
			}
			if biggest > max {
				t.Errorf("a request of %d bytes, over the limit of %d", biggest, max)
			}
			t.Logf("%d spans in %d requests, the largest %d bytes", rec.spans, len(rec.sizes), biggest)
			// The estimate cuts under gRPC's default limit at once.
			if limit == 0 && counted.errors > 0 {
				t.Errorf("%d requests refused (the largest accepted: %d bytes): the estimate is short", counted.errors, biggest)
			}
			// A batch of 512 such spans is far over the limit: each was
			// cut into several requests.
			if batches := (rec.spans + 511) / 512; len(rec.sizes) < 2*batches {
				t.Errorf("%d requests for %d spans: the batches were not cut", len(rec.sizes), rec.spans)
			}
		})
	}
}

// countErrors counts the calls of an exporter that fail.
type countErrors struct {
	sdktrace.SpanExporter
	errors int
}

func (c *countErrors) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.errors++
	}
	return err
}

// TestDeepStacksHTTP is TestDeepStacks over OTLP/HTTP to an endpoint that
// refuses a body over 64 KiB: with 413, as a proxy in front of a
// collector may, or with 400 and the error of http.MaxBytesReader, as the
// Collector's OTLP/HTTP receiver does past its max_request_body_size.
func TestDeepStacksHTTP(t *testing.T) {
	var data bytes.Buffer
	if err := synth.RecordDeepStacks(&data, 300, 100); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	for _, collectorStyle := range []bool{false, true} {
		var mu sync.Mutex
		spans, refused := 0, 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body []byte
			var err error
			if collectorStyle {
				body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			} else if body, _ = io.ReadAll(r.Body); len(body) > limit {
				err = errors.New("too large")
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				code := http.StatusRequestEntityTooLarge
				if collectorStyle {
					code = http.StatusBadRequest
				}
				http.Error(w, err.Error(), code)
				return
			}
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					spans += len(ss.Spans)
				}
			}
			w.Header().Set("Content-Type", "application/x-protobuf")
			b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
			w.Write(b)
		}))
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(context.Background(), bytes.NewReader(data.Bytes()), exp)
		exp.Shutdown(context.Background())
		srv.Close()
		if err != nil {
			t.Fatalf("refused as the Collector does %v: %v", collectorStyle, err)
		}
		mu.Lock()
		if res.Failed != 0 || int64(spans) != res.Exported || res.Exported < 600 {
			t.Errorf("refused as the Collector does %v: exported %d and failed %d; the endpoint got %d", collectorStyle, res.Exported, res.Failed, spans)
		}
		if refused == 0 {
			t.Errorf("refused as the Collector does %v: no request was refused: the test does not reach the halving", collectorStyle)
		}
		mu.Unlock()
	}
}

func bigger(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// refuser is an exporter that refuses any request of more than max spans
// as too large, as gRPC does, and any holding a span named "huge".
type refuser struct {
	max     int
	refused int
	got     int
}

func (r *refuser) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		if s.Name() == "huge" || len(spans) > r.max {
			r.refused++
			return errors.New("traces export: rpc error: code = ResourceExhausted desc = grpc: received message larger than max (9804365 vs. 4194304)")
		}
	}
	r.got += len(spans)
	return nil
}

func (r *refuser) Shutdown(context.Context) error { return nil }

// TestTooLargeSplits: a request refused as too large is sent again in
// halves, down to one span; a span too large on its own is counted as
// rejected and the others go on; later batches are cut at the size that
// went through.
func TestTooLargeSplits(t *testing.T) {
	spans := make([]sdktrace.ReadOnlySpan, 100)
	for i := range spans {
		name := fmt.Sprintf("span %d", i)
		if i == 37 {
			name = "huge"
		}
		// A stack's worth of text, so that the sizes, not the least cut,
		// set where requests are cut.
		stack := attribute.String("code.stacktrace", strings.Repeat("x", 10<<10))
		spans[i] = tracetest.SpanStub{Name: name, Attributes: []attribute.KeyValue{stack}}.Snapshot()
	}
	next := &refuser{max: 10}
	e := &exporter{next: next}
	e.maxBytes.Store(DefaultMaxRequestBytes)
	if err := e.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	if e.exported.Load() != 99 || e.failed.Load() != 1 || next.got != 99 {
		t.Errorf("exported %d, failed %d, the endpoint got %d; want 99, 1, 99", e.exported.Load(), e.failed.Load(), next.got)
	}
	if err := e.firstError(); err == nil || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("the rejection is not reported: %v", err)
	}
	// The next batch is cut to fit from the start: no request refused.
	next.refused = 0
	if err := e.ExportSpans(context.Background(), spans[:36]); err != nil {
		t.Fatal(err)
	}
	if e.exported.Load() != 99+36 || next.refused != 0 {
		t.Errorf("exported %d of the second batch of 36, with %d requests refused; want all, none", e.exported.Load()-99, next.refused)
	}
}

// failer refuses requests of more than max spans as too large, and fails
// for good (as an endpoint that rejects the data does) on its first
// request of max spans or fewer.
type failer struct {
	max, calls int
}

func (f *failer) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	f.calls++
	if len(spans) > f.max {
		return errors.New("rpc error: code = ResourceExhausted desc = grpc: received message larger than max (5000000 vs. 4194304)")
	}
	return errors.New("rpc error: code = PermissionDenied desc = bad token")
}

func (f *failer) Shutdown(context.Context) error { return nil }

// TestTooLargeThenFatal: once a half of a refused request fails for
// good, the other half is not sent, and every span is counted failed.
func TestTooLargeThenFatal(t *testing.T) {
	spans := make([]sdktrace.ReadOnlySpan, 40)
	for i := range spans {
		spans[i] = tracetest.SpanStub{Name: "s"}.Snapshot()
	}
	next := &failer{max: 10}
	e := &exporter{next: next}
	if err := e.ExportSpans(context.Background(), spans); err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
		t.Errorf("error %v, want the endpoint's refusal", err)
	}
	// 40 refused, 20 refused, 10 failed for good: nothing more.
	if next.calls != 3 || e.failed.Load() != 40 || e.exported.Load() != 0 {
		t.Errorf("%d calls, %d failed, %d exported; want 3, 40, 0", next.calls, e.failed.Load(), e.exported.Load())
	}
}

// TestTooLargeEverySpan: an endpoint that refuses every request as too
// large, single spans too (a proxy whose limit is below a span's size),
// fails the export for good after a run of single spans refused, instead
// of being sent about two requests a span as each request is halved.
func TestTooLargeEverySpan(t *testing.T) {
	spans := make([]sdktrace.ReadOnlySpan, 1000)
	for i := range spans {
		spans[i] = tracetest.SpanStub{Name: fmt.Sprintf("span %d", i)}.Snapshot()
	}
	next := &refuser{max: 0}
	e := &exporter{next: next}
	e.maxBytes.Store(DefaultMaxRequestBytes)
	if err := e.ExportSpans(context.Background(), spans); err == nil {
		t.Error("no error")
	}
	if next.refused > 3*maxAlone || e.failed.Load() != 1000 || e.exported.Load() != 0 {
		t.Errorf("%d requests refused, %d spans failed, %d exported; want at most %d, 1000, 0", next.refused, e.failed.Load(), e.exported.Load(), 3*maxAlone)
	}
	if err := e.firstError(); err == nil || !strings.Contains(err.Error(), "refused 16 spans in a row as too large") || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("the error does not say why the export stopped: %v", err)
	}
	// Accepted between refusals, spans too large alone do not stop it.
	next = &refuser{max: 10}
	e = &exporter{next: next}
	huge := make([]sdktrace.ReadOnlySpan, 0, 2*maxAlone)
	for range maxAlone {
		huge = append(huge, tracetest.SpanStub{Name: "huge"}.Snapshot(), tracetest.SpanStub{Name: "small"}.Snapshot())
	}
	for i := range huge {
		if err := e.ExportSpans(context.Background(), huge[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if e.failed.Load() != maxAlone || e.exported.Load() != maxAlone || e.fatal.Load() {
		t.Errorf("%d failed, %d exported, fatal %v; want %d, %d, false", e.failed.Load(), e.exported.Load(), e.fatal.Load(), maxAlone, maxAlone)
	}
}
