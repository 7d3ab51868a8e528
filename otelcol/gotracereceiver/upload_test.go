package gotracereceiver

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/consumer/consumertest"
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

	cfg, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
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
		{"cut", "?service_name=ci", trace[:len(trace)/2], http.StatusBadRequest, "broken trace near byte"},
		{"no service", "", trace, http.StatusBadRequest, "service_name: missing"},
	} {
		code, msg := post(tc.query, tc.body)
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q; want %d and %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s", resp.Status)
	}
	if n := h.captures("upload", "failed"); n != 2 {
		t.Errorf("%d failed uploads counted; want 2", n)
	}
	if n := h.logs.FilterMessage("upload failed").Len(); n != 2 {
		t.Errorf("%d failed uploads logged; want 2", n)
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
