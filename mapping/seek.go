package mapping

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/trace2x/trace2x/internal/ctxio"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// headerSize is the size of a trace's header.
const headerSize = tracefile.HeaderSize

// origin is the start and clock of a whole trace, for a pass over part of
// it.
type origin struct {
	start Time
	clock *ClockSnapshot
}

// MapWindow is Map for a trace of size bytes in r of which only the time
// window [from, to] is wanted: it reads the header and only the
// generations that the window needs, so a short window of a long trace
// costs in proportion to the window. sink must cut what lies outside the
// window (a Filter with the same window does), since whole generations
// are read.
//
// Every generation restates the state of the goroutines and Ps at its
// start, and the header followed by consecutive generations is a trace in
// its own right (it is what a flight-recorder snapshot is), so the pass
// begins one generation before the one the window starts in: what is in
// progress at the window's start has been seen before it. It reads one
// generation past the window's end, so that what is open at the end is
// cut there. Meta describes the whole trace (its start, its first clock
// snapshot), so that offsets and wall times mean what they mean in a full
// pass.
//
// What the pass cannot know about the generations it skipped differs
// from a full pass: an item begun before the generations read is marked
// OpenStart, as the window's cut marks it anyway; a goroutine created
// before them is declared as one that existed before the trace (no
// creator, no creation time) with the start function of its first stack;
// a region already open at the start of the generations read is placed
// among those begun before the trace at the window's start, and one open
// across all of them is not seen (the regions inside it have no
// enclosing region and count their depth without it), unless the sink
// is a Filter with a prepass (one that selects tasks, regions or related
// goroutines) and the region is open at its window's start: the pass
// then takes it as open from the start, with the ID, enclosing region
// and depth the whole pass gives it, but no begin stack; the
// identifiers the mapping numbers (stacks, flows, GC cycles) count from
// the first generation read, while a region whose begin is read has the
// ID it has in the whole pass; a task's traceparent log (see
// CategoryTraceparent) from before the generations read is not seen,
// unless the sink is a Filter whose prepass read it (one that selects
// tasks, regions or related goroutines), which passes it on as a full
// pass does; and the Summary counts the events and generations read.
//
// A window that the generations' times show to end before the trace's
// start, or that ends before it starts, is refused before any of them is
// read, with the error wrapping ErrWindow that a Filter with the window
// gives in a full pass; the sink gets no call. One that starts after the
// last generation's batches begin reads the last generations: the
// batches' headers do not tell where the trace's events end, which only
// the pass does (a Filter with the window then fails at End, with the
// error wrapping ErrWindow, after ending the sink behind it).
//
// A trace that cannot be split (a format before Go 1.22, compressed, or
// one whose batch headers do not index cleanly) is read whole, as Map
// does, and one whose window needs every generation as MapFile reads it.
// A negative size is an error, as for MapFile.
// The generations read are parsed in parallel as MapFile parses them.
func MapWindow(r io.ReaderAt, size int64, from, to Bound, sink Sink, opts ...Option) (*Summary, error) {
	if err := checkSink(sink); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, negativeSize("MapWindow", size)
	}
	if r == nil {
		return nil, errors.New("mapping: MapWindow of a nil io.ReaderAt")
	}
	cfg := newConfig(opts)
	if cfg.ctx != nil {
		r = ctxio.ReaderAt{Ctx: cfg.ctx, R: r}
	}
	idx, err := tracefile.Read(r, size)
	first, last, ok := 0, 0, false
	if err != nil || idx.Size != size {
		// A file that breaks off is read as a stream, up to the break,
		// unless the window ends in the whole generations before it:
		// then what it asks for is all there.
		if idx != nil && len(idx.Generations) > 1 && to.bounded() {
			gens := idx.Generations
			meta := &Meta{Start: Time(gens[0].Start), Clock: clockOf(gens[0].Clock)}
			// Before the last whole generation starts: the one after
			// the window's that the pass reads (see windowGenerations)
			// is whole too.
			if hi, herr := to.resolve(meta); herr == nil && hi < Time(gens[len(gens)-1].Start) {
				f, l, wok, werr := windowGenerations(idx, from, to)
				if werr != nil {
					return nil, werr
				}
				if first, last, ok = f, l, true; !wok {
					first, last = 0, len(gens)-1
				}
			}
		}
		if !ok {
			cfg.index, cfg.indexErr = idx, err
			return mapStream(io.NewSectionReader(r, 0, size), sink, &cfg)
		}
	} else {
		last = len(idx.Generations) - 1
		if from.bounded() || to.bounded() {
			if first, last, ok, err = windowGenerations(idx, from, to); err != nil {
				return nil, err
			}
		}
	}
	if !ok {
		return mapRange(r, idx, 0, len(idx.Generations)-1, sink, &cfg)
	}
	gens := idx.Generations
	g0 := gens[0]
	cfg.origin = &origin{start: Time(g0.Start), clock: clockOf(g0.Clock)}
	cfg.skipped = gens[first].Offset - headerSize
	cfg.stopsEarly = last < len(gens)-1
	if first > 0 {
		// The generation read first is the lead-in, which ends before
		// the window begins: every goroutine is stated by then, so
		// counting those it states late from its start (reading it
		// twice, a fifth of a window's time) would change nothing the
		// window shows.
		cfg.countLate = true
	}
	return mapRange(r, idx, first, last, sink, &cfg)
}

// windowGenerations returns the first and last generations a pass over
// the window [from, to] reads, and false if the window needs them all or
// cannot be placed (the full pass then says why). A window wholly before
// the first generation gives the error a Filter gives at the end of a
// pass, without one: the index tells, and a pass over a long trace would
// read it all to say so. One after the last generation's End reads the
// last generations: the batch headers tell when a generation's batches
// began, not when its last event was, which can be later (a trace's last
// generation, ended by the tracer's stop), so only the pass tells where
// the trace ends, for the Filter's error.
func windowGenerations(idx *tracefile.Index, from, to Bound) (first, last int, ok bool, err error) {
	gens := idx.Generations
	g0 := gens[0]
	meta := &Meta{Start: Time(g0.Start), Clock: clockOf(g0.Clock)}
	lo, hi := Time(math.MinInt64), Time(math.MaxInt64)
	if from.bounded() {
		if lo, err = from.resolve(meta); err != nil {
			return 0, 0, false, nil
		}
	}
	if to.bounded() {
		if hi, err = to.resolve(meta); err != nil {
			return 0, 0, false, nil
		}
	}
	switch {
	case hi < lo:
		return 0, 0, false, fmt.Errorf("%w: it ends (%s) before it starts (%s)", ErrWindow, to, from)
	case hi < meta.Start:
		// The first Sync, where a pass starts, is at the first
		// generation's Start.
		return 0, 0, false, endsBeforeStart(to)
	}
	// The first generation whose events reach the window's start, and
	// the last that starts before its end. Generations overlap a little
	// in time (see tracefile.Generation), so both are found by their own
	// bound.
	first = len(gens) - 1
	for i, g := range gens {
		if Time(g.End) >= lo {
			first = i
			break
		}
	}
	last = first
	for i := first; i < len(gens); i++ {
		if Time(gens[i].Start) <= hi {
			last = i
		}
	}
	// The pass begins a generation earlier: a goroutine that does
	// nothing in a generation is restated only as the runtime moves on
	// to the next, at its end, which in the window's first generation
	// can be after the window's start (its goroutine counters would
	// climb there, and its waits would lose their reasons).
	first = max(first-1, 0)
	last = min(last+1, len(gens)-1)
	return first, last, first > 0 || last < len(gens)-1, nil
}

func clockOf(c *tracefile.Clock) *ClockSnapshot {
	if c == nil {
		return nil
	}
	return plausibleClock(&ClockSnapshot{Trace: Time(c.Trace), Wall: c.Wall, Mono: c.Mono})
}
