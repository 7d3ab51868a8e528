package pprof_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// runnableTally sums the runnable intervals a filter passes on that go
// tool trace's region profiles count: closed, of positive length.
type runnableTally struct {
	mapping.NopSink
	n, d int64
}

func (r *runnableTally) GoroutineState(s *mapping.GoroutineState) error {
	if s.State == mapping.GoRunnable && !s.Flags.Has(mapping.OpenEnd) && s.End > s.Start {
		r.n++
		r.d += int64(s.End - s.Start)
	}
	return nil
}

// TestWithinSpans profiles the scheduling waits within each region type of
// the sample traces, as go tool trace's region profiles do: every wait the
// region filter keeps counts, also a goroutine's before its first run in
// the trace (one waiting to run when the trace began inside its region,
// as a flight recorder's snapshot begins), which a profile of whole
// goroutines leaves out. At least one region must hold such a wait.
func TestWithinSpans(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/*.go1.26.trace")
	beforeFirstRun := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]bool{}
		if _, err := mapping.Map(bytes.NewReader(data), regionTypes(types)); err != nil {
			continue // a broken sample
		}
		for typ := range types {
			profile := func(opts ...pprof.Option) (values, runnableTally) {
				// A window from the trace's start, which cuts nothing: a
				// region selection with none takes the time of its
				// regions as its window, which a profile measures
				// within, as it does spans.
				f := &mapping.Filter{Regions: []string{typ}, From: mapping.Bound{Set: true}}
				if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				var tally runnableTally
				w := pprof.NewWriter(&buf, pprof.Sched, opts...)
				if _, err := mapping.Map(bytes.NewReader(data), f.Sink(mapping.FanOut(w, &tally))); err != nil {
					t.Fatalf("%s, region %q: %v", path, typ, err)
				}
				var v values
				for _, s := range parse(t, buf.Bytes()).Sample {
					v.n += s.Value[0]
					v.d += s.Value[1]
				}
				return v, tally
			}
			got, want := profile(pprof.WithinSpans())
			if got.n != want.n || got.d != want.d {
				t.Errorf("%s, region %q: %d waits of %d ns in the profile, %d of %d ns kept by the filter", filepath.Base(path), typ, got.n, got.d, want.n, want.d)
			}
			if whole, _ := profile(); whole.d < got.d {
				beforeFirstRun++
			}
		}
	}
	if beforeFirstRun == 0 {
		t.Error("no region holds a wait before its goroutine's first run")
	}
}

// regionTypes collects the region types of a trace into types.
func regionTypes(types map[string]bool) mapping.Sink {
	return &regionTypeSink{types: types}
}

type regionTypeSink struct {
	mapping.NopSink
	types map[string]bool
}

func (r *regionTypeSink) Region(x *mapping.Region) error {
	if x.Type != "" {
		r.types[x.Type] = true
	}
	return nil
}

// TestSelectionOpenAtEnd: a task or region selection that keeps something
// open at the trace's end (a region that never ends, its goroutine blocked
// for ever) takes a window that ends with the trace, so a wait under way
// there counts nothing, as over the whole trace and in go tool trace's
// region profiles; it is not a wait cut by a window that ends before the
// trace, whose time counts. The selection with its window's start given,
// and no end, is the one to match.
func TestSelectionOpenAtEnd(t *testing.T) {
	data, err := os.ReadFile("../../testdata/openstartend.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*mapping.Filter{
		{Regions: []string{"never-ends"}},
		{Tasks: []string{"never-ends"}},
	} {
		for _, kind := range []pprof.Kind{pprof.Sync, pprof.Net, pprof.Syscall, pprof.Sched} {
			profile := func(f *mapping.Filter) values {
				if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := mapping.Map(bytes.NewReader(data), f.Sink(pprof.NewWriter(&buf, kind))); err != nil {
					t.Fatal(err)
				}
				var v values
				for _, s := range parse(t, buf.Bytes()).Sample {
					v.n += s.Value[0]
					v.d += s.Value[1]
				}
				return v
			}
			got := profile(f)
			given := &mapping.Filter{Regions: f.Regions, Tasks: f.Tasks}
			given.From, _ = f.Window()
			if !given.From.Set {
				t.Fatalf("%v: the selection took no window", f)
			}
			if want := profile(given); got != want {
				t.Errorf("%v%v %v: %d waits of %d ns; from the window's start to the trace's end, %d of %d ns", f.Regions, f.Tasks, kind, got.n, got.d, want.n, want.d)
			}
		}
	}
}
