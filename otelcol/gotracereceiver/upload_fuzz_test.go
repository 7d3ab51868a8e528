package gotracereceiver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// FuzzUpload posts arbitrary bodies, plain or compressed, to the upload
// endpoint, which is open to any client: nothing may panic, and every
// answer must be one a client can act on. 200 says how many spans went
// down the pipeline; 400 names the upload and, if spans went on before
// the fault, how many; 413 comes only for a body that is, or may expand
// to, more than the limit.
func FuzzUpload(f *testing.F) {
	trace := sampleTrace(f)
	frs, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		f.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(trace)
	zw.Close()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		trace, gz.Bytes(), enc.EncodeAll(frs, nil), frs, frs[:7000], trace[:len(trace)/2],
		[]byte("go 1.21 trace\x00\x00\x00"), []byte("<html>"), nil,
	} {
		f.Add(seed)
	}
	const limit = 64 << 10
	cfg, err := load(f, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "max_request_body_size": limit}})
	if err != nil {
		f.Fatal(err)
	}
	sink := new(consumertest.TracesSink)
	h := newHarness(f, cfg, sink)
	h.start()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := sink.SpanCount()
		rec := httptest.NewRecorder()
		h.r.handleUpload(rec, httptest.NewRequest(http.MethodPost, uploadPath+"?service_name=fuzz", bytes.NewReader(body)))
		handed := sink.SpanCount() - before
		msg := strings.TrimSpace(rec.Body.String())
		switch rec.Code {
		case http.StatusOK:
			if msg != fmt.Sprintf("%d spans", handed) {
				t.Errorf("200 %q, with %d spans handed on", msg, handed)
			}
		case http.StatusBadRequest:
			if !strings.HasPrefix(msg, "upload from ") {
				t.Errorf("400 %q does not name the upload", msg)
			}
			if suffix := fmt.Sprintf("; %d spans from before were handed on", handed); handed > 0 && !strings.HasSuffix(msg, suffix) {
				t.Errorf("400 %q, with %d spans handed on", msg, handed)
			}
		case http.StatusRequestEntityTooLarge:
			compressed := bytes.HasPrefix(body, []byte{0x1f, 0x8b}) || bytes.HasPrefix(body, []byte{0x28, 0xb5, 0x2f, 0xfd})
			if len(body) <= limit && !compressed {
				t.Errorf("413 %q for %d plain bytes, under the limit", msg, len(body))
			}
			if !strings.Contains(msg, fmt.Sprintf("max_request_body_size (%d bytes)", limit)) {
				t.Errorf("413 %q does not name the limit", msg)
			}
		default:
			t.Errorf("%d %q", rec.Code, msg)
		}
	})
}
