package flight

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// fakeClock moves only when a test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock on and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waiter waits until the scheduler waits on the clock, and returns when
// its timer is due.
func (c *fakeClock) waiter(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, "the scheduler to wait on the clock", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.waiters) == 0 {
			return false
		}
		at = c.waiters[0].at
		return true
	})
	return at
}

func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// waitFor polls cond until it holds; it only waits for goroutines to get
// there, no result depends on how long that takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeSource stands for the runtime's flight recorder: each snapshot is
// the content of a file (or a few bytes).
type fakeSource struct {
	mu      sync.Mutex
	path    string
	writes  int
	stopped bool
	err     error
}

func (s *fakeSource) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes++
	if s.path == "" {
		n, err := w.Write([]byte("window"))
		return int64(n), err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

func (s *fakeSource) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// testRecorder is a Recorder on a fake source and clock, whose exports
// arrive on the returned channel.
func testRecorder(t *testing.T, src source, clk clock, opts ...Option) (*Recorder, chan Export) {
	t.Helper()
	exports := make(chan Export, 16)
	opts = append(opts, WithOnExport(func(e Export) { exports <- e }))
	cfg := newConfig(opts)
	var dir *dirStore
	if cfg.dir != "" {
		d, err := newDirStore(cfg.dir, cfg.maxFiles, cfg.maxDirBytes)
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	r := newRecorder(cfg, src, clk, dir)
	t.Cleanup(func() { r.Stop(context.Background()) })
	return r, exports
}

func receive(t *testing.T, ch <-chan Export) Export {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no export")
		return Export{}
	}
}

// TestCoalesce: a burst of triggers within the coalescing delay shares one
// snapshot, taken when the delay after the first has passed, not before.
func TestCoalesce(t *testing.T) {
	clk := newFakeClock()
	src := &fakeSource{}
	r, exports := testRecorder(t, src, clk, WithCoalesce(200*time.Millisecond))
	start := clk.Now()
	r.Trigger("slow")
	if at := clk.waiter(t); !at.Equal(start.Add(200 * time.Millisecond)) {
		t.Fatalf("snapshot due at %v, want 200ms after the first trigger", at.Sub(start))
	}
	for range 4 {
		clk.Advance(40 * time.Millisecond)
		r.Trigger("failed")
	}
	// 160ms after the first trigger: still waiting.
	if clk.waiting() != 1 || r.Stats().Snapshots != 0 {
		t.Fatalf("a snapshot was taken before the coalescing delay: %+v", r.Stats())
	}
	clk.Advance(40 * time.Millisecond)
	e := receive(t, exports)
	if e.Triggers != 5 || e.Reason != "slow" || e.Err != nil {
		t.Errorf("export %+v; want the 5 triggers, reason slow (the first), no error", e)
	}
	st := r.Stats()
	if st.Triggers != 5 || st.Snapshots != 1 || st.Exports != 1 || src.writes != 1 {
		t.Errorf("stats %+v, %d writes; want 5 triggers, 1 snapshot, 1 export", st, src.writes)
	}
}

// TestRateLimit: after a snapshot, the next waits for the minimum
// interval, and serves every trigger that came meanwhile.
func TestRateLimit(t *testing.T) {
	clk := newFakeClock()
	r, exports := testRecorder(t, &fakeSource{}, clk, WithCoalesce(0), WithMinInterval(10*time.Second))
	r.Trigger("first")
	if e := receive(t, exports); e.Triggers != 1 {
		t.Fatalf("first export %+v", e)
	}
	first := clk.Now()
	clk.Advance(time.Second)
	r.Trigger("second")
	if at := clk.waiter(t); !at.Equal(first.Add(10 * time.Second)) {
		t.Fatalf("second snapshot due %v after the first, want 10s", at.Sub(first))
	}
	clk.Advance(5 * time.Second)
	r.Trigger("third")
	r.Trigger("fourth")
	if n := r.Stats().Snapshots; n != 1 {
		t.Fatalf("%d snapshots within the interval, want 1", n)
	}
	clk.Advance(3 * time.Second) // 9s after the first: still waiting
	if n := r.Stats().Snapshots; n != 1 || clk.waiting() != 1 {
		t.Fatalf("%d snapshots within the interval, want 1", n)
	}
	clk.Advance(time.Second)
	if e := receive(t, exports); e.Triggers != 3 || e.Reason != "second" {
		t.Errorf("second export %+v, want 3 triggers, reason second", e)
	}
	// Long after, a trigger is served after the coalescing delay alone.
	clk.Advance(time.Minute)
	r.Trigger("later")
	if e := receive(t, exports); e.Triggers != 1 || e.Reason != "later" {
		t.Errorf("third export %+v", e)
	}
	if st := r.Stats(); st.Snapshots != 3 || st.Triggers != 5 {
		t.Errorf("stats %+v, want 3 snapshots of 5 triggers", st)
	}
}

// TestQueueFull: while the export queue is full, triggers take no
// snapshot (a copy only to be dropped) but wait, and one snapshot serves
// them all once there is room; the triggering side never blocks.
func TestQueueFull(t *testing.T) {
	clk := newFakeClock()
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	var mu sync.Mutex
	var got []Export
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithQueueSize(1), WithOnExport(func(e Export) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		entered <- struct{}{}
		<-release
	})})
	src := &fakeSource{}
	r := newRecorder(cfg, src, clk, nil)
	defer r.Stop(context.Background())
	r.Trigger("a")
	<-entered // the export goroutine holds a, blocked
	r.Trigger("b")
	waitFor(t, "the second snapshot", func() bool { return r.Stats().Snapshots == 2 })
	r.Trigger("c") // the queue holds b: c waits, and d with it
	r.Trigger("d")
	time.Sleep(50 * time.Millisecond) // a wrong scheduler would take c now
	if st := r.Stats(); st.Snapshots != 2 || st.LastError != nil {
		t.Errorf("stats %+v; want no snapshot taken while the queue is full, and no error", st)
	}
	close(release)
	waitFor(t, "the exports", func() bool { return r.Stats().Exports == 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[2].Reason != "c" || got[2].Triggers != 2 {
		t.Errorf("exports %+v; want the third to serve c and d", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.writes != 3 {
		t.Errorf("the window was copied %d times for 3 snapshots", src.writes)
	}
}

// TestStop: Stop exports what was taken, stops the source, and ignores
// later triggers; a failing source is counted, not fatal.
func TestStop(t *testing.T) {
	clk := newFakeClock()
	src := &fakeSource{}
	var mu sync.Mutex
	var got []Export
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithOnExport(func(e Export) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})})
	r := newRecorder(cfg, src, clk, nil)
	r.Trigger("a")
	waitFor(t, "the snapshot", func() bool { return r.Stats().Snapshots == 1 })
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 || !src.stopped {
		t.Fatalf("after Stop: %d exports, source stopped %v; want 1 and true", n, src.stopped)
	}
	r.Trigger("after")
	if st := r.Stats(); st.Snapshots != 1 {
		t.Errorf("a trigger after Stop took a snapshot: %+v", st)
	}

	src2 := &fakeSource{err: errors.New("disabled")}
	r2, _ := testRecorder(t, src2, newFakeClock(), WithCoalesce(0))
	r2.Trigger("x")
	waitFor(t, "the failed snapshot", func() bool { return r2.Stats().SnapshotErrors == 1 })
	if _, err := r2.Snapshot(context.Background(), "y"); err == nil {
		t.Error("Snapshot of a failing source returned no error")
	}
}

// TestUnserved: the triggers that wait for a snapshot when Stop comes
// (held by the rate limit here) are counted, not lost unsaid.
func TestUnserved(t *testing.T) {
	clk := newFakeClock()
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(time.Hour)})
	r := newRecorder(cfg, &fakeSource{}, clk, nil)
	r.Trigger("a")
	waitFor(t, "the first snapshot", func() bool { return r.Stats().Exports == 1 })
	r.Trigger("b")
	r.Trigger("c")
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Unserved != 2 || st.Triggers != 3 || st.Snapshots != 1 {
		t.Errorf("stats %+v; want 3 triggers, 1 snapshot, 2 unserved", st)
	}
}

// TestSnapshotToDir: Snapshot converts the window into a Perfetto file
// that the validator accepts, and reports it.
func TestSnapshotToDir(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{path: "../testdata/annotations.go1.26.trace"}
	r, _ := testRecorder(t, src, newFakeClock(), WithDir(dir), WithServiceName("svc"))
	e, err := r.Snapshot(context.Background(), "watchdog/stuck")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(e.File) != dir || filepath.Ext(e.File) != ".pftrace" {
		t.Fatalf("file %q, want a .pftrace in %s", e.File, dir)
	}
	if base := filepath.Base(e.File); !regexpMatch(`^trace2x-\d{8}T\d{6}\.\d{6}Z-1-watchdog_stuck\.pftrace$`, base) {
		t.Errorf("file name %q", base)
	}
	f, err := os.Open(e.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := perfettocheck.Check(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Slices) == 0 {
		t.Error("the Perfetto file has no slices")
	}
	if st := r.Stats(); st.Files != 1 || st.Exports != 1 || st.Triggers != 1 {
		t.Errorf("stats %+v", st)
	}
	// A trace that is not one: the error names it, the file is not left.
	src.path = "schedule_test.go"
	if _, err := r.Snapshot(context.Background(), "bad"); err == nil {
		t.Error("no error for a snapshot that is not a trace")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in the directory after a failed snapshot, want the 1 good one", len(ents))
	}
}

// TestStartTwice: only one flight recorder runs in a process; a second
// Start says so, without making the directory it was given, and works
// once the first has stopped.
func TestStartTwice(t *testing.T) {
	rec, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "second")
	if _, err := Start(WithDir(dir)); err == nil || !strings.Contains(err.Error(), "flight recorder") {
		t.Errorf("second Start: %v, want an error about the flight recorder", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the second Start, which failed, made %s", dir)
	}
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.WriteTo(io.Discard); err == nil {
		t.Error("WriteTo after Stop: no error")
	}
	rec2, err := Start()
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	rec2.Stop(context.Background())
}

// TestLateTrigger: a trigger that the rate limit holds for longer than the
// window reaches back gets a snapshot that cannot hold what it wanted,
// and its export and the stats say so; one served in time does not. The
// window, of Go 1.24, has no clock snapshot: it is taken to end when it
// is asked for.
func TestLateTrigger(t *testing.T) {
	clk := newFakeClock()
	// The sample's window spans well under the 10 s interval.
	r, exports := testRecorder(t, &fakeSource{path: "../testdata/mixed.go1.24.trace"}, clk, WithCoalesce(0), WithMinInterval(10*time.Second))
	r.Trigger("first")
	if e := receive(t, exports); e.Late {
		t.Errorf("a trigger served at once: %+v, want not late", e)
	}
	clk.Advance(time.Second)
	r.Trigger("held")
	clk.waiter(t)
	clk.Advance(9 * time.Second)
	if e := receive(t, exports); !e.Late || e.Reason != "held" {
		t.Errorf("a trigger held 9 s, longer than the window: %+v, want late", e)
	}
	if st := r.Stats(); st.Late != 1 {
		t.Errorf("stats %+v, want 1 late snapshot", st)
	}
}

// TestLateTriggerWallClock: a window with clock snapshots (Go 1.25+, as
// the runtime's flight recorder gives) is late for a trigger that came
// before its start on the wall clock, and for no trigger after it,
// however long the copy or the wait took.
func TestLateTriggerWallClock(t *testing.T) {
	data, err := os.ReadFile(sampleTrace)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || idx.Generations[0].Clock == nil {
		t.Fatalf("the sample has no clock snapshot (%v)", err)
	}
	g := idx.Generations[0]
	start := g.Clock.Wall.Add(time.Duration(g.Start - g.Clock.Trace))
	for _, tc := range []struct {
		at   time.Time
		late bool
	}{
		{start.Add(-time.Second), true},
		{start.Add(time.Millisecond), false},
		// Served long after the window, as a fake source gives it again:
		// the trigger is in it all the same.
		{start.Add(time.Hour), false},
	} {
		clk := &fakeClock{now: tc.at}
		r, exports := testRecorder(t, &fakeSource{path: sampleTrace}, clk, WithCoalesce(0), WithMinInterval(0))
		r.Trigger("at")
		if e := receive(t, exports); e.Late != tc.late {
			t.Errorf("a trigger %v after the window's start: late %v, want %v", tc.at.Sub(start), e.Late, tc.late)
		}
	}
}

// TestNotLateAfterStart: the runtime's flight recorder, triggered at once
// after Start, gives a window that holds the trigger: it is not late,
// however short the window and however long its copy took.
func TestNotLateAfterStart(t *testing.T) {
	for range 5 {
		exports := make(chan Export, 1)
		r, err := Start(WithCoalesce(0), WithMinInterval(0), WithOnExport(func(e Export) { exports <- e }))
		if err != nil {
			t.Fatal(err)
		}
		r.Trigger("at once")
		e := receive(t, exports)
		r.Stop(context.Background())
		if e.Late {
			t.Fatalf("a trigger at once after Start: %+v, want not late", e)
		}
	}
}

// TestOnExportPanics: a panic of WithOnExport's function, on the
// Recorder's goroutine, does not end the program: it is counted and kept
// as the last error, and later snapshots are reported as before.
func TestOnExportPanics(t *testing.T) {
	clk := newFakeClock()
	src := &fakeSource{}
	exports := make(chan Export, 4)
	var calls atomic.Int32
	cfg := newConfig([]Option{WithCoalesce(0), WithMinInterval(0), WithOnExport(func(e Export) {
		if calls.Add(1) == 1 {
			panic("callback bug")
		}
		exports <- e
	})})
	r := newRecorder(cfg, src, clk, nil)
	t.Cleanup(func() { r.Stop(context.Background()) })
	r.Trigger("a")
	waitFor(t, "the recovered panic", func() bool { return r.Stats().CallbackPanics == 1 })
	r.Trigger("b")
	receive(t, exports)
	st := r.Stats()
	if st.CallbackPanics != 1 || st.LastError == nil || !strings.Contains(st.LastError.Error(), "callback bug") {
		t.Errorf("stats %+v; want one panic counted, its value the last error", st)
	}
}
