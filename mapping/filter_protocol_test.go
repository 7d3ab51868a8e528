package mapping_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// protocolSink checks what the Sink documentation promises of the order
// of items: instants, counters and samples in time order, and no item that
// names a goroutine before it was delivered.
type protocolSink struct {
	mapping.NopSink
	declared map[mapping.GoID]bool
	last     mapping.Time // the latest instant, counter or sample
	lastWhat string
	problems []string
}

func (p *protocolSink) problem(format string, args ...any) {
	if len(p.problems) < 5 {
		p.problems = append(p.problems, fmt.Sprintf(format, args...))
	}
}

func (p *protocolSink) instant(t mapping.Time, what string) {
	if t < p.last {
		p.problem("%s at %d after %s at %d", what, t, p.lastWhat, p.last)
	}
	p.last, p.lastWhat = t, what
}

func (p *protocolSink) named(g mapping.GoID, what string) {
	if g != mapping.NoGoroutine && !p.declared[g] {
		p.problem("%s names G%d, never delivered", what, g)
	}
}

func (p *protocolSink) Goroutine(g *mapping.Goroutine) error {
	p.declared[g.ID] = true
	return nil
}

func (p *protocolSink) GoroutineState(s *mapping.GoroutineState) error {
	p.named(s.G, "a state")
	return nil
}

func (p *protocolSink) ProcRun(r *mapping.ProcRun) error {
	p.named(r.TakenFrom, fmt.Sprintf("P%d's run ending at %d, taken from it,", r.P, r.End))
	return nil
}

func (p *protocolSink) GoroutineEvent(e *mapping.GoroutineEvent) error {
	p.named(e.G, "an event")
	p.instant(e.Time, "a goroutine event")
	return nil
}

func (p *protocolSink) Log(l *mapping.Log) error {
	p.named(l.G, "a log")
	p.instant(l.Time, "a log")
	return nil
}

func (p *protocolSink) Counter(c *mapping.Counter) error {
	p.instant(c.Time, "counter "+c.Name)
	return nil
}

func (p *protocolSink) CPUSample(c *mapping.CPUSample) error {
	p.named(c.G, "a CPU sample")
	p.instant(c.Time, "a CPU sample")
	return nil
}

// TestFilterWindowProtocol maps windows of every sample through a time
// filter and checks the protocol: the counters that open a window come
// before the instants in it, and a P's run names only goroutines the
// window declares.
func TestFilterWindowProtocol(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	if len(paths) == 0 {
		t.Fatal("no sample traces")
	}
	for _, path := range paths {
		data := readTrace(t, filepath.Base(path))
		var all mapping.Tally
		sum, err := mapping.Map(bytes.NewReader(data), &all)
		if err != nil {
			t.Fatal(err)
		}
		d := time.Duration(sum.End - sum.Start)
		for _, w := range [][2]time.Duration{{0, d / 3}, {d / 3, 2 * d / 3}, {d / 5, d / 4}, {d / 2, d}, {3 * d / 4, d}} {
			p := &protocolSink{declared: map[mapping.GoID]bool{}}
			f := &mapping.Filter{From: mapping.Bound{Offset: w[0], Set: true}, To: mapping.Bound{Offset: w[1], Set: true}}
			if _, err := mapping.Map(bytes.NewReader(data), f.Sink(p)); err != nil {
				t.Fatal(err)
			}
			for _, pr := range p.problems {
				t.Errorf("%s, window %v to %v: %s", filepath.Base(path), w[0], w[1], pr)
			}
		}
	}
}

// beginEnd counts the calls of Begin and End.
type beginEnd struct {
	mapping.NopSink
	began, ended int
}

func (b *beginEnd) Begin(*mapping.Meta) error  { b.began++; return nil }
func (b *beginEnd) End(*mapping.Summary) error { b.ended++; return nil }

// TestFilterEndsWhatBegan checks the protocol behind a Filter whose pass
// fails: a sink that began ends once (a window after the trace's end,
// known only at its end: an Async sink's goroutine would be left
// running, a writer's packets unwritten), and one that never began gets
// no End (a filter that needed a prepass, a window it cannot place).
func TestFilterEndsWhatBegan(t *testing.T) {
	data := readTrace(t, "mixed.go1.26.trace")
	after := &beginEnd{}
	flt := &mapping.Filter{From: mapping.Bound{Offset: time.Hour, Set: true}}
	if _, err := mapping.Map(bytes.NewReader(data), flt.Sink(after)); !errors.Is(err, mapping.ErrWindow) {
		t.Errorf("a window after the trace: %v, want ErrWindow", err)
	}
	if after.began != 1 || after.ended != 1 {
		t.Errorf("a window after the trace: Begin %d, End %d times; want once each", after.began, after.ended)
	}

	unprepared := &beginEnd{}
	flt = &mapping.Filter{Tasks: []string{"request"}}
	if _, err := mapping.Map(bytes.NewReader(data), flt.Sink(unprepared)); !errors.Is(err, mapping.ErrNoPrepass) {
		t.Errorf("a filter without its prepass: %v, want ErrNoPrepass", err)
	}
	if unprepared.began != 0 || unprepared.ended != 0 {
		t.Errorf("a filter without its prepass: Begin %d, End %d times; want neither", unprepared.began, unprepared.ended)
	}
}
