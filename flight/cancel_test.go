package flight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

const sampleTrace = "../testdata/mixed.go1.26.trace"

// stuckExporter blocks in every call until the call's context ends, as
// an exporter whose endpoint does not answer does.
type stuckExporter struct {
	calls  atomic.Int64
	called chan struct{} // gets a value at each call, if there is room
}

func (s *stuckExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	s.calls.Add(1)
	select {
	case s.called <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stuckExporter) Shutdown(context.Context) error { return nil }

// noTemp fails if the directory holds a temporary file.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	for _, name := range listDir(t, dir) {
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("a temporary file was left: %s", name)
		}
	}
}

// TestStopGivesUp: Stop returns soon after its context ends, while an
// export is stuck in the exporter and two more wait for it: the stuck one
// is cancelled, the spans of the others are not converted, and each is
// reported with an error that says Stop cut it short. Their files, which
// do not wait for the exporter, are written.
func TestStopGivesUp(t *testing.T) {
	dir := t.TempDir()
	exp := &stuckExporter{called: make(chan struct{}, 1)}
	var mu sync.Mutex
	var got []Export
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithQueueSize(2), WithExporter(exp), WithDir(dir),
		WithOnExport(func(e Export) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})})
	d, err := newDirStore(dir, cfg.maxFiles, cfg.maxDirBytes)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(cfg, &fakeSource{path: sampleTrace}, newFakeClock(), d)
	r.Trigger("first")
	select {
	case <-exp.called: // the first export is stuck in the exporter
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter was not called")
	}
	r.Trigger("second")
	waitFor(t, "the second snapshot", func() bool { return r.Stats().Snapshots == 2 })
	r.Trigger("third")
	waitFor(t, "the third snapshot", func() bool { return r.Stats().Snapshots == 3 })
	// The files do not wait for the stuck exporter.
	waitFor(t, "the files", func() bool { return r.Stats().Files == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	select {
	case err = <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatal("Stop did not return within 3s of its context's end")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop: %v, want its context's error", err)
	}
	if n := exp.calls.Load(); n != 1 {
		t.Errorf("the exporter was called %d times, want once: the queued snapshots are not to be converted", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d exports reported, want 3", len(got))
	}
	for _, e := range got {
		if e.Err == nil || !strings.Contains(e.Err.Error(), "Stop gave up waiting") || !errors.Is(e.Err, context.DeadlineExceeded) {
			t.Errorf("export %s: error %v, want one that says Stop cut it short", e.Reason, e.Err)
		}
		if e.File == "" {
			t.Errorf("export %s wrote no file", e.Reason)
		}
	}
	if files := listDir(t, dir); len(files) != 3 {
		t.Errorf("files %q; want the three snapshots'", files)
	}
	noTemp(t, dir)
}

// TestStopTwiceAtOnce: a Stop that waits without a deadline (a deferred
// one) does not hold up another with a deadline (a signal handler's
// grace): the second returns at its deadline, with its error, having cut
// the stuck export short, and the first then returns too.
func TestStopTwiceAtOnce(t *testing.T) {
	exp := &stuckExporter{called: make(chan struct{}, 1)}
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithExporter(exp), WithExportTimeout(time.Minute)})
	r := newRecorder(cfg, &fakeSource{path: sampleTrace}, newFakeClock(), nil)
	r.Trigger("stuck")
	select {
	case <-exp.called:
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter was not called")
	}
	first := make(chan error, 1)
	go func() { first <- r.Stop(context.Background()) }()
	waitFor(t, "the first Stop", r.stopped.Load)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("the second Stop returned %v after %v; want its deadline's error at its deadline", err, time.Since(start))
	}
	select {
	case err := <-first:
		if err != nil {
			t.Errorf("the first Stop: %v, want nil: its own context did not end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first Stop still waits after the second cut the export short")
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("a Stop after the recorder stopped: %v, want nil", err)
	}
}

// TestSnapshotCancelled: a Snapshot whose context is done writes no file
// and sends no span, and its error says so.
func TestSnapshotCancelled(t *testing.T) {
	dir := t.TempDir()
	mem := tracetest.NewInMemoryExporter()
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithDir(dir), WithExporter(mem))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e, err := r.Snapshot(ctx, "cancelled")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "Perfetto file was not written") {
		t.Errorf("Snapshot with a cancelled context: %v; want context.Canceled, saying the file was not written", err)
	}
	if e.File != "" || e.Spans != 0 {
		t.Errorf("export %+v: a file or spans", e)
	}
	if files := listDir(t, dir); len(files) != 0 {
		t.Errorf("files %q after a cancelled Snapshot", files)
	}
	if n := len(mem.GetSpans()); n != 0 {
		t.Errorf("%d spans exported", n)
	}
	if st := r.Stats(); st.FileErrors != 1 || st.ExportErrors != 1 || st.Files != 0 {
		t.Errorf("stats %+v; want the file and the export failed", st)
	}
}

// itemSink counts the items it is given before End, and calls at (once)
// when it is given the nth. Counters are not counted: the thinning holds
// them and passes them on in bursts.
type itemSink struct {
	mapping.NopSink
	items, n int
	at       func()
	ended    bool
}

// End comes after the cancellation too.
func (s *itemSink) End(*mapping.Summary) error {
	s.ended = true
	return nil
}

func (s *itemSink) item() error {
	if s.ended {
		return nil
	}
	s.items++
	if s.items == s.n {
		s.at()
	}
	return nil
}

func (s *itemSink) GoroutineState(*mapping.GoroutineState) error { return s.item() }
func (s *itemSink) ProcRun(*mapping.ProcRun) error               { return s.item() }
func (s *itemSink) GoroutineEvent(*mapping.GoroutineEvent) error { return s.item() }
func (s *itemSink) Range(*mapping.Range) error                   { return s.item() }

// countReader counts the bytes read.
type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestConversionStops: the conversions (files and the Handler's) stop at
// the first item after their context ends, with its error, and read
// nothing once it has ended.
func TestConversionStops(t *testing.T) {
	data, err := os.ReadFile(sampleTrace)
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{name: "stops"}
	closed := func() error { return nil }

	all := &itemSink{}
	if err := r.mapTo(context.Background(), bytes.NewReader(data), all, closed); err != nil {
		t.Fatal(err)
	}
	if all.items < 100 {
		t.Fatalf("the sample has only %d items", all.items)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := &itemSink{n: 10, at: cancel}
	err = r.mapTo(ctx, bytes.NewReader(data), cut, closed)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("conversion cancelled midway: %v, want context.Canceled", err)
	}
	if cut.items != 10 {
		t.Errorf("the sink got %d items of %d, want the 10 before the cancellation", cut.items, all.items)
	}

	// Already over: not a byte read, in any format.
	for _, f := range []string{"perfetto", "chrome", "json-otlp"} {
		in := &countReader{r: bytes.NewReader(data)}
		err := r.convert(ctx, io.Discard, in, format{name: f})
		if !errors.Is(err, context.Canceled) || in.n != 0 {
			t.Errorf("%s with a cancelled context: %v after %d bytes read; want context.Canceled, none read", f, err, in.n)
		}
	}
}

// TestExportTimeout: WithExportTimeout bounds the file and the spans,
// and the error names it.
func TestExportTimeout(t *testing.T) {
	dir := t.TempDir()
	exp := &stuckExporter{called: make(chan struct{}, 1)}
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithDir(dir), WithExporter(exp), WithExportTimeout(100*time.Millisecond))
	done := make(chan struct{})
	var err error
	go func() {
		_, err = r.Snapshot(context.Background(), "timeout")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the export went on 3s past its 100ms timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "WithExportTimeout") {
		t.Errorf("error %v; want one that names the timeout", err)
	}
	noTemp(t, dir)
}

// TestSpansBesideFile: the spans do not wait for the file (nor the file
// for the spans): here the file cannot be put in place until the spans
// have arrived.
func TestSpansBesideFile(t *testing.T) {
	dir := t.TempDir()
	mem := tracetest.NewInMemoryExporter()
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithDir(dir), WithExporter(mem))
	r.dir.mu.Lock() // the file's rename waits
	locked := true
	defer func() {
		if locked {
			r.dir.mu.Unlock()
		}
	}()
	done := make(chan Export, 1)
	go func() {
		e, _ := r.Snapshot(context.Background(), "both")
		done <- e
	}()
	deadline := time.Now().Add(3 * time.Second)
	for len(mem.GetSpans()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no span exported within 3s while the file was held up")
		}
		time.Sleep(time.Millisecond)
	}
	r.dir.mu.Unlock()
	locked = false
	e := <-done
	if e.Err != nil || e.File == "" || e.Spans == 0 {
		t.Errorf("export %+v; want spans and a file", e)
	}
}

// failingOnce fails its first export, then hands on to the in-memory one.
type failingOnce struct {
	*tracetest.InMemoryExporter
	failed atomic.Bool
}

func (f *failingOnce) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if !f.failed.Swap(true) {
		return errors.New("collector says no")
	}
	return f.InMemoryExporter.ExportSpans(ctx, spans)
}

// TestOverlappingSnapshots takes snapshots of one window again and again,
// as snapshots closer together than the window is long overlap: the
// spans a snapshot exported are not sent again by the next, and those of
// a snapshot whose export failed are.
func TestOverlappingSnapshots(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	exp := &failingOnce{InMemoryExporter: mem}
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithExporter(exp))
	if _, err := r.Snapshot(context.Background(), "fails"); err == nil {
		t.Fatal("the first export did not fail")
	}
	first, err := r.Snapshot(context.Background(), "first")
	if err != nil || first.Spans == 0 {
		t.Fatalf("after a failed export, the window's spans: %+v, %v", first, err)
	}
	again, err := r.Snapshot(context.Background(), "again")
	if err != nil || again.Spans != 0 {
		t.Errorf("the same window once more exported %d spans (%v), want none", again.Spans, err)
	}
	if n := int64(len(mem.GetSpans())); n != first.Spans {
		t.Errorf("the exporter has %d spans, the first whole export %d", n, first.Spans)
	}
}

// TestSnapshotsOutOfOrder: a snapshot whose export ends before that of one
// taken earlier (a Snapshot beside a triggered one still queued), and
// whose window begins later, makes the earlier one leave out only the
// spans that lay wholly within its own window: those that began before
// it are still sent.
func TestSnapshotsOutOfOrder(t *testing.T) {
	whole, later := windowsOfOneTrace(t)
	alone := spansAlone(t, whole)
	mem := tracetest.NewInMemoryExporter()
	src := &fakeSource{path: whole}
	r, _ := testRecorder(t, src, newFakeClock(), WithExporter(mem))
	earlier, err := r.take("queued", 1)
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.path = later
	src.mu.Unlock()
	last, err := r.take("snapshot", 1)
	if err != nil {
		t.Fatal(err)
	}
	if e := r.exportSnapshot(context.Background(), last); e.Err != nil || e.Spans == 0 {
		t.Fatalf("the later snapshot: %+v", e)
	}
	e := r.exportSnapshot(context.Background(), earlier)
	if e.Err != nil || e.Spans == 0 || e.Spans >= alone {
		t.Errorf("the earlier snapshot, exported after the later: %d spans (%v), want fewer than the %d it has alone, and some", e.Spans, e.Err, alone)
	}
	// The same whole window once more sends nothing.
	src.mu.Lock()
	src.path = whole
	src.mu.Unlock()
	again, err := r.Snapshot(context.Background(), "again")
	if err != nil || again.Spans != 0 {
		t.Errorf("the same window once more exported %d spans (%v), want none", again.Spans, err)
	}
}

// TestConcurrentSnapshots takes two snapshots of one window at the same
// time, as a trigger beside a signal's Snapshot does: their spans go to
// the exporter once, not once each.
func TestConcurrentSnapshots(t *testing.T) {
	alone := spansAlone(t, sampleTrace)
	mem := tracetest.NewInMemoryExporter()
	r, _ := testRecorder(t, &fakeSource{path: sampleTrace}, newFakeClock(), WithExporter(mem))
	var wg sync.WaitGroup
	var sent atomic.Int64
	for i := range 2 {
		wg.Go(func() {
			e, err := r.Snapshot(context.Background(), fmt.Sprint("at once ", i))
			if err != nil {
				t.Error(err)
			}
			sent.Add(e.Spans)
		})
	}
	wg.Wait()
	if n := int64(len(mem.GetSpans())); n != alone || sent.Load() != alone {
		t.Errorf("two snapshots at once sent %d spans (the exporter has %d), one alone %d", sent.Load(), n, alone)
	}
}

// spansAlone is the number of spans a snapshot of the trace at path
// exports, alone.
func spansAlone(t *testing.T, path string) int64 {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	r, _ := testRecorder(t, &fakeSource{path: path}, newFakeClock(), WithExporter(mem))
	e, err := r.Snapshot(context.Background(), "alone")
	if err != nil || e.Spans == 0 {
		t.Fatalf("a snapshot alone: %+v", e)
	}
	return e.Spans
}

// windowsOfOneTrace records a trace of several generations and returns
// the paths of two windows of it, as a flight recorder gives them: the
// whole, and the header with every generation but the first.
func windowsOfOneTrace(t *testing.T) (whole, later string) {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.RecordGenerations(&buf, 4); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 3 {
		t.Fatalf("%d generations (%v)", len(idx.Generations), err)
	}
	dir := t.TempDir()
	whole, later = filepath.Join(dir, "whole.trace"), filepath.Join(dir, "later.trace")
	cut := append(slices.Clip(data[:idx.Generations[0].Offset]), data[idx.Generations[1].Offset:]...)
	if err := os.WriteFile(whole, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(later, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	return whole, later
}

// TestFilesWithoutExporter: while the exporter hangs (its endpoint takes
// connections and never answers), the snapshots' files are still written,
// each as it comes; the spans that find the exporter's queue full are
// left out and counted, their error says why.
func TestFilesWithoutExporter(t *testing.T) {
	dir := t.TempDir()
	exp := &stuckExporter{called: make(chan struct{}, 1)}
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithQueueSize(2), WithExporter(exp), WithDir(dir)})
	d, err := newDirStore(dir, cfg.maxFiles, cfg.maxDirBytes)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(cfg, &fakeSource{path: sampleTrace}, newFakeClock(), d)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r.Stop(ctx)
	}()
	const n = 6
	for i := range n {
		r.Trigger(fmt.Sprint("slow", i))
		waitFor(t, "the snapshot's file", func() bool { return r.Stats().Files == int64(i+1) })
		if i == 0 {
			select {
			case <-exp.called: // the first is stuck in the exporter
			case <-time.After(10 * time.Second):
				t.Fatal("the exporter was not called")
			}
		}
	}
	// One is stuck in the exporter, two wait for it: the others' spans
	// are left out, each reported once its file is written and its spans
	// are found no room, a moment after the file is counted.
	waitFor(t, "the exports left without spans", func() bool { return r.Stats().ExportErrors >= n-3 })
	st := r.Stats()
	if st.SpansDropped != n-3 {
		t.Errorf("stats %+v, want %d snapshots' spans left out", st, n-3)
	}
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "still wait for the exporter") {
		t.Errorf("last error %v, want one that says the spans were left out", st.LastError)
	}
}
