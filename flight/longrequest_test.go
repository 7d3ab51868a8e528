package flight

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestLongRequestInLaterWindow: a request that began before the window
// (its task's begin and first traceparent log are in a generation the
// window no longer holds) is still named after its route, and its span
// still joins the request's distributed trace, by what its task restates
// at its end. A request under a millisecond restates nothing.
func TestLongRequestInLaterWindow(t *testing.T) {
	clk := newFakeClock()
	src := &fakeSource{}
	mem := tracetest.NewInMemoryExporter()
	r, _ := testRecorder(t, src, clk, WithExporter(mem))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow/{ms}", func(w http.ResponseWriter, req *http.Request) {
		// A flight recorder's start ends the generation: the window
		// below begins after it.
		fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
		if err := fr.Start(); err != nil {
			t.Error(err)
			return
		}
		fr.Stop()
		trace.WithRegion(req.Context(), "work", func() { clk.Advance(5 * time.Millisecond) })
	})
	mux.HandleFunc("GET /fast", func(http.ResponseWriter, *http.Request) {})
	h := r.Middleware(mux)
	const tp = "00-" + clientTrace + "-" + clientSpan + "-01"

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/fast", "/slow/5"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("traceparent", tp)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	trace.Stop()

	// The fast request restated nothing; the slow one its traceparent
	// and name.
	var logs logSink
	data := buf.Bytes()
	if _, err := mapping.Map(bytes.NewReader(data), &logs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"traceparent " + tp, // the fast request's
		"traceparent " + tp, // the slow one's, at its start
		"traceparent " + tp, // and at its end
		"go.task.type GET /slow/{ms}",
	}
	if !slices.Equal(logs.trace2x, want) {
		t.Errorf("logs %q, want %q", logs.trace2x, want)
	}

	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 2 {
		t.Fatalf("%d generations (%v), want 2 or more", len(idx.Generations), err)
	}
	later := filepath.Join(t.TempDir(), "later.trace")
	cut := append(slices.Clip(data[:idx.Generations[0].Offset]), data[idx.Generations[1].Offset:]...)
	if err := os.WriteFile(later, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.path = later
	src.mu.Unlock()
	if _, err := r.Snapshot(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range mem.GetSpans() {
		if s.Name == "task" {
			t.Errorf("a task span without its name: %+v", s.Attributes)
		}
		if s.Name != "GET /slow/{ms}" {
			continue
		}
		found = true
		if got := s.Parent.TraceID().String() + "/" + s.Parent.SpanID().String(); got != clientTrace+"/"+clientSpan {
			t.Errorf("the slow request's span has parent %s, want the client's %s/%s", got, clientTrace, clientSpan)
		}
	}
	if !found {
		t.Errorf("no span GET /slow/{ms} among the %d exported", len(mem.GetSpans()))
	}
}

// logSink keeps the logs of the categories the middleware restates.
type logSink struct {
	mapping.NopSink
	trace2x []string
}

func (s *logSink) Log(l *mapping.Log) error {
	if l.Category == mapping.CategoryTraceparent || l.Category == mapping.CategoryTaskType {
		s.trace2x = append(s.trace2x, l.Category+" "+l.Message)
	}
	return nil
}
