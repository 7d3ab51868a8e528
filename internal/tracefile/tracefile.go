// Package tracefile finds the generations of a Go 1.22+ execution trace
// from the headers of its batches, without decoding events.
//
// A trace in these formats is a 16-byte header followed by batches. Every
// batch starts with a small header (its generation, its thread, the
// timestamp it starts at, and its length), so the batches can be walked by
// reading a few dozen bytes each and skipping the rest. A generation is the
// run of batches with the same generation number; Go 1.26 also ends each
// with a one-byte end-of-generation marker. Only the sync batch (the
// timestamp frequency and, from Go 1.25, the clock snapshot) is decoded,
// to turn timestamps into the trace's nanoseconds the way the parser does.
//
// The header plus any run of consecutive generations is itself a trace
// that golang.org/x/exp/trace reads: that is what a flight-recorder
// snapshot is.
package tracefile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Wire event types of the Go 1.22+ format that this package reads
// (golang.org/x/exp/trace/internal/tracev2).
const (
	evEventBatch        = 1
	evFrequency         = 8
	evExperimentalBatch = 49
	evSync              = 50
	evClockSnapshot     = 51
	evEndOfGeneration   = 52
)

// maxBatchSize is the largest batch the parser accepts.
const maxBatchSize = 64 << 10

// MaxBatches is the most batches a generation may hold. The parser holds
// a generation's batches at once, about 700 bytes each whatever their
// size, so a generation of tiny batches (a few kilobytes compressed can
// make millions) would take gigabytes. The runtime writes a batch each
// time a thread's 64 kB buffer fills, and one or two per thread at a
// generation's end: at most a few thousand a generation, as busy as a
// program may be (Go allows 10,000 threads).
const MaxBatches = 200_000

// ErrTooManyBatches is a generation of more than MaxBatches batches.
var ErrTooManyBatches = fmt.Errorf("a generation holds more than %d batches, which no Go runtime writes (it writes at most a few thousand a generation); its parser would hold them all, about 700 bytes each", MaxBatches)

// MaxGenerationBytes is the most bytes of batches a generation may hold.
// The parser holds a generation whole, in about 2.4 times its size, so a
// few hundred kilobytes of compressed input declaring a generation of
// 64 kB batches up to MaxBatches would take 30 GB. A runtime starts a
// generation every second; the busiest programs write tens of megabytes
// a second.
const MaxGenerationBytes = 1 << 30

// genBytesLimit is MaxGenerationBytes, lowered by tests.
var genBytesLimit int64 = MaxGenerationBytes

// LowerGenerationLimit makes n the most bytes a generation may hold, for
// the tests of other packages, which cannot write a gigabyte; the
// function it returns restores the limit. The error still names
// MaxGenerationBytes.
func LowerGenerationLimit(n int64) (restore func()) {
	old := genBytesLimit
	genBytesLimit = n
	return func() { genBytesLimit = old }
}

// ErrGenerationTooLarge is a generation of more than MaxGenerationBytes.
var ErrGenerationTooLarge = fmt.Errorf("a generation holds more than %d MiB of batches, about a second of trace that no Go runtime writes; its parser would hold them all", MaxGenerationBytes>>20)

// TooLarge reports whether err is ErrTooManyBatches or
// ErrGenerationTooLarge: a generation refused before the parser holds it.
func TooLarge(err error) bool {
	return errors.Is(err, ErrTooManyBatches) || errors.Is(err, ErrGenerationTooLarge)
}

// HeaderSize is the size of a trace's header ("go 1.26 trace" padded).
const HeaderSize = 16

var headerRE = regexp.MustCompile(`^go 1\.([0-9]+) trace\x00*$`)

// ErrOldFormat is returned for a trace in a format before Go 1.22, which
// has no generations.
var ErrOldFormat = errors.New("trace format before Go 1.22: no generations")

// secondHeader begins another trace's header.
const secondHeader = "go 1."

// ErrSecondTrace is where another trace's header follows the batches of
// one: traces written one after the other into a file are not one trace.
var ErrSecondTrace = errors.New("another trace's header begins (two traces joined end to end are not one trace)")

// Index lists the generations of a trace.
type Index struct {
	Version     int // the format's minor version: 22, 23, 25 or 26
	Generations []Generation
	// Size is the number of bytes indexed: the header and the
	// generations, up to where the trace ended or broke off.
	Size int64
}

// Generation is one generation of a trace: where its bytes are and the
// time it covers.
type Generation struct {
	Number  uint64 // the runtime's generation number
	Offset  int64  // where its first batch starts in the file
	Size    int64  // bytes, up to the next generation
	Batches int
	// Start is the earliest batch timestamp, in the trace's nanoseconds,
	// and End the latest. A batch header says when its batch began; the
	// runtime writes a generation's string and stack tables when it ends
	// the generation, so End is when it did, and the events of the
	// generation lie between Start and End. Generations overlap a little:
	// the next one starts before the last events of this one, and the
	// parser, which delivers events in time order, puts its Sync at the
	// later of its Start and the last event before it.
	Start, End int64
	// Freq is the nanoseconds per timestamp unit.
	Freq float64
	// Clock is the generation's clock snapshot (Go 1.25+), else nil.
	Clock *Clock
	// Unfinished marks the last generation of a Go 1.26+ trace whose
	// writer stopped inside it (a process killed while it traced): the
	// generation has no end mark, and what the runtime wrote of it ends
	// the file.
	Unfinished bool
}

// Clock relates the trace clock to wall-clock time, as a generation's
// clock snapshot records it.
type Clock struct {
	Trace int64 // the trace clock, in nanoseconds
	Mono  uint64
	Wall  time.Time
}

// Error says where indexing stopped.
type Error struct {
	Offset int64
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("broken trace near byte %d: %v", e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Version reads the header of a trace and returns its format's minor
// version (22 for "go 1.22 trace").
func Version(hdr []byte) (int, error) {
	if len(hdr) < HeaderSize {
		return 0, fmt.Errorf("the input is %d bytes, shorter than a trace header", len(hdr))
	}
	m := headerRE.FindSubmatch(hdr[:HeaderSize])
	if m == nil {
		// The index reads a file's bytes where they lie, which a
		// compressed file's are not.
		switch {
		case bytes.HasPrefix(hdr, []byte{0x1f, 0x8b}):
			return 0, errors.New("a gzip-compressed file, whose generations are found only once it is decompressed")
		case bytes.HasPrefix(hdr, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			return 0, errors.New("a zstd-compressed file, whose generations are found only once it is decompressed")
		}
		return 0, errors.New("not a Go execution trace")
	}
	return strconv.Atoi(string(m[1]))
}

// Read indexes the trace of size bytes in r. If the trace breaks off, it
// returns the generations it found whole, and an *Error. A trace before
// Go 1.22 gives ErrOldFormat.
func Read(r io.ReaderAt, size int64) (*Index, error) {
	hdr := make([]byte, HeaderSize)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, &Error{0, fmt.Errorf("reading the header: %w", err)}
	}
	v, err := Version(hdr)
	if err != nil {
		return nil, &Error{0, err}
	}
	if v < 22 {
		return nil, ErrOldFormat
	}
	x := &indexer{r: r, size: size, v: v, idx: &Index{Version: v, Size: HeaderSize}}
	err = x.run()
	return x.idx, err
}

type indexer struct {
	r    io.ReaderAt
	size int64
	v    int
	idx  *Index
	buf  [64]byte

	cur     *Generation
	t       timing
	haveCur bool
}

func (x *indexer) run() error {
	off := int64(HeaderSize)
	for off < x.size {
		b, err := x.header(off)
		if err != nil {
			return &Error{off, err}
		}
		if b.endOfGen {
			if !x.haveCur {
				return &Error{off, errors.New("a generation ends before its first batch")}
			}
			if err := x.close(off + 1); err != nil {
				return at(off, err)
			}
			off++
			continue
		}
		if b.gen == 0 {
			return &Error{off, errors.New("a batch is of generation 0, which no trace has")}
		}
		if x.haveCur && b.gen != x.cur.Number {
			if x.v >= 26 {
				return &Error{off, errors.New("the end-of-generation marker is missing")}
			}
			if err := x.close(off); err != nil {
				return at(off, err)
			}
		}
		end := off + int64(b.hdrLen) + int64(b.size)
		if end > x.size {
			return &Error{off, &PastEndError{Size: int64(b.size)}}
		}
		if !x.haveCur {
			x.cur = &Generation{Number: b.gen, Offset: off}
			x.t.begin()
			x.haveCur = true
		}
		x.cur.Batches++
		if x.cur.Batches > MaxBatches {
			return &Error{off, ErrTooManyBatches}
		}
		if end-x.cur.Offset > genBytesLimit {
			return &Error{off, ErrGenerationTooLarge}
		}
		x.t.batch(b.ts)
		if b.sync {
			if err := x.readSync(off+int64(b.hdrLen), b.size, b.ts); err != nil {
				return &Error{off, err}
			}
		}
		off = end
	}
	if !x.haveCur && len(x.idx.Generations) == 0 {
		return &Error{off, errors.New("the trace holds no generations, only its header")}
	}
	if x.haveCur {
		// Before Go 1.26 a trace marks no generation's end: its last
		// ends with the file. From Go 1.26 on, a trace without the last
		// mark is one whose writer stopped inside a generation (a process
		// killed while it traced to a file); the runtime writes whole
		// batches, the parser reads what there is of that generation as
		// the last, and so does the index, once its frequency is in.
		if x.v >= 26 && x.t.freq == 0 {
			return &Error{off, errors.New("the trace ends inside a generation")}
		}
		x.cur.Unfinished = x.v >= 26
		if err := x.close(off); err != nil {
			return at(off, err)
		}
	}
	return nil
}

// at places err at off, unless it has a place.
func at(off int64, err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{off, err}
}

// close ends the current generation at end.
func (x *indexer) close(end int64) error {
	g := x.cur
	if x.t.freq == 0 {
		// Counted as the reader counts generations, from the first in
		// the input: a flight recorder's snapshot starts at a later one.
		return fmt.Errorf("generation %d has no frequency event", len(x.idx.Generations)+1)
	}
	if n := len(x.idx.Generations); n > 0 && g.Number <= x.idx.Generations[n-1].Number {
		// Where it begins, as a reader front to back finds it.
		return &Error{g.Offset, fmt.Errorf("a generation the runtime numbered %d comes after one it numbered %d", g.Number, x.idx.Generations[n-1].Number)}
	}
	g.Size = end - g.Offset
	x.t.end(g)
	x.idx.Generations = append(x.idx.Generations, *g)
	x.idx.Size = end
	x.haveCur = false
	return nil
}

// maxGenerationSpan bounds, in nanoseconds, how far a batch's time may be
// from the median of its generation's.
const maxGenerationSpan = 600e9

// ns converts a timestamp as the parser does.
func ns(freq float64, ts uint64) int64 { return int64(freq * float64(ts)) }

type batchHeader struct {
	gen, ts  uint64
	size     int
	hdrLen   int
	sync     bool // the batch holds the frequency (and clock snapshot)
	endOfGen bool
}

func (x *indexer) header(off int64) (batchHeader, error) {
	n, err := x.r.ReadAt(x.buf[:], off)
	if n == 0 {
		if err == nil || err == io.EOF {
			// The file is shorter than it was said to be: it was cut
			// while it was read.
			err = errors.New("the trace is cut short")
		}
		return batchHeader{}, err
	}
	p := x.buf[:n]
	var b batchHeader
	i := 1
	switch p[0] {
	case evEndOfGeneration:
		if x.v >= 26 {
			b.endOfGen = true
			return b, nil
		}
		return b, fmt.Errorf("a batch was expected, and event %d came", p[0])
	case evEventBatch:
	case evExperimentalBatch:
		i++ // the experiment
	default:
		if bytes.HasPrefix(p, []byte(secondHeader)) {
			return b, ErrSecondTrace
		}
		return b, fmt.Errorf("a batch was expected, and event %d came", p[0])
	}
	var vals [4]uint64
	for k := range vals {
		if i >= len(p) {
			return b, ErrHeaderCut
		}
		v, m := binary.Uvarint(p[i:])
		if m == 0 && n < len(x.buf) {
			return b, ErrHeaderCut
		}
		if m <= 0 {
			return b, errors.New("a batch header holds a bad varint")
		}
		vals[k] = v
		i += m
	}
	b.gen, b.ts = vals[0], vals[2]
	if vals[3] > maxBatchSize {
		return b, fmt.Errorf("a batch is %d bytes, more than the %d the format allows", vals[3], maxBatchSize)
	}
	b.size, b.hdrLen = int(vals[3]), i
	if p[0] == evEventBatch && b.size > 0 && i < len(p) {
		first := p[i]
		b.sync = (x.v < 25 && first == evFrequency) || (x.v >= 25 && first == evSync)
	}
	return b, nil
}

// readSync decodes the sync batch.
func (x *indexer) readSync(off int64, size int, base uint64) error {
	data := make([]byte, size)
	if _, err := x.r.ReadAt(data, off); err != nil {
		return err
	}
	return x.t.sync(data, base, x.v)
}

// FirstGeneration reads from r, a Go 1.22+ trace of format version v
// positioned at its header, the header and the batches of its first
// generation, and stops there: for a stream, which cannot be read twice,
// so that the generation can be read once ahead of the pass that maps it.
// It returns all it read, and the length of the header and the first
// generation within it, or -1 if the generation was not read whole:
// the stream failed or ended inside it (the error, or io.EOF), its bytes
// were not batches, or it ran past limit bytes. A stream that ends after
// the first generation's last batch, without the end-of-generation mark
// that traces before Go 1.26 lack, ends it (io.EOF). What was read must
// be read again, before the rest of r, by the pass.
func FirstGeneration(r interface {
	io.Reader
	io.ByteReader
}, v int, limit int) (read []byte, end int, err error) {
	take := func(n int) error {
		old := len(read)
		read = append(read, make([]byte, n)...)
		k, err := io.ReadFull(r, read[old:])
		read = read[:old+k]
		if err == io.ErrUnexpectedEOF {
			err = io.EOF // the stream ended inside what it promised
		}
		return err
	}
	if err := take(HeaderSize); err != nil {
		return read, -1, err
	}
	first, haveFirst := uint64(0), false
	for len(read) < limit {
		start := len(read)
		c, err := r.ReadByte()
		if err == io.EOF && haveFirst && v < 26 {
			return read, start, io.EOF // a trace of one generation
		}
		if err != nil {
			return read, -1, err
		}
		read = append(read, c)
		switch c {
		case evEndOfGeneration:
			if v < 26 || !haveFirst {
				return read, -1, nil
			}
			return read, len(read), nil
		case evExperimentalBatch:
			if err := take(1); err != nil {
				return read, -1, err
			}
		case evEventBatch:
		default:
			// Not a batch. Read on while it is another trace's header,
			// no further, so that what reads it next can tell the one
			// from damage that begins with the same letter.
			for k := 1; k < len(secondHeader) && c == secondHeader[k-1]; k++ {
				if c, err = r.ReadByte(); err != nil {
					break
				}
				read = append(read, c)
			}
			return read, -1, nil
		}
		var vals [4]uint64
		for k := range vals {
			x, err := binary.ReadUvarint(byteTee{r, &read})
			if err == io.ErrUnexpectedEOF {
				err = io.EOF // the stream ended inside the header
			}
			if err != nil {
				return read, -1, err
			}
			vals[k] = x
		}
		gen, size := vals[0], vals[3]
		if size > maxBatchSize {
			return read, -1, nil
		}
		if !haveFirst {
			first, haveFirst = gen, true
		} else if gen != first {
			if v >= 26 {
				return read, -1, nil // the end-of-generation mark is missing
			}
			return read, start, nil
		}
		if err := take(int(size)); err != nil {
			return read, -1, err
		}
	}
	return read, -1, nil
}

// byteTee reads bytes from r and keeps them in *read.
type byteTee struct {
	r    io.ByteReader
	read *[]byte
}

func (t byteTee) ReadByte() (byte, error) {
	c, err := t.r.ReadByte()
	if err == nil {
		*t.read = append(*t.read, c)
	}
	return c, err
}

// GoStatus is a goroutine's status as the format states it.
type GoStatus uint8

// The statuses a goroutine can be stated in.
const (
	GoRunnable GoStatus = 1
	GoRunning  GoStatus = 2
	GoSyscall  GoStatus = 3
	GoWaiting  GoStatus = 4
)

// Wire event types of the events FirstStatuses looks into.
const (
	evStacks          = 2
	evStrings         = 4
	evCPUSamples      = 6
	evGoCreate        = 14
	evGoCreateSyscall = 15
	evGoStatus        = 25
	evGoCreateBlocked = 47
	evGoStatusStack   = 48
)

// timedArgs is, for each event type that may appear in a batch of
// events, the number of its arguments, its timestamp delta first; 0 for
// a type that may not (golang.org/x/exp/trace/internal/tracev2's specs,
// which every Go 1.22+ format shares: a later format only adds types).
var timedArgs = func() (n [256]uint8) {
	for typ, args := range map[uint8]uint8{
		9: 3, 10: 3, 11: 1, 12: 4, 13: 3, // procs
		14: 4, 15: 2, 16: 3, 17: 1, 18: 1, 19: 3, 20: 3, 21: 4, 22: 3, 23: 1, 24: 1, 25: 4, // goroutines
		26: 3, 27: 1, // stop-the-world
		28: 2, 29: 3, 30: 2, 31: 2, 32: 2, 33: 3, 34: 2, 35: 2, 36: 1, 37: 2, 38: 2, // GC
		39: 2, 40: 5, 41: 3, 42: 4, 43: 4, 44: 5, // annotations
		45: 3, 46: 3, 47: 4, 48: 5, // coroutines, status with a stack
		128: 4, 129: 4, 130: 2, 131: 3, 132: 3, 133: 2, 134: 3, 135: 3, 136: 2, // experimental: AllocFree
	} {
		n[typ] = args
	}
	return n
}()

// FirstStatuses reads in, the header and one generation of a Go 1.22+
// trace, and returns the goroutines whose first event in the generation
// states their status rather than creates them (those that were there
// before it began), each with the status first stated. It is what
// golang.org/x/exp/trace reports as a goroutine's first transition from
// GoUndetermined, found without the parser: each event is decoded only
// as far as its arguments' lengths, and the batches are taken in the
// timestamps' order instead of the parser's, which agrees but where a
// goroutine is created and stated at the same instant. A generation whose
// bytes are not as the format says gives an error, and what the parser
// would find is then unknown. ctx, if not nil, is checked every 16
// batches.
func FirstStatuses(ctx context.Context, in io.Reader) (map[uint64]GoStatus, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	hdr := make([]byte, HeaderSize)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	v, err := Version(hdr)
	if err != nil {
		return nil, err
	}
	if v < 22 {
		return nil, ErrOldFormat
	}
	type first struct {
		status          GoStatus
		statusTs        uint64
		createTs        uint64
		stated, created bool
	}
	gs := make(map[uint64]*first)
	see := func(g uint64) *first {
		f := gs[g]
		if f == nil {
			f = &first{}
			gs[g] = f
		}
		return f
	}
	var (
		data      []byte
		gen       uint64
		haveGen   bool
		off       = int64(HeaderSize)
		args      [5]uint64
		batches   int
		endMarked bool
	)
	for !endMarked {
		c, err := br.ReadByte()
		if err == io.EOF && haveGen {
			break
		}
		if err != nil {
			return nil, &Error{off, err}
		}
		hdrLen := int64(1)
		switch c {
		case evEndOfGeneration:
			if v < 26 || !haveGen {
				return nil, &Error{off, fmt.Errorf("a batch was expected, and event %d came", c)}
			}
			endMarked = true
			continue
		case evEventBatch:
		case evExperimentalBatch:
			if _, err := br.ReadByte(); err != nil {
				return nil, &Error{off, err}
			}
			hdrLen++
		default:
			return nil, &Error{off, fmt.Errorf("a batch was expected, and event %d came", c)}
		}
		var vals [4]uint64
		for k := range vals {
			x, err := binary.ReadUvarint(br)
			if err != nil {
				return nil, &Error{off, fmt.Errorf("the batch header: %w", err)}
			}
			vals[k] = x
			hdrLen += int64(uvarintLen(x))
		}
		if vals[3] > maxBatchSize {
			return nil, &Error{off, fmt.Errorf("a batch is %d bytes, more than the %d the format allows", vals[3], maxBatchSize)}
		}
		if !haveGen {
			gen, haveGen = vals[0], true
		} else if vals[0] != gen {
			return nil, &Error{off, errors.New("a batch of another generation follows the first")}
		}
		data = slices.Grow(data[:0], int(vals[3]))[:vals[3]]
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, &Error{off, err}
		}
		batchOff := off
		off += hdrLen + int64(len(data))
		if batches++; ctx != nil && batches%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if c == evExperimentalBatch || len(data) == 0 {
			continue
		}
		switch data[0] {
		case evStrings, evStacks, evCPUSamples:
			continue
		case evFrequency, evSync:
			if (data[0] == evFrequency) == (v < 25) {
				continue // the sync batch
			}
		}
		ts := vals[2]
		for p := data; len(p) > 0; {
			typ := p[0]
			n := int(timedArgs[typ])
			if n == 0 {
				return nil, &Error{batchOff, fmt.Errorf("a batch holds event %d, which is not an event of a batch", typ)}
			}
			p = p[1:]
			for k := range n {
				x, m := binary.Uvarint(p)
				if m <= 0 {
					return nil, &Error{batchOff, errors.New("an event holds a bad varint")}
				}
				p = p[m:]
				if k == 0 {
					ts += x
				} else {
					args[k-1] = x
				}
			}
			switch typ {
			case evGoStatus, evGoStatusStack:
				if f := see(args[0]); !f.stated || ts < f.statusTs {
					f.status, f.statusTs, f.stated = GoStatus(args[2]), ts, true
				}
			case evGoCreate, evGoCreateSyscall, evGoCreateBlocked:
				if f := see(args[0]); !f.created || ts < f.createTs {
					f.createTs, f.created = ts, true
				}
			}
		}
	}
	if !haveGen {
		return nil, &Error{off, errors.New("the trace holds no generations, only its header")}
	}
	late := make(map[uint64]GoStatus)
	for g, f := range gs {
		if f.stated && (!f.created || f.statusTs < f.createTs) {
			late[g] = f.status
		}
	}
	return late, nil
}

// uvarintLen is the length of x's encoding as a uvarint.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// Scanner follows the batches of a Go 1.22+ trace as its bytes pass, to
// tell where each generation began in a stream, which cannot be indexed
// before it is read: an error found by the parser can then name the
// generation and its bytes, not only how far the stream was read. It
// also indexes the generations as Read indexes a file (see Index). Write
// it the trace from its first byte, header included.
type Scanner struct {
	v     int
	off   int64  // bytes written so far
	skip  int64  // bytes of a batch's body still to pass
	hdr   []byte // the batch header being read
	start int64  // where that header began
	size  int64  // the body size the last whole header gave
	gens  []Span
	open  bool // the last of gens has not ended
	err   *Error

	// The index of the generations ended so far, as Read makes it; it
	// stops growing where Read would fail (indexErr).
	t        timing
	idx      []Generation
	indexErr bool
	// A batch's body whose first byte may mark it the sync batch
	// (peek), begun at syncTs, and the sync batch's body, read whole
	// (sync) as it passes (inSync).
	peek, inSync bool
	syncTs       uint64
	sync         []byte
}

// ErrHeaderCut is a batch whose header the trace ends inside.
var ErrHeaderCut = errors.New("the batch header is cut short")

// PastEndError is a batch whose header was read whole and whose body runs
// past the end of the trace: the trace was cut short inside it.
type PastEndError struct {
	Size int64 // the body's size, as its header gives it
}

// Error gives the batch's size and says the trace is cut short.
func (e *PastEndError) Error() string {
	return fmt.Sprintf("a batch of %d bytes runs past the end of the trace, which is cut short", e.Size)
}

// Span is where a generation lies in a trace: End is 0 while it is not
// known.
type Span struct {
	Number      uint64
	Offset, End int64
	Batches     int
}

// NewScanner returns a Scanner of a trace of format version v (22 or
// more).
func NewScanner(v int) *Scanner { return &Scanner{v: v, skip: HeaderSize} }

// Write follows p, the next bytes of the trace. It never fails: a
// Scanner that finds bytes that are not batches stops following, and
// Err says where.
func (s *Scanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.err == nil {
		if s.skip > 0 {
			k := min(s.skip, int64(len(p)))
			s.body(p[:k])
			s.skip -= k
			s.off += k
			p = p[k:]
			continue
		}
		if len(s.hdr) == 0 {
			s.start = s.off
		}
		s.hdr = append(s.hdr, p[0])
		s.off++
		p = p[1:]
		s.header()
	}
	s.off += int64(len(p)) // past bytes that are not batches
	return n, nil
}

// header reads the batch header in s.hdr once it is whole.
func (s *Scanner) header() {
	h := s.hdr
	i := 1
	switch h[0] {
	case evEndOfGeneration:
		if s.v < 26 || !s.open {
			s.fail(fmt.Errorf("a batch was expected, and event %d came", h[0]))
			return
		}
		g := &s.gens[len(s.gens)-1]
		g.End, s.open = s.off, false
		s.hdr = s.hdr[:0]
		s.index(*g)
		return
	case evEventBatch:
	case evExperimentalBatch:
		i++ // the experiment
	default:
		// Another trace's header, as Read tells it: by its first bytes,
		// not by its first letter alone.
		if bytes.HasPrefix([]byte(secondHeader), h) && len(h) < len(secondHeader) {
			return // more to come
		}
		if bytes.HasPrefix(h, []byte(secondHeader)) {
			s.fail(ErrSecondTrace)
			return
		}
		s.fail(fmt.Errorf("a batch was expected, and event %d came", h[0]))
		return
	}
	var vals [4]uint64
	for k := range vals {
		if i >= len(h) {
			return // more to come
		}
		v, m := binary.Uvarint(h[i:])
		if m == 0 {
			if len(h) > 2+4*binary.MaxVarintLen64 {
				s.fail(errors.New("a batch header holds a bad varint"))
			}
			return // more to come
		}
		if m < 0 {
			s.fail(errors.New("a batch header holds a bad varint"))
			return
		}
		vals[k] = v
		i += m
	}
	gen, ts, size := vals[0], vals[2], vals[3]
	switch {
	case gen == 0:
		s.fail(errors.New("a batch is of generation 0, which no trace has"))
		return
	case size > maxBatchSize:
		s.fail(fmt.Errorf("a batch is %d bytes, more than the %d the format allows", size, maxBatchSize))
		return
	}
	if n := len(s.gens); n == 0 || !s.open || s.gens[n-1].Number != gen {
		if s.open {
			if s.v >= 26 {
				s.fail(errors.New("the end-of-generation marker is missing"))
				return
			}
			s.gens[n-1].End = s.start
			s.index(s.gens[n-1])
		}
		if n > 0 && gen <= s.gens[n-1].Number {
			s.fail(fmt.Errorf("a generation the runtime numbered %d comes after one it numbered %d", gen, s.gens[n-1].Number))
			return
		}
		s.gens = append(s.gens, Span{Number: gen, Offset: s.start})
		s.open = true
		s.t.begin()
	}
	g := &s.gens[len(s.gens)-1]
	if g.Batches++; g.Batches > MaxBatches {
		s.fail(ErrTooManyBatches)
		return
	}
	if s.start+int64(len(s.hdr))+int64(size)-g.Offset > genBytesLimit {
		s.fail(ErrGenerationTooLarge)
		return
	}
	s.t.batch(ts)
	s.peek, s.syncTs = h[0] == evEventBatch && size > 0, ts
	s.skip, s.size = int64(size), int64(size)
	s.hdr = s.hdr[:0]
}

// body follows p, the next bytes of a batch's body, for the index: it
// reads the sync batch whole, which places its generation in time.
func (s *Scanner) body(p []byte) {
	if s.peek {
		s.peek = false
		if s.indexErr {
			return
		}
		s.inSync = (s.v < 25 && p[0] == evFrequency) || (s.v >= 25 && p[0] == evSync)
		s.sync = s.sync[:0]
	}
	if !s.inSync {
		return
	}
	s.sync = append(s.sync, p...)
	if int64(len(p)) == s.skip {
		s.inSync = false
		if s.t.sync(s.sync, s.syncTs, s.v) != nil {
			s.indexErr = true // where Read fails
		}
	}
}

// index adds g, a generation that has ended, to the index.
func (s *Scanner) index(g Span) {
	if s.indexErr {
		return
	}
	if s.t.freq == 0 {
		s.indexErr = true // where Read fails
		return
	}
	s.idx = append(s.idx, Generation{Number: g.Number, Offset: g.Offset, Size: g.End - g.Offset, Batches: g.Batches})
	s.t.end(&s.idx[len(s.idx)-1])
}

// Index returns the generations that have ended so far as Read would
// index them, up to where Read would fail. If the bytes written are the
// whole trace (atEOF), the last generation ends with them, as it does in
// a file: before Go 1.26 a trace marks no generation's end, and from Go
// 1.26 on the last is then Unfinished.
func (s *Scanner) Index(atEOF bool) []Generation {
	if !atEOF || !s.open || s.err != nil || s.InBatch() || s.indexErr || s.t.freq == 0 {
		return s.idx
	}
	t := s.t
	t.batchTs = slices.Clone(t.batchTs)
	last := s.gens[len(s.gens)-1]
	g := Generation{Number: last.Number, Offset: last.Offset, Size: s.off - last.Offset, Batches: last.Batches, Unfinished: s.v >= 26}
	t.end(&g)
	return append(s.idx[:len(s.idx):len(s.idx)], g)
}

func (s *Scanner) fail(err error) { s.err = &Error{s.start, err} }

// Offset returns the number of bytes written.
func (s *Scanner) Offset() int64 { return s.off }

// BatchStart returns where the batch last begun begins.
func (s *Scanner) BatchStart() int64 { return s.start }

// InBatch reports whether the bytes written end inside a batch: a stream
// that ends there is cut short.
func (s *Scanner) InBatch() bool { return s.err == nil && (s.skip > 0 || len(s.hdr) > 0) }

// InBody reports whether the bytes written end inside the body of the
// batch last begun, whose header said it holds size bytes, rather than
// in its header or in the trace's.
func (s *Scanner) InBody() (size int64, ok bool) {
	if s.err != nil || s.skip == 0 || len(s.hdr) > 0 || len(s.gens) == 0 {
		return 0, false
	}
	return s.size, true
}

// Generations returns where the generations seen so far lie, in order.
// The last one's End is 0 if it may go on.
func (s *Scanner) Generations() []Span { return s.gens }

// Unfinished reports whether the bytes written, if they are all the
// trace's, end inside a generation of a Go 1.26+ trace, which marks each
// generation's end: the trace's writer stopped inside it (a process
// killed while it traced). Bytes that end inside a batch do not: the
// runtime writes whole batches, and they were cut.
func (s *Scanner) Unfinished() bool { return s.err == nil && s.v >= 26 && s.open && !s.InBatch() }

// Err returns where the bytes stopped being batches, if they did.
func (s *Scanner) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err
}
