package tracefile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// timing places generations in time as their batches pass, the same way
// for a file's index and a stream's Scanner: from the times their batch
// headers give and the frequency and clock snapshot of their sync batch.
type timing struct {
	minTs, maxTs uint64
	// prevMinTs is the earliest batch time of the generation before, if
	// hasPrev.
	prevMinTs uint64
	hasPrev   bool
	freq      float64
	clock     *rawClock
	// The times of the generation's batches, which end checks against
	// their median.
	batchTs []uint64
}

type rawClock struct {
	ts, mono, sec, nsec uint64
}

// begin starts a generation.
func (t *timing) begin() {
	t.minTs, t.maxTs, t.freq, t.clock = math.MaxUint64, 0, 0, nil
	t.batchTs = t.batchTs[:0]
}

// batch notes a batch of the generation that began at ts.
func (t *timing) batch(ts uint64) {
	if !t.hasPrev || ts >= t.prevMinTs {
		// A batch that says it began before the generation before
		// this one did has a damaged header (the parser orders events
		// by their own timestamps): it would stretch the generation
		// back by hours.
		t.minTs, t.maxTs = min(t.minTs, ts), max(t.maxTs, ts)
		t.batchTs = append(t.batchTs, ts)
	}
}

// sync decodes data, the body of the generation's sync batch, which
// begins at base, in format version v: the frequency, and the clock
// snapshot.
func (t *timing) sync(data []byte, base uint64, v int) error {
	if v >= 25 {
		data = data[1:] // the EvSync byte
	}
	uv := func() (uint64, error) {
		v, m := binary.Uvarint(data)
		if m <= 0 {
			return 0, errors.New("the sync batch holds a bad varint")
		}
		data = data[m:]
		return v, nil
	}
	for len(data) > 0 {
		ev := data[0]
		data = data[1:]
		switch {
		case ev == evFrequency:
			f, err := uv()
			if err != nil {
				return err
			}
			if f == 0 {
				return errors.New("the frequency is 0")
			}
			t.freq = 1 / (float64(f) / 1e9)
		case ev == evClockSnapshot && v >= 25:
			var c rawClock
			var vals [4]uint64
			for k := range vals {
				v, err := uv()
				if err != nil {
					return err
				}
				vals[k] = v
			}
			c.ts, c.mono, c.sec, c.nsec = base+vals[0], vals[1], vals[2], vals[3]
			t.clock = &c
		default:
			return fmt.Errorf("the sync batch holds event %d, which it may not", ev)
		}
	}
	return nil
}

// end ends the generation and sets g's times from it: its frequency
// must be known.
func (t *timing) end(g *Generation) {
	if len(t.batchTs) > 2 && t.freq > 0 {
		// A batch time more than ten minutes from the median of the
		// generation's is damaged (a generation lasts about a second):
		// it would stretch the generation by hours, and a window would
		// read the wrong generations. The first generation has no
		// generation before it to check against; any batch, the sync
		// batch too, can be the damaged one.
		slices.Sort(t.batchTs)
		mid := t.batchTs[len(t.batchTs)/2]
		bound := uint64(maxGenerationSpan / t.freq)
		lo, hi := mid-min(mid, bound), mid+min(math.MaxUint64-mid, bound)
		minTs, maxTs := uint64(math.MaxUint64), uint64(0)
		for _, ts := range t.batchTs {
			if ts >= lo && ts <= hi {
				minTs, maxTs = min(minTs, ts), max(maxTs, ts)
			}
		}
		if minTs <= maxTs {
			t.minTs, t.maxTs = minTs, maxTs
		}
	}
	if t.minTs > t.maxTs {
		t.minTs, t.maxTs = t.prevMinTs, t.prevMinTs // no batch's time held
	}
	t.prevMinTs, t.hasPrev = t.minTs, true
	g.Freq = t.freq
	g.Start = ns(t.freq, t.minTs)
	g.End = ns(t.freq, t.maxTs)
	if c := t.clock; c != nil {
		g.Clock = &Clock{Trace: ns(t.freq, c.ts), Mono: c.mono, Wall: time.Unix(int64(c.sec), int64(c.nsec))}
	}
}
