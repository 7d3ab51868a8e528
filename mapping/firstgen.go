package mapping

import (
	"bufio"
	"bytes"
	"context"
	"io"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// Go's tracer states a goroutine's state in a generation only when the
// goroutine first moves in it, or at the generation's end. A goroutine
// blocked since before the trace began is therefore first heard of when
// it is unblocked, or when its first generation ends, about a second
// later. The outputs draw it in its state from the trace's start (see
// openStart), and the derived counters must count it from there too: a
// service's idle connections and workers are most of its waiting
// goroutines, and without them "Goroutines waiting" shows 4 for the first
// second where 208 wait.
//
// Counters go out in time order, so they must be right when they go out:
// the goroutines the first generation states late must be known before it
// is mapped. A pass over a file reads that generation once more first,
// and keeps only which goroutines it states late (prescan), from the
// batches' bytes rather than through the parser: a seventh of the
// generation's parse, which for a trace of one generation is the whole
// file's. A pass over a stream reads the generation's bytes ahead
// (readFirstGen), a few megabytes a second of trace, and does the same
// with them. A trace before Go 1.22
// has no generations, and the parser holds it whole: its events are held
// until the trace ends (hold), up to maxHeldEvents; past that the pass
// goes on with what it has found, and the goroutines stated later are
// counted from where they are stated. A window that reads a lead-in needs
// none of this (see MapWindow). WithoutBackdatedCounts turns it all off.

// maxHeldEvents bounds the events a trace before Go 1.22 holds, about 80
// bytes each, and as much again until the collector runs.
const maxHeldEvents = 1 << 20

// lateScan finds the goroutines a generation states late: those whose
// first transition in it is from GoUndetermined to a live state.
type lateScan struct {
	syncs int
	seen  map[trace.GoID]bool
	late  map[GoID]GoState
}

func newLateScan() *lateScan {
	return &lateScan{seen: make(map[trace.GoID]bool), late: make(map[GoID]GoState)}
}

// see scans ev and reports whether it is the Sync that ends the first
// generation.
func (s *lateScan) see(ev *trace.Event) bool {
	switch ev.Kind() {
	case trace.EventSync:
		s.syncs++
		return s.syncs == 2
	case trace.EventStateTransition:
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			return false
		}
		id := st.Resource.Goroutine()
		if s.seen[id] {
			return false
		}
		s.seen[id] = true
		if from, to := st.Goroutine(); from == trace.GoUndetermined {
			if gs, live := goState(to); live {
				s.late[GoID(id)] = gs
			}
		}
	}
	return false
}

// prescan returns the goroutines that generation g of r, an indexed trace
// file, states late.
func prescan(ctx context.Context, r io.ReaderAt, g tracefile.Generation) (map[GoID]GoState, error) {
	return scanLate(ctx, func() io.Reader {
		return io.MultiReader(io.NewSectionReader(r, 0, headerSize), io.NewSectionReader(r, g.Offset, g.Size))
	})
}

// scanLate returns the goroutines that the first generation of the trace
// open gives (a header and that generation) states late. It reads them
// from the batches' bytes (tracefile.FirstStatuses), for a seventh of what
// parsing the generation costs: a trace of one generation, such as most
// short recordings, would otherwise be parsed twice. Where the bytes are
// not as the format says, it asks the parser (prescanTrace), which agrees
// with the pass on what a broken generation holds. The end of ctx ends it
// with the pass's error.
func scanLate(ctx context.Context, open func() io.Reader) (map[GoID]GoState, error) {
	st, err := tracefile.FirstStatuses(ctx, open())
	if err != nil {
		if err := stopped(ctx); err != nil {
			return nil, err
		}
		return prescanTrace(ctx, open())
	}
	if err := stopped(ctx); err != nil {
		return nil, err // ended while it scanned: the pass stops here
	}
	late := make(map[GoID]GoState, len(st))
	for id, s := range st {
		if gs, live := statusState(s); live {
			late[GoID(id)] = gs
		}
	}
	return late, nil
}

// statusState is the state a goroutine stated in status s is in, and
// whether that is a live state.
func statusState(s tracefile.GoStatus) (GoState, bool) {
	switch s {
	case tracefile.GoRunnable:
		return GoRunnable, true
	case tracefile.GoRunning:
		return GoRunning, true
	case tracefile.GoWaiting:
		return GoWaiting, true
	case tracefile.GoSyscall:
		return GoSyscall, true
	}
	return 0, false
}

// prescanTrace returns the goroutines that the first generation of the
// trace in, a header and that generation, states late. A failure of the
// read or the parser ends the scan with what it found: the pass itself
// reports it, where it is. The end of ctx, if not nil, ends it with the
// pass's error, checked as often as the pass checks it: a generation can
// take a second or more to scan.
func prescanTrace(ctx context.Context, in io.Reader) (late map[GoID]GoState, err error) {
	s := newLateScan()
	defer func() {
		if p := recover(); p != nil {
			late = s.late
		}
		if err == nil {
			err = stopped(ctx) // a read it failed may be its end
		}
	}()
	tr, err := trace.NewReader(in)
	if err != nil {
		return s.late, nil
	}
	for n := 1; ; n++ {
		if n%batchSize == 0 {
			if err := stopped(ctx); err != nil {
				return s.late, err
			}
		}
		ev, err := tr.ReadEvent()
		if err != nil || s.see(&ev) {
			return s.late, nil
		}
	}
}

// firstGen is what the mapping knows of the goroutines the first
// generation states late, and of the batches it holds until it does.
type firstGen struct {
	done bool
	held []*batch
	n    int // events held
	s    *lateScan
	// late are the goroutines stated late and not yet reached, each
	// counted from the start in the state it is stated in.
	late map[GoID]GoState
	one  [1]*batch // what hold returns once done, without allocating
}

// maxFirstGenBytes bounds the bytes of a stream's first generation read
// ahead (see readFirstGen): a second of a very busy program.
const maxFirstGenBytes = 64 << 20

// readFirstGen reads the header and first generation of br, a Go 1.22+
// trace in format version minor, ahead of the pass, and finds which
// goroutines that generation states late (see prescanTrace). It returns
// the stream for the pass: what it read, then the rest of br; or the
// pass's error if ctx ended while it scanned.
func (m *mapper) readFirstGen(br *bufio.Reader, minor int) (io.Reader, error) {
	read, end, err := tracefile.FirstGeneration(br, minor, maxFirstGenBytes)
	if serr := stopped(m.cfg.ctx); serr != nil {
		// Its read failed as the pass's context ended: the pass ends
		// here, rather than parse what was read before it fails.
		return nil, serr
	}
	var late map[GoID]GoState
	if end > 0 {
		var serr error
		if late, serr = scanLate(m.cfg.ctx, func() io.Reader { return bytes.NewReader(read[:end]) }); serr != nil {
			return nil, serr
		}
	}
	// Counted late past a generation not read whole, rather than held.
	m.countEarly(late)
	var rest io.Reader = br
	switch {
	case err == io.EOF:
		rest = eofReader{}
	case err != nil:
		rest = errReader{err}
	}
	return io.MultiReader(bytes.NewReader(read), rest), nil
}

// errReader fails every read with err, as the stream it stands for did.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// prescanFile scans the generation cfg.scanGen of cfg.scanFile, if set,
// for the goroutines it states late, before the pass begins: beside the
// pass, the two parsers would hold the generation at once, and a
// flight-recorder window is often almost all one generation. It returns
// the pass's error if ctx ended while it scanned.
func (m *mapper) prescanFile() error {
	if r := m.cfg.scanFile; r != nil && !m.cfg.countLate {
		late, err := prescan(m.cfg.ctx, r, m.cfg.scanGen)
		if err != nil {
			return err
		}
		m.countEarly(late)
	}
	return nil
}

// hold takes the next batch of the pass and returns the batches to map
// now, in order: none while the first generation is held, then all that
// was held, then each batch as it comes. A batch that ends the stream (its
// err set) releases the hold.
func (m *mapper) hold(b *batch) []*batch {
	f := &m.first
	if f.done || m.cfg.countLate {
		f.one[0] = b
		return f.one[:]
	}
	if f.s == nil {
		f.s = newLateScan()
	}
	f.held = append(f.held, b)
	f.n += len(b.events)
	limit := m.cfg.maxHeld
	if limit <= 0 {
		limit = maxHeldEvents
	}
	end := b.err != nil || f.n >= limit
	for i := range b.events {
		if f.s.see(&b.events[i]) {
			end = true
			break
		}
	}
	if !end {
		return nil
	}
	held := f.held
	m.countEarly(f.s.late)
	return held
}

// countEarly counts the goroutines in late from the start and ends the
// holding.
func (m *mapper) countEarly(late map[GoID]GoState) {
	m.first = firstGen{done: true, late: late}
	for _, s := range late {
		m.goCount[s]++
		m.changed |= goStateCounters[s]
	}
}

// unhold forgets what hold held and found, for a pass that reads the
// stream again from the last event mapped (see fallback).
func (m *mapper) unhold() {
	if !m.first.done {
		m.first = firstGen{}
	}
}

// countedEarly reports whether goroutine id, stated at last in state s,
// is counted in it from the trace's start (see hold), and forgets it.
func (m *mapper) countedEarly(id GoID, s GoState) bool {
	ls, ok := m.first.late[id]
	if !ok {
		return false
	}
	delete(m.first.late, id)
	if ls != s {
		// Not the state the scan read: counted from here instead.
		m.goCount[ls]--
		m.changed |= goStateCounters[ls]
		return false
	}
	return true
}
