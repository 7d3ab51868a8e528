// Package pprof turns the timeline model of a Go execution trace into a
// pprof profile, for go tool pprof and every tool that reads its format.
//
// The Writer is a mapping.Sink. It interns each stack once, as pprof
// locations and functions, and adds every goroutine state interval or CPU
// sample to the sample of its stack as it arrives, so memory follows the
// number of distinct stacks, not the number of events. The profile is
// written, gzip-compressed, when the pass ends.
//
// # Kinds
//
// Net, Sync, Syscall and Sched are the profiles of go tool trace -pprof,
// with the same figures for the same trace: for each stack, how many times
// goroutines entered the state from it (contentions) and how long they
// stayed (delay, in nanoseconds):
//
//   - Net: blocked on the network poller.
//   - Sync: blocked on a channel, a select, or a sync primitive.
//   - Syscall: in a system call or a cgo call.
//   - Sched: runnable, waiting for a P.
//
// The stack is that of the event that began the interval: where the
// goroutine blocked, entered the syscall or was preempted; for a goroutine
// made runnable by another, the stack of the goroutine that woke it.
// go tool trace's accounting is kept as it is, so that the two agree:
//
//   - An interval still open when the trace ends is not counted; nor is
//     one of zero length.
//   - A goroutine's intervals before it first runs in the trace are not
//     counted, unless it never runs: go tool trace clips every interval to
//     the goroutine's life from its first run on. So the wait before a
//     goroutine's first run (a new one's, or one's that existed before the
//     trace) is not in the Sched profile. Its profiles of a region type
//     clip to the regions instead, and so does a Writer told
//     [WithinSpans], or given a Filter's window that cuts the trace (see
//     Windows below).
//   - Where the runtime reuses a goroutine ID (the goroutines of C
//     threads that call into Go), the lives of that ID are measured
//     against the last one, as go tool trace keys goroutines by ID.
//
// Two things can still differ. A syscall in progress when the trace starts
// begins, for go tool trace, at the event that reports it, a little after
// the trace's start, where the model starts it; this shows only for such a
// syscall whose goroutine never runs in the trace. And go tool trace knows
// stacks by their program counters, so it shows a stack whose outermost
// frames have none (a lone frame without a PC, in some traces) as the same
// stack without them; here they keep their frames.
//
// # Windows and spans
//
// Within spans ([WithinSpans]) or a mapping.Filter's window that begins
// after the trace does or has an end, every wait counts for its part
// within them, first run or not, and its contention (the count) where it
// ends: a wait a window's start cuts counts one, one its end cuts counts
// its time and no contention. So two adjacent windows add up, stack by
// stack, to the whole trace wherever it counts a wait. They hold more:
// the waits before a goroutine's first run, and the part of a wait still
// under way when the trace ends that falls in a window ending before
// then (the window cannot tell that it never ends; one that ends with
// the trace counts none of it). A Sched wait cut at a window's start is
// on the goroutine's own stack, the wakeup before the window being
// unseen.
//
// # Stacks
//
// Stacks leave out runtime.goexit, as the runtime's own profiles do; the
// stacks of Net, Sync, Syscall and Sched, which the trace records
// without it, are go tool trace's. Their period type is the runtime's
// block profile's (contentions), not go tool trace's (trace), so that go
// tool pprof diffs and merges them with the runtime's block and mutex
// profiles. A profile holds only the locations and functions its samples
// use, and one sample per stack (and labels).
//
// CPU holds the CPU profile samples that the runtime writes into the trace
// while pprof.StartCPUProfile is on, one count per sample by stack. The
// trace does not record the sampling rate; given it ([WithCPURate]), each
// sample also counts as 1/rate seconds of CPU time.
//
// Wall is where goroutines spent their time: for each stack, the time in
// each state, with the state in the label "state" (running, runnable,
// waiting, syscall) and, for waiting, the reason in the label "reason"
// (e.g. "chan receive"; "(unknown)" where the trace does not say, as for
// a wait begun before it). go tool pprof shows the total by default;
// -tagfocus=state=waiting keeps one state, and -tagroot=state puts the
// state at the root of each stack. The stack is the goroutine's own: where
// it blocked, entered the syscall or was preempted; while runnable after a
// wake-up, where it had blocked; while running, where it stopped running
// (the trace records no stack when a goroutine starts to run); a run a
// filter cut without an end stack counts where it began, or no stack
// after a gap the filter left. Intervals
// open at either end of the trace count from the trace's start or to its
// end.
package pprof

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/internal/utf8fix"
	"github.com/trace2x/trace2x/mapping"
)

// Kind selects what a profile measures.
type Kind uint8

const (
	Net     Kind = iota // time blocked on the network poller
	Sync                // time blocked on channels, select and sync primitives
	Syscall             // time in system calls and cgo calls
	Sched               // time runnable, waiting for a P (scheduler latency)
	CPU                 // CPU profile samples taken while tracing
	Wall                // time in every state, labelled with the state
	numKinds
)

var kindNames = [...]string{
	Net:     "net",
	Sync:    "sync",
	Syscall: "syscall",
	Sched:   "sched",
	CPU:     "cpu",
	Wall:    "wall",
}

// String returns the kind's name, as ParseKind reads it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Kinds returns every kind, in order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// ParseKind returns the kind named s: net, sync, syscall, sched, cpu or
// wall.
func ParseKind(s string) (Kind, error) {
	if i := slices.Index(kindNames[:], s); i >= 0 {
		return Kind(i), nil
	}
	return 0, fmt.Errorf("unknown profile kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}

// Option configures a Writer.
type Option interface{ apply(*config) }

type config struct {
	cpuRate      int
	uncompressed bool
	comments     []string
	spans        bool // see WithinSpans
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithCPURate sets the rate, in samples per second, at which the CPU
// profiler sampled, for the CPU kind. The trace does not record it;
// runtime/pprof's StartCPUProfile (and net/http/pprof's profile endpoint)
// always use 100. Given a rate, the profile has a "cpu" value in
// nanoseconds beside the sample count; the default, 0, means unknown, and
// the profile holds counts only.
func WithCPURate(hz int) Option {
	return optionFunc(func(c *config) { c.cpuRate = max(hz, 0) })
}

// WithComment adds a line to the profile's comments (go tool pprof
// -comments), after the one naming the trace: what the trace was read
// through, such as a window or a filter, which the profile cannot show.
func WithComment(line string) Option {
	return optionFunc(func(c *config) { c.comments = append(c.comments, line) })
}

// WithinSpans says that the pass is filtered to spans of each
// goroutine's time, such as the regions or tasks a mapping.Filter
// selects: every interval delivered counts, as in go tool trace's
// profiles of a region type, and not only those after the goroutine's
// first run in the trace, as in its profiles of whole goroutines; a wait
// cut where a span ends counts its time there, without a contention (see
// the package doc). A goroutine waiting to run when a region it is in
// begins, or when the trace begins inside it, waits within the region.
// A Filter's window that cuts the trace is measured so without it.
func WithinSpans() Option {
	return optionFunc(func(c *config) { c.spans = true })
}

// WithoutCompression writes the profile's protobuf as it is, for a
// destination that compresses it already; pprof readers take either.
func WithoutCompression() Option {
	return optionFunc(func(c *config) { c.uncompressed = true })
}

// Writer is a mapping.Sink that writes a pprof profile to an io.Writer
// when the pass ends. It is not safe for concurrent use; the mapping calls
// it from one goroutine.
type Writer struct {
	mapping.NopSink
	kind  Kind
	cfg   config
	out   io.Writer
	meta  mapping.Meta
	begun bool // a Writer takes one trace, see Begin
	done  bool
	// within is set when every interval delivered counts, not only those
	// after a goroutine's first run: within spans (WithinSpans) or a
	// Filter's window.
	within bool

	// Stacks, interned as locations on delivery, indexed by StackID (which
	// the mapping numbers from 1).
	stacks [][]*profile.Location
	locs   map[locKey]*profile.Location
	funcs  map[funcKey]*profile.Function
	prof   profile.Profile

	samples map[sampleKey]*profile.Sample
	gs      goroutines
	written int // samples in the profile End wrote
	// reasonless is the time of the waits under way at a window's start
	// whose reason the pass did not see, see ReasonlessWaits; runtimeGs
	// the goroutines of the runtime, left out of it.
	reasonless time.Duration
	runtimeGs  map[mapping.GoID]bool
}

// ofRuntime reports whether a goroutine started with fn is one of the
// runtime's own (the GC's workers, the finalizers', the trace reader),
// whose waits are never on the network or in sync.
func ofRuntime(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "runtime/trace.")
}

// locKey identifies a location: within one program a PC names one frame
// (the parser keys frames by PC too); frames without a PC are told apart
// by their text.
type locKey struct {
	pc   uint64
	fn   string
	file string
	line uint64
}

type funcKey struct{ name, file string }

// sampleKey identifies a sample: a stack, and for Wall the state and the
// waiting reason, which become labels.
type sampleKey struct {
	stack  mapping.StackID
	state  mapping.GoState
	reason string
}

var _ mapping.Sink = (*Writer)(nil)

// NewWriter returns a Writer of a profile of the given kind, which it
// writes to w when the mapping calls End. A kind that is not one of Kinds
// makes Begin and End return an error that names it, and nothing is
// written.
func NewWriter(w io.Writer, kind Kind, opts ...Option) *Writer {
	if w == nil {
		w = nilOutput{}
	}
	var cfg config
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&cfg)
		}
	}
	wr := &Writer{
		kind:    kind,
		cfg:     cfg,
		out:     w,
		stacks:  [][]*profile.Location{nil},
		locs:    make(map[locKey]*profile.Location),
		funcs:   make(map[funcKey]*profile.Function),
		samples: make(map[sampleKey]*profile.Sample),
	}
	wr.gs.init(wr)
	return wr
}

// ErrClosed is wrapped by the error that Begin returns on a Writer that
// has begun a trace already, as the other converters' ErrClosed is: a
// Writer profiles one trace.
var ErrClosed = errors.New("use of a used Writer")

// errNotMade refuses a Writer that NewWriter did not make.
var errNotMade = errors.New("pprof: the Writer was not made by NewWriter")

var errSecondTrace = fmt.Errorf("pprof: %w: Begin called again: a Writer profiles one trace", ErrClosed)

// Begin records the trace's start and clock for the profile's header.
// A Writer profiles one trace: Begin again, or after End, is refused.
func (w *Writer) Begin(m *mapping.Meta) error {
	if w.locs == nil {
		return errNotMade
	}
	if err := w.checkKind(); err != nil {
		return err
	}
	if w.begun || w.done {
		// A second trace would be added to the first's samples, or to a
		// profile already written.
		return errSecondTrace
	}
	if m == nil {
		return errors.New("pprof: Begin given no Meta")
	}
	w.begun = true
	w.meta = *m
	// A window that cuts the trace (its start after the trace's, or an
	// end) is measured as spans are: a window from the trace's start to
	// its end keeps go tool trace's rules.
	w.within = w.cfg.spans || m.Filtered && (m.Start > m.Origin || m.WindowEnd != 0)
	return nil
}

// checkKind returns an error if the Writer's kind is not one of Kinds:
// its profile would pass for one of blocking it is not. The text is the
// same from Begin and End, so that the two joined read once.
func (w *Writer) checkKind() error {
	if w.kind < numKinds {
		return nil
	}
	return fmt.Errorf("pprof: unknown profile kind %v (want one of %s)", w.kind, strings.Join(kindNames[:], ", "))
}

// Stack interns a stack's frames as locations and functions, once. A
// frame that names nothing (no PC, function or file: a wakeup the trace
// gives a stack of one such frame) is left out, so that its time goes to
// the empty stack, as go tool trace puts it, not to a location at
// address 0 that pprof shows as a function of its own. So is
// runtime.goexit, the root of every goroutine's stack, which the
// runtime's own profiles leave out: a profile diffed or merged with
// theirs would have a root of its own.
func (w *Writer) Stack(s *mapping.Stack) error {
	locs := make([]*profile.Location, 0, len(s.Frames))
	for _, f := range s.Frames {
		if f.PC == 0 && f.Func == "" && f.File == "" || f.Func == "runtime.goexit" {
			continue
		}
		locs = append(locs, w.location(f))
	}
	id := int(s.ID)
	if id >= len(w.stacks) {
		w.stacks = slices.Grow(w.stacks, id+1-len(w.stacks))[:id+1]
	}
	w.stacks[id] = locs
	return nil
}

func (w *Writer) location(f mapping.Frame) *profile.Location {
	key := locKey{pc: f.PC}
	if f.PC == 0 {
		key = locKey{fn: f.Func, file: f.File, line: f.Line}
	}
	if l, ok := w.locs[key]; ok {
		return l
	}
	fk := funcKey{f.Func, f.File}
	fn, ok := w.funcs[fk]
	if !ok {
		// Made valid UTF-8 as every output makes the trace's strings (a
		// damaged trace's names may not be).
		name := utf8fix.String(f.Func)
		fn = &profile.Function{ID: uint64(len(w.prof.Function) + 1), Name: name, SystemName: name, Filename: utf8fix.String(f.File)}
		w.funcs[fk] = fn
		w.prof.Function = append(w.prof.Function, fn)
	}
	l := &profile.Location{ID: uint64(len(w.prof.Location) + 1), Address: f.PC, Mapping: w.program(),
		Line: []profile.Line{{Function: fn, Line: int64(f.Line)}}}
	w.locs[key] = l
	w.prof.Location = append(w.prof.Location, l)
	return l
}

// program returns the profile's one mapping, the traced program. A trace
// names its functions, files and lines but not the program's binary, so the
// mapping says the locations are symbolized already: without it, pprof
// looks for a binary to symbolize them with and warns that it has no name.
func (w *Writer) program() *profile.Mapping {
	if len(w.prof.Mapping) == 0 {
		w.prof.Mapping = []*profile.Mapping{{ID: 1, Limit: ^uint64(0),
			HasFunctions: true, HasFilenames: true, HasLineNumbers: true}}
	}
	return w.prof.Mapping[0]
}

// Goroutine notes a goroutine's new life.
func (w *Writer) Goroutine(g *mapping.Goroutine) error {
	if !g.Updated && w.kind != CPU {
		w.gs.born(g.ID)
	}
	if w.meta.Skipped && ofRuntime(g.StartFunc) {
		if w.runtimeGs == nil {
			w.runtimeGs = map[mapping.GoID]bool{}
		}
		w.runtimeGs[g.ID] = true
	}
	return nil
}

// GoroutineEvent notes the events that can begin a runnable interval: the
// stack go tool trace gives that interval is the event's.
func (w *Writer) GoroutineEvent(e *mapping.GoroutineEvent) error {
	if w.kind != CPU {
		w.gs.event(e)
	}
	return nil
}

// GoroutineState adds a state interval to the profile.
func (w *Writer) GoroutineState(s *mapping.GoroutineState) error {
	if w.meta.Skipped && s.State == mapping.GoWaiting && s.Reason == "" && s.Flags.Has(mapping.OpenStart) &&
		s.Start == w.meta.Start && s.End > s.Start && !w.runtimeGs[s.G] {
		w.reasonless += time.Duration(s.End - s.Start)
	}
	switch w.kind {
	case CPU:
	case Wall:
		w.gs.wall(s)
	default:
		w.gs.blocking(s)
	}
	return nil
}

// CPUSample adds a CPU profile sample.
func (w *Writer) CPUSample(s *mapping.CPUSample) error {
	if w.kind == CPU {
		w.add(sampleKey{stack: s.Stack}, 1, 0)
	}
	return nil
}

// add adds n occurrences and d nanoseconds to a sample.
func (w *Writer) add(k sampleKey, n, d int64) {
	s, ok := w.samples[k]
	if !ok {
		s = &profile.Sample{Value: make([]int64, 2)}
		w.samples[k] = s
	}
	s.Value[0] += n
	s.Value[1] += d
}

// End writes the profile; it is written also when the trace broke off,
// with what was read before the break.
func (w *Writer) End(sum *mapping.Summary) error {
	if w.locs == nil {
		return errNotMade
	}
	if err := w.checkKind(); err != nil {
		return err
	}
	if w.done {
		return nil
	}
	if sum != nil && errors.Is(sum.Err, errSecondTrace) {
		// The End of a pass that Begin refused (a Writer given to two
		// at once): the pass under way is not ended by it.
		return nil
	}
	w.done = true
	if w.kind != CPU {
		var end mapping.Time
		if sum != nil {
			end = sum.End
		}
		w.gs.finish(end)
	}
	p := w.profile(sum)
	w.written = len(p.Sample)
	if w.cfg.uncompressed {
		return p.WriteUncompressed(w.out)
	}
	return p.Write(w.out)
}

// Samples returns how many samples the profile End wrote holds: none means
// the trace had nothing of the Writer's kind.
func (w *Writer) Samples() int { return w.written }

// ReasonlessWaits returns the time, within a window of a file read from
// its later generations only (mapping.Meta.Skipped), of the waits under
// way at the window's start whose reason the pass did not see: they began
// before the generations read, and count in no Net or Sync profile,
// which go by the reason. It is a bound: those that began before the
// trace have none either way, and the pass cannot tell them apart. The
// runtime's own goroutines, whose waits are never of these profiles,
// are left out.
func (w *Writer) ReasonlessWaits() time.Duration { return w.reasonless }

// profile builds the profile from what the Writer was given.
func (w *Writer) profile(sum *mapping.Summary) *profile.Profile {
	p := &w.prof
	p.Comments = append([]string{fmt.Sprintf("%s profile of the Go execution trace %s", w.kind, w.meta.Input)}, w.cfg.comments...)
	if sum != nil && sum.Err != nil {
		// A profile of a trace that breaks off says so: it would pass
		// for the whole trace's.
		p.Comments = append(p.Comments, "cut short: "+sum.Err.Error())
	}
	for i, c := range p.Comments {
		p.Comments[i] = utf8fix.String(c)
	}
	if c := w.meta.Clock; c != nil {
		p.TimeNanos = c.WallTime(w.meta.Start).UnixNano()
	}
	if sum != nil {
		p.DurationNanos = int64(sum.End - sum.Start)
	}
	switch w.kind {
	case CPU:
		p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}}
		p.PeriodType, p.Period = &profile.ValueType{Type: "samples", Unit: "count"}, 1
		if hz := int64(w.cfg.cpuRate); hz > 0 {
			p.SampleType = append(p.SampleType, &profile.ValueType{Type: "cpu", Unit: "nanoseconds"})
			p.PeriodType, p.Period = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, 1e9/hz
			p.DefaultSampleType = "cpu"
		}
	case Wall:
		p.SampleType = []*profile.ValueType{{Type: "intervals", Unit: "count"}, {Type: "wall", Unit: "nanoseconds"}}
		p.PeriodType, p.Period = &profile.ValueType{Type: "wall", Unit: "nanoseconds"}, 1
		p.DefaultSampleType = "wall"
	default:
		// The sample types of go tool trace -pprof, which are those of
		// the runtime's block and mutex profiles; the period type is
		// theirs (go tool trace's, trace/count, is another), so that
		// go tool pprof diffs and merges the profiles with them.
		p.SampleType = []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}}
		p.PeriodType, p.Period = &profile.ValueType{Type: "contentions", Unit: "count"}, 1
		p.DefaultSampleType = "delay"
	}

	// Samples in a fixed order, so that a trace gives the same bytes every
	// time.
	keys := make([]sampleKey, 0, len(w.samples))
	for k, s := range w.samples {
		// A count of none with time is a wait cut at a window's end.
		if s.Value[0] > 0 || s.Value[1] > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b sampleKey) int {
		return cmp.Or(cmp.Compare(a.stack, b.stack), cmp.Compare(a.state, b.state), cmp.Compare(a.reason, b.reason))
	})
	// Stacks that differ only in frames left out (see Stack) are one
	// stack: one sample each, with the same labels.
	type merged struct {
		locs   string
		state  mapping.GoState
		reason string
	}
	bySample := make(map[merged]*profile.Sample, len(keys))
	p.Sample = p.Sample[:0]
	var ids []byte
	for _, k := range keys {
		var locs []*profile.Location
		if int(k.stack) < len(w.stacks) {
			locs = w.stacks[k.stack]
		}
		ids = ids[:0]
		for _, l := range locs {
			ids = binary.AppendUvarint(ids, l.ID)
		}
		m := merged{string(ids), k.state, k.reason}
		s := w.samples[k]
		if into, ok := bySample[m]; ok {
			into.Value[0] += s.Value[0]
			into.Value[1] += s.Value[1]
			continue
		}
		bySample[m] = s
		s.Location = locs
		if w.kind == Wall {
			s.Label = map[string][]string{"state": {k.state.String()}}
			if k.reason != "" {
				s.Label["reason"] = []string{utf8fix.String(k.reason)}
			}
		}
		p.Sample = append(p.Sample, s)
	}
	if w.kind == CPU {
		for _, s := range p.Sample {
			s.Value = s.Value[:1]
			if hz := int64(w.cfg.cpuRate); hz > 0 {
				s.Value = append(s.Value, s.Value[0]*(1e9/hz))
			}
		}
	}
	w.keepReferenced(p)
	return p
}

// keepReferenced leaves in the profile only the locations, functions and
// mapping that its samples use, numbered anew: the Writer interns the
// stacks of the whole trace, of which a filter may keep few.
func (w *Writer) keepReferenced(p *profile.Profile) {
	for _, l := range p.Location {
		l.ID = 0
	}
	for _, f := range p.Function {
		f.ID = 0
	}
	p.Location, p.Function = nil, nil
	for _, s := range p.Sample {
		for _, l := range s.Location {
			if l.ID != 0 {
				continue
			}
			l.ID = uint64(len(p.Location) + 1)
			p.Location = append(p.Location, l)
			if fn := l.Line[0].Function; fn.ID == 0 {
				fn.ID = uint64(len(p.Function) + 1)
				p.Function = append(p.Function, fn)
			}
		}
	}
	if len(p.Location) == 0 {
		p.Mapping = nil
	}
}

// nilOutput stands for the nil io.Writer a Writer was given: its writes
// fail with an error that says so, where a nil Writer would panic, on a
// goroutine of the Writer's own where no caller could recover it.
type nilOutput struct{}

func (nilOutput) Write([]byte) (int, error) {
	return 0, errors.New("pprof: NewWriter was given a nil io.Writer")
}
