package mapping_test

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// countingReaderAt counts the reads of a trace.
type countingReaderAt struct {
	r     *bytes.Reader
	reads atomic.Int64
}

func (c *countingReaderAt) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p)
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// TestNilSink: a nil sink, given to a pass or to a sink of this package
// that a pass is given, fails the pass with ErrNilSink before it reads
// anything, where the mapping would have called a nil interface and
// reported a bug of its own.
func TestNilSink(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	size := int64(len(data))
	sinks := map[string]mapping.Sink{
		"nil":                     nil,
		"FanOut":                  mapping.FanOut(mapping.NopSink{}, nil),
		"FanOutIndependent":       mapping.FanOutIndependent(nil, mapping.NopSink{}),
		"ThinCounters":            mapping.ThinCounters(nil, time.Millisecond),
		"Filter.Sink":             (&mapping.Filter{}).Sink(nil),
		"Async":                   mapping.Async(nil),
		"FanOut of ThinCounters":  mapping.FanOut(mapping.NopSink{}, mapping.ThinCounters(nil, time.Millisecond)),
		"Async of a Filter.Sink":  mapping.Async((&mapping.Filter{}).Sink(nil)),
		"ThinCounters of FanOut":  mapping.ThinCounters(mapping.FanOut(nil, nil), time.Millisecond),
		"Filter.Sink of an Async": (&mapping.Filter{}).Sink(mapping.Async(nil)),
	}
	entries := map[string]func(r *countingReaderAt, s mapping.Sink) (*mapping.Summary, error){
		"Map": func(r *countingReaderAt, s mapping.Sink) (*mapping.Summary, error) {
			return mapping.Map(r, s)
		},
		"MapFile": func(r *countingReaderAt, s mapping.Sink) (*mapping.Summary, error) {
			return mapping.MapFile(r, size, s)
		},
		"MapWindow": func(r *countingReaderAt, s mapping.Sink) (*mapping.Summary, error) {
			return mapping.MapWindow(r, size, mapping.Bound{}, mapping.Bound{Offset: time.Millisecond}, s)
		},
	}
	for name, sink := range sinks {
		for entry, run := range entries {
			r := &countingReaderAt{r: bytes.NewReader(data)}
			sum, err := run(r, sink)
			if !errors.Is(err, mapping.ErrNilSink) || sum != nil {
				t.Errorf("%s, %s: %v, %v; want no summary and ErrNilSink", entry, name, sum, err)
				continue
			}
			if errors.Is(err, mapping.ErrInternal) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s, %s: %q", entry, name, err)
			}
			if n := r.reads.Load(); n != 0 {
				t.Errorf("%s, %s: %d reads of the input", entry, name, n)
			}
		}
	}
}

// TestNilSinkDirect: this package's sinks built on a nil sink, driven by
// something else than a pass, fail at Begin with ErrNilSink rather than
// panic.
func TestNilSinkDirect(t *testing.T) {
	for name, sink := range map[string]mapping.Sink{
		"FanOut":            mapping.FanOut(mapping.NopSink{}, nil),
		"FanOutIndependent": mapping.FanOutIndependent(nil, mapping.NopSink{}),
		"ThinCounters":      mapping.ThinCounters(nil, time.Millisecond),
		"Filter.Sink":       (&mapping.Filter{}).Sink(nil),
		"Async":             mapping.Async(nil),
		// Those that would pass their one sink on as it is.
		"FanOut of one":                   mapping.FanOut(nil),
		"ThinCounters keeping every one":  mapping.ThinCounters(nil, 0),
		"ThinCounterGroups keeping every": mapping.ThinCounterGroups(nil, 0),
	} {
		if sink == nil {
			t.Errorf("%s: a nil sink, whose Begin panics", name)
			continue
		}
		if err := sink.Begin(&mapping.Meta{}); !errors.Is(err, mapping.ErrNilSink) {
			t.Errorf("%s: Begin returned %v, want ErrNilSink", name, err)
		}
		if err := sink.End(&mapping.Summary{}); !errors.Is(err, mapping.ErrNilSink) {
			t.Errorf("%s: End returned %v, want ErrNilSink", name, err)
		}
	}
}

// TestNegativeSize: a negative size is an error that says so, before any
// read, where an io.SectionReader of it would have read the whole file;
// a size of 0 is empty input.
func TestNegativeSize(t *testing.T) {
	data := readTrace(t, "gc.go1.26.trace")
	for name, run := range map[string]func(r *countingReaderAt, size int64, s mapping.Sink) (*mapping.Summary, error){
		"MapFile": func(r *countingReaderAt, size int64, s mapping.Sink) (*mapping.Summary, error) {
			return mapping.MapFile(r, size, s)
		},
		"MapWindow": func(r *countingReaderAt, size int64, s mapping.Sink) (*mapping.Summary, error) {
			return mapping.MapWindow(r, size, mapping.Bound{}, mapping.Bound{Offset: time.Millisecond}, s)
		},
	} {
		r := &countingReaderAt{r: bytes.NewReader(data)}
		sink := &cancelling{}
		sum, err := run(r, -1, sink)
		if err == nil || !strings.Contains(err.Error(), "-1, below 0") || sum != nil {
			t.Errorf("%s: size -1: %v, %v; want no summary and an error about the size", name, sum, err)
		}
		if r.reads.Load() != 0 || sink.ended {
			t.Errorf("%s: size -1: %d reads, End called %v", name, r.reads.Load(), sink.ended)
		}
		if _, err := run(r, 0, sink); !errors.Is(err, mapping.ErrEmpty) {
			t.Errorf("%s: size 0: %v, want ErrEmpty", name, err)
		}
	}
}
