package mapping

import (
	"cmp"
	"slices"
	"time"
)

// ThinCounters returns a Sink that passes everything to next but keeps,
// of each counter, one sample per period: the last value of the period,
// at the time it was taken. A counter such as the live heap changes at
// nearly every allocation; on a long trace its samples outnumber
// everything else in an output, while a viewer draws one value per pixel.
// What is thinned out is values that held for less than a period.
// Counters still come in time order. A period of 0 or less keeps every
// sample.
func ThinCounters(next Sink, period time.Duration) Sink {
	if period <= 0 {
		return next
	}
	return &thinSink{Sink: next, period: Time(period), held: map[counterKey]*heldCounter{}}
}

type thinSink struct {
	Sink
	period Time
	held   map[counterKey]*heldCounter
	out    []*heldCounter // scratch for flush
}

// heldCounter is the last sample of one counter in the period under way.
type heldCounter struct {
	c      Counter
	period Time // the period it belongs to (its time divided by the period)
	full   bool
}

func (s *thinSink) Counter(c *Counter) error {
	p := c.Time / s.period
	// Samples of earlier periods are final: deliver them, in time order,
	// before anything later.
	if err := s.flush(p); err != nil {
		return err
	}
	k := counterKey{c.Kind, c.Name}
	h := s.held[k]
	if h == nil {
		h = &heldCounter{}
		s.held[k] = h
	}
	h.c, h.period, h.full = *c, p, true
	return nil
}

// flush delivers the held samples of the periods before p.
func (s *thinSink) flush(p Time) error {
	s.out = s.out[:0]
	for _, h := range s.held {
		if h.full && h.period < p {
			s.out = append(s.out, h)
		}
	}
	slices.SortFunc(s.out, func(a, b *heldCounter) int {
		return cmp.Or(cmp.Compare(a.c.Time, b.c.Time), cmp.Compare(a.c.Kind, b.c.Kind), cmp.Compare(a.c.Name, b.c.Name))
	})
	for _, h := range s.out {
		h.full = false
		if err := s.Sink.Counter(&h.c); err != nil {
			return err
		}
	}
	return nil
}

func (s *thinSink) End(sum *Summary) error {
	if err := s.flush(Time(1<<63 - 1)); err != nil {
		return err
	}
	return s.Sink.End(sum)
}
