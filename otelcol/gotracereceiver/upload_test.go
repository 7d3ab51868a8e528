package gotracereceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/trace2x/trace2x/internal/synth"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestUpload(t *testing.T) {
	trace := sampleTrace(t)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(trace)
	zw.Close()
	enc, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(trace)
	enc.Close()

	cfg := uploadOnly(t, 4)
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	base := "http://" + h.r.uploadAddr.String() + uploadPath

	post := func(query string, body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(base+query, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	// The same trace, plain, gzip and zstd: the same spans each time.
	for _, tc := range []struct {
		name string
		body []byte
	}{{"plain", trace}, {"gzip", gz.Bytes()}, {"zstd", zs.Bytes()}} {
		before := sink.SpanCount()
		code, msg := post("?service_name=ci-"+tc.name, tc.body)
		if code != http.StatusOK || msg != "52 spans" {
			t.Errorf("%s: %d %q; want 200 \"52 spans\"", tc.name, code, msg)
		}
		if n := spansByService(sink)["ci-"+tc.name]; n != 52 || sink.SpanCount()-before != 52 {
			t.Errorf("%s: %d spans under service.name ci-%s", tc.name, n, tc.name)
		}
	}

	for _, tc := range []struct {
		name, query string
		body        []byte
		code        int
		msg         string
	}{
		{"not a trace", "?service_name=ci", []byte("<html>"), http.StatusBadRequest, "not a Go execution trace"},
		{"cut", "?service_name=ci", trace[:len(trace)/2], http.StatusBadRequest, "runs past the end of the trace, which is cut short at byte " + strconv.Itoa(len(trace)/2)},
		{"no service", "", trace, http.StatusBadRequest, "service_name: missing"},
		{"a blank service", "?service_name=%20", trace, http.StatusBadRequest, "service_name: blank"},
	} {
		code, msg := post(tc.query, tc.body)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want %d and %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	// A trace cut in its second generation: the first one's spans went
	// on, and the answer says how many, for a client that would send it
	// again.
	frs, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	before := sink.SpanCount()
	code, msg := post("?service_name=ci-cut", frs[:7000])
	handed := sink.SpanCount() - before
	if code != http.StatusBadRequest || handed == 0 || !strings.HasSuffix(msg, fmt.Sprintf("; %d spans from before were handed on", handed)) {
		t.Errorf("a trace cut in its second generation: %d %q; %d spans handed on", code, msg, handed)
	}
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s", resp.Status)
	}
	// The three that failed in their conversion, and the two without a
	// service_name, refused before: a client set up so fails every time.
	if n := h.captures("upload", "failed"); n != 5 {
		t.Errorf("%d failed uploads counted; want 5", n)
	}
	// Durations as the count counts them: the upload refused before
	// its body was read has one too.
	if n := h.durations("upload", ""); n != 8 {
		t.Errorf("%d upload durations recorded; want 8, one per upload", n)
	}
	if n := h.durations("upload", "failed"); n != 5 {
		t.Errorf("%d upload durations recorded as failed; want 5", n)
	}
	failed := 0
	for _, e := range h.logs.All() {
		if strings.HasPrefix(e.Message, "upload from 127.0.0.1:") && strings.HasSuffix(e.Message, " failed") {
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("%d failed uploads logged; want 5", failed)
	}
}

// TestUploadFailuresNotSampledAway checks that every failed upload is
// logged when many fail at once, under the sampling the Collector's
// logger does by default (the first 10 of a message every 10 seconds,
// then 1 in 100), as every failing target is: the message names the
// upload's client.
func TestUploadFailuresNotSampledAway(t *testing.T) {
	h := newHarness(t, uploadOnly(t, 4), consumertest.NewNop())
	core, logs := observer.New(zap.InfoLevel)
	h.r.set.Logger = zap.New(zapcore.NewSamplerWithOptions(core, 10*time.Second, 10, 100))
	h.start()
	// A connection of its own for each, as clients of their own have.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	const n = 13
	for range n {
		resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=ci", "application/octet-stream", strings.NewReader("<html>"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("an upload of no trace: %s; want 400", resp.Status)
		}
	}
	if c := h.captures("upload", "failed"); c != n {
		t.Fatalf("%d failed uploads counted; want %d", c, n)
	}
	if got := logs.FilterLevelExact(zap.WarnLevel).FilterFieldKey("error").Len(); got != n {
		t.Errorf("%d of %d failed uploads logged", got, n)
	}
}

// TestUploadShutdownRefusedSaid shuts the receiver down while the
// pipeline refuses an upload's spans: the log line of the upload stopped
// says so, as a capture's does, and its spans count as refused.
func TestUploadShutdownRefusedSaid(t *testing.T) {
	var refusals atomic.Int64
	h := newHarness(t, uploadOnly(t, 1), consumerFunc(func(context.Context, ptrace.Traces) error {
		refusals.Add(1)
		return errors.New("data refused due to high memory usage")
	}))
	h.start()
	answered := make(chan int, 1)
	go func() {
		client := &http.Client{Timeout: 30 * time.Second}
		resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=ci", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	waitFor(t, 30*time.Second, "the upload's spans refused", func() bool { return refusals.Load() >= 2 })
	h.stop()
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("the upload stopped by shutdown answered %d; want 503", code)
	}
	said := h.logs.FilterMessage("upload stopped by shutdown, while the pipeline refused the spans (data refused due to high memory usage)").FilterLevelExact(zap.InfoLevel)
	if said.Len() != 1 {
		t.Errorf("logged %v; want the shutdown said once, with the pipeline's refusal", h.logs.FilterMessageSnippet("upload").All())
	}
	// The call of the pipeline under way may count its batch a moment
	// after the upload ends.
	for deadline := time.Now().Add(5 * time.Second); h.spans("refused") < 52 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if acc, ref := h.spans("accepted"), h.spans("refused"); acc != 0 || ref != 52 {
		t.Errorf("receiver metrics: %d spans accepted, %d refused; want 0 and the trace's 52", acc, ref)
	}
}

func TestUploadConfig(t *testing.T) {
	cfg, err := load(t, map[string]any{"upload": nil})
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upload.Get()
	if !cfg.Upload.HasValue() || u.NetAddr.Endpoint != "localhost:4319" || u.MaxRequestBodySize != 1<<30 {
		t.Errorf("upload defaults: %+v", u)
	}
	cfg, err = load(t, map[string]any{})
	if err == nil || cfg.Upload.HasValue() {
		t.Errorf("no targets and no upload endpoint accepted: %v", err)
	}
}

// stallingUpload starts a POST to the upload endpoint that sends its
// headers and the first bytes of a large body, then nothing: a client
// that stalled. It returns the connection, to close at the end, and a
// reader of the answer.
func stallingUpload(t *testing.T, addr string, first []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s?service_name=stall HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", uploadPath, addr, 10<<20)
	conn.Write(first)
	return conn, bufio.NewReader(conn)
}

// TestUploadStall checks that an upload whose client stops sending is
// cut off once it has sent nothing for the stall time, which frees its
// slot for the targets' captures.
func TestUploadStall(t *testing.T) {
	stallAfter(t, 300*time.Millisecond)
	cfg := uploadOnly(t, 1)
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	trace := sampleTrace(t)
	// A client that sent the start of its trace, and one that sent
	// nothing after its headers, whose failure the first read ahead met.
	for _, first := range [][]byte{trace[:100], nil} {
		_, answer := stallingUpload(t, h.r.uploadAddr.String(), first)
		resp, err := http.ReadResponse(answer, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "the client sent nothing for 300ms") {
			t.Errorf("a stalled upload that sent %d bytes: %s %q", len(first), resp.Status, body)
		}
	}
	// The slot is free again: an upload that sends its trace goes through.
	r, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=next", "application/octet-stream", bytes.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Errorf("the upload after the stalled one: %s %q", r.Status, b)
	}
}

// TestShutdownStalledUpload checks that shutting down does not wait for
// an upload whose client stalled, which a cancelled context alone does not
// wake from its read.
func TestShutdownStalledUpload(t *testing.T) {
	for _, n := range []int{100, 0} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testShutdownStalledUpload(t, n) })
	}
}

// testShutdownStalledUpload is TestShutdownStalledUpload for a client
// that sent n bytes of its trace.
func testShutdownStalledUpload(t *testing.T, n int) {
	cfg := uploadOnly(t, 4)
	h := newHarness(t, cfg, consumertest.NewNop())
	if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	_, answer := stallingUpload(t, h.r.uploadAddr.String(), sampleTrace(t)[:n])
	waitFor(t, 5*time.Second, "the upload to take its slot", func() bool { return len(h.r.slots) == 1 })
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a stalled upload", d)
	}
	if resp, err := http.ReadResponse(answer, nil); err == nil {
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "the Collector is shutting down") {
			t.Errorf("the stalled upload was answered %s %q, want 503 saying the Collector is shutting down, or nothing", resp.Status, b)
		}
	}
	if n := h.captures("upload", "cancelled"); n != 1 {
		t.Errorf("%d uploads counted cancelled, want 1", n)
	}
}

// TestUploadWaitingCounted checks that an upload that waits for a slot
// is counted when its client goes away (failed, and logged) or a
// shutdown ends its wait (cancelled), as one under way would be.
func TestUploadWaitingCounted(t *testing.T) {
	for _, shutdown := range []bool{false, true} {
		t.Run(fmt.Sprintf("shutdown=%v", shutdown), func(t *testing.T) {
			stallAfter(t, time.Minute)
			h := newHarness(t, uploadOnly(t, 1), consumertest.NewNop())
			if err := h.r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				t.Fatal(err)
			}
			addr := h.r.uploadAddr.String()
			stallingUpload(t, addr, sampleTrace(t)[:100])
			waitFor(t, 5*time.Second, "the first upload to take the slot", func() bool { return len(h.r.slots) == 1 })
			// An empty upload: net/http tells the handler that a client
			// went away only once the body is read to its end. Its
			// handler waits for the slot; were it slower to start, it
			// would still find the slot taken and its end come.
			waiting, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer waiting.Close()
			fmt.Fprintf(waiting, "POST %s?service_name=waits HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", uploadPath, addr)
			time.Sleep(300 * time.Millisecond)
			if shutdown {
				h.stop()
				if n := h.captures("upload", "cancelled"); n != 2 {
					t.Errorf("%d uploads counted cancelled, want 2: the one under way and the one waiting for a slot", n)
				}
				return
			}
			waiting.Close()
			waitFor(t, 5*time.Second, "the upload whose client went to be counted failed", func() bool { return h.captures("upload", "failed") == 1 })
			if said := h.logs.FilterMessageSnippet("failed").FilterFieldKey("error").All(); len(said) != 1 || !strings.Contains(fmt.Sprint(said[0].ContextMap()["error"]), "the client went away") {
				t.Errorf("logged %v; want one failure saying the client went away", said)
			}
			h.stop()
		})
	}
}

// TestUploadTrickle checks that an upload that sends a byte now and then,
// under the minimum for the stall time, is cut off: otherwise it would
// hold its slot for as long as it trickles.
func TestUploadTrickle(t *testing.T) {
	// A byte every 50 ms, far under the stall time: even on a slow
	// machine the cut is for the rate, not for silence.
	stallAfter(t, time.Second)
	cfg := uploadOnly(t, 4)
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	trace := sampleTrace(t)
	conn, answer := stallingUpload(t, h.r.uploadAddr.String(), trace[:100])
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 100; i < len(trace); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write(trace[i : i+1]); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(answer, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "under 1024") {
		t.Errorf("a trickling upload: %s %q", resp.Status, body)
	}
}

// TestUploadWaitsForPipeline checks that an upload whose spans the
// pipeline refuses for a while, longer than the stall time, waits for it
// and succeeds: the wait is not the client's.
func TestUploadWaitsForPipeline(t *testing.T) {
	stallAfter(t, 200*time.Millisecond)
	cfg := uploadOnly(t, 4)
	sink := new(consumertest.TracesSink)
	until := time.Now().Add(time.Second)
	h := newHarness(t, cfg, consumerFunc(func(ctx context.Context, td ptrace.Traces) error {
		if time.Now().Before(until) {
			return errors.New("data refused due to high memory usage")
		}
		return sink.ConsumeTraces(ctx, td)
	}))
	h.start()
	resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=slowpipe", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "52 spans" || sink.SpanCount() != 52 {
		t.Errorf("an upload behind a pipeline that pushed back for 1s: %s %q, %d spans handed on", resp.Status, body, sink.SpanCount())
	}
}

// uploadOnly is a receiver configuration with an upload endpoint on a free
// port, no targets, and slots captures at once.
func uploadOnly(t *testing.T, slots int) *Config {
	t.Helper()
	cfg, err := load(t, map[string]any{"max_concurrent_captures": slots, "upload": map[string]any{"endpoint": "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// stallAfter sets uploadStall to d for the test.
func stallAfter(t *testing.T, d time.Duration) {
	old := uploadStall
	uploadStall = d
	t.Cleanup(func() { uploadStall = old })
}

// TestUploadTooLarge checks that a trace over the endpoint's
// max_request_body_size is answered 413, naming the limit, and that the
// spans before the cut are handed on, as for any trace cut short.
func TestUploadTooLarge(t *testing.T) {
	trace := sampleTrace(t)
	limit := len(trace) / 2
	cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "max_request_body_size": limit}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	// With its length said, it is refused before its body is read; sent
	// in chunks, once its reading passes the limit.
	for _, body := range []io.Reader{bytes.NewReader(trace), io.MultiReader(bytes.NewReader(trace))} {
		resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=big", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), fmt.Sprintf("max_request_body_size (%d bytes)", limit)) {
			t.Errorf("%s %q; want 413 naming max_request_body_size", resp.Status, b)
		}
	}
	if n := h.captures("upload", "failed"); n != 2 {
		t.Errorf("%d failed uploads counted; want 2", n)
	}
}

// TestUploadExpands checks that the limit counts a compressed trace as it
// expands: a small gzip file that decompresses past max_request_body_size
// is answered 413, saying so, and one that stays under it (the same trace
// compressed) converts whole; and that the receiver's own resource
// variables stay off the uploaded program's spans.
func TestUploadExpands(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.pod.name=otel-collector-0")
	trace := sampleTrace(t)
	limit := len(trace) + 1024
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	// A trace of Go 1.21, which its parser reads whole before it looks
	// at it, of zeros well past the limit: far smaller than the limit
	// compressed.
	bomb := gz(append([]byte("go 1.21 trace\x00\x00\x00"), make([]byte, 4*limit)...))
	if len(bomb) >= limit {
		t.Fatalf("the compressed upload is %d bytes, not under the limit %d", len(bomb), limit)
	}
	cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "max_request_body_size": limit}})
	if err != nil {
		t.Fatal(err)
	}
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	post := func(body []byte) (int, string) {
		resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=checkout", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, msg := post(bomb); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, fmt.Sprintf("decompresses to more than the upload endpoint's max_request_body_size (%d bytes)", limit)) {
		t.Errorf("a trace that expands past the limit: %d %q; want 413 saying so", code, msg)
	}
	sink.Reset()
	if code, msg := post(gz(trace)); code != http.StatusOK {
		t.Fatalf("the trace compressed: %d %q; want 200", code, msg)
	}
	if sink.SpanCount() == 0 {
		t.Fatal("no spans handed on")
	}
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			attrs := td.ResourceSpans().At(i).Resource().Attributes()
			if _, ok := attrs.Get("k8s.pod.name"); ok {
				t.Fatal("the Collector's OTEL_RESOURCE_ATTRIBUTES is on the uploaded program's spans")
			}
		}
	}
}

// TestUploadRefusedTooLong checks that an upload whose spans the pipeline
// keeps refusing, for a reason that may pass, is answered 503 once the
// refusal has lasted uploadRefusal, saying so, rather than held until
// the client or a shutdown ends it; and that its slot is free again.
func TestUploadRefusedTooLong(t *testing.T) {
	old := uploadRefusal
	uploadRefusal = 300 * time.Millisecond
	t.Cleanup(func() { uploadRefusal = old })
	cfg := uploadOnly(t, 1)
	h := newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		return errors.New("data refused due to high memory usage")
	}))
	h.start()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=refused", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the pipeline refused") || !strings.Contains(string(body), "for 300ms") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an upload behind a pipeline that keeps refusing: %s, Retry-After %q, %q; want 503 saying how long it refused, with Retry-After", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	waitFor(t, 5*time.Second, "the slot to be free", func() bool { return len(h.r.slots) == 0 })
}

// TestUploadHeldNowAndThen checks that the time an upload waits for a
// pipeline that takes a batch only now and then (an exporter's blocking
// queue behind a dead backend, which drops a batch as its retries run
// out) adds up: the upload is answered 503 once its batches were held
// uploadRefusal in all, not only when one batch is held that long, and
// the 503 says when to try again.
func TestUploadHeldNowAndThen(t *testing.T) {
	oldRefusal, oldStall := uploadRefusal, stallCall
	uploadRefusal, stallCall = time.Second, 100*time.Millisecond
	t.Cleanup(func() { uploadRefusal, stallCall = oldRefusal, oldStall })
	var trace bytes.Buffer
	if err := synth.RecordService(&trace, 1<<20); err != nil {
		t.Fatal(err)
	}
	cfg := uploadOnly(t, 1)
	var calls atomic.Int64
	h := newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		calls.Add(1)
		time.Sleep(300 * time.Millisecond) // then taken
		return nil
	}))
	h.start()
	resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=trickle", "application/octet-stream", bytes.NewReader(trace.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the pipeline did not take") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an upload whose %d batches the pipeline took one every 300ms: %s, Retry-After %q, %q; want 503 after 1s of waiting, with Retry-After",
			calls.Load(), resp.Status, resp.Header.Get("Retry-After"), body)
	}
	if n := calls.Load(); n > 6 {
		t.Errorf("%d batches offered to a pipeline that took one every 300ms, with 1s to wait in all; want at most 6", n)
	}
}

// TestUploadHeldTooLong checks that an upload whose spans the pipeline
// holds without taking them (an exporter's queue that blocks when full,
// behind a backend that is down) is answered 503 once it has held them
// for uploadRefusal, as one it refuses is, and frees its slot; and that
// an upload that finds every slot busy for that long is answered 503 too.
func TestUploadHeldTooLong(t *testing.T) {
	old := uploadRefusal
	uploadRefusal = 300 * time.Millisecond
	t.Cleanup(func() { uploadRefusal = old })
	cfg := uploadOnly(t, 1)
	h := newHarness(t, cfg, consumerFunc(func(ctx context.Context, _ ptrace.Traces) error {
		<-ctx.Done() // held until the receiver gives up
		return ctx.Err()
	}))
	h.start()
	client := &http.Client{Timeout: 20 * time.Second}
	post := func() (int, string) {
		t.Helper()
		resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=held", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	if code, msg := post(); code != http.StatusServiceUnavailable || !strings.Contains(msg, "the pipeline did not take") || !strings.Contains(msg, "in 300ms") {
		t.Errorf("an upload behind a pipeline that holds its spans: %d %q; want 503 saying so", code, msg)
	}
	waitFor(t, 5*time.Second, "the slot to be free", func() bool { return len(h.r.slots) == 0 })
	h.r.slots <- struct{}{} // a capture holds the only slot
	if code, msg := post(); code != http.StatusServiceUnavailable || !strings.Contains(msg, "max_concurrent_captures (1) was busy for 300ms") {
		t.Errorf("an upload that finds every slot busy: %d %q; want 503 saying so", code, msg)
	}
	<-h.r.slots
	if n := h.captures("upload", "failed"); n != 2 {
		t.Errorf("%d failed uploads counted; want 2", n)
	}
}

// TestUploadRefusedAtOnce checks that an upload refused before its body
// is read (no service_name, a declared length over the limit) is answered
// at once, however slowly its client sends the body: the server had read
// the rest of it first, for as long as the client took.
func TestUploadRefusedAtOnce(t *testing.T) {
	cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "max_request_body_size": 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, consumertest.NewNop())
	h.start()
	addr := h.r.uploadAddr.String()
	for _, c := range []struct {
		query  string
		length int
		status int
	}{
		{"", 100000, http.StatusBadRequest},
		{"?service_name=big", 5 << 20, http.StatusRequestEntityTooLarge},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", uploadPath, c.query, addr, c.length)
		conn.Write([]byte("go 1.26 trace\x00\x00\x00")) // and nothing more
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("%q of %d bytes, stalled: no answer: %v", c.query, c.length, err)
		} else if resp.StatusCode != c.status {
			t.Errorf("%q of %d bytes, stalled: %s, want %d", c.query, c.length, resp.Status, c.status)
		}
		conn.Close()
	}
}

// TestUpload503Names checks that the 503 answers name the upload and its
// client, as the other answers of a converted upload do: the pipeline's
// refusal, and a shutdown while the upload waits for a slot.
func TestUpload503Names(t *testing.T) {
	cfg := uploadOnly(t, 1)
	h := newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		return consumererror.NewPermanent(errors.New("bad data"))
	}))
	h.start()
	post := func() (int, string) {
		t.Helper()
		client := &http.Client{Timeout: 20 * time.Second}
		resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=ci", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, msg := post(); code != http.StatusServiceUnavailable || !strings.HasPrefix(msg, "upload from 127.0.0.1:") || !strings.Contains(msg, "bad data") {
		t.Errorf("an upload the pipeline refused: %d %q; want 503 naming the upload and the refusal", code, msg)
	}
	// The slot held, and the receiver's captures ended, while its
	// endpoint still answers: as at the start of a shutdown.
	h.r.slots <- struct{}{}
	h.r.cancel()
	code, msg := post()
	<-h.r.slots
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(msg, "upload from 127.0.0.1:") || !strings.Contains(msg, "the Collector is shutting down") {
		t.Errorf("an upload waiting for a slot at shutdown: %d %q; want 503 naming the upload", code, msg)
	}
}

// TestUploadSampledOnly: with sampled_only, an upload's request that the
// application did not sample makes no spans; the sampled one does.
func TestUploadSampledOnly(t *testing.T) {
	const (
		sampled   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	var trace bytes.Buffer
	if err := synth.RecordJoins(&trace, sampled, unsampled); err != nil {
		t.Fatal(err)
	}
	for _, only := range []bool{false, true} {
		cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "sampled_only": only}})
		if err != nil {
			t.Fatal(err)
		}
		sink := new(consumertest.TracesSink)
		h := newHarness(t, cfg, sink)
		h.start()
		resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=joins", "application/octet-stream", bytes.NewReader(trace.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sampled_only %v: %s", only, resp.Status)
		}
		// The answer says what was left out, as the log does: the 4
		// spans of the request the application did not sample.
		wantBody := map[bool]string{
			false: "8 spans\n",
			true:  "4 spans; 4 spans of requests the application did not sample are left out (sampled_only)\n",
		}[only]
		if string(body) != wantBody {
			t.Errorf("sampled_only %v: answered %q; want %q", only, body, wantBody)
		}
		byTrace := map[string]int{}
		for _, td := range sink.AllTraces() {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				ss := td.ResourceSpans().At(i).ScopeSpans()
				for j := 0; j < ss.Len(); j++ {
					spans := ss.At(j).Spans()
					for k := 0; k < spans.Len(); k++ {
						byTrace[spans.At(k).TraceID().String()]++
					}
				}
			}
		}
		want := map[bool]int{false: 4, true: 0}[only]
		if byTrace["0af7651916cd43dd8448eb211c80319c"] != want || byTrace["4bf92f3577b34da6a3ce929d0e0e4736"] != 4 {
			t.Errorf("sampled_only %v: spans by trace %v; want %d of the unsampled request, 4 of the sampled", only, byTrace, want)
		}
		// The log says what was left out, so that few spans are not a mystery.
		logged := int64(0)
		for _, e := range h.logs.FilterMessage("upload done").All() {
			if v, ok := e.ContextMap()["unsampled_spans_left_out"]; ok {
				logged = v.(int64)
			}
		}
		if logged != int64(4-want) {
			t.Errorf("sampled_only %v: %d spans logged as left out, want %d", only, logged, 4-want)
		}
		h.stop()
	}
}

// TestUploadPipelineHolds: a pipeline that holds a batch and does not let
// go when the upload gives up on it (a batch processor in front of an
// exporter's queue that blocks when full) keeps the call, and the batch,
// for as long as its backend is down. Past max_concurrent_captures such
// calls, uploads are refused at once, saying why, rather than pile up
// more; once the pipeline takes them, uploads go through again.
func TestUploadPipelineHolds(t *testing.T) {
	old := uploadRefusal
	uploadRefusal = 300 * time.Millisecond
	t.Cleanup(func() { uploadRefusal = old })
	cfg := uploadOnly(t, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	h := newHarness(t, cfg, consumerFunc(func(context.Context, ptrace.Traces) error {
		<-release // its caller's context is not heeded
		return nil
	}))
	h.start()
	client := &http.Client{Timeout: 20 * time.Second}
	post := func() (int, string, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := client.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=held", "application/octet-stream", bytes.NewReader(sampleTrace(t)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body), time.Since(start)
	}
	if code, msg, _ := post(); code != http.StatusServiceUnavailable || !strings.Contains(msg, "the pipeline did not take") {
		t.Fatalf("an upload behind a pipeline that holds its spans: %d %q; want 503 saying so", code, msg)
	}
	waitFor(t, 10*time.Second, "the held call to be counted", func() bool { return h.r.held.Load() == 1 })
	code, msg, took := post()
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "the pipeline still holds 1 batches") || took > uploadRefusal {
		t.Errorf("an upload while the pipeline holds an earlier one's batch: %d %q after %v; want 503 at once saying so", code, msg, took)
	}
	releaseOnce.Do(func() { close(release) })
	waitFor(t, 10*time.Second, "the held call to return", func() bool { return h.r.held.Load() == 0 })
	if code, msg, _ := post(); code != http.StatusOK {
		t.Errorf("an upload once the pipeline took what it held: %d %q; want 200", code, msg)
	}
}

// TestUploadStartTime: a trace without a clock snapshot (before Go 1.25)
// is placed at the start_time its client gives, or else at the time of
// the upload, which the answer says; a start_time that is no time is
// refused; a trace with a clock snapshot is placed by it.
func TestUploadStartTime(t *testing.T) {
	cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	sink := new(consumertest.TracesSink)
	h := newHarness(t, cfg, sink)
	h.start()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	old, clocked := read("mixed.go1.24.trace"), read("mixed.go1.26.trace")
	given := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		trace  []byte
		query  string
		status int
		placed bool      // the answer says the spans are placed at the upload's time
		from   time.Time // the spans' earliest start is at or after it, within a minute
	}{
		{"no clock, no start_time", old, "", http.StatusOK, true, time.Now()},
		{"no clock, start_time", old, "&start_time=" + given.Format(time.RFC3339), http.StatusOK, false, given},
		{"a start_time that is no time", old, "&start_time=yesterday", http.StatusBadRequest, false, time.Time{}},
		{"a clock", clocked, "&start_time=" + given.Format(time.RFC3339), http.StatusOK, false, time.Time{}},
	} {
		sink.Reset()
		resp, err := http.Post("http://"+h.r.uploadAddr.String()+uploadPath+"?service_name=old"+tc.query, "application/octet-stream", bytes.NewReader(tc.trace))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s: %s", tc.name, resp.Status, body)
			continue
		}
		if tc.status != http.StatusOK {
			if !strings.Contains(string(body), "start_time") {
				t.Errorf("%s: answered %q, which does not name start_time", tc.name, body)
			}
			continue
		}
		// A start_time that the trace's clock overrides is said to be
		// unused, as the CLI says it.
		if unused := strings.Contains(string(body), "start_time is not used"); unused != (tc.from.IsZero() && strings.Contains(tc.query, "start_time")) {
			t.Errorf("%s: answered %q; want it to say start_time is not used: %v", tc.name, body, !unused)
		}
		if placed := strings.Contains(string(body), "placed at the time of the upload"); placed != tc.placed {
			t.Errorf("%s: answered %q; want it to say the spans are placed at the upload's time: %v", tc.name, body, tc.placed)
		}
		earliest := time.Time{}
		for _, td := range sink.AllTraces() {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				ss := td.ResourceSpans().At(i).ScopeSpans()
				for j := 0; j < ss.Len(); j++ {
					spans := ss.At(j).Spans()
					for k := 0; k < spans.Len(); k++ {
						if st := spans.At(k).StartTimestamp().AsTime(); earliest.IsZero() || st.Before(earliest) {
							earliest = st
						}
					}
				}
			}
		}
		if earliest.IsZero() {
			t.Errorf("%s: no span handed on", tc.name)
			continue
		}
		if tc.from.IsZero() {
			// Placed by the trace's clock, whenever it was recorded.
			if d := earliest.Sub(given); d > -time.Minute && d < time.Minute {
				t.Errorf("%s: spans from %v, by the start_time given, not by the trace's clock", tc.name, earliest)
			}
			continue
		}
		if d := earliest.Sub(tc.from); d < -time.Second || d > time.Minute {
			t.Errorf("%s: spans from %v, want from %v", tc.name, earliest, tc.from)
		}
	}
}
