package mapping

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/exp/trace"

	"github.com/trace2x/trace2x/internal/ctxio"
	"github.com/trace2x/trace2x/internal/errjoin"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// ErrInternal is wrapped by the error Map returns when the mapping itself
// failed on a trace (a bug in trace2x, not in the trace): the pass stops
// with an error instead of crashing the program.
var ErrInternal = errors.New("internal error in the trace mapping (please report it with the trace)")

// Option configures Map.
type Option interface{ apply(*config) }

type config struct {
	ctx          context.Context // see WithContext; nil for none
	input        string
	experimental bool
	countLate    bool // see WithoutBackdatedCounts
	maxHeld      int  // events the first generation holds at most; 0 for maxHeldEvents
	// scanFile, if set, is the file whose generation scanGen the pass
	// begins with, to read once more for the goroutines it states late
	// (see prescan).
	scanFile io.ReaderAt
	scanGen  tracefile.Generation
	progress func(Progress)
	origin   *origin // set by MapWindow
	// skipped is the count of bytes after the header that MapWindow left
	// out, added to input offsets in errors so that they point into the
	// file.
	skipped int64
	// stopsEarly: the pass reads generations of a file up to one before
	// its last (see MapWindow), so a goroutine still to run at its end
	// runs after what it reads.
	stopsEarly bool
	// index lists the generations of a file, as far as they could be
	// indexed, and indexErr says where indexing stopped; firstGen is the
	// generation the pass begins with. An error then names the
	// generation it is in, not where the parser's read-ahead was.
	index    *tracefile.Index
	indexErr error
	firstGen int
	// workers bounds the parsing goroutines of a pass over a file; 0
	// means one.
	workers int
	// groupGens, if set, is the number of generations each parsing
	// goroutine takes at a time; otherwise groups are about groupBytes.
	groupGens  int
	groupBytes int64
	// fallbacks is told when a parallel pass could not prove a join and
	// went on with one reader.
	fallbacks func()
	// refuse, if set, makes a parallel pass refuse the join before group
	// k when it returns true, as if it could not be proven.
	refuse func(k int) bool
	// stats, if set, gathers where a parallel pass spends its time.
	stats *passStats
	// tap, if set, sees every event the mapping is given, with its task
	// details.
	tap func(ev *trace.Event, task trace.Task)
	// decode, if set, tells which batches one parser decodes for the
	// mapping, by their number, in place of how far the mapping is behind.
	decode func(batch int) bool
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithInputName names the input in Meta and in errors, e.g. the file name.
// The default is "trace".
func WithInputName(name string) Option {
	return optionFunc(func(c *config) { c.input = name })
}

// WithExperimentalEvents delivers the events of runtime experiments (such
// as GODEBUG=traceallocfree=1's allocation events) through
// Sink.Experimental. Without it they are only counted, in
// Summary.EventsByKind and, by experiment, Summary.ExpEvents: decoding
// their arguments costs more than parsing them, and a trace with an
// experiment on can hold little else.
func WithExperimentalEvents() Option {
	return optionFunc(func(c *config) { c.experimental = true })
}

// WithoutBackdatedCounts counts a goroutine that the first generation
// states late (one blocked since before the trace began, which Go's tracer
// states when it next moves or at the generation's end) in the derived
// counters from when it is stated, as x/exp/trace gives it, rather than
// from the trace's start, where GoroutineState draws it. The pass then
// reads the first generation once only: by default it reads it once more
// first, to find those goroutines (a file's from the file; a stream's
// from its bytes, up to 64 MB, kept until the pass reads them; a trace
// before Go 1.22 holds its events, up to a million). For sinks that draw
// no goroutine counters, such as spans and profiles.
func WithoutBackdatedCounts() Option {
	return optionFunc(func(c *config) { c.countLate = true })
}

// WithProgress calls f now and then during the pass (about every 64k
// events) and once at the end. f runs on the mapping's goroutine and should
// return quickly.
func WithProgress(f func(Progress)) Option {
	return optionFunc(func(c *config) { c.progress = f })
}

// Progress tells how far a pass has got.
type Progress struct {
	BytesRead int64
	Events    int64
	Done      bool
	// Converted, for a file whose generations were indexed, estimates
	// the bytes whose events have been delivered: the generations before
	// the one the pass is in, and of that one the share of its time the
	// pass has reached. BytesRead runs a generation ahead of it, since
	// the parser reads a generation whole before its first event. 0 when
	// unknown.
	Converted int64
}

// Error is returned by Map when the input cannot be read as a trace: it
// is not one, it is damaged or cut short, its reads failed (Err wraps the
// reader's error), or the pass's context ended (Err wraps its cause). It
// says where the input went wrong.
type Error struct {
	Input      string
	Offset     int64 // bytes of input consumed when the error was found
	Events     int64 // events read before the error
	Generation int   // complete generations read before the error
	Err        error

	at      string // where in a file the damage is, if its index tells
	hint    string // why nothing was converted, if nothing was
	stopped bool   // the pass's context ended (see WithContext)
	syncs   int64  // of Events, the parser's Sync events, which say nothing of the trace
}

// Error says what went wrong with the input, where, and what had been
// read by then.
func (e *Error) Error() string {
	msg := e.Err.Error()
	// The parser's messages for broken traces can carry multi-line state
	// dumps; the first line says what went wrong.
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimRight(msg[:i], ": ")
	}
	if e.Input != "" {
		// An input's own error may name it too (a capture's, by its
		// URL, after the request's method): once is enough.
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, "GET "+e.Input+": "), e.Input+": ")
	}
	if errors.Is(e.Err, ErrEmpty) || errors.Is(e.Err, ErrNotTrace) || errors.Is(e.Err, ErrVersion) || errors.Is(e.Err, errHeaderOnly) {
		return fmt.Sprintf("%s: %s", e.Input, msg)
	}
	what := "broken trace"
	// The parser says it too, and in its own words where a batch it
	// needs is missing.
	msg = strings.TrimPrefix(msg, "broken trace: ")
	msg = strings.Replace(msg, "failed to advance: frontier", "no event can come next: a batch it needs is missing", 1)
	msg = brokenStackRE.ReplaceAllString(msg, "found a stack with an $1")
	switch {
	case e.stopped:
		what = "stopped"
	case errors.As(e.Err, new(inputError)):
		what = "reading failed"
	}
	at := e.at
	switch {
	case at == "" && e.Offset == 0:
		at = "before its first byte" // an input that failed as it began
	case at == "":
		at = fmt.Sprintf("near byte %d", e.Offset)
	}
	if e.Events <= e.syncs {
		// Nothing of the trace was read: the parser's opening Sync is no
		// event of it.
		return fmt.Sprintf("%s: %s %s: %s%s", e.Input, what, at, msg, e.hint)
	}
	gens, events := "generations", "events"
	if e.Generation == 1 {
		gens = "generation"
	}
	if e.Events == 1 {
		events = "event"
	}
	return fmt.Sprintf("%s: %s %s, after %d %s in %d complete %s: %s%s",
		e.Input, what, at, e.Events, events, e.Generation, gens, msg, e.hint)
}

// brokenStackRE matches the parser's words for a stack that refers to a
// frame or string the generation lacks. The parser meets the stacks in a
// map's order, so which of several such stacks it names differs from run
// to run: the message leaves the IDs out, to be the same every time.
var brokenStackRE = regexp.MustCompile(`found (unknown pc|invalid func string ID|invalid file string ID) [0-9a-f]+ for stack [0-9]+`)

// oldFormat reports whether the trace is in a format before Go 1.22's.
func (m *mapper) oldFormat() bool {
	minor, err := strconv.Atoi(strings.TrimPrefix(m.sum.FormatVersion, "go1."))
	return err == nil && minor < 22
}

// locate says where in the input a pass that failed after complete
// generations went wrong, and why nothing was converted if nothing was.
func (m *mapper) locate(e *Error, complete int) {
	if m.sum.FormatVersion == "" {
		return // the input failed before its header was read
	}
	if m.oldFormat() {
		if m.joined != nil && m.joined.at > 0 {
			e.Err, e.hint = tracefile.ErrSecondTrace, ""
			e.at = fmt.Sprintf("at byte %d", m.joined.at)
			return
		}
		if e.Events == 0 {
			// The parser found the fault after reading all it could,
			// which tells nothing of where the fault is.
			e.at = fmt.Sprintf("within its %d bytes", e.Offset)
			e.hint = " (a trace of Go 1.21 or before is read whole before its first event, so nothing of one cut short or damaged is converted, and its parser does not say where it went wrong)"
		}
		return
	}
	idx := m.cfg.index
	whole := idx != nil && m.cfg.firstGen+complete < len(idx.Generations) // the generation is all there
	// The parser can find a fault of its first generation after it gave
	// events of it, which were converted: the hints below say why nothing
	// was.
	none := complete == 0 && e.Events <= e.syncs
	switch {
	case strings.Contains(e.Err.Error(), "misuse of region"):
		// The runtime writes what the program does; Go's parser refuses
		// a region ended out of order.
		e.hint = " (the program ended a region that was not its goroutine's innermost, or ended one twice; Go's parser, and go tool trace, refuse such a trace from there on)"
	case none && whole && idx.Version < 26 && m.cfg.firstGen == len(idx.Generations)-1:
		// Before Go 1.26 a generation has no end mark: the last one,
		// which ends with the file, may be cut at a batch's end.
		e.hint = " (a trace is converted a generation, about a second of it, at a time, and its first is cut short or damaged)"
	case none && whole:
		e.hint = " (a trace is converted a generation, about a second of it, at a time, and its first is damaged)"
	case none && idx == nil:
		// A stream, or a file read front to back: no index tells a cut
		// from damage.
		e.hint = " (a trace is converted a generation, about a second of it, at a time, and its first is cut short or damaged)"
	case none:
		e.hint = " (a trace is converted a generation, about a second of it, at a time, and its first is not whole)"
	}
	if idx == nil {
		m.locateInStream(e, complete)
		return
	}
	if whole {
		k := m.cfg.firstGen + complete
		g := idx.Generations[k]
		e.at = fmt.Sprintf("in generation %d (bytes %d to %d)", k+1, g.Offset, g.Offset+g.Size)
		if g.Unfinished {
			e.hint = unfinishedHint(k)
		}
		return
	}
	var te *tracefile.Error
	if errors.As(m.cfg.indexErr, &te) {
		e.at = fmt.Sprintf("at byte %d, where %v", te.Offset, te.Err)
		// The generation under way where the index stopped, named as a
		// stream's error names it (if the fault is not where one would
		// begin).
		from := int64(tracefile.HeaderSize)
		if n := len(idx.Generations); n > 0 {
			from = idx.Generations[n-1].Offset + idx.Generations[n-1].Size
		}
		switch k := m.cfg.firstGen + complete; {
		case k == len(idx.Generations) && (te.Offset > from ||
			// The first batch of a generation, whose header was read.
			te.Offset == from && errors.As(te.Err, new(*tracefile.PastEndError))):
			e.at = fmt.Sprintf("in generation %d (from byte %d), %s", k+1, from, e.at)
		case k == len(idx.Generations) && k > 0 && te.Offset == from:
			// Where the next generation would begin.
			e.at = fmt.Sprintf("after generation %d, %s", k, e.at)
		}
	}
}

// unfinishedHint says why the parser refused generation k (from 0), the
// last of a trace whose writer stopped inside it: its string and stack
// tables, written at its end, are missing.
func unfinishedHint(k int) string {
	if k == 0 {
		return " (the trace's writer stopped inside its first generation: its process was killed while it traced, or is still writing the file; the parser takes a generation whole, so nothing is converted)"
	}
	return " (the trace's writer stopped inside this last generation: its process was killed while it traced, or is still writing the file; the generations before it are converted)"
}

// locateInStream says where in a trace read without an index the pass
// went wrong: in which generation, from the batches that went by.
func (m *mapper) locateInStream(e *Error, complete int) {
	if m.scan == nil {
		return
	}
	of := ""
	if m.counter.compressed {
		of = " of the decompressed trace"
	}
	scan := m.scan.s
	gens := scan.Generations()
	var serr *tracefile.Error
	if errors.As(scan.Err(), &serr) {
		// Bytes that are not batches: the generation they are in, if
		// the parser failed in it, and where.
		if n := len(gens); complete >= n-1 {
			if tracefile.TooLarge(serr.Err) {
				e.at = fmt.Sprintf("in generation %d (from byte %d%s)", n, gens[n-1].Offset, of)
				return
			}
			switch {
			case n > 0 && gens[n-1].End == 0 && complete < n:
				e.at = fmt.Sprintf("in generation %d (from byte %d%s), at byte %d, where %v", n, gens[n-1].Offset, of, serr.Offset, serr.Err)
			case n > 0 && gens[n-1].End == 0:
				// Before Go 1.26, whose generations have no end mark,
				// the parser handed this one on whole: the fault may
				// be in it or after it, as a file's index says too.
				e.at = fmt.Sprintf("at byte %d%s, where %v", serr.Offset, of, serr.Err)
			case n > 0:
				e.at = fmt.Sprintf("after generation %d, at byte %d%s, where %v", n, serr.Offset, of, serr.Err)
			default:
				e.at = fmt.Sprintf("at byte %d%s, where %v", serr.Offset, of, serr.Err)
			}
			return
		}
	}
	if complete >= len(gens) {
		if len(gens) == 0 && m.scan.eof && !scan.InBatch() && scan.Offset() == tracefile.HeaderSize {
			e.at = fmt.Sprintf("at byte %d%s, where the trace holds no generations, only its header", scan.Offset(), of)
			return
		}
		if complete == len(gens) && m.scan.eof && scan.InBatch() {
			// Inside the header of the next generation's first batch, in
			// the words a file's index has for it.
			e.at = fmt.Sprintf("at byte %d%s, where %s", scan.BatchStart(), of, cutBatch(scan))
			// Before Go 1.26 a generation has no end mark: the batch
			// may be the generation's, or the next one's.
			if complete > 0 && m.scan.v >= 26 {
				e.at = fmt.Sprintf("after generation %d, %s", complete, e.at)
			}
		}
		return
	}
	g := gens[complete]
	if complete == len(gens)-1 && m.scan.eof && scan.Unfinished() {
		e.at = fmt.Sprintf("in generation %d (bytes %d to %d%s)", complete+1, g.Offset, scan.Offset(), of)
		e.hint = unfinishedHint(complete)
		return
	}
	if complete == len(gens)-1 && m.scan.eof && scan.InBatch() {
		// In the words a file's index has for it, and where the stream
		// ended, which a file's size tells.
		e.at = fmt.Sprintf("in generation %d (from byte %d%s), at byte %d, where %s", complete+1, g.Offset, of, scan.BatchStart(), cutBatch(scan))
		return
	}
	end := g.End
	if end == 0 && complete == len(gens)-1 && m.scan.eof && !scan.InBatch() {
		end = scan.Offset() // the last generation of a trace before Go 1.26 ends with it
	}
	if end > 0 {
		e.at = fmt.Sprintf("in generation %d (bytes %d to %d%s)", complete+1, g.Offset, end, of)
		return
	}
	e.at = fmt.Sprintf("in generation %d (from byte %d%s)", complete+1, g.Offset, of)
}

// cutBatch says, in the words of a file's index, how the batch that a
// stream ended inside is cut, and where the stream ended, which a file's
// size tells.
func cutBatch(scan *tracefile.Scanner) string {
	if size, ok := scan.InBody(); ok {
		return fmt.Sprintf("%v at byte %d", &tracefile.PastEndError{Size: size}, scan.Offset())
	}
	return fmt.Sprintf("%v at byte %d", tracefile.ErrHeaderCut, scan.Offset())
}

// scanReader passes what it reads of r to a tracefile.Scanner, and notes
// the end of r.
type scanReader struct {
	r   io.Reader
	s   *tracefile.Scanner
	buf *bufio.Reader // the parser's (see parserInput)
	v   int           // the format's minor version
	eof bool
	// stopErr, if set, is returned once the reads reach byte stop: where
	// the index of a file found a generation too large for the parser to
	// hold, which the reads need not go into to find again.
	stop    int64
	stopErr error
}

// stopped reports whether the reads stopped at stop.
func (r *scanReader) stopped() bool {
	return r != nil && r.stopErr != nil && r.s.Offset() >= r.stop
}

// parserBuffer is the size of the parser's bufio.Reader, which is
// golang.org/x/exp/trace's own: the parser takes one of at least that
// size as it is, so that what it has taken is known (see consumed).
const parserBuffer = 4096

// parserInput is what the parser reads r through: a buffer of the size it
// would make itself, and which it uses in place of its own.
func (r *scanReader) parserInput() io.Reader {
	r.buf = bufio.NewReaderSize(r, parserBuffer)
	return r.buf
}

// shared checks, once the parser has read the trace's header, that it
// reads through the buffer parserInput made: it then has taken in the
// header alone. A parser that wraps it in a buffer of its own hides what
// it took in, and readPast then tells nothing.
func (r *scanReader) shared() {
	if r != nil && r.buf != nil && r.consumed() != tracefile.HeaderSize {
		r.buf = nil
	}
}

// consumed returns the bytes the parser has taken in: what it read, less
// what its buffer still holds. Unlike what it read, it does not depend on
// how the input's reads came.
func (r *scanReader) consumed() int64 {
	return r.s.Offset() - int64(r.buf.Buffered())
}

// readPast reports whether the parser, which failed after the Sync of
// generation complete+1 (counting from 1) and some of its events, had
// gone on to the next generation: it failed as it began it (it decodes
// the first event of each thread's batches before the next generation's
// Sync), after handing on every event of this one. From Go 1.26 on the
// parser reads a generation to its end mark, and the next one only then;
// before, it reads the first batch of the next generation to find that
// this one ended, and the rest of it only then, with the first batch of
// the generation after it.
func (r *scanReader) readPast(complete int) bool {
	if r == nil || r.buf == nil {
		return false
	}
	gens := r.s.Generations()
	consumed := r.consumed()
	if r.v >= 26 {
		return complete < len(gens) && gens[complete].End > 0 && consumed > gens[complete].End
	}
	next := complete + 1
	switch {
	case next >= len(gens):
		return false
	case gens[next].End > 0:
		return consumed > gens[next].End
	case next == len(gens)-1 && r.eof:
		// The last generation, read to the end: unless it is a single
		// batch, the parser reads it whole only after this one.
		return consumed == r.s.Offset()
	}
	return false
}

func (r *scanReader) Read(p []byte) (int, error) {
	if r.stopErr != nil {
		left := r.stop - r.s.Offset()
		if left <= 0 {
			return 0, r.stopErr
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := r.r.Read(p)
	r.s.Write(p[:n])
	if err == io.EOF {
		r.eof = true
	}
	if serr := r.s.Err(); tracefile.TooLarge(serr) {
		// Stop the parser before it holds them.
		return n, serr
	}
	return n, err
}

// Unwrap returns the error of the parser or of the input.
func (e *Error) Unwrap() error { return e.Err }

// Map reads the Go execution trace from r in one pass and delivers its
// timeline model to sink (see Sink for the protocol). Input compressed
// with gzip or zstd is recognised and decompressed.
//
// It returns the Summary of what it read. If the trace breaks off, every
// item of the whole generations before the break is still delivered (the
// parser reads a generation, about a second of trace, whole before its
// first event: nothing of the generation that breaks off comes out), open
// items are closed at the last timestamp read and marked OpenEnd,
// Sink.End is called with the error in Summary.Err, and Map returns an
// *Error; if a sink failed as well, the error joins the two. If a sink
// fails, Map stops and returns the sink's error; if it panics, a
// *SinkPanicError. Input that is not a trace (empty, another format, an
// unknown version, a trace before Go 1.22 cut short, which is read whole
// first) gives a nil Summary and an error, and the sink gets no call at
// all; so does a nil sink (see ErrNilSink), before any input is read, and
// a pass stopped (WithContext) before its first event.
func Map(r io.Reader, sink Sink, opts ...Option) (*Summary, error) {
	if err := checkSink(sink); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("mapping: Map of a nil io.Reader")
	}
	cfg := newConfig(opts)
	if cfg.ctx != nil {
		// r is read a buffer ahead on a goroutine of its own, so that a
		// read blocked on a stalled pipe or connection does not hold the
		// pass past ctx. A pass that ends otherwise waits for the read
		// under way: r is not read after Map returns.
		ctx, cancel := context.WithCancel(cfg.ctx)
		a := &ctxio.Abandoning{Ctx: ctx, R: r}
		defer func() {
			cancel()
			if cfg.ctx.Err() == nil {
				a.Wait()
			}
		}()
		r = a
	}
	return mapStream(r, sink, &cfg)
}

func mapStream(r io.Reader, sink Sink, cfg *config) (*Summary, error) {
	cr := &countingReader{r: r}
	m := newMapper(sink, cfg)
	m.counter = cr
	return m.complete(func() error {
		if err := m.prescanFile(); err != nil {
			return err
		}
		br, version, err := openInput(cr)
		if err != nil {
			return err
		}
		m.sum.FormatVersion = version
		switch version {
		case "go1.11", "go1.19", "go1.21":
			m.pseudoPs = true
		}
		var in io.Reader = br
		if minor, _ := strconv.Atoi(strings.TrimPrefix(version, "go1.")); minor >= 22 && !m.first.done && !m.cfg.countLate {
			// A stream: its first generation is read ahead, in place
			// of holding its events (see hold).
			if in, err = m.readFirstGen(br, minor); err != nil {
				return err
			}
		}
		if minor, _ := strconv.Atoi(strings.TrimPrefix(version, "go1.")); minor >= 22 {
			// Follow the generations as the parser reads them, to say
			// where its error is: a stream has no index, and the index
			// of a file does not tell how far the parser had read.
			m.scan = &scanReader{r: in, s: tracefile.NewScanner(minor), v: minor}
			if tracefile.TooLarge(m.cfg.indexErr) {
				// The index of a file found it before the parser
				// would hold it: the pass maps the generations before
				// it, and stops where it begins.
				m.scan.stopErr, m.scan.stop = m.cfg.indexErr, int64(tracefile.HeaderSize)
				if gens := m.cfg.index.Generations; len(gens) > 0 {
					m.scan.stop = gens[len(gens)-1].Offset + gens[len(gens)-1].Size
				}
			}
			in = m.scan.parserInput()
		}
		if m.pseudoPs {
			// Its parser reads it whole and, on another trace's
			// header, says only what it made of those bytes.
			m.joined = &headerScan{r: in}
			in = m.joined
		}
		tr, err := trace.NewReader(in)
		if err != nil {
			return err
		}
		m.scan.shared()
		return m.run(tr)
	})
}

func newConfig(opts []Option) config {
	cfg := config{input: "trace"}
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&cfg)
		}
	}
	return cfg
}

// complete runs read, which maps the events of the input, and ends the
// pass: it delivers Sink.End and returns what Map returns.
func (m *mapper) complete(read func() error) (*Summary, error) {
	if err := read(); err != nil {
		var se sinkError
		if errors.As(err, &se) {
			if m.begun && !m.ended {
				m.sum.Err = se.err
				m.ended = true
				// The pass stops at the last event mapped.
				m.sum.End = m.last
				m.sum.Generations = max(m.syncs-1, 0)
				m.sum.Spans = m.spans()
				m.sum.BytesRead = m.counter.n.Load()
				m.sum.Compressed = m.counter.compressed
				_ = m.end()
			}
			return &m.sum, se.err
		}
		return m.fail(err)
	}
	if m.syncs < 2 {
		// Every trace with data has at least one generation, opened and
		// closed by a Sync each.
		return m.fail(errHeaderOnly)
	}
	m.sum.Unfinished = m.unfinished()
	if err := m.finish(); err != nil {
		return &m.sum, err
	}
	if m.cfg.progress != nil {
		m.cfg.progress(Progress{BytesRead: m.counter.n.Load(), Events: m.sum.Events, Done: true})
	}
	return &m.sum, nil
}

// spans places the generations of the input (see Summary.Spans): a
// file's index has them all, and a stream's Scanner those read. A pass
// that failed lists those before the one it failed in, the same for a
// file as for a stream: the index of a file passes over a break that the
// parser stops at. The last generation, one its writer stopped inside,
// is listed all the same if the parser read to the input's end, as it
// does to refuse it for that.
func (m *mapper) spans() []GenerationSpan {
	var gens []tracefile.Generation
	read := 0 // the generations before the pass's first
	switch {
	case m.cfg.index != nil:
		gens, read = m.cfg.index.Generations, m.cfg.firstGen
	case m.scan != nil:
		gens = m.scan.s.Index(m.scan.eof)
	}
	if m.sum.Err != nil {
		k := min(len(gens), read+m.sum.Generations)
		if k == len(gens) && k > 0 && gens[k-1].Unfinished {
			// The parser ended a generation that the batch headers say
			// its writer stopped inside: on a damaged trace they can
			// disagree. It is listed as one the parser failed in, so
			// that a file and a stream, whose scanner has not ended it,
			// list the same.
			k--
		}
		if k == len(gens)-1 && gens[k].Unfinished && m.scan != nil && m.scan.eof {
			k++
		}
		gens = gens[:k]
	}
	if len(gens) == 0 {
		return nil
	}
	spans := make([]GenerationSpan, len(gens))
	for i, g := range gens {
		spans[i] = GenerationSpan{Number: g.Number, Offset: g.Offset, Size: g.Size, Start: Time(g.Start), End: Time(g.End), Unfinished: g.Unfinished}
	}
	return spans
}

// unfinished reports whether the pass, whole, read a trace whose writer
// stopped inside its last generation, as the file's index or the stream's
// scanner tells.
func (m *mapper) unfinished() bool {
	if m.cfg.stopsEarly {
		return false
	}
	if idx := m.cfg.index; idx != nil && m.cfg.indexErr == nil {
		gens := idx.Generations
		return len(gens) > 0 && gens[len(gens)-1].Unfinished
	}
	return m.scan != nil && m.scan.eof && m.scan.s.Unfinished()
}

// end calls the sink's End after the sink failed, and recovers its panic
// as a sink's: the pass returns the sink's first error either way.
func (m *mapper) end() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = m.recovered(p)
		}
	}()
	return m.sink.End(&m.sum)
}

// errHeaderOnly is the error of a trace that ends after its header: it
// needs no place, nor a word on what a generation is.
var errHeaderOnly = errors.New("the trace holds no events, only its header")

// fail ends the pass on a broken trace.
func (m *mapper) fail(err error) (*Summary, error) {
	off := max(m.counter.n.Load(), m.mappedTo)
	if off > headerSize {
		off += m.cfg.skipped
	}
	if ierr := m.counter.failed(); ierr != nil && !errors.Is(err, ErrInternal) {
		err = inputError{ierr}
	}
	e := &Error{Input: m.cfg.input, Offset: off, Events: m.sum.Events, Generation: max(m.syncs-1, 0), Err: err, syncs: int64(m.syncs)}
	switch {
	case errors.Is(err, ErrEmpty) || errors.Is(err, ErrNotTrace) || errors.Is(err, ErrVersion) || errors.Is(err, errHeaderOnly):
	case errors.As(err, new(inputError)):
		// The input failed (a connection broke): the trace is not
		// damaged, but what of it came may be nothing.
		// A pass whose context ended was stopped, not failed.
		e.stopped = m.cfg.ctx != nil && m.cfg.ctx.Err() != nil
		// Why nothing was converted, if nothing was: a pass stopped
		// after the first generation's events began to come has
		// converted them.
		if e.Generation == 0 && m.sum.Events <= int64(m.syncs) && !m.oldFormat() && m.sum.FormatVersion != "" {
			e.hint = " (a trace is converted a generation, about a second of it, at a time, and the input failed inside its first)"
			if e.stopped {
				e.hint = " (a trace is converted a generation, about a second of it, at a time, and the pass stopped inside its first)"
			}
		}
	case m.scan.stopped():
		// The index found it: refused before the parser read it.
		e.Err = tracefile.ErrTooManyBatches
		if errors.Is(m.scan.stopErr, tracefile.ErrGenerationTooLarge) {
			e.Err = tracefile.ErrGenerationTooLarge
		}
		e.Offset = m.scan.stop
		e.at = fmt.Sprintf("in generation %d (from byte %d)", e.Generation+1, m.scan.stop)
	case m.scan != nil && tracefile.TooLarge(m.scan.s.Err()):
		// Refused before the parser held them: said once, not in the
		// parser's words too, and where the generation began.
		e.Err = tracefile.ErrTooManyBatches
		if errors.Is(m.scan.s.Err(), tracefile.ErrGenerationTooLarge) {
			e.Err = tracefile.ErrGenerationTooLarge
		}
		m.locateInStream(e, e.Generation)
	default:
		if m.parserFailed && m.scan.readPast(e.Generation) {
			// The parser failed as it began the next generation,
			// after every event of this one: it is complete.
			m.readPast = true
			e.Generation++
		}
		m.locate(e, e.Generation)
	}
	if e.at == "" && m.counter.compressed {
		// Where in the compressed bytes: the trace's own offsets are
		// not counted.
		e.at = fmt.Sprintf("near byte %d of the compressed input", off)
	}
	if e.stopped && e.Events == 0 && e.Offset <= headerSize && !m.oldFormat() {
		// Stopped in the look ahead over the first generation (see
		// WithoutBackdatedCounts), whose bytes are not counted.
		e.at = "in its first generation"
		e.hint = " (a trace is converted a generation, about a second of it, at a time, and the pass stopped inside its first: nothing was converted)"
	}
	if !m.begun {
		return nil, e
	}
	m.sum.Err = e
	if ferr := m.finish(); ferr != nil {
		// A sink that failed too (an output's full disk, beside the
		// others FanOutIndependent went on with) does not hide where
		// the trace broke.
		return &m.sum, errjoin.Join(e, ferr)
	}
	return &m.sum, e
}

// sinkError carries a sink's error out of run, apart from errors of the
// trace itself.
type sinkError struct{ err error }

func (s sinkError) Error() string { return s.err.Error() }

// run reads and maps every event.
//
// Parsing and mapping run on two goroutines joined by a short queue of
// event batches, so that on a machine with more than one core the mapping
// costs little more wall time than parsing alone. The queue is bounded
// (batchesInFlight batches of batchSize events), so memory stays bounded.
func (m *mapper) run(tr *trace.Reader) error {
	full := make(chan *batch, batchesInFlight)
	free := make(chan *batch, batchesInFlight+2)
	done := make(chan struct{})
	for range cap(free) {
		free <- &batch{events: make([]trace.Event, 0, batchSize)}
	}
	decode := func(int) bool { return len(full) >= 2 }
	if m.cfg.decode != nil {
		decode = m.cfg.decode
	}
	go readAhead(tr, full, free, done, decode)
	// When the mapping stops early (a sink failed), the parsing goroutine
	// finishes the batch it is reading and stops; waiting for it means the
	// caller's reader is not read after Map returns.
	defer func() {
		close(done)
		for range full {
		}
	}()
	for b := range full {
		ready := m.hold(b)
		if len(ready) == 0 {
			// b is held, unmapped, where mapBatch would check ctx: a
			// trace before Go 1.22 can hold a million events.
			if err := stopped(m.cfg.ctx); err != nil {
				return err
			}
			// The parser reads on into a new batch.
			free <- &batch{events: make([]trace.Event, 0, batchSize)}
			continue
		}
		for _, b := range ready {
			if err := m.mapBatch(b); err != nil {
				return err
			}
			if b.err == io.EOF {
				return nil
			}
			if b.err != nil {
				m.parserFailed = true
				return b.err
			}
		}
		// The batches held before b are left to the collector: as many
		// went to the parser in their place.
		b.reset()
		free <- b
	}
	return nil
}

const (
	batchSize       = 512
	batchesInFlight = 4
	// progressEvery is how many events pass between calls of a
	// WithProgress function; a power of two, so that checking costs no
	// division per event.
	progressEvery = 1 << 16
)

// batch is a run of events read ahead, and the error that ended the
// stream after them, if any (io.EOF at the end).
//
// Most of an event's details are read from its generation's tables, which
// do not change once the generation is read; but the type of a task's end
// comes from a list the parser keeps appending to as it orders events. So
// task details are read here, on the parsing goroutine, into tasks.
type batch struct {
	events []trace.Event
	tasks  []batchTask // the task events among events, in order
	// If decoded is set, the parsing goroutine read more of each event
	// for the mapping (see add): states are the StateTransition() of the
	// state transitions among events, in order; stks the refs of the
	// events' own stacks, one per event, and stateStks those of the
	// states' stacks (see stackRef).
	states    []trace.StateTransition
	stks      []*stackRef
	stateStks []*stackRef
	decoded   bool
	// raw is 1 + the index of the event whose details could not be read
	// (see leave), the last; 0 if none.
	raw int
	err error
}

// add appends ev, with the details the mapping must have read of it
// here. If decode is set, it also decodes what the mapping would (the
// state transition) and looks the stacks of ev up in stacks, the cache of
// the stacks of ev's generation; every event of a batch must be added
// with the same decode.
//
// That decoding costs the parsing goroutine about what it saves the
// mapping. It pays where several parsers feed the mapping (see MapFile),
// which then caps the speed; where one parser does, that one decodes a
// batch only when the mapping is behind (see readAhead).
func (b *batch) add(ev *trace.Event, stacks *stackCache, decode bool) {
	b.events = append(b.events, *ev)
	b.note(len(b.events)-1, stacks, decode)
}

// leave marks the last event as one whose details note could not read:
// an accessor of the parser panicked on a corrupted event. The mapping
// reads that event itself, as it does where nothing was read ahead, and so
// meets the panic, or not, as one goroutine reading alone would, and says
// it alike.
func (b *batch) leave(decode bool) {
	i := len(b.events) - 1
	b.raw = i + 1
	if decode {
		b.stks = append(b.stks[:min(len(b.stks), i)], nil) // one per event
	}
}

// note reads, as add does, the details of events[i], the last event.
func (b *batch) note(i int, stacks *stackCache, decode bool) {
	ev := &b.events[i]
	switch ev.Kind() {
	case trace.EventSync:
		stacks.reset()
	case trace.EventTaskBegin, trace.EventTaskEnd:
		b.tasks = append(b.tasks, batchTask{i, ev.Task()})
	case trace.EventStateTransition:
		if decode {
			st := ev.StateTransition()
			b.states = append(b.states, st)
			b.stateStks = append(b.stateStks, stacks.ref(st.Stack))
		}
	}
	if decode {
		b.stks = append(b.stks, stacks.ref(ev.Stack()))
		b.decoded = true
	}
}

// reset empties b for reuse, dropping its references to old generations'
// tables.
func (b *batch) reset() {
	clear(b.events)
	clear(b.states)
	clear(b.stateStks)
	clear(b.stks)
	b.events, b.tasks, b.states, b.err = b.events[:0], b.tasks[:0], b.states[:0], nil
	b.stks, b.stateStks, b.decoded, b.raw = b.stks[:0], b.stateStks[:0], false, 0
}

// batchTask is the Task() of the task event at events[i].
type batchTask struct {
	i    int
	task trace.Task
}

// readAhead fills batches from tr until the stream ends or done is closed.
//
// Which of the two goroutines is the slower depends on the trace and on
// the sink (a service's many short states cost the mapping more per
// event than the parser), so the work that either can do (see batch.add)
// goes where it balances them: a batch is decoded here only while the
// mapping has batches waiting, as decode tells from the batch's number.
func readAhead(tr *trace.Reader, full chan<- *batch, free <-chan *batch, done <-chan struct{}, decode func(batch int) bool) {
	defer close(full)
	stacks := newStackCache()
	for n := 0; ; n++ {
		var b *batch
		select {
		case b = <-free:
		case <-done:
			return
		}
		err := fill(tr, b, stacks, decode(n))
		b.err = err
		select {
		case full <- b:
		case <-done:
			return
		}
		if err != nil { // b is the mapping's now
			return
		}
	}
}

// mapBatch maps the events of one batch.
//
// The parser checks the structure of what it reads but not every value an
// event's accessors later decode (experiment numbers, table references):
// on a corrupted trace those accessors can panic. Such a panic is a broken
// trace and is reported as one; a panic of the mapping itself is a bug of
// trace2x and is reported as ErrInternal, never as a crash.
func (m *mapper) mapBatch(b *batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = m.recovered(p)
		}
	}()
	// Checked between batches too: the parser may have read all it needs
	// ahead of the mapping.
	if err := stopped(m.cfg.ctx); err != nil {
		return err
	}
	tasks, states, stateStks := b.tasks, b.states, b.stateStks
	m.batched, m.decoded = true, b.decoded
	defer func() { m.curState, m.curStateStk, m.curStk = nil, nil, nil }()
	for i := range b.events {
		if len(tasks) > 0 && tasks[0].i == i {
			m.curTask, tasks = tasks[0].task, tasks[1:]
		}
		if i+1 == b.raw {
			// Its details are the mapping's to read (see batch.leave).
			m.batched, m.decoded = false, false
			defer func() { m.batched, m.decoded = true, b.decoded }()
		}
		if m.decoded {
			if b.events[i].Kind() == trace.EventStateTransition {
				m.curState, states = &states[0], states[1:]
				m.curStateStk, stateStks = stateStks[0], stateStks[1:]
			}
			m.curStk = b.stks[i]
		}
		if m.join != nil {
			if err := m.join.admit(m, &b.events[i]); err != nil {
				return err
			}
		}
		if m.cfg.tap != nil {
			m.cfg.tap(&b.events[i], m.curTask)
		}
		if err := m.event(&b.events[i]); err != nil {
			if !m.begun {
				return err // a trace that does not start with a Sync
			}
			return sinkError{err}
		}
		if m.cfg.progress != nil && m.sum.Events%progressEvery == 0 {
			m.cfg.progress(Progress{BytesRead: m.counter.n.Load(), Events: m.sum.Events, Converted: m.converted()})
		}
	}
	return nil
}

// converted estimates, for Progress, the bytes of a file whose events
// the pass has delivered, from the index: 0 without one.
func (m *mapper) converted() int64 {
	if m.cfg.index == nil {
		return 0
	}
	gens := m.cfg.index.Generations
	t := int64(m.last)
	// The generation the latest event is in: the last to start by then
	// (generations overlap a little at their edges).
	k := sort.Search(len(gens), func(i int) bool { return gens[i].Start > t }) - 1
	if k < 0 {
		return 0
	}
	g := gens[k]
	done := g.Offset
	if span := g.End - g.Start; span > 0 {
		f := float64(t-g.Start) / float64(span)
		done += int64(float64(g.Size) * min(max(f, 0), 1))
	}
	return done
}

// stopped returns the error a pass stops with once ctx, if not nil, is
// done (see WithContext), and nil before: the input failed with ctx's
// cause, as the input's next read would.
func stopped(ctx context.Context) error {
	if ctx != nil && ctx.Err() != nil {
		return inputError{context.Cause(ctx)}
	}
	return nil
}

// recovered is the error of p, a panic recovered while mapping, by where
// it was raised: in a Sink's method, whoever wrote the sink (a
// SinkPanicError, returned as the sink's error); in the trace parser's
// package, on a corrupted trace (broken trace); in trace2x's own mapping
// code (ErrInternal, a bug of trace2x); in anything else, code the
// program gave the pass (a SinkPanicError too). It is called from a
// deferred function, so the panicking frames are still on the stack,
// below runtime.gopanic.
func (m *mapper) recovered(p any) error {
	return recovered(p, fmt.Sprintf(" at event %d", m.sum.Events))
}

// recovered is mapper.recovered where the event is known as where, or not
// (""); its panic must be the one its caller's caller recovered.
func recovered(p any, where string) error {
	f, method := panicFrames()
	switch {
	case method.Function != "":
		// A converter of trace2x is a sink like any other: its panic,
		// such as a zero value's, is in the sink the program gave.
		if f.Function == "" {
			f = method
		}
		return sinkError{&SinkPanicError{Value: p, Method: method.Function, Func: f.Function, File: f.File, Line: f.Line, Stack: debug.Stack()}}
	case strings.HasPrefix(f.Function, parserPackage):
		return fmt.Errorf("the parser failed decoding%s: %v", where, p)
	case strings.HasPrefix(f.Function, "github.com/trace2x/trace2x/") && !strings.HasSuffix(funcPackage(f.Function), "_test"):
		return fmt.Errorf("%w: %v%s\n%s", ErrInternal, p, where, debug.Stack())
	}
	return sinkError{&SinkPanicError{Value: p, Func: f.Function, File: f.File, Line: f.Line, Stack: debug.Stack()}}
}

const (
	parserPackage  = "golang.org/x/exp/trace"
	mappingPackage = "github.com/trace2x/trace2x/mapping"
)

// funcPackage returns the package path of a function's full name, such
// as "example.com/a/b" of "example.com/a/b.(*T).M".
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/') + 1
	if dot := strings.IndexByte(fn[slash:], '.'); dot >= 0 {
		return fn[:slash+dot]
	}
	return fn
}

// panicFrames returns, of the panic being recovered, the frame whose code
// raised it: the first below runtime.gopanic outside the standard library
// (the runtime raises the panics of nil maps and pointers for the code
// that used them; a function such as context.WithoutCancel panics for
// its caller's argument). It also returns the frame of the Sink method
// the panic was raised in, if any (see sinkMethod): of the methods
// between the panic and the function that recovers it, the outermost
// outside this package, which this package's sinks (FanOut, Async, ...)
// called for the mapping; else the innermost of this package's own. The
// walk stops at the function that recovers, so that the sinks of an
// enclosing pass, further down the stack, do not count.
func panicFrames() (origin, method runtime.Frame) {
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	var deferred, recovering string
	var outer, inner runtime.Frame
	for more := true; more; {
		var f runtime.Frame
		f, more = frames.Next()
		pkg := funcPackage(f.Function)
		switch {
		case recovering == "" && f.Function == "runtime.gopanic":
			// The deferred function that recovers ran just above it.
			recovering = enclosing(deferred)
		case recovering == "":
			if !strings.HasPrefix(f.Function, "runtime.") {
				deferred = f.Function
			}
		case f.Function == recovering:
			if origin.Function == "" {
				origin = f // raised in the function that recovers it
			}
			more = false
		case standard(pkg):
		default:
			if origin.Function == "" {
				origin = f
			}
			if !sinkMethod(f.Function) {
				break
			}
			if pkg != mappingPackage {
				outer = f
			} else if inner.Function == "" {
				inner = f
			}
		}
	}
	if outer.Function != "" {
		return origin, outer
	}
	return origin, inner
}

// enclosing returns the function a function literal's full name is in,
// such as "p.(*T).M" of "p.(*T).M.func1".
func enclosing(fn string) string {
	for {
		i := strings.LastIndexByte(fn, '.')
		if i < 0 {
			return fn
		}
		last := fn[i+1:]
		if !strings.HasPrefix(last, "func") && !strings.HasPrefix(last, "deferwrap") && strings.Trim(last, "0123456789") != "" {
			return fn
		}
		fn = fn[:i]
	}
}

// sinkMethods are the names of Sink's methods.
var sinkMethods = map[string]bool{
	"Begin": true, "Stack": true, "Goroutine": true, "Proc": true, "Thread": true,
	"GoroutineState": true, "ProcRun": true, "Range": true, "Task": true, "Region": true,
	"Log": true, "GoroutineEvent": true, "Flow": true, "Counter": true, "CPUSample": true,
	"Experimental": true, "End": true,
}

// sinkMethod reports whether fn, a function's full name, is a method
// named as one of Sink's, outside the parser (whose events have methods
// of those names, which the mapping calls).
func sinkMethod(fn string) bool {
	pkg := funcPackage(fn)
	if strings.HasPrefix(pkg, parserPackage) {
		return false
	}
	// What follows the package: ".T.M" or ".(*T).M" for a method.
	recv, name, ok := strings.Cut(strings.TrimPrefix(fn[len(pkg):], "."), ").")
	if ok {
		return strings.HasPrefix(recv, "(*") && sinkMethods[name]
	}
	recv, name, ok = strings.Cut(recv, ".")
	return ok && recv != "" && sinkMethods[name]
}

// standard reports whether a package path is the standard library's: its
// first element has no dot, and it is not in a module the program was
// built from (a module may be named without a dot: go mod init myservice).
func standard(pkg string) bool { return standardIn(pkg, builtModules()) }

func standardIn(pkg string, modules []string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	if strings.Contains(first, ".") || pkg == "main" {
		return false
	}
	for _, m := range modules {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return false
		}
	}
	return true
}

// builtModules lists the modules the program was built from whose paths
// could pass for the standard library's: those without a dot in their
// first element.
var builtModules = sync.OnceValue(func() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	var dotless []string
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if first, _, _ := strings.Cut(m.Path, "/"); m.Path != "" && !strings.Contains(first, ".") {
			dotless = append(dotless, m.Path)
		}
	}
	return dotless
})

// SinkPanicError is the error Map returns when a Sink's method panicked
// (a bug of the program's own Sink, or a sink used wrongly; this
// module's converters refuse their zero value with an error instead):
// the pass stops, as for a sink's error, and the
// panic is not passed on, since with Async it was raised on a goroutine
// no caller can recover. Stack is where it was raised.
type SinkPanicError struct {
	Value any // what the sink panicked with
	// Method is the full name of the sink's method that panicked, such
	// as "example.com/app.(*Sink).Begin": the one called for the mapping
	// by this package's own sinks, if they were between. It is empty for
	// a panic of other code the program gave the pass.
	Method string
	// Func, File and Line name the code that raised it, in Method or in
	// what Method called.
	Func  string
	File  string
	Line  int
	Stack []byte
}

// Unwrap returns Value if it is an error, so that errors.Is and
// errors.As find what the sink panicked with.
func (e *SinkPanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Error says which method of the sink panicked, where, and with what.
func (e *SinkPanicError) Error() string {
	hint := ""
	if pkg := funcPackage(e.Method); strings.HasPrefix(pkg, "github.com/trace2x/trace2x/") && !strings.HasSuffix(pkg, "_test") {
		// One of trace2x's own sinks, a converter: misused, or a bug.
		hint = " (if the sink was made as its package says, this is a bug of trace2x: please report it with the trace)"
	}
	if e.Method != "" && e.Method != e.Func {
		return fmt.Sprintf("the sink panicked in %s, at %s (%s:%d): %v%s", e.Method, e.Func, e.File, e.Line, e.Value, hint)
	}
	if e.Method == "" {
		// Not a sink's method: a callback the program gave the pass
		// (WithProgress), or the input's code.
		return fmt.Sprintf("code the pass called panicked in %s (%s:%d): %v", e.Func, e.File, e.Line, e.Value)
	}
	return fmt.Sprintf("the sink panicked in %s (%s:%d): %v%s", e.Func, e.File, e.Line, e.Value, hint)
}

// fill reads up to batchSize events into b.
//
// The parser validates what it reads, but it is not hardened against every
// corruption of its input; a panic inside it is a broken trace, not a bug
// of ours, and is reported as one.
func fill(tr *trace.Reader, b *batch, stacks *stackCache, decode bool) (err error) {
	i, noting := 0, false
	defer func() {
		if p := recover(); p != nil {
			if noting {
				// The event was read whole, its details were not: the
				// batch ends with it, and the reader goes on.
				b.leave(decode)
				return
			}
			b.events = b.events[:i] // the slot the parser did not fill
			err = fmt.Errorf("the parser failed: %v", p)
		}
	}()
	for len(b.events) < batchSize {
		// Read into the batch's own slot: an event is 80 bytes, and
		// copying it once more costs the parsing goroutine, often the
		// slower of the two, several percent.
		i = len(b.events)
		b.events = slices.Grow(b.events, 1)[:i+1]
		if b.events[i], err = tr.ReadEvent(); err != nil {
			b.events = b.events[:i]
			return err
		}
		noting = true
		b.note(i, stacks, decode)
		noting = false
	}
	return nil
}
