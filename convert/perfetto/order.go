package perfetto

import (
	"cmp"
	"math/bits"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Timestamps are incremental: every event packet's timestamp is on the
// writer's own clock (clockDelta, declared incremental in the first clock
// snapshot and made the sequence's default by TracePacketDefaults), a
// delta from the timestamp of the packet before it on that clock, one to
// three bytes instead of five to seven. A delta cannot be negative, and
// the model delivers items when they end, so a slice's begin is often
// earlier than the packet written before it. So event packets wait in a
// stage and go out in time order once the latest one staged is releaseLag
// later than they are; those that come later than that (a long slice's
// begin, written when the slice ends) carry an absolute timestamp on
// BOOTTIME instead, as the trace processor allows any packet to. Equal
// timestamps keep the order in which the writer made their packets.
//
// Packets that are not events go out at once: track descriptors (with
// an absolute timestamp) and interned data and clock snapshots (with
// none), so that what an event refers to is always earlier in the file.

// Kinds of packet.
const (
	staged  = iota // an event, written in time order
	timed          // written at once, with an absolute timestamp
	untimed        // written at once, without a timestamp
)

const (
	// releaseLag is how much later than a staged packet the latest one
	// must be for it to go out: measured on a recorded service, 10 ms
	// puts all but 1.4% of the packets in order.
	releaseLag = 10_000_000 // ns
	// stageAt is how much the stage grows between releases of the
	// packets old enough: each release merges all that wait.
	stageAt = 256 << 10
	// maxStage bounds the stage: past it, the oldest go out early.
	maxStage = 4 << 20
)

// stagedPacket is a packet in the stage: its timestamp and where its
// body (every field but the timestamp) is in Writer.pkt.
type stagedPacket struct {
	ts       uint64
	off, end int
}

// byTime orders packets by time, then in the order they were made, which
// is that of their place in the stage.
func byTime(a, b stagedPacket) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return cmp.Compare(a.off, b.off)
}

// release writes the staged packets that are old enough, all of them if
// all is set, in time order, and moves the bodies of the others to the
// front of the stage. No packet may be open.
func (w *Writer) release(all bool) {
	if len(w.fresh) > 0 {
		// Packets older than the last one written go out now, with
		// an absolute timestamp (their order does not matter: the
		// trace processor sorts). The others staged since the last
		// release are sorted, and merged after those kept then, which
		// came first.
		keep := w.fresh[:0]
		for _, p := range w.fresh {
			if p.ts < w.lastTime {
				w.emit(staged, p.ts, w.pkt[p.off:p.end])
			} else {
				keep = append(keep, p)
			}
		}
		w.fresh = keep
	}
	if len(w.fresh) > 0 {
		w.sortFresh()
		merged := w.merged[:0]
		i, j := 0, 0
		for i < len(w.waiting) && j < len(w.fresh) {
			if w.fresh[j].ts < w.waiting[i].ts {
				merged = append(merged, w.fresh[j])
				j++
			} else {
				merged = append(merged, w.waiting[i])
				i++
			}
		}
		merged = append(append(merged, w.waiting[i:]...), w.fresh[j:]...)
		w.merged, w.waiting = w.waiting[:0], merged
		w.fresh = w.fresh[:0]
	}
	n := 0
	for n < len(w.waiting) && (all || w.waiting[n].ts+releaseLag <= w.latest) {
		n++
	}
	if !all {
		// A stage over its bound lets its oldest packets go, down to
		// half the bound.
		size := len(w.pkt)
		for k := 0; k < n; k++ {
			size -= w.waiting[k].end - w.waiting[k].off
		}
		for n < len(w.waiting) && size > maxStage/2 && len(w.pkt) > maxStage {
			size -= w.waiting[n].end - w.waiting[n].off
			n++
		}
	}
	for _, p := range w.waiting[:n] {
		w.emit(staged, p.ts, w.pkt[p.off:p.end])
	}
	rest := w.spare[:0]
	for i := n; i < len(w.waiting); i++ {
		p := &w.waiting[i]
		off := len(rest)
		rest = append(rest, w.pkt[p.off:p.end]...)
		p.off, p.end = off, len(rest)
	}
	w.waiting = w.waiting[:copy(w.waiting, w.waiting[n:])]
	w.spare, w.pkt = w.pkt[:0], rest
	w.kept = len(rest)
}

// sortFresh sorts the packets staged since the last release by time, then
// in the order they were made. It sorts integers that hold both, by a
// radix sort on the time: the times of a release span tens of
// milliseconds, a few passes, several times faster than comparing.
func (w *Writer) sortFresh() {
	const idxBits = 22
	lo, hi := w.fresh[0].ts, w.fresh[0].ts
	for _, p := range w.fresh {
		lo, hi = min(lo, p.ts), max(hi, p.ts)
	}
	span := bits.Len64(hi - lo)
	if len(w.fresh) >= 1<<idxBits || span > 4*radixBits {
		slices.SortFunc(w.fresh, byTime)
		return
	}
	keys := w.keys[:0]
	for i, p := range w.fresh {
		keys = append(keys, (p.ts-lo)<<idxBits|uint64(i))
	}
	tmp := slices.Grow(w.keys2[:0], len(keys))[:len(keys)]
	keys, tmp = radixSort(keys, tmp, idxBits, span)
	sorted := w.merged[:0]
	for _, k := range keys {
		sorted = append(sorted, w.fresh[k&(1<<idxBits-1)])
	}
	w.keys, w.keys2 = keys, tmp
	w.fresh, w.merged = sorted, w.fresh[:0]
}

const radixBits = 11

// radixSort sorts keys by their bits [shift, shift+n), least significant
// digit first, which keeps keys with equal bits there in their order. It
// returns the sorted keys and the other buffer.
func radixSort(keys, tmp []uint64, shift, n int) ([]uint64, []uint64) {
	var count [1 << radixBits]int32
	for s := shift; s < shift+n; s += radixBits {
		clear(count[:])
		for _, k := range keys {
			count[k>>s&(1<<radixBits-1)]++
		}
		var sum int32
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range keys {
			d := k >> s & (1<<radixBits - 1)
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	return keys, tmp
}

// emit writes a packet of the given kind, whose body is body, to the
// output, with its timestamp.
func (w *Writer) emit(kind int, ts uint64, body []byte) {
	var hdr [16]byte
	h := msg(hdr[:0])
	switch {
	case kind == staged && ts >= w.lastTime:
		h = h.uint(fPktTimestamp, ts-w.lastTime)
		w.lastTime = ts
	case kind != untimed:
		h = h.uint(fPktTimestamp, ts)
		h = h.uint(fPktTimestampClockID, clockBoottime)
	}
	w.ready = protowire.AppendTag(w.ready, fTracePacket, protowire.BytesType)
	w.ready = appendVarint(w.ready, uint64(len(h)+len(body)))
	w.ready = append(append(w.ready, h...), body...)
	if len(w.ready) >= flushAt {
		w.flushOut()
	}
}
