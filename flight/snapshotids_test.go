package flight

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestSnapshotsOwnIDs: two snapshots whose windows begin at the same
// place (a process's first seconds, or two taken close together) send a
// request under way at the first one's end twice, cut and whole, each
// under IDs of its own: one ID for the two, a backend shows as a
// duplicate span. The whole copy holds all of the request: its subtasks
// and regions that ended within the first window too.
func TestSnapshotsOwnIDs(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, 12); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The earlier window ends a generation or more before the whole
	// one, past the bytes a conversion identifies a trace by, so that
	// both begin with the same.
	cut := int64(0)
	for _, g := range idx.Generations[:len(idx.Generations)-1] {
		if g.Offset > 96<<10 {
			cut = g.Offset
			break
		}
	}
	if cut == 0 {
		t.Fatalf("no generation begins past 96 KiB of the %d bytes of %d generations", len(data), len(idx.Generations))
	}
	dir := t.TempDir()
	early, whole := filepath.Join(dir, "early.trace"), filepath.Join(dir, "whole.trace")
	if err := os.WriteFile(early, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(whole, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mem := tracetest.NewInMemoryExporter()
	src := &fakeSource{path: early}
	r, _ := testRecorder(t, src, newFakeClock(), WithExporter(mem))
	if e, err := r.Snapshot(context.Background(), "early"); err != nil || e.Spans == 0 {
		t.Fatalf("the earlier window: %+v, %v", e, err)
	}
	src.mu.Lock()
	src.path = whole
	src.mu.Unlock()
	sentBefore := len(mem.GetSpans())
	if e, err := r.Snapshot(context.Background(), "whole"); err != nil || e.Spans == 0 {
		t.Fatalf("the whole window: %+v, %v", e, err)
	}
	// Every subtask of the long task, open at the first window's end, is
	// in the second snapshot's copy of it.
	steps := func(spans tracetest.SpanStubs) int {
		n := 0
		for _, s := range spans {
			if s.Name == "step" {
				n++
			}
		}
		return n
	}
	alone := tracetest.NewInMemoryExporter()
	ra, _ := testRecorder(t, &fakeSource{path: whole}, newFakeClock(), WithExporter(alone))
	if _, err := ra.Snapshot(context.Background(), "alone"); err != nil {
		t.Fatal(err)
	}
	if got, want := steps(mem.GetSpans()[sentBefore:]), steps(alone.GetSpans()); got != want || want == 0 {
		t.Errorf("the second snapshot sent %d of the long task's %d subtasks", got, want)
	}
	ids := map[string]string{}
	twice := 0
	names := map[string]int{}
	for _, s := range mem.GetSpans() {
		id := s.SpanContext.SpanID().String()
		if prev, ok := ids[id]; ok {
			t.Errorf("span ID %s is both %q and %q", id, prev, s.Name)
		}
		ids[id] = s.Name
		if names[s.Name]++; s.Name == "long" && names[s.Name] == 2 {
			twice++
		}
	}
	if twice == 0 {
		t.Errorf("the task open at the first window's end was not sent by both (spans by name: %v): the test proves nothing", names)
	}
}

// failingExporter fails every export, as one whose endpoint is down.
type failingExporter struct{}

func (failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	return errors.New("connection refused")
}
func (failingExporter) Shutdown(context.Context) error { return nil }

// TestSpansStopped: an export that fails for good stops the snapshot's
// conversion, and the snapshot says so, as Stats counts it: the spans it
// never made are in neither Spans nor SpansFailed.
func TestSpansStopped(t *testing.T) {
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithExporter(failingExporter{}),
		WithOTelOptions(otel.WithMaxExportBatchSize(1), otel.WithMaxQueueSize(1)))
	e, err := r.Snapshot(context.Background(), "down")
	if err == nil || !e.SpansStopped || e.SpansFailed == 0 || e.Spans != 0 {
		t.Errorf("export to an endpoint that is down: %+v, error %v; want it stopped, with failed spans", e, err)
	}
	alone := spansAlone(t, sampleTrace)
	if e.SpansFailed >= alone {
		t.Errorf("%d spans failed, of the %d the window makes: the conversion did not stop", e.SpansFailed, alone)
	}
	if st := r.Stats(); st.SpansStopped != 1 || st.SpansFailed != e.SpansFailed {
		t.Errorf("stats: %d stopped, %d failed; want 1 and %d", st.SpansStopped, st.SpansFailed, e.SpansFailed)
	}
}
