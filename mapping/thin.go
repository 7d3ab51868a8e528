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
	if period <= 0 && next != nil {
		return next
	}
	return &thinSink{Sink: next, period: Time(period)}
}

// ThinCounterGroups is ThinCounters for viewers that stack the series of
// a counter, as Chrome's trace viewer stacks the goroutines by state and
// the threads by state: it thins each group of those counters as one, so
// that every time kept carries the value each series of the group had
// then. Thinned series by series, a kept sample of one series would be
// drawn beside the last kept value of another, a total that never was.
// It keeps, per period, the times at which any series of the group is at
// its lowest or highest, and the last.
func ThinCounterGroups(next Sink, period time.Duration) Sink {
	if period <= 0 && next != nil {
		return next
	}
	return &thinSink{Sink: next, period: Time(period), joint: true}
}

// counterGroup returns the group of the counters of goroutines (1) or
// threads (2) by state that k is of, and its series; 0 for another.
func counterGroup(k CounterKind) (group, series int) {
	switch k {
	case CounterGoroutinesRunning:
		return 1, 0
	case CounterGoroutinesRunnable:
		return 1, 1
	case CounterGoroutinesWaiting:
		return 1, 2
	case CounterGoroutinesSyscall:
		return 1, 3
	case CounterThreadsRunning:
		return 2, 0
	case CounterThreadsSyscall:
		return 2, 1
	}
	return 0, 0
}

type thinSink struct {
	Sink
	period Time
	joint  bool          // groups thinned as one (see ThinCounterGroups)
	groups [2]*heldGroup // by group, once seen
	// held is searched in order: a trace has a few dozen counters, and
	// comparing names that are mostly the same string is cheaper than
	// hashing one per sample, for the most frequent item of all.
	held []*heldCounter
	seq  int64      // samples seen, to order those of one time
	cur  Time       // the latest period seen: earlier ones are flushed
	out  []heldOut  // scratch for flush
	gout []groupOut // scratch for flush
	c    Counter    // scratch for flush
	// open is set while a pass is under way, and refused counts the
	// Begins refused during it: counters outside a pass are not held
	// for the next, and the End of a refused pass ends nothing.
	open    bool
	refused int
}

// heldOut is a sample to deliver and the counter it is of: h, or gs for
// a series of a group.
type heldOut struct {
	h  *heldCounter
	gs *seriesName
	s  *heldSample
}

// groupOut is a group's state to deliver.
type groupOut struct {
	g  *heldGroup
	st groupState
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
	if !s.open {
		return s.Sink.Counter(c) // which refuses it, or takes it as it would
	}
	p := c.Time / s.period
	// Samples of earlier periods are final: deliver them, in time order,
	// before anything later, once a period begins.
	if p > s.cur {
		if err := s.flush(p); err != nil {
			return err
		}
		s.cur = p
	}
	if s.joint {
		if g, i := counterGroup(c.Kind); g != 0 {
			hg := s.groups[g-1]
			if hg == nil {
				hg = &heldGroup{}
				s.groups[g-1] = hg
			}
			s.seq++
			hg.add(s, i, c)
			return nil
		}
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

// heldGroup is what is kept of a group of counters (see
// ThinCounterGroups) in the period under way: the state of all its series
// at the times where one is at its lowest or highest, and at the last.
// The state at the latest time stays open to the other series' changes at
// that time, which come one after the other.
type heldGroup struct {
	series    [4]seriesName
	cur       groupState // the state at the latest time
	open      bool       // cur is not yet weighed
	low, high [4]groupState
	last      groupState
	period    Time
	full      bool
}

// seriesName is a series' counter, as the mapping names it.
type seriesName struct {
	kind       CounterKind
	name, unit string
}

// groupState is the value of every series of a group at one time.
type groupState struct {
	time   Time
	seq    int64
	values [4]uint64
	have   [4]bool // the series has had a value
}

// add takes the sample c of series i.
func (g *heldGroup) add(s *thinSink, i int, c *Counter) {
	if g.open && c.Time != g.cur.time {
		g.weigh(s)
	}
	g.series[i] = seriesName{c.Kind, c.Name, c.Unit}
	g.cur.time, g.cur.seq = c.Time, s.seq
	g.cur.values[i], g.cur.have[i] = c.Value, true
	g.open = true
}

// weigh keeps the state at the latest time if a series is at an extreme
// of the period there, and as the period's last.
func (g *heldGroup) weigh(s *thinSink) {
	g.open = false
	st := g.cur
	p := st.time / s.period
	if !g.full || g.period != p {
		g.low, g.high = [4]groupState{st, st, st, st}, [4]groupState{st, st, st, st}
		g.last, g.period, g.full = st, p, true
		return
	}
	for i := range st.values {
		if !st.have[i] {
			continue
		}
		// The first of equal extremes is kept: it is where the level
		// began.
		if !g.low[i].have[i] || st.values[i] < g.low[i].values[i] {
			g.low[i] = st
		}
		if !g.high[i].have[i] || st.values[i] > g.high[i].values[i] {
			g.high[i] = st
		}
	}
	g.last = st
}

// flush delivers the held samples of the periods before p.
func (s *thinSink) flush(p Time) error {
	s.out = s.out[:0]
	s.gout = s.gout[:0]
	for _, g := range s.groups {
		if g == nil {
			continue
		}
		if g.open && g.cur.time/s.period < p {
			g.weigh(s)
		}
		if !g.full || g.period >= p {
			continue
		}
		g.full = false
		for _, st := range append(append(g.low[:], g.high[:]...), g.last) {
			if !slices.ContainsFunc(s.gout, func(o groupOut) bool { return o.g == g && o.st.seq == st.seq }) {
				s.gout = append(s.gout, groupOut{g, st})
			}
		}
	}
	for i := range s.gout {
		o := &s.gout[i]
		for j := range o.g.series {
			if o.st.have[j] {
				s.out = append(s.out, heldOut{gs: &o.g.series[j], s: &heldSample{o.st.time, o.st.values[j], o.st.seq}})
			}
		}
	}
	for _, h := range s.held {
		if !h.full || h.period >= p {
			continue
		}
		h.full = false
		s.out = append(s.out, heldOut{h: h, s: &h.low})
		if h.high.seq != h.low.seq {
			s.out = append(s.out, heldOut{h: h, s: &h.high})
		}
		if h.last.seq != h.low.seq && h.last.seq != h.high.seq {
			s.out = append(s.out, heldOut{h: h, s: &h.last})
		}
	}
	if len(s.out) == 0 {
		return nil
	}
	// Stable: a group's series keep their order at one time.
	slices.SortStableFunc(s.out, func(a, b heldOut) int {
		return cmp.Or(cmp.Compare(a.s.time, b.s.time), cmp.Compare(a.s.seq, b.s.seq))
	})
	for _, x := range s.out {
		if x.gs != nil {
			s.c = Counter{Kind: x.gs.kind, Name: x.gs.name, Unit: x.gs.unit, Time: x.s.time, Value: x.s.value}
		} else {
			s.c = Counter{Kind: x.h.kind, Name: x.h.name, Unit: x.h.unit, Time: x.s.time, Value: x.s.value}
		}
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
	err := s.Sink.Begin(m)
	if err != nil && s.open {
		s.refused++
	} else if err == nil {
		s.open = true
	}
	return err
}

func (s *thinSink) End(sum *Summary) error {
	if s.Sink == nil {
		return s.nilSink()
	}
	if !s.open || s.refused > 0 {
		if s.refused > 0 {
			s.refused--
		}
		return s.Sink.End(sum)
	}
	s.open = false
	// The next sink ends whatever the flush gave: a writer that refuses
	// the last samples (cut at its row limit) still has to end what is
	// open in its output.
	err := s.flush(Time(1<<63 - 1))
	return errjoin.Join(err, s.Sink.End(sum))
}
