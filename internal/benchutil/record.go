package benchutil

import (
	"io"
	"os"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// Recording is the model of a trace, mapped once and kept, so that a
// sink can be timed apart from parsing and mapping by replaying it.
type Recording struct {
	items  []any
	Events int64 // the trace's events, for events/s
}

// maxRecorded bounds the inputs a Recording is made of: the model of a
// trace takes many times the file's size in memory.
const maxRecorded = 32 << 20

// Record maps the trace at in into a Recording. Inputs too large to keep
// in memory skip the benchmark.
func Record(b *testing.B, in Input) *Recording {
	b.Helper()
	if in.Size > maxRecorded {
		b.Skipf("%s: %d MB is too large to keep its model in memory", in.Name, in.Size>>20)
	}
	f, err := os.Open(in.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := &recorder{}
	sum, err := mapping.Map(f, r)
	if err != nil {
		b.Fatal(err)
	}
	return &Recording{items: r.items, Events: sum.Events}
}

// Replay delivers the recorded model to s, End included.
func (r *Recording) Replay(s mapping.Sink) error {
	for _, it := range r.items {
		var err error
		switch x := it.(type) {
		case *mapping.Meta:
			err = s.Begin(x)
		case *mapping.Stack:
			err = s.Stack(x)
		case *mapping.Goroutine:
			err = s.Goroutine(x)
		case *mapping.Proc:
			err = s.Proc(x)
		case *mapping.Thread:
			err = s.Thread(x)
		case *mapping.GoroutineState:
			err = s.GoroutineState(x)
		case *mapping.ProcRun:
			err = s.ProcRun(x)
		case *mapping.Range:
			err = s.Range(x)
		case *mapping.Task:
			err = s.Task(x)
		case *mapping.Region:
			err = s.Region(x)
		case *mapping.Log:
			err = s.Log(x)
		case *mapping.GoroutineEvent:
			err = s.GoroutineEvent(x)
		case *mapping.Flow:
			err = s.Flow(x)
		case *mapping.Counter:
			err = s.Counter(x)
		case *mapping.CPUSample:
			err = s.CPUSample(x)
		case *mapping.Experimental:
			err = s.Experimental(x)
		case *mapping.Summary:
			err = s.End(x)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// recorder copies every item, since the mapping reuses them.
type recorder struct{ items []any }

func keep[T any](r *recorder, x *T) error {
	c := *x
	return r.add(&c)
}

func (r *recorder) Begin(m *mapping.Meta) error {
	c := *m
	if m.Clock != nil {
		clock := *m.Clock
		c.Clock = &clock
	}
	return r.add(&c)
}

func (r *recorder) Stack(s *mapping.Stack) error {
	return r.add(&mapping.Stack{ID: s.ID, Frames: slices.Clone(s.Frames)})
}

// Items with slices get copies of them too.

func (r *recorder) Range(x *mapping.Range) error {
	c := *x
	c.Attrs = slices.Clone(x.Attrs)
	return r.add(&c)
}

func (r *recorder) Task(x *mapping.Task) error {
	c := *x
	c.Goroutines = slices.Clone(x.Goroutines)
	return r.add(&c)
}

func (r *recorder) Experimental(x *mapping.Experimental) error {
	c := *x
	c.Args = slices.Clone(x.Args)
	return r.add(&c)
}

func (r *recorder) add(x any) error {
	r.items = append(r.items, x)
	return nil
}

func (r *recorder) Goroutine(x *mapping.Goroutine) error           { return keep(r, x) }
func (r *recorder) Proc(x *mapping.Proc) error                     { return keep(r, x) }
func (r *recorder) Thread(x *mapping.Thread) error                 { return keep(r, x) }
func (r *recorder) GoroutineState(x *mapping.GoroutineState) error { return keep(r, x) }
func (r *recorder) ProcRun(x *mapping.ProcRun) error               { return keep(r, x) }
func (r *recorder) Region(x *mapping.Region) error                 { return keep(r, x) }
func (r *recorder) Log(x *mapping.Log) error                       { return keep(r, x) }
func (r *recorder) GoroutineEvent(x *mapping.GoroutineEvent) error { return keep(r, x) }
func (r *recorder) Flow(x *mapping.Flow) error                     { return keep(r, x) }
func (r *recorder) Counter(x *mapping.Counter) error               { return keep(r, x) }
func (r *recorder) CPUSample(x *mapping.CPUSample) error           { return keep(r, x) }
func (r *recorder) End(x *mapping.Summary) error                   { return keep(r, x) }

// RunSink benchmarks a sink alone: each input's model is recorded once
// and replayed, each pass, into a new sink writing to nowhere. MB/s are of
// the input trace, comparable with the other benchmarks.
func RunSink(b *testing.B, root string, newSink func(w io.Writer) mapping.Sink) {
	for _, in := range Inputs(b, root) {
		b.Run(in.Name, func(b *testing.B) {
			rec := Record(b, in)
			b.SetBytes(in.Size)
			b.ReportAllocs()
			var out Discard
			for b.Loop() {
				out.N = 0
				if err := rec.Replay(newSink(&out)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rec.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(out.N)/float64(in.Size), "out/in")
		})
	}
}
