package otel

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// hungExporter takes no batch: each call waits for its context, or,
// deaf, for release alone.
type hungExporter struct {
	calls   atomic.Int64
	deaf    bool
	release chan struct{}
	onCall  func() // called at each call, if set
}

func (h *hungExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	h.calls.Add(1)
	if h.onCall != nil {
		h.onCall()
	}
	if h.deaf {
		<-h.release
		return errors.New("released")
	}
	<-ctx.Done()
	return ctx.Err()
}

func (*hungExporter) Shutdown(context.Context) error { return nil }

// TestConvertCancelHungExporter checks that Convert returns once its
// context ends while the exporter hangs, with the context's error and
// every span unsent counted failed: the export's own timeout (30 s by
// default, or none) does not hold it, nor a queue that the hung exporter
// keeps full, nor an exporter that does not heed its context.
func TestConvertCancelHungExporter(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	for _, tc := range []struct {
		name string
		deaf bool // the exporter does not heed its context
		opts []Option
	}{
		{"default", false, nil},
		{"no export timeout, small queue", false, []Option{WithExportTimeout(0), WithMaxQueueSize(4), WithMaxExportBatchSize(2)}},
		{"deaf exporter", true, nil},
		{"deaf exporter, small queue", true, []Option{WithExportTimeout(0), WithMaxQueueSize(4), WithMaxExportBatchSize(2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The context ends once the exporter hangs in its first call.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			exp := &hungExporter{deaf: tc.deaf, release: make(chan struct{}), onCall: func() {
				once.Do(func() { time.AfterFunc(50*time.Millisecond, cancel) })
			}}
			defer close(exp.release)
			type ret struct {
				res *Result
				err error
			}
			done := make(chan ret, 1)
			go func() {
				res, err := Convert(ctx, bytes.NewReader(data), exp, tc.opts...)
				done <- ret{res, err}
			}()
			var r ret
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Convert still runs 20 s after its context ended")
			}
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("Convert returned %v, want the context's error", r.err)
			}
			if exp.calls.Load() == 0 {
				t.Fatal("the exporter was never called: the test proves nothing")
			}
			if r.res.Exported != 0 || r.res.Failed == 0 {
				t.Errorf("exported %d, failed %d; want none exported and the unsent counted failed", r.res.Exported, r.res.Failed)
			}
		})
	}
}

// slowExporter takes each batch after a delay, heeding its context.
type slowExporter struct {
	delay    time.Duration
	accepted atomic.Int64
	first    sync.Once
	onFirst  func() // called at the first call, if set
}

func (e *slowExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.onFirst != nil {
		e.first.Do(e.onFirst)
	}
	select {
	case <-time.After(e.delay):
		e.accepted.Add(int64(len(spans)))
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (*slowExporter) Shutdown(context.Context) error { return nil }

// TestFlushTimeout checks WithFlushTimeout: after the context ends, the
// spans converted are still exported, up to the timeout, and Convert
// returns with the context's error; without it, they are not.
func TestFlushTimeout(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	for _, tc := range []struct {
		flush time.Duration
		all   bool // every span converted reaches the exporter
	}{
		{0, false},
		{10 * time.Second, true},
	} {
		// The context ends while the first batch is being exported:
		// spans are converted and queued, and none is sent yet.
		ctx, cancel := context.WithCancel(context.Background())
		exp := &slowExporter{delay: 300 * time.Millisecond, onFirst: cancel}
		res, err := Convert(ctx, bytes.NewReader(data), exp, WithFlushTimeout(tc.flush), WithMaxExportBatchSize(8))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("flush %v: error %v, want context.Canceled", tc.flush, err)
		}
		sent := exp.accepted.Load()
		if got := sent == res.Spans(); got != tc.all || res.Exported != sent || res.Exported+res.Failed != res.Spans() {
			t.Errorf("flush %v: %d of %d spans sent (exported %d, failed %d); want all sent: %v", tc.flush, sent, res.Spans(), res.Exported, res.Failed, tc.all)
		}
	}
}

// busyExporter takes each batch after a delay, deaf to its context, as
// an exporter writing to a file is, and notes a call that returns after
// the test said the conversion had.
type busyExporter struct {
	delay    time.Duration
	accepted atomic.Int64
	returned atomic.Bool // the conversion has returned
	late     atomic.Int64
	first    sync.Once
	onFirst  func()
}

func (e *busyExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.onFirst != nil {
		e.first.Do(e.onFirst)
	}
	time.Sleep(e.delay)
	if e.returned.Load() {
		e.late.Add(1)
	}
	e.accepted.Add(int64(len(spans)))
	return nil
}

func (*busyExporter) Shutdown(context.Context) error { return nil }

// TestCancelWaitsForWrite: a conversion whose context ends while an
// exporter deaf to it writes a batch (the JSON exporter into a file)
// returns once the batch is written, and counts it exported: a caller
// that closes the file on return loses nothing, and the counts say what
// the file holds.
func TestCancelWaitsForWrite(t *testing.T) {
	data := mustRead(t, "../../testdata/annotations.go1.26.trace")
	ctx, cancel := context.WithCancel(context.Background())
	exp := &busyExporter{delay: 300 * time.Millisecond, onFirst: cancel}
	res, err := Convert(ctx, bytes.NewReader(data), exp, WithMaxExportBatchSize(8))
	exp.returned.Store(true)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	time.Sleep(2 * exp.delay)
	if n := exp.late.Load(); n > 0 {
		t.Errorf("%d batches written after Convert returned", n)
	}
	if got := exp.accepted.Load(); got == 0 || res.Exported != got || res.Exported+res.Failed != res.Spans() {
		t.Errorf("%d spans written; exported %d, failed %d of %d: want the written counted exported", got, res.Exported, res.Failed, res.Spans())
	}
}
