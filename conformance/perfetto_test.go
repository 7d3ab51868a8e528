package conformance

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestPerfetto converts every trace to Perfetto in the same pass that
// records the model, decodes the output, checks its consistency, and
// compares its tasks, regions, logs, runtime ranges, goroutine states,
// flows, counters and CPU samples one for one, by name and exact time,
// with the model. The model itself is compared with the oracle by the
// other tests of this package, for the same traces.
func TestPerfetto(t *testing.T) {
	eachConversion(t, func(w io.Writer) mapping.Sink { return perfetto.NewWriter(w) },
		func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte) {
			rep, err := perfettocheck.Check(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("invalid Perfetto trace: %v", err)
			}
			comparePerfetto(t, rec, sum, rep)
		})
}

// eachConversion converts every trace with the sink newSink makes, in the
// same pass that records the model, and hands both to check.
func eachConversion(t *testing.T, newSink func(io.Writer) mapping.Sink, check func(t *testing.T, rec *recorder, sum *mapping.Summary, out []byte)) {
	files := append(append(corpus(t), regressionTraces(t)...), goOldTraces(t)...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, data := readOracle(t, file)
			rec := newRecorder()
			var out bytes.Buffer
			sum, err := mapping.Map(bytes.NewReader(data), mapping.FanOut(rec, newSink(&out)), mapping.WithInputName(filepath.Base(file)))
			if err != nil {
				t.Fatal(err)
			}
			check(t, rec, sum, out.Bytes())
		})
	}
}

type pfSlice struct {
	name       string
	start, end int64
}

func comparePerfetto(t *testing.T, rec *recorder, sum *mapping.Summary, rep *perfettocheck.Report) {
	// Timestamps are shifted (see perfetto.Writer.Begin); the metadata
	// instant sits at the trace start.
	off, found := int64(0), false
	for _, i := range rep.Instants {
		if i.Name == "trace metadata" {
			off, found = int64(i.Time)-int64(sum.Start), true
		}
	}
	if !found {
		t.Fatal("no trace metadata instant")
	}
	got := map[string][]pfSlice{}
	for _, s := range rep.Slices {
		got[s.Category] = append(got[s.Category], pfSlice{s.Name, int64(s.Start) - off, int64(s.End) - off})
	}
	want := map[string][]pfSlice{}
	add := func(cat, name string, start, end mapping.Time) {
		want[cat] = append(want[cat], pfSlice{asUTF8(name), int64(start), int64(end)})
	}
	for _, k := range rec.tasks {
		name := k.Type
		if name == "" {
			name = fmt.Sprintf("task %d", k.ID)
		}
		add("task", name, k.Start, k.End)
	}
	for _, r := range rec.regions {
		add("region", r.Type, r.Start, r.End)
	}
	for _, r := range rec.ranges {
		add("gc", rangeSliceName(&r), r.Start, r.End)
	}
	running := 0
	for _, s := range rec.states {
		name := s.State.String()
		switch {
		case s.State == mapping.GoWaiting && s.Reason != "":
			name = s.Reason
		case s.State == mapping.GoSyscall && s.Blocked:
			name = "syscall (blocked)"
		}
		add("goroutine", name, s.Start, s.End)
		if s.State == mapping.GoRunning {
			running++
		}
	}
	for _, cat := range []string{"task", "region", "gc", "goroutine"} {
		diffMultiset(t, "perfetto "+cat+" slices", want[cat], got[cat], func(s pfSlice) string {
			return fmt.Sprintf("%q [%d, %d]", s.name, s.start, s.end)
		})
	}
	if n := len(got["proc"]); n != running {
		t.Errorf("%d slices on P tracks, want one per running interval: %d", n, running)
	}

	var logs []logEntry
	for _, i := range rep.Instants {
		if i.Category == "log" {
			logs = append(logs, logEntryOf(int64(i.Time)-off, i.Args))
		}
	}
	compareLogs(t, "perfetto logs", rec, logs)

	if rep.Flows < len(rec.flows) {
		t.Errorf("%d flows with both ends, want at least the model's %d", rep.Flows, len(rec.flows))
	}
	// The goroutine flows start on an instant at their cause and end where
	// their goroutine starts to run.
	type pfFlow struct {
		name     string
		from, to int64
	}
	var wantFlows, gotFlows []pfFlow
	for _, f := range rec.flows {
		wantFlows = append(wantFlows, pfFlow{flowName(f.Kind), int64(f.From.Time), int64(f.To.Time)})
	}
	for _, f := range rep.FlowEnds {
		if f.FromCategory == "goroutine" {
			gotFlows = append(gotFlows, pfFlow{f.FromName, int64(f.From) - off, int64(f.To) - off})
		}
	}
	diffMultiset(t, "perfetto goroutine flows", wantFlows, gotFlows, func(f pfFlow) string {
		return fmt.Sprintf("%s from %d to %d", f.name, f.from, f.to)
	})
	if rep.PerfSamples != len(rec.samples) {
		t.Errorf("%d perf samples, want %d", rep.PerfSamples, len(rec.samples))
	}
	// A sample taken while a goroutine ran is also an instant on its track.
	wantCPU := map[int64]int{}
	for _, s := range rec.samples {
		if s.G != mapping.NoGoroutine {
			wantCPU[int64(s.Time)]++
		}
	}
	gotCPU := map[int64]int{}
	for _, i := range rep.Instants {
		if i.Category == "cpu" {
			gotCPU[int64(i.Time)-off]++
		}
	}
	if !maps.Equal(gotCPU, wantCPU) {
		t.Errorf("CPU sample instants on goroutine tracks at %d times, want %d", len(gotCPU), len(wantCPU))
	}
	if len(rec.stacks) != rep.Callstacks {
		t.Errorf("%d callstacks, want %d", rep.Callstacks, len(rec.stacks))
	}

	// Every counter sample, on the track named after its counter, at its
	// time, with its value: whether it rode on another event or not.
	type pfCounter struct {
		name        string
		time, value int64
	}
	var wantCtrs, gotCtrs []pfCounter
	for _, c := range rec.counters {
		wantCtrs = append(wantCtrs, pfCounter{asUTF8(c.Name), int64(c.Time), int64(c.Value)})
	}
	for uuid, vals := range rep.Counters {
		for i, v := range vals {
			gotCtrs = append(gotCtrs, pfCounter{rep.Tracks[uuid].Name, int64(rep.CounterTimes[uuid][i]) - off, v})
		}
	}
	diffMultiset(t, "perfetto counter samples", wantCtrs, gotCtrs, func(c pfCounter) string {
		return fmt.Sprintf("%q at %d = %d", c.name, c.time, c.value)
	})
}

// rangeSliceName is the name both converters give a range's slice: short
// names for the runtime's own, the trace's name for any other.
func rangeSliceName(r *mapping.Range) string {
	switch r.Kind {
	case mapping.RangeGCMark:
		if r.Cycle > 0 {
			return fmt.Sprintf("GC %d", r.Cycle)
		}
		return "GC"
	case mapping.RangeSTW:
		return "STW (" + r.Reason + ")"
	case mapping.RangeSweep:
		return "sweep"
	case mapping.RangeMarkAssist:
		return "mark assist"
	}
	return r.Name
}
