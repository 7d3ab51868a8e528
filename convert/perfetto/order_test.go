package perfetto_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
	"github.com/trace2x/trace2x/mapping"
)

// TestIncrementalTimestamps checks the encoding of timestamps: the first
// packet declares an incremental clock of the sequence and makes it the
// default; events in time order carry small deltas on it; an event that
// comes later than it could be ordered (a slice begun a second before the
// ones written already) carries an absolute timestamp on BOOTTIME; and
// every slice, resolved as the trace processor resolves timestamps,
// lies where the model put it.
func TestIncrementalTimestamps(t *testing.T) {
	var buf bytes.Buffer
	w := perfetto.NewWriter(&buf, perfetto.WithCompression(false))
	const start = mapping.Time(5e9)
	if err := w.Begin(&mapping.Meta{Input: "t", FormatVersion: "go1.26", Start: start}); err != nil {
		t.Fatal(err)
	}
	type span struct{ start, end mapping.Time }
	var want []span
	add := func(g mapping.GoID, s, e mapping.Time) {
		t.Helper()
		want = append(want, span{s, e})
		if err := w.GoroutineState(&mapping.GoroutineState{G: g, State: mapping.GoRunnable, Start: s, End: e, P: mapping.NoProc, M: mapping.NoThread}); err != nil {
			t.Fatal(err)
		}
	}
	// Goroutine 1 waits a long time; 2 to 9 take short turns meanwhile,
	// for long enough that what came first is written before 1's wait
	// ends.
	t0 := start + 1e6
	for i := range 50_000 {
		s := t0 + mapping.Time(i)*10_000
		add(mapping.GoID(2+i%8), s, s+7_000)
	}
	late := span{t0 + 1e8, t0 + 499_990_000}
	add(1, late.start, late.end)
	if err := w.End(&mapping.Summary{End: t0 + 5e8}); err != nil {
		t.Fatal(err)
	}

	// The raw encoding.
	var deltas, events int
	var absolute []uint64
	first := true
	for b := buf.Bytes(); len(b) > 0; {
		_, _, n := protowire.ConsumeTag(b)
		v, m := protowire.ConsumeBytes(b[n:])
		b = b[n+m:]
		var p pb.TracePacket
		if err := proto.Unmarshal(v, &p); err != nil {
			t.Fatal(err)
		}
		if first {
			first = false
			var incremental bool
			for _, c := range p.GetClockSnapshot().GetClocks() {
				incremental = incremental || c.GetIsIncremental() && c.GetClockId() >= 64 && c.GetClockId() < 128
			}
			def := p.GetTracePacketDefaults().GetTimestampClockId()
			if !incremental || def < 64 || def >= 128 {
				t.Fatalf("first packet %v: want a clock snapshot with an incremental sequence clock, made the default", &p)
			}
			continue
		}
		if p.GetTrackEvent() == nil {
			continue
		}
		events++
		switch {
		case p.GetTimestampClockId() == 6:
			absolute = append(absolute, p.GetTimestamp())
		case p.GetTimestampClockId() == 0 && p.GetTimestamp() < 1<<21:
			deltas++
		default:
			t.Errorf("event packet with timestamp %d on clock %d", p.GetTimestamp(), p.GetTimestampClockId())
		}
	}
	// Goroutine 1's wait begins long before it ends, when it is
	// written, too late to be put in order. (It is drawn then, on a
	// track of its own, where it has no lifetime slice to begin.)
	if len(absolute) != 1 || deltas != events-1 {
		t.Errorf("%d event packets: %d with deltas, absolute timestamps %v; want all but goroutine 1's begin with deltas", events, deltas, absolute)
	}

	// The times, resolved.
	rep, err := perfettocheck.Check(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got []span
	var offset mapping.Time
	for _, c := range rep.Clock.GetClocks() {
		if c.GetClockId() == 6 {
			offset = mapping.Time(c.GetTimestamp()) - start // the file's time of the trace's start
		}
	}
	for i, ts := range absolute {
		if w := late.start + offset; i > 0 || ts != uint64(w) {
			t.Errorf("absolute timestamp %d is %d, want %d", i, ts, w)
		}
	}
	for _, s := range rep.Slices {
		if s.Category == "goroutine" {
			got = append(got, span{mapping.Time(s.Start) - offset, mapping.Time(s.End) - offset})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d state slices, want %d", len(got), len(want))
	}
	seen := map[span]int{}
	for _, s := range want {
		seen[s]++
	}
	for _, s := range got {
		if seen[s] == 0 {
			t.Fatalf("slice %v..%v is not in the model", s.start, s.end)
		}
		seen[s]--
	}
}

// TestStageBound checks a burst of packets within the ordering's lag,
// more than the stage holds: they go out early, oldest first, and those
// that come later than them carry absolute times, so that every slice
// still has its own.
func TestStageBound(t *testing.T) {
	var buf bytes.Buffer
	w := perfetto.NewWriter(&buf, perfetto.WithCompression(false))
	const start = mapping.Time(5e9)
	if err := w.Begin(&mapping.Meta{Input: "t", FormatVersion: "go1.26", Start: start}); err != nil {
		t.Fatal(err)
	}
	// 300000 slices of two packets each, some 12 MB, all within 3 ms;
	// every tenth, on a goroutine of its own, begins 1 ms before it
	// ends, so that the order matters.
	const n = 300_000
	want := map[[2]mapping.Time]int{}
	for i := range n {
		e := start + 2_000_000 + mapping.Time(i)*10
		s, g := e-5, mapping.GoID(2+i%8)
		if i%10 == 0 {
			s, g = e-1_000_000, mapping.GoID(100+i)
		}
		want[[2]mapping.Time{s, e}]++
		if err := w.GoroutineState(&mapping.GoroutineState{G: g, State: mapping.GoRunnable, Start: s, End: e, P: mapping.NoProc, M: mapping.NoThread}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(&mapping.Summary{End: start + 2_000_000 + n*10}); err != nil {
		t.Fatal(err)
	}
	rep, err := perfettocheck.Check(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	offset := mapping.Time(rep.Clock.GetClocks()[0].GetTimestamp()) - start // BOOTTIME, first
	got := 0
	for _, s := range rep.Slices {
		if s.Category != "goroutine" {
			continue
		}
		k := [2]mapping.Time{mapping.Time(s.Start) - offset, mapping.Time(s.End) - offset}
		if want[k] == 0 {
			t.Fatalf("slice %v is not one of those written", k)
		}
		want[k]--
		got++
	}
	if got != n {
		t.Errorf("%d slices, want %d", got, n)
	}
}
