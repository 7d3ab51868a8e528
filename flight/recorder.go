package flight

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/trace2x/trace2x/convert/otel"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/internal/errjoin"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// source is what the Recorder needs of runtime/trace.FlightRecorder; tests
// give it a fake.
type source interface {
	WriteTo(w io.Writer) (int64, error)
	Stop()
}

// Recorder owns the process's runtime flight recorder and exports its
// window when asked to. Its methods are safe for concurrent use.
//
// A Recorder is made by Start; its zero value is not one, and does what a
// nil one does. A nil *Recorder, what a Start that failed returns, does
// nothing: its Middleware passes requests on as they are, Trigger and
// Stop do nothing, Snapshot and WriteTo fail, and its Handler answers
// 503. So a program can log Start's error and go on serving without the
// recorder.
type Recorder struct {
	cfg  config
	src  source
	clk  clock
	dir  *dirStore
	name string // the program's name, for files and spans
	ui   string // the Perfetto UI the index page opens: perfettoUI but in tests

	// snapMu serialises WriteTo, which the runtime refuses to run twice at
	// once, between triggers, Snapshot, and the Handler.
	snapMu sync.Mutex
	// captureMu lets one live capture run at a time.
	captureMu sync.Mutex
	// windowSlot lets the Handler convert one window at a time: each
	// holds the window (tens of MB on a busy service) and its
	// conversion's memory, and requests at once (a browser retrying, a
	// dashboard) would multiply it. Made on first use.
	windowSlot     chan struct{}
	windowSlotOnce sync.Once

	mu      sync.Mutex
	pending int       // triggers since the last snapshot
	first   time.Time // when the first of them came
	reason  string    // and why
	last    time.Time // when the last snapshot was taken

	// stopped is set by Stop: from then on nothing is counted, as
	// nothing can be served.
	stopped atomic.Bool
	// wrapped is set by Middleware: the tasks of the requests it wraps
	// log their traceparents (see otelOptions).
	wrapped atomic.Bool

	wake  chan struct{} // a trigger came; capacity 1
	room  chan struct{} // the export goroutine took a snapshot off queue; capacity 1
	quit  chan struct{} // closed by Stop
	done  chan struct{} // closed once Stop has stopped everything
	queue chan *snapshot
	// spanQueue holds the triggered snapshots whose file is written and
	// whose spans wait for the exporter, when there are both (see
	// exportLoop).
	spanQueue  chan *job
	onExportMu sync.Mutex      // one call of WithOnExport's function at a time
	ctx        context.Context // exports; cancelled when Stop gives up waiting
	cancel     context.CancelCauseFunc
	sched      sync.WaitGroup // the scheduling goroutine
	export     sync.WaitGroup // the export goroutines
	seq        atomic.Int64   // numbers the files
	// exported lists the windows of the snapshots whose spans were all
	// exported (see exportedWith); spanTurn lets one snapshot's spans be
	// exported at a time.
	exportedMu sync.Mutex
	exported   []exportedWindow
	spanTurn   chan struct{}

	stats    counters
	errMu    sync.Mutex
	lastErr  error
	lastTime time.Time
	stopOnce sync.Once
}

// snapshot is a copy of the window waiting for export.
type snapshot struct {
	data     []byte
	time     time.Time
	reason   string
	triggers int
	late     bool // see Export.Late
}

// Start starts the runtime's flight recorder and the goroutines that take
// and export snapshots. Only one flight recorder can run in a process at
// a time: a second Start fails. Stop releases it. Without WithDir or
// WithExporter a snapshot goes nowhere (WithOnExport is still told of
// it): the recorder then serves Handler and WriteTo only.
func Start(opts ...Option) (*Recorder, error) {
	cfg := newConfig(opts)
	if cfg.nilExporter {
		return nil, errors.New("flight: WithExporter was given no exporter (nil): did making it fail?")
	}
	// The runtime's recorder first: a second Start fails before it makes
	// the directory it was given.
	src, err := startRuntime(cfg.minAge, cfg.maxBytes)
	if err != nil {
		return nil, err
	}
	var dir *dirStore
	if cfg.dir != "" {
		if dir, err = newDirStore(cfg.dir, cfg.maxFiles, cfg.maxDirBytes); err != nil {
			src.Stop()
			return nil, err
		}
	}
	return newRecorder(cfg, src, realClock{}, dir), nil
}

func newRecorder(cfg config, src source, clk clock, dir *dirStore) *Recorder {
	name := cmp.Or(cfg.serviceName, envServiceName(), filepath.Base(os.Args[0]))
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &Recorder{
		cfg:    cfg,
		src:    src,
		clk:    clk,
		dir:    dir,
		name:   name,
		wake:   make(chan struct{}, 1),
		room:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		queue:  make(chan *snapshot, cfg.queue),
		ctx:    ctx,
		cancel: cancel,
	}
	if r.dir != nil && r.cfg.exporter != nil {
		r.spanQueue = make(chan *job, cfg.queue)
		r.export.Add(1)
		go r.spanLoop()
	}
	r.sched.Add(1)
	go r.schedule()
	r.export.Add(1)
	go r.exportLoop()
	return r
}

// Stop stops taking snapshots, waits until those already taken are
// exported or ctx is done, and stops the runtime's flight recorder.
// Triggers not yet served are dropped (Stats.Unserved). If ctx is done
// first, Stop cancels the exports and returns ctx's error once they have
// stopped, which they do at once: the export in progress leaves its Perfetto file unwritten
// and its spans unsent, and the snapshots still queued are not converted
// (WithOnExport is told of each, with an error saying Stop cut it short).
// What Stop still waits for then is an exporter's call in progress to
// return once its context is cancelled (the OpenTelemetry SDK's return at
// once), WithOnExport's f, and a copy of the runtime's window that a
// Snapshot has under way (the runtime's recorder stops after it: a
// fraction of a second for a large window). Snapshot calls are bounded
// by their own context, not by Stop's.
//
// Stop may be called more than once, and at once from several
// goroutines (a deferred Stop beside a signal handler's): each call
// waits, bounded by its own ctx, until the recorder has stopped.
//
// Trigger, Snapshot and the Middleware called from Stop on count nothing
// in Stats: no snapshot can be taken any more. A Snapshot already under
// way goes on, bounded by its own context, and counts its export. The
// triggers that waited for a snapshot when Stop came are counted in
// Stats.Unserved.
func (r *Recorder) Stop(ctx context.Context) error {
	if r.off() {
		return nil
	}
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopped.Store(true)
		r.mu.Unlock()
		close(r.quit)
		go func() {
			r.sched.Wait()
			r.mu.Lock()
			r.stats.unserved.Add(int64(r.pending))
			r.pending = 0
			r.mu.Unlock()
			close(r.queue) // the scheduler, its only sender, has returned
			r.export.Wait()
			r.cancel(nil)
			r.snapMu.Lock()
			r.src.Stop()
			r.snapMu.Unlock()
			close(r.done)
		}()
	})
	select {
	case <-r.done:
		return nil
	default:
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		err := ctx.Err()
		r.cancel(fmt.Errorf("Stop gave up waiting: %w", err))
		<-r.done
		return err
	}
}

// Trigger asks for a snapshot to be exported, as a slow request does: it
// returns at once, and the snapshot is taken after the coalescing delay
// (WithCoalesce), or when the rate limit (WithMinInterval) allows, shared
// with every other trigger until then. reason names the snapshot's file.
func (r *Recorder) Trigger(reason string) {
	if r.off() {
		return
	}
	r.mu.Lock()
	if r.stopped.Load() {
		r.mu.Unlock()
		return
	}
	r.stats.triggers.Add(1)
	if r.pending == 0 {
		r.first, r.reason = r.clk.Now(), reason
	}
	r.pending++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default: // already woken
	}
}

// schedule takes a snapshot when the triggers pending are due: after the
// coalescing delay since the first of them, and no sooner than the
// minimum interval after the previous snapshot.
func (r *Recorder) schedule() {
	defer r.sched.Done()
	for {
		select {
		case <-r.wake:
		case <-r.quit:
			return
		}
		for {
			r.mu.Lock()
			if r.pending == 0 {
				r.mu.Unlock()
				break
			}
			due := r.due()
			r.mu.Unlock()
			if d := due.Sub(r.clk.Now()); d > 0 {
				select {
				case <-r.clk.After(d):
				case <-r.quit:
					return
				}
				continue
			}
			if len(r.queue) == cap(r.queue) {
				// A copy taken now would find no room: its triggers stay
				// pending (and later ones join them) until the export
				// goroutine makes some. Only this goroutine sends.
				select {
				case <-r.room:
				case <-r.quit:
					return
				}
				continue
			}
			r.mu.Lock()
			n, reason, first := r.pending, r.reason, r.first
			r.pending, r.last = 0, r.clk.Now()
			r.mu.Unlock()
			s, err := r.take(reason, n)
			if err == nil && lateFor(first, s.time, s.data) {
				s.late = true
				r.stats.late.Add(1)
			}
			if err != nil {
				r.stats.snapshotErrors.Add(1)
				r.noteError(err)
				continue
			}
			r.queue <- s // there is room (see above)
		}
	}
}

// due is when the pending triggers are to be served. r.mu is held.
func (r *Recorder) due() time.Time {
	at := r.first.Add(r.cfg.coalesce)
	if !r.last.IsZero() {
		if next := r.last.Add(r.cfg.interval); next.After(at) {
			at = next
		}
	}
	return at
}

// lateFor says whether a trigger that came at first is before the
// window in data, which was asked for at taken. The generations' clock
// snapshots (Go 1.25+, as every runtime flight recorder's are) place the
// window's start on the wall clock. Without them, the window is taken
// to end when it was asked for and to reach back as far as its batches'
// times do. A window that cannot be indexed is never late.
func lateFor(first, taken time.Time, data []byte) bool {
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) == 0 {
		return false
	}
	gens := idx.Generations
	if g := gens[0]; g.Clock != nil {
		return first.Before(g.Clock.Wall.Add(time.Duration(g.Start - g.Clock.Trace)))
	}
	return taken.Sub(first) > time.Duration(gens[len(gens)-1].End-gens[0].Start)
}

// take copies the window.
func (r *Recorder) take(reason string, triggers int) (*snapshot, error) {
	// Its time is when it was asked for, as the rate limit counts: the
	// copy can wait for another.
	t := r.clk.Now()
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		return nil, err
	}
	r.stats.snapshots.Add(1)
	return &snapshot{data: buf.Bytes(), time: t, reason: reason, triggers: triggers}, nil
}

// WriteTo writes the window, a Go execution trace, to w, as
// runtime/trace.FlightRecorder.WriteTo does, but waits for a snapshot
// already in progress instead of failing.
func (r *Recorder) WriteTo(w io.Writer) (int64, error) {
	if r.off() {
		return 0, errNil
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	n, err := r.src.WriteTo(w)
	if err != nil {
		err = fmt.Errorf("flight: snapshot of the window: %w", err)
	}
	return n, err
}

// exportLoop exports the triggered snapshots. With both a directory and
// an exporter, it writes the files and hands the spans to spanLoop, which
// has a queue of its own: an exporter whose endpoint is down or hangs
// takes its timeout for every snapshot, and must not make the snapshots
// that find the queue full lose their files too, when the files are
// what is left.
func (r *Recorder) exportLoop() {
	defer r.export.Done()
	if r.spanQueue != nil {
		defer close(r.spanQueue)
	}
	for s := range r.queue {
		select {
		case r.room <- struct{}{}:
		default: // told already
		}
		if r.spanQueue == nil {
			r.report(r.exportSnapshot(r.ctx, s))
			continue
		}
		j := &job{e: r.newExport(s), s: s}
		j.left.Store(2)
		r.runPart(j, func(ctx context.Context) { j.e.File, j.fileErr = r.writeFile(ctx, s) }, func(ctx context.Context) {
			r.stats.fileErrors.Add(1)
			j.fileErr = cutShort(ctx, "the Perfetto file was not written")
		})
		select {
		case r.spanQueue <- j:
		default:
			r.stats.spansDropped.Add(1)
			j.spansErr = fmt.Errorf("flight: the spans of snapshot (%s) were not exported: %d %s for the exporter", s.reason, cap(r.spanQueue), waitingSnapshots(cap(r.spanQueue)))
			r.finishPart(j)
		}
	}
}

// spanLoop exports the spans of the snapshots exportLoop hands it.
func (r *Recorder) spanLoop() {
	defer r.export.Done()
	for j := range r.spanQueue {
		r.runPart(j, func(ctx context.Context) {
			j.spansErr = r.exportSpans(ctx, j.s, &j.e)
		}, func(ctx context.Context) { j.spansErr = cutShort(ctx, "no span was exported") })
	}
}

// job is a triggered snapshot whose file and spans are exported apart.
type job struct {
	s                 *snapshot
	e                 Export
	fileErr, spansErr error
	left              atomic.Int32 // parts not finished
}

// runPart runs one part of j's export, bounded by the export timeout, or
// cut if the exports were cut short before it began (Stop gave up on the
// queue), and finishes it.
func (r *Recorder) runPart(j *job, part, cut func(context.Context)) {
	ctx, cancel := context.WithTimeoutCause(r.ctx, r.cfg.timeout, timeoutError(r.cfg.timeout))
	defer cancel()
	if ctx.Err() != nil {
		part = cut
	}
	part(ctx)
	r.finishPart(j)
}

// finishPart notes that a part of j's export is finished; the last
// reports the export.
func (r *Recorder) finishPart(j *job) {
	if j.left.Add(-1) != 0 {
		return
	}
	j.e.Err = errors.Join(j.fileErr, j.spansErr)
	r.count(&j.e)
	r.report(j.e)
}

// report calls WithOnExport's function, one call at a time. Its panic,
// raised on the Recorder's goroutine, would end the program: it is
// counted (Stats.CallbackPanics) and kept as LastError instead.
func (r *Recorder) report(e Export) {
	if r.cfg.onExport == nil {
		return
	}
	r.onExportMu.Lock()
	defer r.onExportMu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			r.stats.callbackPanics.Add(1)
			r.noteError(fmt.Errorf("flight: WithOnExport's function panicked: %v", p))
		}
	}()
	r.cfg.onExport(e)
}

// Snapshot takes a snapshot now and exports it before it returns, apart
// from the rate limit and the queue of triggered ones: for a program's
// own triggers, a watchdog or a signal. The error is the export's. ctx
// bounds the export, as WithExportTimeout does: when it is done, the
// export stops, and what it had not finished (the Perfetto file, the
// spans not yet sent) is left out, with an error that says why. Called
// with the context of a request the Middleware passes on (a route of the
// program's own that takes snapshots), it keeps that request from
// triggering another for being slow.
func (r *Recorder) Snapshot(ctx context.Context, reason string) (Export, error) {
	if r.off() {
		return Export{Reason: reason, Err: errNil}, errNil
	}
	if r.stopped.Load() {
		return Export{Reason: reason, Err: errStopped}, errStopped
	}
	// A request that asks for it (a route of the program's own for
	// watchdogs) takes the snapshot's time: it is not slow for that.
	r.markOwnCtx(ctx)
	s, err := r.take(reason, 1)
	if err != nil && r.stopped.Load() {
		// Stop came between the check above and the copy, and stopped
		// the runtime's recorder: that, not the runtime's words for it,
		// and nothing counted.
		return Export{Reason: reason, Err: errStopped}, errStopped
	}
	r.stats.triggers.Add(1)
	if err != nil {
		r.stats.snapshotErrors.Add(1)
		r.noteError(err)
		return Export{Reason: reason, Err: err}, err
	}
	e := r.exportSnapshot(ctx, s)
	return e, e.Err
}

// off reports whether r is no recorder: nil (what a Start that failed
// returns), or a zero value, which Start did not make.
func (r *Recorder) off() bool { return r == nil || r.quit == nil }

// errNil is the error of a nil Recorder's methods.
var errNil = errors.New("flight: no recorder (Start failed)")

// errStopped is Snapshot's error after Stop.
var errStopped = errors.New("flight: cannot take a snapshot: the recorder is stopped")

// Export tells what became of one snapshot.
type Export struct {
	Reason   string    // the first trigger's reason
	Triggers int       // the triggers it served
	Time     time.Time // when it was taken
	Bytes    int       // the size of the execution trace
	// Late says that the first trigger came before the window's start:
	// the rate limit (WithMinInterval) held it longer than the window
	// reaches back, so what it wanted is not in the snapshot. Lower the
	// interval, or raise WithMaxBytes, which on a busy service cuts the
	// window to a second or two.
	Late bool

	// Spans were accepted by the exporter, SpansFailed rejected or not
	// sent. Joined counts the tasks of the snapshot whose traceparent
	// (a request's, as the Middleware logs it) made them children of a
	// remote span, those whose spans another snapshot exported included:
	// it can exceed Spans, which counts what this export sent.
	Spans, SpansFailed int64
	Joined             int
	// SpansUnsampled were left out for joining a remote trace the
	// application did not sample (otel.WithSampledOnly, given through
	// WithOTelOptions).
	SpansUnsampled int64
	// SpansStopped says that an export that failed for good (its
	// endpoint down), or the export's time running out, stopped the
	// conversion there: the rest of the snapshot made no spans, which
	// SpansFailed does not count. The Perfetto file holds the whole
	// snapshot.
	SpansStopped bool

	File string // the Perfetto file written, if any
	Err  error  // every error of the export, joined
}

// exportSnapshot sends s's spans to the exporter and writes its file,
// side by side: one does not wait for the other, nor spends the other's
// time (WithExportTimeout bounds both together), so that an exporter
// that cannot reach its endpoint leaves the file its time, and a slow
// file the spans theirs.
func (r *Recorder) exportSnapshot(ctx context.Context, s *snapshot) Export {
	e := r.newExport(s)
	ctx, cancel := context.WithTimeoutCause(ctx, r.cfg.timeout, timeoutError(r.cfg.timeout))
	defer cancel()
	var fileErr, spansErr error
	if ctx.Err() != nil {
		// Cut short before it began (Stop gave up on the queue, or the
		// caller's context was done): nothing is converted.
		if r.dir != nil {
			r.stats.fileErrors.Add(1)
			fileErr = cutShort(ctx, "the Perfetto file was not written")
		}
		if r.cfg.exporter != nil {
			spansErr = cutShort(ctx, "no span was exported")
		}
	} else {
		var wg sync.WaitGroup
		if r.dir != nil {
			wg.Go(func() { e.File, fileErr = r.writeFile(ctx, s) })
		}
		if r.cfg.exporter != nil {
			spansErr = r.exportSpans(ctx, s, &e)
		}
		wg.Wait()
	}
	e.Err = errors.Join(fileErr, spansErr)
	r.count(&e)
	return e
}

// newExport is the Export of s, before it begins.
func (r *Recorder) newExport(s *snapshot) Export {
	return Export{Reason: s.reason, Triggers: s.triggers, Time: s.time, Bytes: len(s.data), Late: s.late}
}

// count counts an export that has ended.
func (r *Recorder) count(e *Export) {
	if e.Err != nil {
		r.stats.exportErrors.Add(1)
		r.noteError(e.Err)
	} else {
		r.stats.exports.Add(1)
	}
}

// writeFile writes s into the directory as a Perfetto file, whole or not
// at all.
func (r *Recorder) writeFile(ctx context.Context, s *snapshot) (string, error) {
	path, removed, err := r.dir.write(s.time, r.seq.Add(1), s.reason, func(w io.Writer) error {
		return r.writePerfetto(ctx, w, bytes.NewReader(s.data))
	})
	r.stats.filesRemoved.Add(int64(removed))
	if err != nil && path != "" {
		// Written, but an older file could not be removed (on Windows,
		// one another program holds open): the snapshot is there.
		r.noteError(err)
		r.stats.files.Add(1)
		return path, nil
	}
	if err != nil {
		r.stats.fileErrors.Add(1)
		if ctx.Err() != nil {
			return "", cutShort(ctx, "the Perfetto file was not written")
		}
		return "", err
	}
	r.stats.files.Add(1)
	return path, nil
}

// exportedWindow is a snapshot whose spans were all exported: where its
// window began and ended on the trace's clock.
type exportedWindow struct {
	start, end mapping.Time
	open       []mapping.TaskID // the tasks sent cut, open at end
}

// maxExported bounds the exported windows remembered: snapshots are
// exported about in the order they were taken, so only the last few
// matter.
const maxExported = 32

// exportedWith returns the options that leave out of a snapshot's spans
// those another snapshot exported whole (see otel.WithExported): the
// spans that began and ended within its window.
func (r *Recorder) exportedWith() []otel.Option {
	r.exportedMu.Lock()
	defer r.exportedMu.Unlock()
	opts := make([]otel.Option, 0, len(r.exported))
	for _, w := range r.exported {
		opts = append(opts, otel.WithExported(w.start, w.end, w.open...))
	}
	return opts
}

// turn is spanTurn, made on first use.
func (r *Recorder) turn() chan struct{} {
	r.exportedMu.Lock()
	defer r.exportedMu.Unlock()
	if r.spanTurn == nil {
		r.spanTurn = make(chan struct{}, 1)
	}
	return r.spanTurn
}

// noteExported remembers that the spans of a window from start to end
// were all exported.
func (r *Recorder) noteExported(start, end mapping.Time, open []mapping.TaskID) {
	r.exportedMu.Lock()
	defer r.exportedMu.Unlock()
	r.exported = append(r.exported, exportedWindow{start, end, open})
	if len(r.exported) > maxExported {
		r.exported = r.exported[len(r.exported)-maxExported:]
	}
}

// exportSpans converts s to spans for the exporter.
//
// Snapshots taken closer together than the window is long overlap: the
// spans that began and ended within the window of a snapshot exported
// whole are left out, since that one sent them, under other IDs (see
// otel.WithExported); a snapshot whose export failed sends them again.
// The spans of one snapshot are exported at a time, whichever asked
// (Snapshot, a trigger): two at once would each send what the other
// sends.
// The counts go to e's span fields, which nothing else writes meanwhile.
func (r *Recorder) exportSpans(ctx context.Context, s *snapshot, e *Export) error {
	turn := r.turn()
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-ctx.Done():
		return cutShort(ctx, "no span was exported (it waited for the export of another snapshot's)")
	}
	exp := boundExporter{SpanExporter: r.cfg.exporter, ctx: ctx}
	// IDs of the snapshot's own: a conversion derives them from the start
	// of its input, which two windows that begin at the same place share
	// (a process's first seconds, snapshots close together), and a span
	// sent by both, cut by one, would have one ID for the two.
	// After the caller's: a seed of theirs would give every snapshot one.
	opts := append(r.otelOptions(), otel.WithIDSeed(snapshotSeed(s.data)))
	opts = append(opts, r.exportedWith()...)
	res, err := otel.Convert(ctx, ctxReader{ctx, bytes.NewReader(s.data)}, exp, opts...)
	if res != nil {
		e.Spans, e.SpansFailed, e.SpansUnsampled, e.Joined = res.Exported, res.Failed, res.Unsampled, res.Joined
		r.stats.spans.Add(res.Exported)
		r.stats.spansFailed.Add(res.Failed)
		r.stats.spansUnsampled.Add(res.Unsampled)
		if e.SpansStopped = res.StoppedPass; e.SpansStopped {
			r.stats.spansStopped.Add(1)
		}
		if err == nil && res.Failed == 0 && res.Summary != nil {
			r.noteExported(res.Summary.Start, res.Summary.End, res.OpenTasks)
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		err = cutShort(ctx, fmt.Sprintf("the export of spans (%d sent)", e.Spans))
	case err != nil:
		err = fmt.Errorf("flight: %w", err)
	}
	return err
}

// snapshotSeed identifies a snapshot's window for its spans' IDs: its
// start and its end, so that another window that shares either has
// other IDs, and the same window (an export retried) the same.
func snapshotSeed(data []byte) []byte {
	const part = 64 << 10
	h := sha256.New()
	h.Write(data[:min(part, len(data))])
	h.Write(data[max(0, len(data)-part):])
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	return h.Sum(nil)
}

// envServiceName is the service.name that OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES give the spans, if any: the Perfetto files
// name the process after it too.
func envServiceName() string {
	res, _ := resource.New(context.Background(), resource.WithFromEnv())
	if res == nil {
		return ""
	}
	v, _ := res.Set().Value("service.name")
	return strings.TrimSpace(v.AsString())
}

// otelOptions are the options of every conversion to spans: the user's
// come last, so that they win.
func (r *Recorder) otelOptions() []otel.Option {
	opts := []otel.Option{otel.WithInputName(r.name), otel.WithVersion(version())}
	if r.wrapped.Load() {
		// The middleware's tasks log their traceparents, and restate
		// them at their end for a window that began after them: spans
		// wait for them from the window's start. Without it, a program's
		// own tasks are sent as they end, as trace2x otlp sends them.
		opts = append(opts, otel.WithTraceparentsExpected())
	}
	if r.cfg.serviceName != "" {
		opts = append(opts, otel.WithServiceName(r.cfg.serviceName))
	}
	return append(opts, r.cfg.otelOpts...)
}

// writePerfetto converts the trace in in to a Perfetto trace, its
// counters thinned as the command's are by default. It stops when ctx is
// done, with ctx's error.
func (r *Recorder) writePerfetto(ctx context.Context, w io.Writer, in io.Reader) error {
	pw := perfetto.NewWriter(w,
		perfetto.WithProcessName(r.name),
		perfetto.WithPID(int32(os.Getpid())),
		perfetto.WithVersion(version()))
	return r.mapTo(ctx, in, pw, pw.Close)
}

// mapTo maps the trace in in to sink, its counters thinned, and closes
// the writer behind it. When ctx ends first, the error is ctx's, not the
// mapping's account of a read that failed.
//
// Every goroutine of a snapshot's first generation is stated late (the
// generation is read cold), so the mapping reads that generation once
// more before the pass, to count them from the start (see
// mapping.WithoutBackdatedCounts). A window, whole in memory, is read as
// a file, on one parser as a stream is, so that its first generation's
// bytes are not copied; a capture streams in as it is taken.
func (r *Recorder) mapTo(ctx context.Context, in io.Reader, sink mapping.Sink, close func() error) error {
	cs := withContext(ctx, mapping.ThinCounters(sink, mapping.DefaultCounterResolution))
	var err error
	if b, ok := in.(*bytes.Reader); ok {
		_, err = mapping.MapFile(b, b.Size(), cs, mapping.WithInputName(r.name),
			mapping.WithContext(ctx), mapping.WithWorkers(1))
	} else {
		_, err = mapping.Map(ctxReader{ctx, in}, cs, mapping.WithInputName(r.name))
	}
	err = errjoin.Join(err, close())
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (r *Recorder) noteError(err error) {
	r.errMu.Lock()
	r.lastErr, r.lastTime = err, time.Now()
	r.errMu.Unlock()
}

// counters are the figures behind Stats.
type counters struct {
	triggers, snapshots, snapshotErrors                     atomic.Int64
	exports, exportErrors, spans, spansFailed, spansStopped atomic.Int64
	files, fileErrors, filesRemoved                         atomic.Int64
	late, spansDropped, unserved                            atomic.Int64
	requests, served, handlerErrors                         atomic.Int64
	callbackPanics, headerTraceparents, spansUnsampled      atomic.Int64
}

// Stats counts what a Recorder did. Nothing it does fails the program:
// errors are counted here, the last one kept. Requests and triggers are
// counted until Stop, not after. The OpenTelemetry SDK that exports the
// spans also reports an export's failure to its process-wide error
// handler (otel.SetErrorHandler; by default the standard logger).
type Stats struct {
	Requests int64 // requests seen by the Middleware
	// HeaderTraceparents counts the requests whose task took the
	// traceparent of their header, no OpenTelemetry span being in their
	// context: in a program with otelhttp, the Middleware is outside it,
	// and the tasks join the caller's span rather than the request's own.
	HeaderTraceparents int64
	Triggers           int64 // requests and calls (Trigger, Snapshot) that asked for a snapshot
	Snapshots          int64 // snapshots taken; a burst of triggers shares one
	SnapshotErrors     int64 // snapshots that could not be taken
	Late               int64 // snapshots taken too late for their first trigger (see Export.Late)
	Unserved           int64 // triggers that waited for a snapshot when Stop came, and were dropped
	// SpansDropped counts the triggered snapshots whose spans were not
	// exported, their file written, because the exporter was still busy
	// with earlier ones (its endpoint down or slow).
	SpansDropped int64
	Exports      int64 // snapshots exported without an error
	ExportErrors int64 // snapshots whose export (spans or file) failed, or was cut by Snapshot's ctx
	Spans        int64 // spans the exporter accepted
	SpansFailed  int64 // spans it rejected, or that were not sent
	// SpansStopped counts the snapshots whose conversion a failed export
	// stopped (Export.SpansStopped): their spans past it were never made,
	// so neither Spans nor SpansFailed counts them.
	SpansStopped int64
	// SpansUnsampled counts the spans left out for joining a remote trace
	// the application did not sample (otel.WithSampledOnly, given to
	// WithOTelOptions).
	SpansUnsampled int64
	Files          int64 // Perfetto files written
	FileErrors     int64 // Perfetto files that could not be written
	FilesRemoved   int64 // files removed to keep within the directory's limits (one that cannot be is LastError)
	Served         int64 // requests the Handler answered, every one: pages, traces, refusals
	HandlerErrors  int64 // of which failed
	// CallbackPanics counts the panics of WithOnExport's function,
	// recovered: the panic's value is kept as LastError.
	CallbackPanics int64
	LastError      error     // the last error, if any
	LastErrorTime  time.Time // when LastError happened
}

// Stats returns what the Recorder has done so far.
func (r *Recorder) Stats() Stats {
	if r.off() {
		return Stats{}
	}
	c := &r.stats
	s := Stats{
		Requests:           c.requests.Load(),
		HeaderTraceparents: c.headerTraceparents.Load(),
		Triggers:           c.triggers.Load(),
		Snapshots:          c.snapshots.Load(),
		SnapshotErrors:     c.snapshotErrors.Load(),
		Late:               c.late.Load(),
		Unserved:           c.unserved.Load(),
		SpansDropped:       c.spansDropped.Load(),
		Exports:            c.exports.Load(),
		ExportErrors:       c.exportErrors.Load(),
		Spans:              c.spans.Load(),
		SpansFailed:        c.spansFailed.Load(),
		SpansStopped:       c.spansStopped.Load(),
		SpansUnsampled:     c.spansUnsampled.Load(),
		Files:              c.files.Load(),
		FileErrors:         c.fileErrors.Load(),
		FilesRemoved:       c.filesRemoved.Load(),
		Served:             c.served.Load(),
		HandlerErrors:      c.handlerErrors.Load(),
		CallbackPanics:     c.callbackPanics.Load(),
	}
	r.errMu.Lock()
	s.LastError, s.LastErrorTime = r.lastErr, r.lastTime
	r.errMu.Unlock()
	return s
}

// version is trace2x's module version in the program's build, for the
// files' and spans' metadata.
func version() string {
	versionOnce.Do(func() {
		versionStr = "devel"
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if bi.Main.Path == modulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			versionStr = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				versionStr = d.Version
			}
		}
	})
	return versionStr
}

const modulePath = "github.com/trace2x/trace2x"

var (
	versionOnce sync.Once
	versionStr  string
)

// waitingSnapshots says that n snapshots wait, in the singular for one.
func waitingSnapshots(n int) string {
	if n == 1 {
		return "snapshot still waits"
	}
	return "snapshots still wait"
}
