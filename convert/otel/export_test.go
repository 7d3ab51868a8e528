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
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/otelcoltest"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace2x/trace2x/mapping"
)

// spanKey sums up a span for comparisons between encodings.
func spanKey(tid, sid, parent []byte, name string, start, end uint64, events, attrs, links int) string {
	return fmt.Sprintf("%x/%x/%x %q %d-%d e%d a%d l%d", tid, sid, parent, name, start, end, events, attrs, links)
}

// TestJSON writes a trace as OTLP JSON and checks that it decodes to the
// spans the in-memory exporter gets, with hex IDs, one request per line.
func TestJSON(t *testing.T) {
	path := "../../testdata/annotations.go1.26.trace"
	data := mustRead(t, path)
	var buf bytes.Buffer
	res, err := Convert(context.Background(), bytes.NewReader(data), NewJSONExporter(&buf), WithMaxExportBatchSize(7))
	if err != nil {
		t.Fatal(err)
	}
	mem := tracetest.NewInMemoryExporter()
	if _, err := Convert(context.Background(), bytes.NewReader(data), mem); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range mem.GetSpans() {
		tid, sid, pid := s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID()
		var parent []byte
		if pid.IsValid() {
			parent = pid[:]
		}
		want[spanKey(tid[:], sid[:], parent, s.Name, uint64(s.StartTime.UnixNano()), uint64(s.EndTime.UnixNano()), len(s.Events), len(s.Attributes), len(s.Links))] = true
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"traceId":"`)) || bytes.Contains(buf.Bytes(), []byte("\n\n")) {
		t.Errorf("output does not look like OTLP JSON lines:\n%.500s", buf.Bytes())
	}
	lines := bytes.Count(buf.Bytes(), []byte("\n"))
	if want := (res.Spans() + 6) / 7; int64(lines) < want {
		t.Errorf("%d lines for %d spans in batches of 7", lines, res.Spans())
	}
	got := 0
	for _, rs := range otelcoltest.DecodeJSON(t, buf.Bytes()) {
		svc := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		if svc != "unknown_service" {
			t.Errorf("service.name %q, want unknown_service", svc)
		}
		for _, ss := range rs.ScopeSpans {
			if ss.Scope.Name != instrumentationURL {
				t.Errorf("scope %q", ss.Scope.Name)
			}
			for _, s := range ss.Spans {
				got++
				k := spanKey(s.TraceId, s.SpanId, s.ParentSpanId, s.Name, s.StartTimeUnixNano, s.EndTimeUnixNano, len(s.Events), len(s.Attributes), len(s.Links))
				if !want[k] {
					t.Errorf("span %s not among the in-memory exporter's", k)
				}
				if s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
					t.Errorf("span %q of kind %v", s.Name, s.Kind)
				}
			}
		}
	}
	if got != len(want) {
		t.Errorf("%d spans in the JSON, want %d", got, len(want))
	}
}

// TestJSONInvalidUTF8 checks that strings that are not UTF-8 do not break
// the encoding.
func TestJSONInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	sc := newScript(t)
	sc.s.exp.next = NewJSONExporter(&buf)
	sc.log(1100, 1, 0, "bin\xff", "\xfe\xff")
	sc.task(1, 0, 1000, 2000)
	sc.finish()
	if n := len(otelcoltest.DecodeJSON(t, buf.Bytes())); n != 1 {
		t.Fatalf("%d resource spans", n)
	}
}

// failingExporter fails as it is told.
type failingExporter struct {
	mu    sync.Mutex
	calls int
	fail  func(call int, n int) error
	spans int
}

func (f *failingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.fail(f.calls, len(spans)); err != nil {
		return err
	}
	f.spans += len(spans)
	return nil
}

func (f *failingExporter) Shutdown(context.Context) error { return nil }

// TestExportFails: an exporter that fails stops the conversion with its
// error, and no later batch is sent.
func TestExportFails(t *testing.T) {
	boom := errors.New("boom")
	f := &failingExporter{fail: func(int, int) error { return boom }}
	start := time.Now()
	res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/gotest.go1.26.trace")), f, WithMaxExportBatchSize(1), WithMaxQueueSize(1))
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if res.Exported != 0 || res.Failed == 0 || f.calls != 1 {
		t.Errorf("exported %d, failed %d, calls %d; want 0, some, 1", res.Exported, res.Failed, f.calls)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// silentExporter answers no call, returning when its context ends, as
// the SDK's exporters do, with their words around the context's error.
type silentExporter struct{}

func (silentExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	<-ctx.Done()
	return fmt.Errorf("traces export: %w: rpc error: code = DeadlineExceeded desc = waiting for connections", ctx.Err())
}

func (silentExporter) Shutdown(context.Context) error { return nil }

// silentHTTPExporter is silentExporter in the words of the OTLP/HTTP
// exporter.
type silentHTTPExporter struct{}

func (silentHTTPExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	<-ctx.Done()
	return fmt.Errorf("traces export: retry-able request failure: %w", &url.Error{Op: "Post", URL: "http://collector:4318/v1/traces", Err: ctx.Err()})
}

func (silentHTTPExporter) Shutdown(context.Context) error { return nil }

// TestExportNoAnswer: an endpoint that never answers fails the export
// after its timeout, said in those words and naming the destination;
// the pass, which made every span before the first batch went, is not
// said to have stopped; one that fails while batches fill stops it.
func TestExportNoAnswer(t *testing.T) {
	_, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), silentExporter{},
		WithExportTimeout(50*time.Millisecond), WithDestination("collector:4317 (grpc)"))
	want := "exporting spans to collector:4317 (grpc): no answer within 50ms (rpc error: code = DeadlineExceeded desc = waiting for connections)"
	var ee *ExportError
	if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ee) {
		t.Errorf("error %v, want %q", err, want)
	}

	// The HTTP exporter's words, without the URL the error names before.
	_, err = Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), silentHTTPExporter{},
		WithExportTimeout(50*time.Millisecond), WithDestination("http://collector:4318/v1/traces (http/protobuf)"))
	want = "exporting spans to http://collector:4318/v1/traces (http/protobuf): no answer within 50ms (context deadline exceeded)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}

	f := &failingExporter{fail: func(int, int) error { return errors.New("boom") }}
	res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/gotest.go1.26.trace")), f, WithMaxExportBatchSize(1), WithMaxQueueSize(1))
	if err == nil || !res.StoppedPass {
		t.Errorf("a failure while batches fill: %v, stopped pass %v; want an error and the pass stopped", err, res.StoppedPass)
	}
	f = &failingExporter{fail: func(int, int) error { return errors.New("boom") }}
	res, err = Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), f)
	if err == nil || res.StoppedPass {
		t.Errorf("a failure of the batch at the end: %v, stopped pass %v; want an error and the pass whole", err, res.StoppedPass)
	}
}

// TestExportTimeoutDeafExporter: the export timeout bounds a call of an
// exporter that does not heed its context, also when the conversion's
// own context never ends: the conversion fails a second after it.
func TestExportTimeoutDeafExporter(t *testing.T) {
	exp := &hungExporter{deaf: true, release: make(chan struct{})}
	defer close(exp.release)
	done := make(chan error, 1)
	go func() {
		_, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), exp,
			WithExportTimeout(100*time.Millisecond))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "had not returned 1s after its context ended") || exp.calls.Load() != 1 {
			t.Errorf("error %v after %d calls, want the exporter named as not returning after one", err, exp.calls.Load())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Convert still waits for the exporter 60 s after the export timeout of 100ms")
	}
}

// TestExportRetry: batches refused for want of a collector are retried
// until it comes back, and nothing is lost.
func TestExportRetry(t *testing.T) {
	f := &failingExporter{fail: func(call, _ int) error {
		if call <= 3 {
			return fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
		}
		return nil
	}}
	res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), f, WithRetry(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.Exported != res.Spans() || res.Failed != 0 || int64(f.spans) != res.Spans() {
		t.Errorf("%d spans, %d exported, %d failed, exporter got %d", res.Spans(), res.Exported, res.Failed, f.spans)
	}
	// Without retry, the same failure is final.
	f = &failingExporter{fail: func(call, _ int) error { return fmt.Errorf("dial: %w", syscall.ECONNREFUSED) }}
	if _, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), f, WithRetry(300*time.Millisecond)); !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("error %v", err)
	}
}

// TestPartialSuccess: spans the collector rejects are counted and
// reported, and the export goes on.
func TestPartialSuccess(t *testing.T) {
	f := &failingExporter{fail: func(call, n int) error {
		if call == 1 {
			return errors.New("OTLP partial success: too old (2 spans rejected)")
		}
		return nil
	}}
	res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), f)
	var re *RejectedError
	if !errors.As(err, &re) || re.Spans != 2 || !strings.Contains(err.Error(), "2 spans rejected") {
		t.Errorf("error %v, want a RejectedError for 2 spans", err)
	}
	if res.Failed != 2 || res.Exported != res.Spans()-2 {
		t.Errorf("%d spans, %d exported, %d failed", res.Spans(), res.Exported, res.Failed)
	}
}

// TestNotATrace fails before any span is made.
func TestNotATrace(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	_, err := Convert(context.Background(), strings.NewReader("hello, world, this is not a trace"), mem, WithInputName("x.txt"))
	if err == nil || !strings.Contains(err.Error(), "x.txt") {
		t.Errorf("error %v", err)
	}
	// A nil reader is an error, not a panic on the goroutine that reads
	// ahead, which nothing could recover.
	if _, err := Convert(context.Background(), nil, mem); err == nil {
		t.Error("Convert of a nil reader: no error")
	}
}

// TestBrokenTrace: a trace that breaks off in its second generation is
// exported up to the break, and the mapping's error returned.
func TestBrokenTrace(t *testing.T) {
	data := mustRead(t, "../../conformance/testdata/generations.go1.26.trace")
	mem := tracetest.NewInMemoryExporter()
	res, err := Convert(context.Background(), bytes.NewReader(data[:len(data)-100]), mem, WithGoroutineSpans())
	var merr *mapping.Error
	if !errors.As(err, &merr) {
		t.Fatalf("error %v, want a *mapping.Error", err)
	}
	if res.Spans() == 0 || res.Exported != res.Spans() || int64(len(mem.GetSpans())) != res.Spans() {
		t.Errorf("%d spans made, %d exported, %d received", res.Spans(), res.Exported, len(mem.GetSpans()))
	}
}

// TestUnreachable: the failures a restarted collector cures are retried,
// including a connection the collector closed while a request was being
// written (a graceful shutdown), whose error may reach the exporter as
// text only; a refusal is not.
func TestUnreachable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("traces export: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("write tcp: %w", net.ErrClosed), true},
		{errors.New(`traces export: Post "http://127.0.0.1:4318/v1/traces": readfrom tcp 127.0.0.1:1->127.0.0.1:4318: write tcp 127.0.0.1:1->127.0.0.1:4318: use of closed network connection`), true},
		{errors.New("traces export: rpc error: code = Unavailable desc = connection error"), true},
		{errors.New("traces export: failed to send to http://127.0.0.1:4318/v1/traces: 400 Bad Request (body: bad span)"), false},
		{errors.New("traces export: rpc error: code = InvalidArgument desc = bad span"), false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%q) = %v, want %v", c.err, got, c.want)
		}
	}
}

// unavailableReceiver is an OTLP/gRPC endpoint that answers every export
// Unavailable, as a Collector whose exporter fails does.
type unavailableReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
}

func (unavailableReceiver) Export(context.Context, *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	return nil, status.Error(codes.Unavailable, "the pipeline's exporter is down")
}

// TestExportKeptUnavailable: an OTLP/gRPC endpoint that answers every
// export Unavailable until the export's time runs out is said to have
// failed every attempt, with its last answer, not to have given none.
func TestExportKeptUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, unavailableReceiver{})
	go srv.Serve(l)
	defer srv.Stop()
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(l.Addr().String()), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	_, err = Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), exp,
		WithExportTimeout(300*time.Millisecond), WithDestination("the endpoint"))
	want := "exporting spans to the endpoint: every attempt failed for the 300ms an export may take, the last with: rpc error: code = Unavailable desc = the pipeline's exporter is down"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// rpcStatus is a google.rpc.Status in protobuf, as the Collector gives
// in an answer that refuses an export.
func rpcStatus(code uint64, msg string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, code)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, msg)
}

// TestExportKeptBusy: an endpoint that answers every request with 503 and
// a google.rpc.Status, as a Collector whose exporter fails does, until
// the export's time runs out, is said to have answered so, with the
// status's message, not to have given no answer nor its bytes.
func TestExportKeptBusy(t *testing.T) {
	status := rpcStatus(14, "the pipeline's exporter is down") // Unavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(status)
	}))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	_, err = Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/annotations.go1.26.trace")), exp,
		WithExportTimeout(300*time.Millisecond), WithDestination("the endpoint"))
	want := "exporting spans to the endpoint: the endpoint kept answering that it is busy or unavailable (HTTP 429, 502, 503 or 504) for the 300ms an export may take (body: the pipeline's exporter is down)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestStatusBody checks that the body the OTLP/HTTP exporter quotes in
// its error is made readable when it is a google.rpc.Status in protobuf,
// as the Collector answers a refusal, and is left as it is otherwise.
func TestStatusBody(t *testing.T) {
	status := rpcStatus(8, "data refused due to high memory usage") // ResourceExhausted
	base := errors.New("x")
	for _, c := range []struct{ body, want string }{
		{string(status), "failed to send to http://h/v1/traces: 400 Bad Request (body: data refused due to high memory usage)"},
		{"no such route", "failed to send to http://h/v1/traces: 400 Bad Request (body: no such route)"},
		{"\x08\x08\x12\x05a\nb", "failed to send to http://h/v1/traces: 400 Bad Request (body: \x08\x08\x12\x05a\nb)"}, // a message no terminal should get: as it came
	} {
		err := &textError{"failed to send to http://h/v1/traces: 400 Bad Request (body: " + c.body + ")", base}
		got := statusBody(err)
		if got.Error() != c.want || !errors.Is(got, base) {
			t.Errorf("%q: %q, want %q, unwrapping to the exporter's error", c.body, got, c.want)
		}
	}
	// Answers the exporter retried until its time ran out: their status
	// is said, which the exporter leaves out.
	for _, c := range []struct{ body, want string }{
		{string(status), "traces export: max retry time elapsed: the endpoint kept answering that it is busy or unavailable (HTTP 429, 502, 503 or 504; body: data refused due to high memory usage)"},
		{"(empty)", "traces export: max retry time elapsed: the endpoint kept answering that it is busy or unavailable (HTTP 429, 502, 503 or 504; body: (empty))"},
	} {
		err := &textError{"traces export: max retry time elapsed: retry-able request failure: body: " + c.body, base}
		if got := statusBody(err); got.Error() != c.want || !errors.Is(got, base) {
			t.Errorf("%q: %q, want %q, unwrapping to the exporter's error", c.body, got, c.want)
		}
	}
	// An answer whose Retry-After goes past the timeout: the exporter
	// gives up at once, which a longer timeout cures.
	for _, c := range []struct{ body, want string }{
		{"(empty)", "traces export: max retry time would elapse: the endpoint answered that it is busy or unavailable (HTTP 429, 502, 503 or 504; body: (empty)) and asked to be tried again later than the export's timeout allows: a longer timeout waits for it"},
	} {
		err := &textError{"traces export: max retry time would elapse: retry-able request failure: body: " + c.body, base}
		if got := statusBody(err); got.Error() != c.want || !errors.Is(got, base) {
			t.Errorf("%q: %q, want %q, unwrapping to the exporter's error", c.body, got, c.want)
		}
	}
}

// textError is an error of the text given that wraps err.
type textError struct {
	text string
	err  error
}

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return e.err }

// TestExporterPanics: an exporter that panics, on the batch span
// processor's goroutine, fails the conversion with an
// *ExporterPanicError instead of ending the program, even when its value
// reads like an error that would be retried.
func TestExporterPanics(t *testing.T) {
	for _, value := range []any{"exporter bug", fmt.Errorf("dial: %w", syscall.ECONNREFUSED)} {
		f := &failingExporter{fail: func(int, int) error { panic(value) }}
		res, err := Convert(context.Background(), bytes.NewReader(mustRead(t, "../../testdata/gotest.go1.26.trace")), f, WithMaxExportBatchSize(1), WithMaxQueueSize(1), WithRetry(time.Minute))
		var pe *ExporterPanicError
		if !errors.As(err, &pe) || pe.Value != value || !strings.Contains(pe.Exporter, "failingExporter") || len(pe.Stack) == 0 {
			t.Fatalf("error %v (%T), want an *ExporterPanicError of %v", err, err, value)
		}
		if res.Exported != 0 || res.Failed == 0 || f.calls != 1 {
			t.Errorf("exported %d, failed %d, calls %d; want 0, some, 1", res.Exported, res.Failed, f.calls)
		}
	}
}

// TestConvertStalledInput: cancelling the context ends a conversion whose
// input stalls, a read of it under way, with the context's error.
func TestConvertStalledInput(t *testing.T) {
	data := mustRead(t, "../../testdata/gotest.go1.26.trace")
	ctx, cancel := context.WithCancel(context.Background())
	// Half the trace, then a read that hangs: the context ends while it
	// does.
	in := &stallingReader{data: data[:len(data)/2], stalled: cancel, hang: make(chan struct{})}
	defer close(in.hang)
	done := make(chan error, 1)
	go func() {
		_, err := Convert(ctx, in, tracetest.NewInMemoryExporter())
		done <- err
	}()
	select {
	case err := <-done:
		// The input failed with the context's end where it stopped,
		// after what came before, as the mapping reports an input's.
		var merr *mapping.Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &merr) || merr.Offset != int64(len(data)/2) {
			t.Errorf("error %v, want context.Canceled, the input stopped near byte %d", err, len(data)/2)
		}
	case <-time.After(time.Minute):
		t.Fatal("Convert still reads a stalled input a minute after its context was cancelled")
	}
}

// stallingReader gives data, then calls stalled once and hangs in its
// next read until hang is closed.
type stallingReader struct {
	data    []byte
	stalled func()
	once    sync.Once
	hang    chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.once.Do(r.stalled)
	<-r.hang
	return 0, io.EOF
}
