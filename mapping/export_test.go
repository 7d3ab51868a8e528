package mapping

import (
	"time"

	"golang.org/x/exp/trace"
)

// WithGroupGenerations makes a pass over a file parse n generations per
// group, so that even a short trace is split at every generation.
func WithGroupGenerations(n int) Option {
	return optionFunc(func(c *config) { c.groupGens = n })
}

// WithMaxHeldEvents bounds the events the first generation holds (see
// hold) to n.
func WithMaxHeldEvents(n int) Option {
	return optionFunc(func(c *config) { c.maxHeld = n })
}

// WithFallbacks calls f whenever a parallel pass goes on with one reader.
func WithFallbacks(f func()) Option {
	return optionFunc(func(c *config) { c.fallbacks = f })
}

// WithTap calls f with every event the mapping is given and the task
// details it uses for it.
func WithTap(f func(ev *trace.Event, task trace.Task)) Option {
	return optionFunc(func(c *config) { c.tap = f })
}

// PassStats is where a parallel pass spent its time.
type PassStats = passStats

// WithStats gathers into s where a parallel pass spends its time.
func WithStats(s *PassStats) Option {
	return optionFunc(func(c *config) { c.stats = s })
}

// Parse is the time spent parsing, on all goroutines, LeadIn the part of
// it spent on lead-ins, Mapping the time spent mapping and Wait the time
// the mapping waited for parsed events.
func (s *passStats) Parse() time.Duration   { return time.Duration(s.parse.Load()) }
func (s *passStats) LeadIn() time.Duration  { return time.Duration(s.leadIn.Load()) }
func (s *passStats) Mapping() time.Duration { return time.Duration(s.mapping.Load()) }
func (s *passStats) Wait() time.Duration    { return time.Duration(s.wait.Load()) }
func (s *passStats) Groups() int64          { return s.groups.Load() }
func (s *passStats) Fallbacks() int64       { return s.fallbacks.Load() }

// WithGroupBytes sets the size of the groups of generations a pass over a
// file parses on one goroutine.
func WithGroupBytes(n int64) Option {
	return optionFunc(func(c *config) { c.groupBytes = n })
}

// WithRefusedJoins makes a parallel pass refuse the join before group k
// when refuse(k) is true, so that it goes on with one reader from there.
func WithRefusedJoins(refuse func(k int) bool) Option {
	return optionFunc(func(c *config) { c.refuse = refuse })
}

// WithDecode makes one parser decode for the mapping the batches for
// whose number decode is true.
func WithDecode(decode func(batch int) bool) Option {
	return optionFunc(func(c *config) { c.decode = decode })
}

// PrepassHeld returns how many tasks a prepass holds whole: those kept
// and those waiting for their parent; and the bytes in which it
// remembers those left out.
func PrepassHeld(s Sink) (tasks, leftBytes int) {
	p := s.(*prepass)
	n := len(p.s.keptSpan)
	for _, w := range p.waiting {
		n += len(w)
	}
	return n, len(p.left.pages) * idSetPage / 8
}
