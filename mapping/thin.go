package mapping

import (
	"cmp"
	"slices"
	"time"

	"github.com/trace2x/trace2x/internal/errjoin"
)

// DefaultCounterResolution is the counter resolution the command uses
// unless told otherwise. At 500 µs a viewer showing a whole second of
// trace on a 2000-pixel screen (0.5 ms a pixel) draws exactly what it
// would from every sample, and so does any zoom out from there; on an
// HTTP service under load it keeps about one counter sample in 28.
const DefaultCounterResolution = 500 * time.Microsecond

// ThinCounters returns a Sink that passes everything to next but keeps,
// of each counter, at most three samples per period: the one with the
// period's lowest value, the one with its highest, and its last, each at
// the time it was taken. A counter such as the live heap or the number of
// runnable goroutines changes at nearly every event; on a long trace its
// samples outnumber everything else in an output, while a viewer draws one
// value per pixel. Keeping the extremes keeps what people look for (a
// spike of runnable goroutines, a heap peak) at any zoom down to the
// period, and the last value keeps the level right after it. What is
// thinned out is values between the extremes that held for less than a
// period. Counters still come in time order among themselves, but a
// period's samples are passed on only when the counter's first sample
// after the period comes (or at End), so they can come after instants
// and samples of later time, by as long as the counter stays unchanged. A
// period of 0 or less keeps every sample.
func ThinCounters(next Sink, period time.Duration) Sink {
	if period <= 0 {
		return next
	}
	return &thinSink{Sink: next, period: Time(period)}
}

type thinSink struct {
	Sink
	period Time
	// held is searched in order: a trace has a few dozen counters, and
	// comparing names that are mostly the same string is cheaper than
	// hashing one per sample, for the most frequent item of all.
	held []*heldCounter
	seq  int64     // samples seen, to order those of one time
	cur  Time      // the latest period seen: earlier ones are flushed
	out  []heldOut // scratch for flush
	c    Counter   // scratch for flush
}

// heldOut is a sample to deliver and the counter it is of.
type heldOut struct {
	h *heldCounter
	s *heldSample
}

// heldSample is a sample kept, with its place in the input. Its counter's
// name and unit are its heldCounter's: a sample is copied several times a
// state change, and pointers cost the copy a write barrier each.
type heldSample struct {
	time  Time
	value uint64
	seq   int64
}

// find returns what is held of c's counter, or nil.
func (s *thinSink) find(c *Counter) *heldCounter {
	for _, h := range s.held {
		if h.kind == c.Kind && h.name == c.Name && h.unit == c.Unit {
			return h
		}
	}
	return nil
}

// heldCounter is what is kept of one counter in the period under way.
type heldCounter struct {
	kind            CounterKind
	name, unit      string
	low, high, last heldSample
	period          Time // the period it belongs to (its time divided by the period)
	full            bool
}

func (s *thinSink) Counter(c *Counter) error {
	p := c.Time / s.period
	// Samples of earlier periods are final: deliver them, in time order,
	// before anything later, once a period begins.
	if p > s.cur {
		if err := s.flush(p); err != nil {
			return err
		}
		s.cur = p
	}
	h := s.find(c)
	if h == nil {
		h = &heldCounter{kind: c.Kind, name: c.Name, unit: c.Unit}
		s.held = append(s.held, h)
	}
	s.seq++
	hs := heldSample{c.Time, c.Value, s.seq}
	if !h.full {
		h.low, h.high, h.last, h.period, h.full = hs, hs, hs, p, true
		return nil
	}
	// The first of equal extremes is kept: it is where the level began.
	if c.Value < h.low.value {
		h.low = hs
	}
	if c.Value > h.high.value {
		h.high = hs
	}
	h.last = hs
	return nil
}

// flush delivers the held samples of the periods before p.
func (s *thinSink) flush(p Time) error {
	s.out = s.out[:0]
	for _, h := range s.held {
		if !h.full || h.period >= p {
			continue
		}
		h.full = false
		s.out = append(s.out, heldOut{h, &h.low})
		if h.high.seq != h.low.seq {
			s.out = append(s.out, heldOut{h, &h.high})
		}
		if h.last.seq != h.low.seq && h.last.seq != h.high.seq {
			s.out = append(s.out, heldOut{h, &h.last})
		}
	}
	if len(s.out) == 0 {
		return nil
	}
	slices.SortFunc(s.out, func(a, b heldOut) int {
		return cmp.Or(cmp.Compare(a.s.time, b.s.time), cmp.Compare(a.s.seq, b.s.seq))
	})
	for _, x := range s.out {
		s.c = Counter{Kind: x.h.kind, Name: x.h.name, Unit: x.h.unit, Time: x.s.time, Value: x.s.value}
		if err := s.Sink.Counter(&s.c); err != nil {
			return err
		}
	}
	return nil
}

func (s *thinSink) nilSink() error { return checkNext(s.Sink, "the sink given to ThinCounters") }

func (s *thinSink) Begin(m *Meta) error {
	if err := s.nilSink(); err != nil {
		return err
	}
	return s.Sink.Begin(m)
}

func (s *thinSink) End(sum *Summary) error {
	if s.Sink == nil {
		return s.nilSink()
	}
	// The next sink ends whatever the flush gave: a writer that refuses
	// the last samples (cut at its row limit) still has to end what is
	// open in its output.
	err := s.flush(Time(1<<63 - 1))
	return errjoin.Join(err, s.Sink.End(sum))
}
