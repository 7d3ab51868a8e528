package mapping_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// firing calls fire once, when the bytes read through it from [lo, hi)
// of data reach want. It is the input of a pass, read as a file or as a
// stream.
type firing struct {
	data    []byte
	lo, hi  int64
	want    int64
	mu      sync.Mutex
	got     int64
	pos     int64 // for Read
	fire    func()
	firedAt time.Time
}

func (f *firing) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(f.data).ReadAt(p, off)
	f.note(off, n)
	return n, err
}

func (f *firing) Read(p []byte) (int, error) {
	n, err := bytes.NewReader(f.data[f.pos:]).Read(p)
	f.note(f.pos, n)
	f.pos += int64(n)
	return n, err
}

func (f *firing) note(off int64, n int) {
	lo, hi := max(off, f.lo), min(off+int64(n), f.hi)
	if hi <= lo {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	before := f.got
	f.got += hi - lo
	if before < f.want && f.got >= f.want {
		f.firedAt = time.Now()
		if f.fire != nil {
			f.fire()
		}
	}
}

// stopAtBegin stops the pass at Begin, once the first generation is read.
type stopAtBegin struct{ mapping.NopSink }

var errStopped = errors.New("stopped at Begin")

func (stopAtBegin) Begin(*mapping.Meta) error { return errStopped }

// TestContextPreread ends a pass's context just as the pass has read the
// first generation to find the goroutines it states late (the pre-read
// that backdated counts need), before it parses them: the pass returns
// with the error of a pass whose context ends, as soon as the pass
// itself would, not once it has parsed the whole generation.
func TestContextPreread(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.Record(&buf, 4<<20); err != nil {
		t.Skip(err) // the test binary is traced already (go test -trace)
	}
	data := buf.Bytes()
	size := int64(len(data))
	idx, err := tracefile.Read(bytes.NewReader(data), size)
	if err != nil {
		t.Fatal(err)
	}
	g := idx.Generations[0]
	if g.Size < 1<<20 {
		t.Skipf("the first generation is only %d bytes", g.Size)
	}
	// What of the generation indexing reads, before the pre-read.
	indexing := &firing{data: data, lo: g.Offset, hi: g.Offset + g.Size, want: size}
	if _, err := tracefile.Read(indexing, size); err != nil {
		t.Fatal(err)
	}
	for _, entry := range []struct {
		name string
		run  func(r *firing, s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error)
		// want is the bytes of the range read when the generation is.
		lo, hi, want int64
	}{
		{"MapFile", func(r *firing, s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.MapFile(r, size, s, o...)
		}, g.Offset, g.Offset + g.Size, indexing.got + g.Size},
		{"MapWindow", func(r *firing, s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.MapWindow(r, size, mapping.Bound{}, mapping.Bound{}, s, o...)
		}, g.Offset, g.Offset + g.Size, indexing.got + g.Size},
		{"Map", func(r *firing, s mapping.Sink, o ...mapping.Option) (*mapping.Summary, error) {
			return mapping.Map(r, s, o...)
		}, 0, g.Offset + g.Size, g.Offset + g.Size},
	} {
		// How long the pass goes on once the generation is read, when
		// nothing stops it (the pre-read's parse, then the pass's own up
		// to Begin), beside how long it goes on once its context ends
		// there. Both are wall times on a machine that may be busy: a
		// pause of the process lengthens either, never shortens one, so
		// the comparison is made again, up to 5 times, before it fails.
		// A pass that does not stop fails it every time.
		var took, full time.Duration
		for attempt := 0; attempt < 5; attempt++ {
			ref := &firing{data: data, lo: entry.lo, hi: entry.hi, want: entry.want}
			if _, err := entry.run(ref, stopAtBegin{}); !errors.Is(err, errStopped) {
				t.Fatalf("%s: %v, want the sink's error", entry.name, err)
			}
			if ref.firedAt.IsZero() {
				t.Fatalf("%s: the generation was not read", entry.name)
			}
			full = time.Since(ref.firedAt)

			ctx, cancel := context.WithCancel(context.Background())
			r := &firing{data: data, lo: entry.lo, hi: entry.hi, want: entry.want, fire: cancel}
			sink := &cancelling{}
			sum, err := entry.run(r, sink, mapping.WithContext(ctx))
			took = time.Since(r.firedAt)
			cancel()
			if r.firedAt.IsZero() {
				t.Fatalf("%s: the generation was not read", entry.name)
			}
			// As the pass itself fails when its context ends: its input
			// failed, with the context's cause.
			var me *mapping.Error
			if !errors.Is(err, context.Canceled) || !errors.As(err, &me) || !strings.Contains(err.Error(), ": stopped ") || sum != nil {
				t.Errorf("%s: %v, %v; want no summary and a *mapping.Error, stopped, that is context.Canceled", entry.name, sum, err)
			}
			if sink.ended {
				t.Errorf("%s: End called on a pass that did not begin", entry.name)
			}
			if took <= full/2 {
				break
			}
		}
		if took > full/2 {
			t.Errorf("%s: returned %v after its context ended; the rest of the pass up to Begin takes %v", entry.name, took, full)
		}
	}
}
