package mapping_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// cancelling cancels its context at the n-th P run it is given.
type cancelling struct {
	mapping.NopSink
	cancel  context.CancelFunc
	n, runs int
	at      mapping.Time // if set, cancel at the first run that ends at or after it, not the n-th
	ended   bool
	endErr  error
	gens    int // complete generations, as End is told
}

func (c *cancelling) ProcRun(r *mapping.ProcRun) error {
	c.runs++
	if c.at != 0 && r.End >= c.at || c.at == 0 && c.runs == c.n {
		c.cancel()
		c.at, c.n = math.MaxInt64, -1
	}
	return nil
}

func (c *cancelling) End(s *mapping.Summary) error {
	c.ended, c.endErr, c.gens = true, s.Err, s.Generations
	return nil
}

// TestWithContext cancels a pass part way, through each entry point: it
// stops with an error that is context.Canceled, tells the sink at End,
// and stops within a batch of events; a live context changes nothing.
func TestWithContext(t *testing.T) {
	data := recordedOnce(t)
	var all mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), &all); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(data)
	size := int64(len(data))
	for _, entry := range []struct {
		name string
		run  func(mapping.Sink, ...mapping.Option) (*mapping.Summary, error)
	}{
		{"Map", func(s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.Map(bytes.NewReader(data), s, o...)
		}},
		{"MapFile", func(s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.MapFile(r, size, s, o...)
		}},
		{"MapWindow", func(s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.MapWindow(r, size, mapping.Bound{}, mapping.Bound{}, s, o...)
		}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		c := &cancelling{cancel: cancel, n: 1}
		_, err := entry.run(c, mapping.WithContext(ctx))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v, want context.Canceled", entry.name, err)
		}
		if !c.ended || !errors.Is(c.endErr, context.Canceled) {
			t.Errorf("%s: End called %v with %v", entry.name, c.ended, c.endErr)
		}
		// The mapping checks the context between batches of events.
		if c.gens >= all.Summary.Generations {
			t.Errorf("%s: %d generations of %d mapped, cancelled at the first P run", entry.name, c.gens, all.Summary.Generations)
		}
		var again mapping.Tally
		if _, err := entry.run(&again, mapping.WithContext(context.Background())); err != nil || again.ProcRuns != all.ProcRuns {
			t.Errorf("%s: with a live context: %v, %d runs of %d", entry.name, err, again.ProcRuns, all.ProcRuns)
		}
	}
}

// TestWithContextStalledInput: cancelling the context ends Map on an input
// that stalls, in a read of it under way, with the context's error; the
// sink is told at End if it was begun.
func TestWithContextStalledInput(t *testing.T) {
	data := recordedOnce(t)
	for _, cut := range []int{len(data) / 2, len(data) - 1} {
		pr, pw := io.Pipe()
		go pw.Write(data[:cut]) // then nothing more
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan error, 1)
		var tally mapping.Tally
		go func() {
			_, err := mapping.Map(pr, &tally, mapping.WithContext(ctx))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cut at %d: error %v, want context.Canceled", cut, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("cut at %d: Map still reads a stalled input a minute after its context was cancelled", cut)
		}
		pw.Close()
	}
}

// slowReader reads r a little late, as a network connection does.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return s.r.Read(p)
}

// beginFails is a sink that refuses the trace.
type beginFails struct{ mapping.NopSink }

var errSinkRefused = errors.New("refused")

func (beginFails) Begin(*mapping.Meta) error { return errSinkRefused }

// TestWithContextReaderFree: a pass under a context that ends for another
// reason (here a sink's error) does not read its reader after Map
// returns, so the caller may use it again (go test -race tells).
func TestWithContextReaderFree(t *testing.T) {
	data := recordedOnce(t)
	for range 3 {
		br := bytes.NewReader(data)
		if _, err := mapping.Map(slowReader{br}, beginFails{}, mapping.WithContext(context.Background())); !errors.Is(err, errSinkRefused) {
			t.Fatalf("error %v, want the sink's", err)
		}
		br.Seek(0, io.SeekStart) // races with a read still under way
		if _, err := br.Read(make([]byte, 16)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWithContextBeforeFirstGeneration: a pass over a file stopped before
// its first generation is read whole, as in the look ahead that counts
// goroutines from the start, says so, not "near byte 0".
func TestWithContextBeforeFirstGeneration(t *testing.T) {
	data := recordedOnce(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := mapping.MapFile(bytes.NewReader(data), int64(len(data)), &mapping.Tally{}, mapping.WithContext(ctx), mapping.WithInputName("t"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "t: stopped in its first generation") || !strings.Contains(err.Error(), "nothing was converted") {
		t.Errorf("error %v; want it stopped in its first generation, with nothing converted", err)
	}
}

// TestWithContextParallelOffset: a parallel pass stopped inside a later
// generation places the stop no earlier than where the generations mapped
// whole end, as its count of them says (it said byte 0), also when a
// reader from the start took over from the split.
func TestWithContextParallelOffset(t *testing.T) {
	// A trace whose generations all hold thousands of events: a pass
	// checks its context between batches of events, so one cancelled in
	// its last batch ends as if it had not been.
	data := recordBusyGenerations(t, 3)
	var all mapping.Tally
	if _, err := mapping.Map(bytes.NewReader(data), &all); err != nil {
		t.Fatal(err)
	}
	// In the middle of the largest generation after the first, with
	// thousands of events after it.
	idx, _, g := largestMiddleGeneration(t, data)
	ctx, cancel := context.WithCancel(context.Background())
	c := &cancelling{cancel: cancel, at: mapping.Time((g.Start + g.End) / 2)}
	_, err := mapping.MapFile(bytes.NewReader(data), int64(len(data)), c, mapping.WithContext(ctx),
		mapping.WithWorkers(2), mapping.WithGroupGenerations(1))
	var merr *mapping.Error
	if !errors.As(err, &merr) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want a *mapping.Error of the cancelled context", err)
	}
	if merr.Generation < 1 {
		t.Fatalf("stopped after %d complete generations; the test wants a later one", merr.Generation)
	}
	// Near: at the end of the generations mapped whole, or past it by
	// what was read ahead of the mapping, never before it.
	g = idx.Generations[merr.Generation-1]
	if end := g.Offset + g.Size; merr.Offset < end || merr.Offset > int64(len(data)) {
		t.Errorf("stopped near byte %d after %d complete generations, want at least %d, where the last of them ends, and at most the trace's %d bytes", merr.Offset, merr.Generation, end, len(data))
	}
}
