package perfetto_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// traces lists the traces to convert: the samples, the conformance
// harness's regression traces and Go's old-format test traces.
func traces(t testing.TB) []string { return testtraces.All(t, "../..") }

// expect counts, from the model, what the Perfetto output must hold.
type expect struct {
	mapping.NopSink
	procs, threads            map[int64]bool
	held                      mapping.HeldProcs
	last                      map[mapping.GoID]mapping.GoroutineState
	inSys                     map[mapping.GoID]bool
	states, onProc, onThread  int
	regions, tasks, ranges    int
	logs, ends, flows         int
	counters, samples, stacks int
}

func (e *expect) Proc(p *mapping.Proc) error     { e.procs[int64(p.ID)] = true; return nil }
func (e *expect) Thread(m *mapping.Thread) error { e.threads[int64(m.ID)] = true; return nil }
func (e *expect) Stack(*mapping.Stack) error     { e.stacks++; return nil }
func (e *expect) GoroutineState(s *mapping.GoroutineState) error {
	e.states++
	if s.State == mapping.GoRunning && e.procs[int64(s.P)] {
		e.onProc++
	}
	if s.State == mapping.GoSyscall && s.Blocked && e.threads[int64(s.M)] {
		e.onThread++
	}
	// A run, a syscall that keeps its P and the run after it are drawn as
	// one running slice with the syscall in it.
	last, ok := e.last[s.G]
	e.last[s.G] = *s
	if !ok || s.Start != last.End || s.P != last.P || s.M != last.M {
		e.inSys[s.G] = false
		return nil
	}
	switch {
	case last.State == mapping.GoRunning && s.State == mapping.GoSyscall && !s.Blocked:
		e.inSys[s.G] = true
	case e.inSys[s.G] && s.State == mapping.GoRunning:
		e.states--
		if e.procs[int64(s.P)] {
			e.onProc--
		}
		e.inSys[s.G] = false
	default:
		e.inSys[s.G] = false
	}
	return nil
}

// ProcRun is drawn on its M's track, as the P it held, one at a time
// (mapping.HeldProcs, tested on its own; conformance checks each against
// its oracle).
func (e *expect) ProcRun(r *mapping.ProcRun) error {
	if e.held.Holds(r) {
		e.onThread++
	}
	return nil
}
func (e *expect) Region(*mapping.Region) error { e.regions++; return nil }
func (e *expect) Task(*mapping.Task) error     { e.tasks++; return nil }
func (e *expect) Range(*mapping.Range) error   { e.ranges++; return nil }
func (e *expect) Log(*mapping.Log) error       { e.logs++; return nil }
func (e *expect) GoroutineEvent(g *mapping.GoroutineEvent) error {
	if g.Kind == mapping.GoEnded {
		e.ends++
	}
	return nil
}
func (e *expect) Flow(*mapping.Flow) error           { e.flows++; return nil }
func (e *expect) Counter(*mapping.Counter) error     { e.counters++; return nil }
func (e *expect) CPUSample(*mapping.CPUSample) error { e.samples++; return nil }

// convert maps a trace into a Perfetto writer and the expectation at once.
func convert(t *testing.T, path string) ([]byte, *expect) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	e := &expect{procs: map[int64]bool{}, threads: map[int64]bool{},
		last: map[mapping.GoID]mapping.GoroutineState{}, inSys: map[mapping.GoID]bool{}}
	// Uncompressed, so that its packets can be counted and compared; see
	// TestCompression for the compressed form.
	w := perfetto.NewWriter(&buf, perfetto.WithVersion("test"), perfetto.WithCompression(false))
	if _, err := mapping.Map(f, mapping.FanOut(e, w), mapping.WithInputName(filepath.Base(path))); err != nil {
		t.Fatal(err)
	}
	// What the writer says it wrote is what came out.
	if w.Size() != int64(buf.Len()) {
		t.Errorf("Size() = %d, but %d bytes were written", w.Size(), buf.Len())
	}
	packets := 0
	for b := buf.Bytes(); len(b) > 0; packets++ {
		_, _, n := protowire.ConsumeField(b)
		if n < 0 {
			t.Fatalf("packet %d: %v", packets, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if w.Packets() != int64(packets) {
		t.Errorf("Packets() = %d, but %d were written", w.Packets(), packets)
	}
	return buf.Bytes(), e
}

// TestConvertAll converts every trace and checks the output decodes, is
// consistent (tracks declared, IDs interned, slices balanced and nested,
// flows with both ends), and holds one slice, instant, counter sample or
// perf sample for each item of the model.
func TestConvertAll(t *testing.T) {
	for _, path := range traces(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, e := convert(t, path)
			rep, err := perfettocheck.Check(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("invalid Perfetto trace: %v", err)
			}
			cats := map[string]int{}
			for _, s := range rep.Slices {
				cats[s.Category]++
			}
			for cat, n := range map[string]int{
				"goroutine": e.states, "proc": e.onProc, "thread": e.onThread,
				"region": e.regions, "task": e.tasks, "gc": e.ranges,
			} {
				if cats[cat] != n {
					t.Errorf("%d %q slices, want %d", cats[cat], cat, n)
				}
			}
			inst := map[string]int{}
			for _, i := range rep.Instants {
				inst[i.Category]++
			}
			if inst["log"] != e.logs {
				t.Errorf("%d log instants, want %d", inst["log"], e.logs)
			}
			if inst["goroutine"] != e.flows {
				t.Errorf("%d goroutine instants, want %d flow sources", inst["goroutine"], e.flows)
			}
			if rep.Flows < e.flows {
				t.Errorf("%d flows, want at least the %d of goroutines", rep.Flows, e.flows)
			}
			samples := 0
			for _, v := range rep.Counters {
				samples += len(v)
			}
			if samples != e.counters {
				t.Errorf("%d counter samples, want %d", samples, e.counters)
			}
			if rep.PerfSamples != e.samples {
				t.Errorf("%d perf samples, want %d", rep.PerfSamples, e.samples)
			}
			if rep.Callstacks != e.stacks {
				t.Errorf("%d callstacks, want %d", rep.Callstacks, e.stacks)
			}
			t.Logf("%d bytes in, %d out (%.1fx), %d packets", fileSize(t, path), len(data), float64(len(data))/float64(fileSize(t, path)), rep.Packets)
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestClock checks that the clock snapshot ties the file's timestamps to
// the trace's wall and monotonic clocks: the metadata instant, at the
// trace's start, must convert to the wall time and monotonic time the
// trace gives for its start, to the nanosecond. A trace with no clock
// gets the start time the user sets.
func TestClock(t *testing.T) {
	set := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for _, tc := range []struct {
		trace string
		opts  []perfetto.Option
	}{
		{"mixed.go1.26.trace", nil},
		{"mixed.go1.25.trace", nil},
		{"mixed.go1.22.trace", []perfetto.Option{perfetto.WithStartTime(set)}},
	} {
		t.Run(tc.trace, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "..", "testdata", tc.trace))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var buf bytes.Buffer
			var meta metaSink
			w := perfetto.NewWriter(&buf, append(tc.opts, perfetto.WithCompression(false))...)
			if _, err := mapping.Map(f, mapping.FanOut(&meta, w)); err != nil {
				t.Fatal(err)
			}
			// The checker resolves timestamps as the trace processor
			// does: on the sequence's incremental clock, deltas.
			rep, err := perfettocheck.Check(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			clocks := map[uint32]uint64{}
			for _, c := range rep.Clock.GetClocks() {
				clocks[c.GetClockId()] = c.GetTimestamp()
			}
			var start uint64
			var found bool
			for _, in := range rep.Instants {
				if in.Name == "trace metadata" {
					start, found = in.Time, true
				}
			}
			const boottime, realtime, monotonic = 6, 1, 3
			if !found || clocks[boottime] == 0 {
				t.Fatalf("no metadata instant (%v) or no BOOTTIME in the clock snapshot (%v)", found, clocks)
			}
			since := int64(start - clocks[boottime])
			gotWall := time.Unix(0, int64(clocks[realtime])+since).UTC()
			wantWall := set
			if c := meta.m.Clock; c != nil {
				wantWall = c.WallTime(meta.m.Start).UTC()
				wantMono := c.Mono + uint64(meta.m.Start-c.Trace)
				if got := clocks[monotonic] + uint64(since); got != wantMono {
					t.Errorf("start at monotonic %d, want %d", got, wantMono)
				}
				// The file's clock is the monotonic one, so that a system
				// trace of the same machine lines up.
				if start != wantMono {
					t.Errorf("start at %d in the file, want the monotonic clock's %d", start, wantMono)
				}
			}
			if !gotWall.Equal(wantWall) {
				t.Errorf("start at %v, want %v", gotWall, wantWall)
			}
		})
	}
}

// metaSink keeps the trace's Meta.
type metaSink struct {
	mapping.NopSink
	m mapping.Meta
}

func (s *metaSink) Begin(m *mapping.Meta) error { s.m = *m; return nil }

// TestLargePackets writes a stack too large for the output buffer, with
// names long enough that nested lengths take several bytes, between
// ordinary packets, and checks the file decodes whole, with the stack on
// its slice.
func TestLargePackets(t *testing.T) {
	var buf bytes.Buffer
	w := perfetto.NewWriter(&buf, perfetto.WithCompression(false))
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(w.Begin(&mapping.Meta{Input: "large", FormatVersion: "go1.26", Start: 1 << 40}))
	frames := make([]mapping.Frame, 4000)
	for i := range frames {
		name := strings.Repeat("f", 100+i%300) + strconv.Itoa(i)
		frames[i] = mapping.Frame{PC: uint64(i + 1), Func: "pkg." + name, File: "/src/" + name + ".go", Line: uint64(i)}
	}
	check(w.Stack(&mapping.Stack{ID: 1, Frames: frames}))
	check(w.Proc(&mapping.Proc{ID: 0}))
	for i := range 20000 {
		t0 := mapping.Time(1<<40) + mapping.Time(i)*1000
		check(w.GoroutineState(&mapping.GoroutineState{G: mapping.GoID(i%50 + 1), State: mapping.GoRunning, Start: t0, End: t0 + 500, P: 0, M: mapping.NoThread, Stack: 1}))
	}
	check(w.End(&mapping.Summary{}))
	if buf.Len() < 1<<20 {
		t.Fatalf("only %d bytes written", buf.Len())
	}
	rep, err := perfettocheck.Check(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("invalid Perfetto trace: %v", err)
	}
	states, last := 0, 0
	for i, s := range rep.Slices {
		if s.Category != "lifetime" {
			states, last = states+1, i
		}
	}
	if rep.Callstacks != 1 || states != 40000 {
		t.Fatalf("%d callstacks and %d slices other than goroutine lifetimes, want 1 and 40000", rep.Callstacks, states)
	}
	got := rep.Frames[rep.Slices[last].Callstack]
	if len(got) != len(frames) || got[0] != frames[len(frames)-1].Func || got[len(got)-1] != frames[0].Func {
		t.Errorf("the last slice's stack has %d frames, want the %d written, root first", len(got), len(frames))
	}
	if w.Size() != int64(buf.Len()) {
		t.Errorf("Size() = %d, but %d bytes were written", w.Size(), buf.Len())
	}
}

// fullDisk takes writes until it holds limit bytes, then fails them.
type fullDisk struct {
	bytes.Buffer
	limit int
}

var errFull = errors.New("no space left on device")

func (d *fullDisk) Write(p []byte) (int, error) {
	if d.Len()+len(p) > d.limit {
		return 0, errFull
	}
	return d.Buffer.Write(p)
}

// TestWriteError checks that a write error stops the output where it
// happened, is returned from then on and by Close, and leaves what was
// written whole packets (compressed packets, by default).
func TestWriteError(t *testing.T) {
	disk := &fullDisk{limit: 600 << 10}
	w := perfetto.NewWriter(disk)
	if err := w.Begin(&mapping.Meta{Input: "full", FormatVersion: "go1.26", Start: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 1e6 && err == nil; i++ {
		t0 := mapping.Time(1<<40) + mapping.Time(i)*1000
		// Durations that vary, so that the output does not deflate to
		// almost nothing.
		d := mapping.Time(100 + i*7919%900)
		err = w.GoroutineState(&mapping.GoroutineState{G: mapping.GoID(i%50 + 1), State: mapping.GoRunnable, Start: t0, End: t0 + d, P: mapping.NoProc, M: mapping.NoThread})
	}
	if !errors.Is(err, errFull) {
		t.Fatalf("writing a million slices returned %v, want the disk's error", err)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Errorf("Close returned %v, want the disk's error", err)
	}
	if disk.Len() == 0 || disk.Len() > disk.limit {
		t.Fatalf("%d bytes written, want some and at most %d", disk.Len(), disk.limit)
	}
	// The last slice written may have lost its end: only the packets are
	// checked.
	n := 0
	for b := disk.Bytes(); len(b) > 0; n++ {
		_, _, l := protowire.ConsumeField(b)
		if l < 0 {
			t.Fatalf("packet %d: %v", n, protowire.ParseError(l))
		}
		var p pb.TracePacket
		v, _ := protowire.ConsumeBytes(b[1:])
		if err := proto.Unmarshal(v, &p); err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		b = b[l:]
	}
}

// TestCompression converts traces with and without in-format compression:
// the compressed file is a run of compressed packets, each within the
// trace processor's limit, several times smaller, and holds exactly what
// the plain one does.
func TestCompression(t *testing.T) {
	for _, name := range []string{"mixed.go1.26.trace", "gc.go1.26.trace", "allocfree.go1.26.trace"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			conv := func(opts ...perfetto.Option) ([]byte, *perfettocheck.Report) {
				var buf bytes.Buffer
				w := perfetto.NewWriter(&buf, opts...)
				if _, err := mapping.Map(bytes.NewReader(data), w); err != nil {
					t.Fatal(err)
				}
				if w.Size() != int64(buf.Len()) {
					t.Errorf("Size() = %d, but %d bytes were written", w.Size(), buf.Len())
				}
				rep, err := perfettocheck.Check(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatalf("invalid Perfetto trace: %v", err)
				}
				return buf.Bytes(), rep
			}
			plain, want := conv(perfetto.WithCompression(false))
			packed, got := conv()
			for b := packed; len(b) > 0; {
				_, _, n := protowire.ConsumeField(b)
				if n < 0 {
					t.Fatal(protowire.ParseError(n))
				}
				var p pb.TracePacket
				v, _ := protowire.ConsumeBytes(b[1:])
				if err := proto.Unmarshal(v, &p); err != nil {
					t.Fatal(err)
				}
				if p.GetCompressedPackets() == nil || len(v) > 512<<10 {
					t.Fatalf("a packet of %d bytes that is not a compressed packet within 512 KB", len(v))
				}
				b = b[n:]
				// The trace processor keeps a run that holds interned
				// data whole, to the end: none holds events as well.
				var interned, events int
				for _, q := range inflate(t, p.GetCompressedPackets()).GetPacket() {
					switch {
					case q.GetInternedData() != nil || q.GetClockSnapshot() != nil:
						interned++
					case q.GetTrackEvent() != nil:
						events++
					}
				}
				if interned > 0 && events > 0 {
					t.Fatalf("a compressed run holds %d interned packets and %d events", interned, events)
				}
			}
			if len(packed)*3 > len(plain) {
				t.Errorf("compressed to %d bytes from %d: less than 3 times smaller", len(packed), len(plain))
			}
			if got.Rows.Bytes != int64(len(packed)) || want.Rows.Bytes != int64(len(plain)) {
				t.Errorf("perfettocheck read %d and %d bytes, want %d and %d", got.Rows.Bytes, want.Rows.Bytes, len(packed), len(plain))
			}
			wantRows, gotRows := want.Rows, got.Rows
			wantRows.Bytes, gotRows.Bytes = 0, 0
			if gotRows != wantRows || len(got.Slices) != len(want.Slices) || !reflect.DeepEqual(got.Slices, want.Slices) {
				t.Errorf("compressed: %+v, want %+v as uncompressed", gotRows, wantRows)
			}
			t.Logf("%d bytes plain, %d compressed", len(plain), len(packed))
		})
	}
}

// inflate decodes a run of compressed packets.
func inflate(t *testing.T, z []byte) *pb.Trace {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var tr pb.Trace
	if err := proto.Unmarshal(data, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// TestFarProcIDs feeds P IDs that only a damaged trace has, up to the
// largest: each gets its track and its runs, and none sizes a slice (the
// writer once grew one to the ID and never returned).
func TestFarProcIDs(t *testing.T) {
	var buf bytes.Buffer
	w := perfetto.NewWriter(&buf)
	const start = mapping.Time(1e9)
	if err := w.Begin(&mapping.Meta{Input: "t", FormatVersion: "go1.26", Start: start}); err != nil {
		t.Fatal(err)
	}
	ids := []mapping.ProcID{0, 1 << 16, 1 << 40, 1<<63 - 1}
	for i, p := range ids {
		if err := w.Proc(&mapping.Proc{ID: p}); err != nil {
			t.Fatal(err)
		}
		s := start + mapping.Time(i)*1000
		if err := w.GoroutineState(&mapping.GoroutineState{G: mapping.GoID(i + 1), State: mapping.GoRunning, Start: s, End: s + 500, P: p, M: mapping.NoThread}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(&mapping.Summary{End: start + 1e6}); err != nil {
		t.Fatal(err)
	}
	rep, err := perfettocheck.Check(&buf)
	if err != nil {
		t.Fatal(err)
	}
	onP := map[string]int{}
	for _, s := range rep.Slices {
		if s.Category == "proc" {
			onP[rep.Tracks[s.Track].Name]++
		}
	}
	for _, p := range ids {
		if name := "P" + strconv.FormatInt(int64(p), 10); onP[name] != 1 {
			t.Errorf("track %s has %d runs, want 1", name, onP[name])
		}
	}
}

// TestPIDBelowOne checks that a process ID below 1, which the trace
// processor would take for the kernel's idle process (0) or no process,
// keeps the default, and that a positive one is used.
func TestPIDBelowOne(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gc.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ pid, want int32 }{{0, 1}, {-5, 1}, {4242, 4242}} {
		var buf bytes.Buffer
		w := perfetto.NewWriter(&buf, perfetto.WithPID(tc.pid), perfetto.WithCompression(false))
		if _, err := mapping.Map(bytes.NewReader(data), w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := perfettocheck.Check(bytes.NewReader(buf.Bytes())); err != nil {
			t.Errorf("WithPID(%d): %v", tc.pid, err)
		}
		var tr pb.Trace
		if err := proto.Unmarshal(buf.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		pids := map[int32]bool{}
		for _, p := range tr.GetPacket() {
			if pd := p.GetTrackDescriptor().GetProcess(); pd != nil {
				pids[pd.GetPid()] = true
			}
		}
		if len(pids) != 1 || !pids[tc.want] {
			t.Errorf("WithPID(%d): process tracks with pids %v; want %d", tc.pid, pids, tc.want)
		}
	}
}
