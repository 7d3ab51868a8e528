package perfetto

import (
	"cmp"
	"io"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

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
// none, and in runs of their own when compressed, see emit), so that what
// an event refers to is always earlier in the file.

// The writer's goroutine encodes the packets; another, the orderer's,
// puts them in time order and writes them (see orderer), so that on more
// than two cores the encoding, the ordering and the deflating each have a
// core: together on the writer's goroutine, they were the serial stage of
// a conversion.

// Kinds of packet.
const (
	staged  = iota // an event, written in time order
	timed          // written at once, with an absolute timestamp
	untimed        // written at once, without a timestamp
	base           // the clock snapshot: untimed, and it sets the incremental clock
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
	// chunks is how many runs of packets the writer and the orderer pass
	// between them: one filled while one is ordered, and one waiting.
	chunks = 3
)

// chunkSize is how many bytes of packets the writer encodes before it
// hands them to the orderer. (A variable, so that tests can hand over
// every packet.)
var chunkSize = 256 << 10

// stagedPacket is a packet in the stage: its timestamp and where its
// body (every field but the timestamp) is in orderer.pkt.
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

// chunk is a run of packets the writer encoded, in the order it made
// them, handed to the orderer.
type chunk struct {
	buf     msg           // their bodies
	packets []chunkPacket // in the order made
}

// chunkPacket is a packet of a chunk: its kind, timestamp and body.
type chunkPacket struct {
	ts       uint64
	off, end int
	kind     int
}

// orderer takes the writer's packets in the order it made them and writes
// them: event packets in time order (see the top of this file), the
// others at once. It does on its own goroutine, started with the first
// chunk handed over, what the writer would do in line, in the same order,
// so the output is the same byte for byte; a writer closed before a chunk
// was full orders in line.
type orderer struct {
	out   io.Writer
	plain bool
	bytes *atomic.Int64

	pkt      msg // the stage: bodies of the packets that wait
	spare    msg // the stage's next buffer, see release
	fresh    []stagedPacket
	waiting  []stagedPacket // staged before the last release, in time order
	merged   []stagedPacket
	keys     []uint64 // see sortFresh
	keys2    []uint64
	latest   uint64 // the latest timestamp staged
	kept     int    // the size of the stage after the last release
	lastTime uint64 // the last timestamp written on clockDelta
	ready    msg    // packets to be written, in order
	interned msg    // compressed: the untimed packets, written apart, see emit
	z        *compressor
	err      error // the first write error; everything after it is dropped

	work   chan *chunk // from the writer, nil until the goroutine starts
	free   chan *chunk // back to it
	done   chan struct{}
	mu     sync.Mutex
	shared error // err, for the writer to read while the goroutine runs
}

func newOrderer(out io.Writer, plain bool, n *atomic.Int64) *orderer {
	return &orderer{
		out: out, plain: plain, bytes: n,
		// The stage holds about 10 ms of a busy trace's packets between
		// releases, a megabyte or two: sized for it from the start, it
		// is not copied as it grows.
		pkt:      make(msg, 0, 2<<20),
		spare:    make(msg, 0, 2<<20),
		fresh:    make([]stagedPacket, 0, 1<<15),
		waiting:  make([]stagedPacket, 0, 1<<15),
		merged:   make([]stagedPacket, 0, 1<<15),
		ready:    make(msg, 0, flushAt+4096),
		interned: make(msg, 0, flushAt+4096),
	}
}

// send hands a chunk over to the orderer's goroutine, starting it the
// first time, and returns an empty one to fill. It waits while the
// orderer is a chunk behind, which bounds the memory.
func (o *orderer) send(buf msg, packets []chunkPacket) (msg, []chunkPacket) {
	if o.work == nil {
		o.work, o.free, o.done = make(chan *chunk, 1), make(chan *chunk, chunks), make(chan struct{})
		for range chunks - 1 {
			o.free <- &chunk{buf: make(msg, 0, chunkSize+4096), packets: make([]chunkPacket, 0, 1<<13)}
		}
		go o.run()
	}
	c := <-o.free
	next, nextPackets := c.buf[:0], c.packets[:0]
	c.buf, c.packets = buf, packets
	o.work <- c
	return next, nextPackets
}

func (o *orderer) run() {
	defer close(o.done)
	for c := range o.work {
		o.process(c.buf, c.packets)
		o.free <- c
	}
}

// failed returns the first write error so far.
func (o *orderer) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.shared
}

// close orders and writes the packets given (what the writer has not
// handed over), then all that wait, and returns the first write error.
func (o *orderer) close(buf msg, packets []chunkPacket) error {
	if o.work != nil {
		o.send(buf, packets)
		close(o.work)
		<-o.done
	} else {
		o.process(buf, packets)
	}
	o.release(true)
	o.flushOut()
	if o.z != nil {
		if err := o.z.close(); o.err == nil {
			o.err = err
		}
	}
	return o.err
}

// process takes a chunk's packets in the order they were made: an event
// packet is staged, after a release of what is old enough if the stage
// has at least doubled since the last (what is kept is copied at each
// release: so that is a copy per packet); others are written.
func (o *orderer) process(buf msg, packets []chunkPacket) {
	for _, p := range packets {
		body := buf[p.off:p.end]
		switch p.kind {
		case staged:
			o.latest = max(o.latest, p.ts)
			if len(o.pkt) >= 2*o.kept+stageAt {
				o.release(false)
			}
			off := len(o.pkt)
			o.pkt = append(o.pkt, body...)
			o.fresh = append(o.fresh, stagedPacket{ts: p.ts, off: off, end: len(o.pkt)})
		case base:
			o.emit(untimed, 0, body)
			o.lastTime = p.ts
		default:
			o.emit(p.kind, p.ts, body)
		}
	}
}

// release writes the staged packets that are old enough, all of them if
// all is set, in time order, and moves the bodies of the others to the
// front of the stage.
func (o *orderer) release(all bool) {
	if len(o.fresh) > 0 {
		// Packets older than the last one written go out now, with
		// an absolute timestamp (their order does not matter: the
		// trace processor sorts). The others staged since the last
		// release are sorted, and merged after those kept then, which
		// came first.
		keep := o.fresh[:0]
		for _, p := range o.fresh {
			if p.ts < o.lastTime {
				o.emit(staged, p.ts, o.pkt[p.off:p.end])
			} else {
				keep = append(keep, p)
			}
		}
		o.fresh = keep
	}
	if len(o.fresh) > 0 {
		o.sortFresh()
		merged := o.merged[:0]
		i, j := 0, 0
		for i < len(o.waiting) && j < len(o.fresh) {
			if o.fresh[j].ts < o.waiting[i].ts {
				merged = append(merged, o.fresh[j])
				j++
			} else {
				merged = append(merged, o.waiting[i])
				i++
			}
		}
		merged = append(append(merged, o.waiting[i:]...), o.fresh[j:]...)
		o.merged, o.waiting = o.waiting[:0], merged
		o.fresh = o.fresh[:0]
	}
	n := 0
	for n < len(o.waiting) && (all || o.waiting[n].ts+releaseLag <= o.latest) {
		n++
	}
	if !all {
		// A stage over its bound lets its oldest packets go, down to
		// half the bound.
		size := len(o.pkt)
		for k := 0; k < n; k++ {
			size -= o.waiting[k].end - o.waiting[k].off
		}
		for n < len(o.waiting) && size > maxStage/2 && len(o.pkt) > maxStage {
			size -= o.waiting[n].end - o.waiting[n].off
			n++
		}
	}
	for _, p := range o.waiting[:n] {
		o.emit(staged, p.ts, o.pkt[p.off:p.end])
	}
	rest := o.spare[:0]
	for i := n; i < len(o.waiting); i++ {
		p := &o.waiting[i]
		off := len(rest)
		rest = append(rest, o.pkt[p.off:p.end]...)
		p.off, p.end = off, len(rest)
	}
	o.waiting = o.waiting[:copy(o.waiting, o.waiting[n:])]
	o.spare, o.pkt = o.pkt[:0], rest
	o.kept = len(rest)
}

// sortFresh sorts the packets staged since the last release by time, then
// in the order they were made. It sorts integers that hold both, by a
// radix sort on the time: the times of a release span tens of
// milliseconds, a few passes, several times faster than comparing. Times
// that span more than 2^42 ns (73 minutes) leave too few bits for the
// index beside them, and are compared instead.
func (o *orderer) sortFresh() {
	const idxBits = 22
	lo, hi := o.fresh[0].ts, o.fresh[0].ts
	for _, p := range o.fresh {
		lo, hi = min(lo, p.ts), max(hi, p.ts)
	}
	span := bits.Len64(hi - lo)
	if len(o.fresh) >= 1<<idxBits || idxBits+span > 64 {
		slices.SortFunc(o.fresh, byTime)
		return
	}
	keys := o.keys[:0]
	for i, p := range o.fresh {
		keys = append(keys, (p.ts-lo)<<idxBits|uint64(i))
	}
	tmp := slices.Grow(o.keys2[:0], len(keys))[:len(keys)]
	keys, tmp = radixSort(keys, tmp, idxBits, span)
	sorted := o.merged[:0]
	for _, k := range keys {
		sorted = append(sorted, o.fresh[k&(1<<idxBits-1)])
	}
	o.keys, o.keys2 = keys, tmp
	o.fresh, o.merged = sorted, o.fresh[:0]
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
//
// Compressed, the untimed packets (interned data, the clock snapshot) go
// in runs of their own, written before the events that follow them. The
// trace processor keeps each interned entry as a view into the inflated
// run it came in, which keeps the whole run in memory to the end of the
// import, beside its tables. Mixed with the events, a third of the runs
// held some (a new goroutine's name, a new stack): 336 MB kept for the
// 121 MB service trace. Apart, 6.8% of the inflated trace is kept: 62 MB.
func (o *orderer) emit(kind int, ts uint64, body []byte) {
	var hdr [16]byte
	h := msg(hdr[:0])
	switch {
	case kind == staged && ts >= o.lastTime:
		h = h.uint(fPktTimestamp, ts-o.lastTime)
		o.lastTime = ts
	case kind != untimed:
		h = h.uint(fPktTimestamp, ts)
		h = h.uint(fPktTimestampClockID, clockBoottime)
	}
	out := &o.ready
	if kind == untimed && !o.plain {
		out = &o.interned
	}
	*out = protowire.AppendTag(*out, fTracePacket, protowire.BytesType)
	*out = appendVarint(*out, uint64(len(h)+len(body)))
	*out = append(append(*out, h...), body...)
	if len(*out) >= flushAt {
		o.flushOut()
	}
}

// flushOut writes the buffered packets, the interned ones first, or drops
// them after a write error. Compressed, they go to the compressor's
// goroutines, which deflate them while the orderer goes on: on two cores
// deflating in line would double the orderer's time.
func (o *orderer) flushOut() {
	if o.err != nil {
		o.ready, o.interned = o.ready[:0], o.interned[:0]
		return
	}
	if o.plain {
		if len(o.ready) > 0 {
			_, o.err = o.out.Write(o.ready)
			o.bytes.Add(int64(len(o.ready)))
			o.ready = o.ready[:0]
		}
	} else {
		if o.z == nil {
			o.z = newCompressor(o.out, o.bytes)
		}
		if len(o.interned) > 0 {
			o.interned = o.z.send(o.interned)
		}
		if len(o.ready) > 0 {
			o.ready = o.z.send(o.ready)
		}
		o.err = o.z.failed()
	}
	if o.err != nil {
		o.mu.Lock()
		o.shared = o.err
		o.mu.Unlock()
	}
}
