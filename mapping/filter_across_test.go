package mapping_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/trace"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// acrossSink records the regions and tasks a filter passes on, as lines
// to compare between passes.
type acrossSink struct {
	mapping.NopSink
	regions, tasks []string
	types          map[string]int // regions of each type
}

func (s *acrossSink) Region(r *mapping.Region) error {
	s.types[r.Type]++
	s.regions = append(s.regions, fmt.Sprintf("region %s id %d parent %d of task %d depth %d task %d [%d, %d] flags %v ended %v",
		r.Type, r.ID, r.Parent, r.ParentTask, r.Depth, r.Task, r.Start, r.End, r.Flags, r.GoroutineEnded))
	return nil
}

func (s *acrossSink) Task(t *mapping.Task) error {
	s.tasks = append(s.tasks, fmt.Sprintf("task %d %q [%d, %d] flags %v", t.ID, t.Type, t.Start, t.End, t.Flags))
	return nil
}

// recordAcross traces regions and tasks over 9 iterations of a loop,
// each a few generations, with a log at the start of each:
//   - wait, open across them all, in a task with nothing else;
//   - inner, in wait, begun in the second and ended in the fifth, after
//     its log;
//   - leak, begun in the second on a goroutine that ends in the fifth
//     without ending it;
//   - afterend, begun in the second in the task early, which ended in the
//     first, and ended in the fifth, before its log;
//   - orphan, begun in the second in early too, on a goroutine of its own,
//     and ended in the eighth, with orphan-in in it in the fifth, of no
//     task.
func recordAcross(t *testing.T) []byte {
	const gens = 9
	data, err := synth.RecordFunc(func() {
		done := make(chan bool)
		go func() {
			ctx, req := trace.NewTask(context.Background(), "request")
			wait := trace.StartRegion(ctx, "wait")
			ectx, early := trace.NewTask(context.Background(), "early")
			var inner, afterend *trace.Region
			leakDone, leakExited := make(chan bool), make(chan bool)
			orphanStep, orphanDone := make(chan bool), make(chan bool)
			for i := range gens {
				switch i {
				case 0:
					early.End()
				case 1:
					inner = trace.StartRegion(ctx, "inner")
					afterend = trace.StartRegion(ectx, "afterend")
					go func() {
						trace.StartRegion(ctx, "leak") // never ended
						<-leakDone
						leakExited <- true
					}()
					go func() {
						orphan := trace.StartRegion(ectx, "orphan")
						<-orphanStep
						trace.WithRegion(context.Background(), "orphan-in", func() {})
						<-orphanStep
						orphan.End()
						orphanDone <- true
					}()
				case 4:
					afterend.End()
				}
				trace.Log(context.Background(), "iteration", strconv.Itoa(i))
				switch i {
				case 4:
					inner.End()
					close(leakDone)
					<-leakExited
					orphanStep <- true
				case 7:
					orphanStep <- true
					<-orphanDone
				}
				_, step := trace.NewTask(context.Background(), "step")
				trace.WithRegion(context.Background(), "work", func() { time.Sleep(time.Millisecond) })
				step.End()
				runtime.GC()
				if i < gens-1 {
					// Starting a flight recorder ends the generation.
					fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
					if fr.Start() == nil {
						fr.Stop()
					}
				}
			}
			wait.End()
			req.End()
			done <- true
		}()
		<-done
	})
	if err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	return data
}

// iterationLogs records the times of the logs recordAcross makes.
type iterationLogs struct {
	mapping.NopSink
	at map[string]mapping.Time
}

func (s *iterationLogs) Log(l *mapping.Log) error {
	if l.Category == "iteration" {
		s.at[l.Message] = l.Time
	}
	return nil
}

// TestRegionsAcrossWindow runs filters over the fifth iteration of the
// trace recordAcross makes, once over the whole trace and once over the
// window's generations, which read neither the begin of the regions open
// at the window's start nor, for wait, its end. Both must give the same
// regions, with the same IDs, nesting and times (the prepass tells what
// the pass did not read), and the same tasks: the request, which has
// nothing of its own in the window, for its regions, and not early, which
// ended long before, though a region of it ended in the generations read
// (nor do its regions that are kept, or the regions in them, name it).
func TestRegionsAcrossWindow(t *testing.T) {
	data := recordAcross(t)
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	g := idx.Generations
	logs := &iterationLogs{at: map[string]mapping.Time{}}
	sum, err := mapping.Map(bytes.NewReader(data), logs)
	if err != nil {
		t.Fatal(err)
	}
	from := mapping.Bound{Offset: time.Duration(logs.at["4"] - sum.Start), Set: true}
	to := mapping.Bound{Offset: time.Duration(logs.at["5"] - sum.Start), Set: true}
	for _, c := range []struct {
		f    mapping.Filter
		want []string // region types kept
	}{
		{mapping.Filter{Regions: []string{"wait"}}, []string{"inner", "wait"}},
		{mapping.Filter{Regions: []string{"inner"}}, []string{"inner"}},
		{mapping.Filter{Regions: []string{"leak"}}, []string{"leak"}},
		{mapping.Filter{Tasks: []string{"request"}}, []string{"inner", "leak", "wait"}},
		{mapping.Filter{Tasks: []string{"early"}}, []string{"orphan"}},
		{mapping.Filter{Regions: []string{"orphan-in"}}, []string{"orphan-in"}},
	} {
		name := fmt.Sprint(c.f.Regions, c.f.Tasks)
		var got [2]*acrossSink
		for i, seek := range []bool{false, true} {
			f := c.f
			f.From, f.To = from, to
			if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
				t.Fatal(err)
			}
			got[i] = &acrossSink{types: map[string]int{}}
			var sum *mapping.Summary
			if seek {
				sum, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, to, f.Sink(got[i]))
			} else {
				sum, err = mapping.Map(bytes.NewReader(data), f.Sink(got[i]))
			}
			if err != nil {
				t.Fatal(err)
			}
			if seek && sum.Generations > len(g)/2 {
				t.Fatalf("%s: the window's pass read %d generations of %d: it may read where the regions began", name, sum.Generations, len(g))
			}
		}
		full, seek := got[0], got[1]
		var types []string
		for typ, n := range full.types {
			if typ != "work" {
				types = append(types, typ)
			}
			if n != 1 && typ != "work" {
				t.Errorf("%s: %d regions %s", name, n, typ)
			}
		}
		slices.Sort(types)
		if !slices.Equal(types, c.want) {
			t.Errorf("%s: regions kept over the whole trace: %v, want %v", name, types, c.want)
		}
		slices.Sort(full.regions)
		slices.Sort(seek.regions)
		if !slices.Equal(full.regions, seek.regions) {
			t.Errorf("%s: regions over the whole trace:\n\t%s\nover the window's generations:\n\t%s", name,
				joinLines(full.regions), joinLines(seek.regions))
		}
		slices.Sort(full.tasks)
		slices.Sort(seek.tasks)
		if !slices.Equal(full.tasks, seek.tasks) {
			t.Errorf("%s: tasks over the whole trace:\n\t%s\nover the window's generations:\n\t%s", name,
				joinLines(full.tasks), joinLines(seek.tasks))
		}
	}
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\n\t")
		}
		b.WriteString(l)
	}
	return b.String()
}

// TestEndedBeforeBrokenPrepass: a task selected that a pass over a
// window's later generations saw neither begin nor end is kept as the pass
// gives it, open across the window, where the prepass broke off before
// the window's start and so cannot tell that the task ended before it.
func TestEndedBeforeBrokenPrepass(t *testing.T) {
	for _, c := range []struct {
		prepassEnd mapping.Time
		kept       bool
	}{
		{prepassEnd: 400, kept: true},   // broken before the window: unknown
		{prepassEnd: 2000, kept: false}, // read through it: the task ended at 300
	} {
		f := &mapping.Filter{Tasks: []string{"job"}, From: mapping.Bound{Offset: 500, Set: true}, To: mapping.Bound{Offset: 800, Set: true}}
		p := f.Prepass()
		end := min(c.prepassEnd, 300)
		var fl mapping.Flags
		if c.prepassEnd < 300 {
			fl = mapping.OpenEnd
		}
		task := &mapping.Task{ID: 5, Type: "job", Start: 50, End: end, StartG: 1, EndG: 1, Goroutines: []mapping.GoID{1}, Flags: fl}
		for _, err := range []error{p.Begin(&mapping.Meta{FormatVersion: "go1.26"}), p.Task(task), p.End(&mapping.Summary{End: c.prepassEnd})} {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := &acrossSink{types: map[string]int{}}
		s := f.Sink(got)
		// As a pass over the later generations gives it: named there by
		// a region of it that outlived it, never begun nor ended.
		seen := &mapping.Task{ID: 5, Start: 0, End: 1000, StartG: mapping.NoGoroutine, EndG: mapping.NoGoroutine,
			Goroutines: []mapping.GoID{1}, Flags: mapping.OpenStart | mapping.OpenEnd}
		for _, err := range []error{s.Begin(&mapping.Meta{FormatVersion: "go1.26", Skipped: true}), s.Task(seen), s.End(&mapping.Summary{End: 1000})} {
			if err != nil && c.kept {
				t.Fatal(err)
			}
		}
		if kept := len(got.tasks) > 0; kept != c.kept {
			t.Errorf("prepass read to %d: task kept %v, want %v: %v", c.prepassEnd, kept, c.kept, got.tasks)
		}
	}
}
