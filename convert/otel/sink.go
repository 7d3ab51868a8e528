package otel

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// TimeSource tells where the wall-clock times of the spans came from.
type TimeSource uint8

const (
	TimeFromClock      TimeSource = iota // the trace's clock snapshot (Go 1.25+)
	TimeFromStartTime                    // WithStartTime
	TimeFromConversion                   // the time the conversion began
)

var timeSourceNames = [...]string{
	TimeFromClock:      "the trace's wall-clock snapshot",
	TimeFromStartTime:  "the given start time",
	TimeFromConversion: "the time of the conversion, for want of a clock snapshot or a start time",
}

// String says where the times came from, for a message.
func (t TimeSource) String() string {
	if int(t) < len(timeSourceNames) {
		return timeSourceNames[t]
	}
	return fmt.Sprintf("TimeSource(%d)", uint8(t))
}

// Result tells what a conversion produced.
type Result struct {
	Tasks      int64 // task spans made
	Regions    int64 // region spans made
	Goroutines int64 // goroutine spans made
	// GoroutineParts counts, of Goroutines, the spans of goroutines'
	// parts after their first (see go.goroutine.part): the spans of
	// Goroutines-GoroutineParts goroutines were made.
	GoroutineParts int64
	Runtime        int64 // GC, stop-the-world and "Go runtime" spans made
	// Placeholders counts the spans made for tasks and regions that the
	// model names as parents but never delivers: begun and ended outside
	// the trace, or cut by a filter.
	Placeholders int64
	// Trees counts the spans that begin a tree of their own: those with
	// no parent, and those whose parent is a remote span. Each root task
	// is one; see Traces for the traces they make.
	Trees  int64
	Events int64 // span events (logs) made
	// DroppedLogs counts logs beyond a span's event limit; each span says
	// how many it lost in its dropped events count.
	DroppedLogs int64
	// UnplacedLogs counts logs that found no span: their task or region
	// was never delivered. It is zero for a trace the mapping read whole.
	UnplacedLogs int64

	// Repeated counts the spans left out for having been exported with
	// another window (WithExportedUntil, WithExported).
	Repeated int64
	// OpenTasks lists the tasks still open at the trace's (or the
	// window's) end, whose spans were sent cut: a conversion of a later,
	// overlapping window sends them whole (see WithExported).
	OpenTasks []mapping.TaskID
	// Unsampled counts the spans left out for joining a remote trace the
	// application did not sample (see WithSampledOnly).
	Unsampled int64

	// SDKTasks counts the tasks left out that the OpenTelemetry Go SDK
	// began for the application's own spans, which the application
	// exports itself (see the package documentation).
	SDKTasks int64
	// SDKTasksAlone counts the tasks of the SDK's that were sent, for
	// the regions, logs or tasks of the program they hold, as roots of
	// traces of their own: copies of the application's spans that the
	// trace does not place in the application's traces. A traceparent
	// logged in them places them (see the package documentation).
	SDKTasksAlone int64

	Exported int64 // spans the exporter accepted
	Failed   int64 // spans the exporter rejected, or not sent after it failed
	// StoppedPass is set when the sink's error (an export failed for
	// good, its context ended) stopped the pass before its end: the rest
	// of the trace made no spans. An export that fails only while the
	// last spans are flushed leaves it unset.
	StoppedPass bool

	// Joined counts the tasks made children of a remote span by a
	// traceparent log, those whose span was left out as exported with
	// another window (Repeated) included.
	Joined          int
	LateJoins       int // traceparent logs that came too late to re-parent their task; linked instead
	BadTraceparents int // traceparent logs that do not parse
	// TasklessTraceparents counts the traceparent logs outside any task,
	// which join nothing: the request's regions then go under their
	// goroutine's span (the OpenTelemetry SDK begins a task only for the
	// spans it records, so a request it did not sample has none).
	TasklessTraceparents int
	// SharedJoins counts the joined tasks whose remote trace another task
	// of the file joined before: their trees add no trace. MostJoined is
	// the most tasks that joined one remote trace, MostJoinedTrace that
	// trace: many tasks that log the same traceparent (a batch under one
	// request, or a bug that logs a fixed one) make one trace of them all.
	SharedJoins     int
	MostJoined      int
	MostJoinedTrace trace.TraceID
	// MostSameParent is the most tasks that logged one traceparent (one
	// remote span): tasks that joined one trace under many of its spans
	// are a request's fan-out, not a fixed traceparent.
	MostSameParent int
	// LargestTraceSpans is the most spans sent to one trace, LargestTrace
	// that trace. Tasks and regions cut trees past about 1,000 spans, but
	// a remote trace that tasks joined, a task's regions and a region's
	// nested regions are not cut (see the package documentation).
	LargestTraceSpans int64
	LargestTrace      trace.TraceID

	TimeSource TimeSource
	Start      time.Time // the wall-clock time given to the trace's start

	// Summary is the mapping's summary of the trace, set by Convert.
	Summary *mapping.Summary
}

// Traces returns the number of traces the spans make: the trees, less
// those that joined a remote trace another tree joined first.
func (r Result) Traces() int64 { return r.Trees - int64(r.SharedJoins) }

// Spans returns the number of spans made.
func (r Result) Spans() int64 {
	return r.Tasks + r.Regions + r.Goroutines + r.Runtime + r.Placeholders
}

// Sink is a mapping.Sink that turns user tasks, regions and logs (and,
// when asked, GC cycles, stop-the-world pauses and goroutines) into
// OpenTelemetry spans and hands them to an exporter through the SDK's
// batch span processor. See the package documentation for the mapping.
//
// Each span is built when its interval ends, with the start and end times
// and the IDs the trace gives it. Spans are exported as they end, except
// while the trace they belong to is undecided (see the package
// documentation on traceparent).
//
// A Sink is not safe for concurrent use; the mapping calls it from one
// goroutine.
//
// Begin starts the SDK's goroutine and End stops it, once the spans are
// exported (mapping's passes call End whatever happens after Begin). A
// program that calls a Sink's methods itself calls End too, even when it
// gives up early, with a Summary whose Err says why; a cancelled context
// (NewSink's ctx) makes End drop what waits rather than send it.
type Sink struct {
	// outcomes holds what open tasks logged of how they ended (see
	// CategoryHTTPStatus), until their spans are made.
	outcomes map[mapping.TaskID]taskOutcome

	cfg config
	ctx context.Context
	// latest is the latest time an item told, where an End without a
	// Summary ends what is open.
	latest mapping.Time
	// stop ends the export: ctx, or later by the flush timeout (see
	// WithFlushTimeout); unhook releases what watches for it.
	stop   context.Context
	unhook func()
	exp    *exporter
	bsp    sdktrace.SpanProcessor // nil until Begin
	common spanCommon
	ids    ids
	meta   mapping.Meta
	base   time.Time // the wall-clock time of meta.Start
	res    Result
	err    error               // the first error; the pass stops at it
	limit  int                 // events kept per span; < 0: no limit
	limits sdktrace.SpanLimits // the limits the SDK's tracer would apply

	// runtime holds, for each second of the trace that has runtime
	// spans, their extent, for the second's "Go runtime" span.
	runtime map[int64]extent
	// missingRegions are the regions named as parents and not delivered
	// (yet): at the end, those left get placeholders.
	missingRegions map[mapping.RegionID]missingRegion

	// stacks are the stacks a span has named, ready for its attributes;
	// rawStacks every other stack, as indexes into frames: a program
	// whose stacks follow its input (an interpreter, a parser) brings
	// thousands of new ones a second, few of which a span names, and
	// the same frames again and again.
	stacks       map[mapping.StackID]*stackInfo
	rawStacks    map[mapping.StackID][]uint32
	frames       []mapping.Frame
	frameIdx     map[mapping.Frame]uint32
	gs           map[mapping.GoID]*goState
	freeG        []*goState
	nextG        uint64 // serial number of the next goroutine life
	regionEvents map[mapping.RegionID]*eventList
	nextRuntime  uint64
	traces       traceTable
	sizes        traceSizes
	attrs        []attribute.KeyValue // scratch for spans sent at once
}

var _ mapping.Sink = (*Sink)(nil)

// goState is what the sink keeps about a live goroutine: what its spans'
// attributes say, and its own span while that is needed.
type goState struct {
	id      mapping.GoID
	serial  uint64
	startFn string
	label   string
	creator mapping.GoID
	created mapping.Time
	flags   mapping.Flags
	// needed: a region or log of no task has it as its parent.
	needed bool
	// stated: a state of it came, which under a filter tells a goroutine
	// it kept from one only named by what it kept (a creator, a waker),
	// whose life the filter does not follow.
	stated     bool
	start, end mapping.Time // the extent of its children, for its span
	events     eventList
	// spans counts the spans sent in its trace; part numbers the traces
	// its spans outside tasks were cut into (see maxGoroutineTraceSpans).
	spans int
	part  int
}

// maxGoroutineTraceSpans is about the most spans a goroutine's trace of
// spans outside tasks holds: past it, the goroutine's next regions go to
// a new trace, under a new span of the goroutine. Backends list, search
// and lay out one trace at a time and limit its size (Tempo at 5 MB by
// default, about 2,000 spans with their stacks), and a loop that marks
// each round with a region outside tasks would make one trace of them
// all. A region is never cut from the regions nested in it.
const maxGoroutineTraceSpans = 1000

// extent is the time covered by some spans.
type extent struct{ start, end mapping.Time }

// missingRegion is what a placeholder for a region needs: where the
// region's children are.
type missingRegion struct {
	g    mapping.GoID
	task mapping.TaskID // the region's task; NoTask: under the goroutine's span
	goTr trace.TraceID  // for NoTask: the goroutine's trace and span
	goSp trace.SpanID
	// child and childEnd are the earliest start and the latest end of its
	// children, which its placeholder covers.
	child, childEnd mapping.Time
}

// event is a log waiting for the span it belongs to.
type event struct {
	t       mapping.Time
	name    string
	message string
	task    mapping.TaskID
	g       mapping.GoID
	// parked is the state of the event's task while the event waits in a
	// region of unknown task; see Log.
	parked *taskState
}

// eventList is the events of one span, up to the sink's limit.
type eventList struct {
	events  []event
	dropped int
}

// addEvent adds ev to l unless l is full, and reports whether it did.
func (s *Sink) addEvent(l *eventList, ev event) bool {
	if s.limit >= 0 && len(l.events) >= s.limit {
		l.dropped++
		return false
	}
	l.events = append(l.events, ev)
	return true
}

// spanRec is a span to be made: everything the SDK is told, except the
// trace ID, which may not be known yet.
type spanRec struct {
	kind       idKind
	name       string
	spanID     trace.SpanID
	parent     trace.SpanID      // a parent in the same trace; zero: none
	remote     trace.SpanContext // a remote parent; it fixes the trace ID
	start, end mapping.Time
	// task and root: a region's task, or a task itself, and its root;
	// NoTask for other spans (see WithExported).
	task, root mapping.TaskID
	attrs      []attribute.KeyValue
	events     eventList
	links      []trace.Link
	// skip: a task of the OpenTelemetry SDK's that nothing of its trace
	// names as parent; it decides its trace, but is not sent.
	skip bool
	// sdk: a task of the OpenTelemetry SDK's, sent (see Result.SDKTasksAlone).
	sdk bool
	// later: the span of a goroutine's part after its first.
	later bool
	// status: an error its task logged (see taskOutcome).
	status sdktrace.Status
}

// NewSink returns a Sink that exports to exp. End flushes it and reports
// the first export error; exp itself is not shut down, so a program can
// go on using it. ctx bounds the conversion and the export: when it is
// cancelled, the sink stops the pass, the export under way is cancelled
// and what is left unsent counts as failed; a nil ctx is
// context.Background. WithFlushTimeout gives what was converted time to
// be sent after ctx ends.
func NewSink(ctx context.Context, exp sdktrace.SpanExporter, opts ...Option) *Sink {
	cfg := newConfig(opts)
	if ctx == nil {
		ctx = context.Background()
	}
	var limits sdktrace.SpanLimits
	switch {
	case cfg.limitsSet:
		limits = cfg.limits
	case !cfg.noEnvResource:
		limits = sdktrace.NewSpanLimits()
	default:
		// The variables describe the process's own telemetry.
		limits = sdktrace.SpanLimits{
			AttributeValueLengthLimit:   sdktrace.DefaultAttributeValueLengthLimit,
			AttributeCountLimit:         sdktrace.DefaultAttributeCountLimit,
			EventCountLimit:             sdktrace.DefaultEventCountLimit,
			LinkCountLimit:              sdktrace.DefaultLinkCountLimit,
			AttributePerEventCountLimit: sdktrace.DefaultAttributePerEventCountLimit,
			AttributePerLinkCountLimit:  sdktrace.DefaultAttributePerLinkCountLimit,
		}
	}
	if cfg.eventLimitSet {
		limits.EventCountLimit = cfg.eventLimit
	}
	limit := limits.EventCountLimit
	stop, unhook := ctx, func() {}
	if cfg.flushTimeout > 0 && ctx.Done() != nil {
		// The export outlives the pass by the flush timeout.
		sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		var timer *time.Timer
		var mu sync.Mutex
		stopHook := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			timer = time.AfterFunc(cfg.flushTimeout, func() { cancel(context.Cause(ctx)) })
		})
		stop, unhook = sctx, func() {
			stopHook()
			mu.Lock()
			if timer != nil {
				timer.Stop()
			}
			mu.Unlock()
			cancel(nil)
		}
	}
	wrapped := &exporter{next: exp, timeout: cfg.exportTimeout, retry: cfg.retry, stop: stop}
	wrapped.maxBytes.Store(max(cfg.maxBytes, 0))
	return &Sink{
		cfg:            cfg,
		ctx:            ctx,
		stop:           stop,
		unhook:         unhook,
		exp:            wrapped,
		limit:          limit,
		limits:         limits,
		stacks:         make(map[mapping.StackID]*stackInfo),
		rawStacks:      make(map[mapping.StackID][]uint32),
		frameIdx:       make(map[mapping.Frame]uint32),
		gs:             make(map[mapping.GoID]*goState),
		regionEvents:   make(map[mapping.RegionID]*eventList),
		outcomes:       make(map[mapping.TaskID]taskOutcome),
		traces:         newTraceTable(cfg.maxPending, cfg.joinFromStart),
		runtime:        make(map[int64]extent),
		missingRegions: make(map[mapping.RegionID]missingRegion),
	}
}

// Result returns what the sink has made so far; after End, everything.
// Call it from the goroutine the pass calls the sink on (between items,
// or after End), not beside a pass under way elsewhere (mapping.Async's):
// it reads the sink's state unguarded.
func (s *Sink) Result() Result {
	r := s.res
	r.Exported, r.Failed = s.exp.exported.Load(), s.exp.failed.Load()
	r.Joined, r.LateJoins, r.BadTraceparents, r.TasklessTraceparents = s.traces.joined, s.traces.late, s.traces.bad, s.traces.taskless
	r.SharedJoins, r.MostJoined, r.MostJoinedTrace, r.MostSameParent = s.traces.shared, s.traces.most, s.traces.mostTraceID, s.traces.mostSame
	r.LargestTrace, r.LargestTraceSpans = s.sizes.largestID, s.sizes.largest
	return r
}

// traceSizes counts the spans sent to each trace, to tell the largest:
// backends show a trace of tens of thousands of spans slowly, if at all.
// The traces of the last maxSized to get a span are counted: a trace that
// gets none while that many others do is taken to be done.
type traceSizes struct {
	cur, prev map[trace.TraceID]int64
	largest   int64
	largestID trace.TraceID
}

// maxSized bounds the traces whose spans are counted at once.
const maxSized = 1 << 16

func (t *traceSizes) add(tid trace.TraceID) {
	if t.cur == nil || len(t.cur) >= maxSized {
		t.prev, t.cur = t.cur, make(map[trace.TraceID]int64)
	}
	n, ok := t.cur[tid]
	if !ok {
		n = t.prev[tid]
		delete(t.prev, tid)
	}
	n++
	t.cur[tid] = n
	if n > t.largest {
		t.largest, t.largestID = n, tid
	}
}

// ErrNoExporter is returned for a Sink or Convert given a nil exporter,
// which would otherwise fail inside the SDK's goroutine, out of the
// caller's reach.
var ErrNoExporter = errors.New("otel: no span exporter (nil)")

// errBeforeBegin refuses an item given before Begin.
var errBeforeBegin = errors.New("otel: an item given to the Sink before its Begin")

// ErrSecondTrace is returned by Begin of a Sink that converted a trace
// already: a Sink converts one trace, and its Result is that trace's.
var ErrSecondTrace = errors.New("otel: Begin called again: a Sink converts one trace")

// Begin sets the clock and the resource and starts the SDK.
func (s *Sink) Begin(m *mapping.Meta) error {
	if s.exp == nil {
		return errors.New("otel: the Sink was not made by NewSink")
	}
	if s.exp.next == nil {
		return ErrNoExporter
	}
	if s.bsp != nil {
		// The IDs, the traces and the Result are of one trace.
		return ErrSecondTrace
	}
	if m == nil {
		return errors.New("otel: Begin given no Meta")
	}
	s.meta = *m
	if m.Clock != nil {
		c := *m.Clock
		s.meta.Clock = &c
		s.base, s.res.TimeSource = c.WallTime(m.Start), TimeFromClock
	} else if !s.cfg.startTime.IsZero() {
		s.base, s.res.TimeSource = s.cfg.startTime, TimeFromStartTime
	} else {
		s.base, s.res.TimeSource = time.Now(), TimeFromConversion
	}
	s.res.Start = s.base
	seed := s.cfg.seed
	if seed == nil {
		seed = metaSeed(m)
	}
	s.ids = newIDs(seed)
	if m.TraceparentSeen {
		s.traces.firstTP, s.traces.tpFromMeta = m.FirstTraceparent, true
	}

	res, err := s.resource()
	if err != nil {
		return err
	}
	s.common = spanCommon{res: res, scope: instrumentation.Scope{Name: instrumentationURL, Version: s.cfg.version}}
	// The processor's own export timeout is off: the exporter wrapper
	// bounds each call and retries within its own window.
	s.bsp = sdktrace.NewBatchSpanProcessor(s.exp,
		sdktrace.WithBlocking(),
		sdktrace.WithMaxQueueSize(s.cfg.maxQueue),
		sdktrace.WithMaxExportBatchSize(s.cfg.maxBatch),
		sdktrace.WithExportTimeout(0))
	return nil
}

// limitVars are the variables the SDK reads its span limits from (see
// WithSpanLimits).
var limitVars = []string{
	"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
}

// unknownService is the service.name of spans whose service nothing
// names: the semantic conventions' fallback, which an SDK uses when the
// program's own executable name is unknown, as a trace does not tell it.
// A file's or URL's name would make each capture a service of its own, and
// the replicas of one service as many services.
const unknownService = "unknown_service"

// defaultInstance is the service.instance.id of the input named input:
// a URL's host and port (as the Collector's Prometheus receiver names an
// instance it scrapes), or "" for a file or standard input, which name no
// instance.
func defaultInstance(input string) string {
	if !strings.HasPrefix(input, "http://") && !strings.HasPrefix(input, "https://") {
		return ""
	}
	u, err := url.Parse(input)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// resource builds the resource: service.name, process.runtime.*,
// telemetry.sdk.*, then what the environment says, then the options.
func (s *Sink) resource() (*resource.Resource, error) {
	input := s.cfg.inputName
	if input == "" {
		input = s.meta.Input
	}
	defaults := []attribute.KeyValue{
		keyServiceName.String(unknownService),
		keyRuntimeName.String("go"),
		keyTraceFormat.String(s.meta.FormatVersion),
	}
	if inst := defaultInstance(input); inst != "" {
		defaults = append(defaults, keyServiceInstanceID.String(valid(inst)))
	}
	opts := []resource.Option{
		resource.WithTelemetrySDK(),
		resource.WithAttributes(defaults...),
	}
	if !s.cfg.noEnvResource {
		opts = append(opts, resource.WithFromEnv())
		if err := CheckEnv(); err != nil {
			return nil, err
		}
	}
	if s.cfg.serviceName != "" {
		opts = append(opts, resource.WithAttributes(keyServiceName.String(s.cfg.serviceName)))
	}
	res, err := resource.New(s.ctx, opts...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("building the OpenTelemetry resource: %w", err)
	}
	if s.cfg.resource != nil {
		if res, err = resource.Merge(res, s.cfg.resource); err != nil {
			return nil, fmt.Errorf("building the OpenTelemetry resource: %w", err)
		}
	}
	return res, nil
}

// CheckEnv refuses a value of OTEL_RESOURCE_ATTRIBUTES that the SDK
// would read in part, logging or dropping the rest: the spans would go out
// without attributes the user set, under a service they did not name; and
// a span limit variable that is not a whole number, which the SDK would
// log and take as unset. A conversion refuses them at its start; a
// program can call CheckEnv to refuse them before it opens its input or
// outputs.
func CheckEnv() error {
	for _, k := range limitVars {
		if v := os.Getenv(k); v != "" {
			if _, err := strconv.Atoi(v); err != nil {
				return fmt.Errorf("%s=%q is not a whole number (a negative one for no limit)", k, v)
			}
		}
	}
	v := os.Getenv("OTEL_RESOURCE_ATTRIBUTES")
	if strings.TrimSpace(v) == "" {
		return nil
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		var reason string
		switch {
		case strings.TrimSpace(kv) == "":
			reason = "it has an empty pair"
		case !ok:
			reason = fmt.Sprintf("%q is not key=value", strings.TrimSpace(kv))
		case strings.TrimSpace(k) == "":
			reason = fmt.Sprintf("%q has no key", strings.TrimSpace(kv))
		default:
			if _, err := url.PathUnescape(strings.TrimSpace(val)); err != nil {
				reason = fmt.Sprintf("the value of %s is not percent-encoded (%v)", strings.TrimSpace(k), err)
			}
		}
		if reason != "" {
			return fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES=%q: %s; want key=value pairs separated by commas (a comma in a value written %%2C, a %% as %%25)", v, reason)
		}
	}
	return nil
}

// An ExportError is the error of an export that failed for good (or of
// spans the endpoint refused, a *RejectedError): it names where the spans
// went, when WithDestination says.
type ExportError struct {
	Dest string // the destination, if named
	Err  error
}

// Error says where the export failed, and why.
func (e *ExportError) Error() string {
	if e.Dest == "" {
		return "exporting spans: " + e.Err.Error()
	}
	return fmt.Sprintf("exporting spans to %s: %v", e.Dest, e.Err)
}

// Unwrap returns the exporter's error.
func (e *ExportError) Unwrap() error { return e.Err }

func (s *Sink) wall(t mapping.Time) time.Time { return s.base.Add(t.Sub(s.meta.Start)) }

// check returns the error that must stop the pass: the sink's own, a
// cancelled context, or an exporter that failed for good.
func (s *Sink) check() error {
	if s.err != nil {
		return s.err
	}
	if s.bsp == nil {
		// No trace begun: its spans would have no clock, resource or
		// processor. Not kept, so that a Begin may still come.
		return errBeforeBegin
	}
	if err := s.ctx.Err(); err != nil && (s.cfg.flushTimeout == 0 || s.stop.Err() != nil) {
		// With a flush timeout, what the pass still delivers (events
		// read before its reader stopped) is taken until the export
		// stops.
		s.err = err
	} else if s.exp.fatal.Load() {
		s.err = &ExportError{Dest: s.cfg.dest, Err: s.exp.firstError()}
	}
	return s.err
}

// Stack keeps the frames, for the spans that will name it.
func (s *Sink) Stack(st *mapping.Stack) error {
	if len(st.Frames) == 0 {
		return nil
	}
	idx := make([]uint32, len(st.Frames))
	for i, f := range st.Frames {
		n, ok := s.frameIdx[f]
		if !ok {
			n = uint32(len(s.frames))
			s.frames = append(s.frames, f)
			s.frameIdx[f] = n
		}
		idx[i] = n
	}
	s.rawStacks[st.ID] = idx
	return nil
}

// stack returns the stack id, prepared for a span's attributes, or nil.
func (s *Sink) stack(id mapping.StackID) *stackInfo {
	if si := s.stacks[id]; si != nil {
		return si
	}
	idx, ok := s.rawStacks[id]
	if !ok {
		return nil
	}
	delete(s.rawStacks, id)
	frames := make([]mapping.Frame, len(idx))
	for i, n := range idx {
		frames[i] = s.frames[n]
	}
	si := &stackInfo{frames: frames}
	si.prepare()
	s.stacks[id] = si
	return si
}

// Goroutine records a goroutine's life. A goroutine delivered anew under
// an ID in use is a new life of a reused ID; the old one is over.
func (s *Sink) Goroutine(g *mapping.Goroutine) error {
	st := s.gs[g.ID]
	if st == nil || !g.Updated {
		if st != nil {
			s.endGoroutine(st, g.Created, mapping.OpenEnd)
		}
		st = s.newGoroutine(goState{id: g.ID, creator: g.Creator, created: g.Created, flags: g.Flags})
	}
	st.startFn, st.label, st.creator = valid(g.StartFunc), valid(g.Label), g.Creator
	return s.check()
}

// GoroutineState notes, under a filter, that a goroutine's states are
// kept: a goroutine span is made for those alone.
func (s *Sink) GoroutineState(gs *mapping.GoroutineState) error {
	s.latest = max(s.latest, gs.End)
	if s.cfg.goroutineSpans && s.meta.Filtered {
		if st := s.gs[gs.G]; st != nil {
			st.stated = true
		}
	}
	return nil
}

// goroutine returns the live goroutine id, making one up if the mapping
// never named it, which it always does.
func (s *Sink) goroutine(id mapping.GoID, t mapping.Time) *goState {
	if st := s.gs[id]; st != nil {
		return st
	}
	return s.newGoroutine(goState{id: id, creator: mapping.NoGoroutine, created: t, flags: mapping.OpenStart})
}

// newGoroutine adds a goroutine life, reusing the state of one that
// ended: programs that start many short goroutines would otherwise
// allocate for each.
func (s *Sink) newGoroutine(g goState) *goState {
	var st *goState
	if n := len(s.freeG); n > 0 {
		st = s.freeG[n-1]
		s.freeG = s.freeG[:n-1]
	} else {
		st = new(goState)
	}
	*st = g
	st.serial, st.start, st.end = s.nextG, g.created, g.created
	s.nextG++
	s.gs[g.id] = st
	return st
}

// GoroutineEvent ends a goroutine's span when it exits.
func (s *Sink) GoroutineEvent(ev *mapping.GoroutineEvent) error {
	s.latest = max(s.latest, ev.Time)
	if ev.Kind != mapping.GoEnded {
		return nil
	}
	if st := s.gs[ev.G]; st != nil {
		s.endGoroutine(st, ev.Time, 0)
	}
	return s.check()
}

// endGoroutine ends a goroutine's life, exporting its span if it has one.
func (s *Sink) endGoroutine(st *goState, t mapping.Time, flags mapping.Flags) {
	delete(s.gs, st.id)
	defer func() {
		*st = goState{}
		s.freeG = append(s.freeG, st)
	}()
	if !st.needed && (!s.cfg.goroutineSpans || s.meta.Filtered && !st.stated) || st.part > 0 && !st.needed {
		return // a later part with nothing in it makes no span
	}
	s.goroutineSpan(st, max(t, st.end), flags, false)
}

// nextPart sends the goroutine's span over its spans outside tasks so
// far, and begins a new trace for those to come, under a new span of the
// goroutine, once its trace is full (see maxGoroutineTraceSpans).
func (s *Sink) nextPart(st *goState) {
	s.goroutineSpan(st, st.end, 0, true)
	st.serial = s.nextG
	s.nextG++
	st.part++
	st.needed, st.spans, st.events = false, 0, eventList{}
	st.start = maxTime
}

// maxTime is later than any time of a trace.
const maxTime = mapping.Time(1<<63 - 1)

// goroutineSpan sends the goroutine's span, or the span of its current
// part, ending at end; cut says another part follows.
func (s *Sink) goroutineSpan(st *goState, end mapping.Time, flags mapping.Flags, cut bool) {
	// The ID is an attribute, not in the name: a backend lists span
	// names as operations, and one per goroutine would be thousands.
	name := "goroutine"
	if st.startFn != "" {
		name += " " + st.startFn
	}
	a := append(s.attrs[:0], keyGoroutineID.Int64(int64(st.id)))
	if st.startFn != "" {
		a = append(a, keyStartFunc.String(st.startFn))
	}
	if st.creator != mapping.NoGoroutine {
		a = append(a, keyCreator.Int64(int64(st.creator)))
	}
	if st.label != "" {
		a = append(a, keyLabel.String(st.label))
	}
	start, gflags := min(st.created, st.start), st.flags
	if st.part > 0 || cut {
		a = append(a, keyPart.Int64(int64(st.part)))
	}
	if st.part > 0 {
		// A later part covers its own spans; the goroutine's start, and
		// whether the trace holds it, are the first part's.
		start, gflags = min(st.start, end), gflags&^mapping.OpenStart
	}
	a = appendFlags(a, gflags|flags)
	s.attrs = a
	rec := spanRec{
		kind:   kindGoroutine,
		name:   name,
		spanID: s.ids.span(kindGoroutine, st.serial),
		start:  start,
		end:    end,
		attrs:  a,
		events: st.events,
		later:  st.part > 0,
	}
	s.emit(&rec, s.goTrace(st))
}

// goTrace is the trace of a goroutine's span and of its regions and logs
// outside any task.
func (s *Sink) goTrace(st *goState) trace.TraceID {
	return s.ids.trace(kindGoroutineTrace, st.serial)
}

// Range makes spans of GC cycles and stop-the-world pauses, when asked.
func (s *Sink) Range(r *mapping.Range) error {
	s.latest = max(s.latest, r.End)
	if !s.cfg.runtimeSpans || (r.Kind != mapping.RangeGCMark && r.Kind != mapping.RangeSTW) {
		return nil
	}
	if err := s.check(); err != nil {
		return err
	}
	a := s.attrs[:0]
	if r.Cycle > 0 {
		a = append(a, keyGCCycle.Int(r.Cycle))
	}
	if r.Reason != "" {
		a = append(a, keySTWReason.String(valid(r.Reason)))
	}
	if r.Scope == mapping.ScopeGoroutine {
		a = append(a, keyGoroutineID.Int64(int64(r.G)))
	}
	a = s.appendStack(a, s.stack(r.Stack), false)
	a = appendFlags(a, r.Flags)
	s.attrs = a
	// A trace per second of the trace, by start: a backend shows a
	// second's collections and pauses together, and no trace grows with
	// the length of the file.
	sec := max(0, int64(r.Start.Sub(s.meta.Start)/time.Second))
	rec := spanRec{
		kind:   kindRuntime,
		name:   valid(r.Name),
		spanID: s.ids.span(kindRuntime, s.nextRuntime),
		parent: s.ids.span(kindRuntimeRoot, uint64(sec)),
		start:  r.Start,
		end:    r.End,
		attrs:  a,
	}
	s.nextRuntime++
	if e, ok := s.runtime[sec]; ok {
		s.runtime[sec] = extent{min(e.start, r.Start), max(e.end, r.End)}
	} else {
		s.runtime[sec] = extent{r.Start, r.End}
	}
	s.emit(&rec, s.ids.trace(kindRuntimeTrace, uint64(sec)))
	return s.check()
}

// Log makes a span event, placed on the innermost span open for its
// goroutine and task, and acts on the logs that carry trace context.
func (s *Sink) Log(l *mapping.Log) error {
	s.latest = max(s.latest, l.Time)
	if err := s.check(); err != nil {
		return err
	}
	ev := event{t: l.Time, name: valid(l.Category), message: l.Message, task: l.Task, g: l.G}
	if ev.name == "" {
		ev.name = "log"
	}
	s.traces.noteRoot(l.Task, l.Root)
	switch l.Category {
	case mapping.CategoryTraceparent:
		s.traceparent(l)
	case CategoryHTTPStatus, CategoryError:
		s.noteOutcome(l)
	case "datadog.uint64_span_id":
		if len(l.Message) == 8 {
			id := strconv.FormatUint(binary.LittleEndian.Uint64([]byte(l.Message)), 10)
			ev.message = id
			s.traces.datadog(l.Task, id)
		}
	}
	ev.message = valid(ev.message)
	if l.Region == mapping.NoRegion {
		s.placeInTask(ev)
		return nil
	}
	// Whether the region belongs to the log's task is known only when the
	// region ends: the event waits in the region (see Region). Meanwhile
	// the task, if it ends, must wait for the event: it is parked.
	if l.Task != mapping.NoTask {
		if st := s.traces.open(l.Task); st != nil && st.closing == nil {
			ev.parked = st
		}
	}
	s.park(l.Region, ev)
	return nil
}

// Log categories that say how a task ended, as an HTTP server's request
// task does: the span of the task that logs them gets the status code as
// its http.response.status_code attribute, and the status Error for a
// code of 500 or more (a server's error, by OpenTelemetry's semantic
// conventions for HTTP servers) or for a log of CategoryError, whose
// message is the status's description, with error.type (the code, else
// "_OTHER"). The logs are span events too.
const (
	CategoryHTTPStatus = "http.response.status_code" // the message is the code, in decimal
	CategoryError      = "error"                     // the message says what failed
)

// taskOutcome is what a task logged of how it ended.
type taskOutcome struct {
	httpStatus int64
	err        string
	failed     bool // a log of CategoryError came
}

// status is the span status of a task that ended so.
func (o taskOutcome) status() sdktrace.Status {
	switch {
	case o.failed:
		return sdktrace.Status{Code: codes.Error, Description: o.err}
	case o.httpStatus >= 500:
		return sdktrace.Status{Code: codes.Error}
	}
	return sdktrace.Status{}
}

// errorType is the error.type of a task that ended so, "" if it did not
// fail: the status code for a server's error, as the semantic conventions
// for HTTP servers have it, else their fallback "_OTHER" (a log's message
// is free text, not the low-cardinality type a backend groups by).
func (o taskOutcome) errorType() string {
	switch {
	case o.httpStatus >= 500:
		return strconv.FormatInt(o.httpStatus, 10)
	case o.failed:
		return "_OTHER"
	}
	return ""
}

// noteOutcome keeps what a log of CategoryHTTPStatus or CategoryError
// says of its task's end.
func (s *Sink) noteOutcome(l *mapping.Log) {
	if l.Task == mapping.NoTask || len(s.outcomes) >= maxOutcomes {
		return
	}
	o := s.outcomes[l.Task]
	switch l.Category {
	case CategoryHTTPStatus:
		n, err := strconv.ParseInt(strings.TrimSpace(l.Message), 10, 64)
		if err != nil || n < 100 || n > 999 {
			return
		}
		o.httpStatus = n
	case CategoryError:
		if !o.failed {
			o.err, o.failed = valid(l.Message), true
		}
	}
	s.outcomes[l.Task] = o
}

// maxOutcomes bounds the tasks whose outcomes are held: one each for the
// open tasks that logged one, which the mapping delivers as they end.
const maxOutcomes = 1 << 16

// regionList returns the events waiting in region id.
func (s *Sink) regionList(id mapping.RegionID) *eventList {
	list := s.regionEvents[id]
	if list == nil {
		list = &eventList{}
		s.regionEvents[id] = list
	}
	return list
}

// park puts ev in the list of region id.
func (s *Sink) park(id mapping.RegionID, ev event) {
	if !s.addEvent(s.regionList(id), ev) {
		s.unpark(ev)
		return
	}
	if ev.parked != nil {
		ev.parked.parked++
	}
}

// unpark notes that ev has left the regions' lists, and makes its task's
// span if that waited only for it.
func (s *Sink) unpark(ev event) {
	st := ev.parked
	if st == nil {
		return
	}
	st.parked--
	if c := st.closing; st.parked == 0 && c != nil {
		st.closing = nil
		s.traces.end(s, &c.task, &c.rec)
	}
}

// placeInTask puts an event on its task's span, if the task was open when
// the event was logged, or else on its goroutine's.
func (s *Sink) placeInTask(ev event) {
	if st := ev.parked; st != nil {
		s.addEvent(&st.events, ev)
		s.unpark(ev)
		return
	}
	if ev.task != mapping.NoTask {
		if st := s.traces.open(ev.task); st != nil && st.closing == nil {
			s.addEvent(&st.events, ev)
			return
		}
	}
	g := s.gs[ev.g]
	if g == nil {
		s.res.UnplacedLogs++
		return
	}
	g.needed = true
	g.start, g.end = min(g.start, ev.t), max(g.end, ev.t)
	s.addEvent(&g.events, ev)
}

// traceparent reads a W3C traceparent logged in a task.
func (s *Sink) traceparent(l *mapping.Log) {
	if l.Task == mapping.NoTask {
		s.traces.taskless++
		return
	}
	// Space around the value is not part of it (HTTP trims a header's),
	// and a log made with fmt.Sprintln ends in a newline.
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": strings.TrimSpace(l.Message)})
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		s.traces.bad++
		return
	}
	s.traces.join(s, l.Task, sc, l.Message)
}

// Region makes a region's span: a child of its enclosing region, or of its
// task, or of its goroutine.
func (s *Sink) Region(r *mapping.Region) error {
	s.latest = max(s.latest, r.End)
	if err := s.check(); err != nil {
		return err
	}
	g := s.goroutine(r.G, r.Start)
	if len(s.missingRegions) > 0 {
		delete(s.missingRegions, r.ID)
	}
	s.traces.noteRoot(r.Task, r.Root)
	rec := spanRec{
		kind:   kindRegion,
		name:   valid(r.Type),
		spanID: s.ids.region(r.ID),
		start:  r.Start,
		end:    r.End,
		task:   r.Task,
		root:   r.Root,
	}
	if rec.name == "" {
		rec.name = "region"
	}
	// The events first: placing them may end a task that waited for them,
	// whose span must not share the scratch attributes used below.
	if l := s.regionEvents[r.ID]; l != nil {
		delete(s.regionEvents, r.ID)
		rec.events.dropped = l.dropped
		for _, ev := range l.events {
			switch {
			case ev.task == r.Task:
				rec.events.events = append(rec.events.events, ev)
				s.unpark(ev)
			case r.Parent != mapping.NoRegion:
				// A log of another task than the region's belongs
				// further out.
				if !s.addEvent(s.regionList(r.Parent), ev) {
					s.unpark(ev)
				}
			default:
				s.placeInTask(ev)
			}
		}
	}
	a := append(s.attrs[:0], keyGoroutineID.Int64(int64(r.G)))
	if g.startFn != "" {
		a = append(a, keyStartFunc.String(g.startFn))
	}
	if r.Task != mapping.NoTask {
		a = append(a, keyTaskID.Int64(int64(r.Task)))
	}
	if r.Timed {
		a = appendStateTimes(a, &r.Time)
	}
	a = s.appendStacks(a, r.Stack, r.EndStack)
	a = appendFlags(a, r.Flags)
	s.attrs, rec.attrs = a, a
	// A region's parent is its enclosing region if that is of the same
	// task, and so in the same trace; else its task's span, or for a
	// region outside any task, its goroutine's.
	sameTask := r.Parent != mapping.NoRegion && r.ParentTask == r.Task
	switch {
	case sameTask:
		rec.parent = s.ids.region(r.Parent)
	case r.Task != mapping.NoTask:
		rec.parent = s.traces.child(s, r.Task, r.Start, r.End)
	}
	if r.Task == mapping.NoTask {
		// The goroutine's span is needed also under a parent region: if a
		// filter cut that region, its placeholder goes under it.
		g.needed = true
		g.start, g.end = min(g.start, r.Start), max(g.end, r.End)
		if !sameTask {
			rec.parent = s.ids.span(kindGoroutine, g.serial)
		}
	}
	if sameTask {
		m, ok := s.missingRegions[r.Parent]
		if !ok {
			m = missingRegion{g: r.G, task: r.Task, goTr: s.goTrace(g), goSp: s.ids.span(kindGoroutine, g.serial), child: r.Start, childEnd: r.End}
		}
		m.child, m.childEnd = min(m.child, r.Start), max(m.childEnd, r.End)
		s.missingRegions[r.Parent] = m
	}
	if r.Task == mapping.NoTask {
		s.emit(&rec, s.goTrace(g))
		if g.spans++; !sameTask && g.spans >= maxGoroutineTraceSpans {
			s.nextPart(g)
		}
	} else {
		s.traces.place(s, r.Task, &rec)
	}
	return s.check()
}

// Task makes a task's span: a child of the remote span its traceparent
// names, or of its parent task.
func (s *Sink) Task(t *mapping.Task) error {
	s.latest = max(s.latest, t.End)
	if err := s.check(); err != nil {
		return err
	}
	if t.Flags.Has(mapping.OpenEnd) {
		s.res.OpenTasks = append(s.res.OpenTasks, t.ID)
	}
	a := append(s.attrs[:0], keyTaskID.Int64(int64(t.ID)))
	if t.Parent != mapping.NoTask {
		a = append(a, keyTaskParentID.Int64(int64(t.Parent)))
	}
	if t.StartG != mapping.NoGoroutine {
		a = append(a, keyTaskBeginG.Int64(int64(t.StartG)))
	}
	if t.EndG != mapping.NoGoroutine {
		a = append(a, keyTaskEndG.Int64(int64(t.EndG)))
	}
	a = s.appendStacks(a, t.Stack, t.EndStack)
	a = appendFlags(a, t.Flags)
	o, hasOutcome := s.outcomes[t.ID]
	if hasOutcome {
		delete(s.outcomes, t.ID)
		if o.httpStatus != 0 {
			a = append(a, keyHTTPStatus.Int64(o.httpStatus))
		}
		if et := o.errorType(); et != "" {
			a = append(a, keyErrorType.String(et))
		}
	}
	s.attrs = a
	rec := spanRec{
		kind:   kindTask,
		name:   valid(t.Type),
		spanID: s.ids.span(kindTask, uint64(t.ID)),
		start:  t.Start,
		end:    t.End,
		task:   t.ID,
		root:   t.Root,
		attrs:  a,
		status: o.status(),
	}
	if rec.name == "" {
		rec.name = "task" // its ID is go.task.id
	}
	if s.sdkSpanTask(t) {
		rec.sdk = true
		if st := s.traces.open(t.ID); st != nil && !st.used && len(st.events.events) == 0 && st.parked == 0 && !st.remote.IsValid() {
			rec.skip = true
		}
	}
	if st := s.traces.open(t.ID); st != nil && st.parked > 0 && s.meta.Selected {
		s.reclaim(st)
	}
	if st := s.traces.open(t.ID); st != nil && st.parked > 0 {
		// Logs of the task wait in regions still open, which may yet turn
		// out to belong to other tasks: the span waits for them.
		st.closing = &closingTask{task: *t, rec: rec}
		st.closing.task.Goroutines = nil
		st.closing.rec.attrs = slices.Clone(rec.attrs)
		return s.check()
	}
	s.traces.end(s, t, &rec)
	return s.check()
}

// reclaim puts on the span of st, a task that ended, its logs that wait
// in regions still open. A filter that selects tasks or regions leaves
// out the regions of the tasks it does not keep, so a log of a kept
// subtask inside its parent's region would wait for a region that never
// comes. Its task's span is where it would go in the end anyway, unless
// the region is one of its own task still open past the task's end,
// which is rare.
func (s *Sink) reclaim(st *taskState) {
	for _, id := range slices.Sorted(maps.Keys(s.regionEvents)) {
		l := s.regionEvents[id]
		kept := l.events[:0]
		for _, ev := range l.events {
			if ev.parked != st {
				kept = append(kept, ev)
				continue
			}
			s.addEvent(&st.events, ev)
			st.parked--
		}
		clear(l.events[len(kept):])
		l.events = kept
		if len(kept) == 0 && l.dropped == 0 {
			delete(s.regionEvents, id)
		}
	}
}

// sdkSpanTask reports whether task t was begun by the OpenTelemetry Go
// SDK for a span of the application's: while the runtime traces, the SDK
// begins a task named after each span it starts. The application exports
// that span itself, so the task's span would be a copy, in a trace of
// its own or beside the original in a joined one.
func (s *Sink) sdkSpanTask(t *mapping.Task) bool {
	si := s.stack(t.Stack)
	if si == nil {
		return false
	}
	return strings.HasPrefix(si.top.Func, "go.opentelemetry.io/otel/sdk/trace.") && strings.HasSuffix(si.top.Func, ".runtimeTrace")
}

// limited reports whether the span limits may cut an event's or a
// link's attributes, which are few and short unless a limit is set low.
func (s *Sink) limited() bool {
	return s.limits.AttributeValueLengthLimit >= 0 || s.limits.AttributePerEventCountLimit >= 0 && s.limits.AttributePerEventCountLimit < 2 ||
		s.limits.AttributePerLinkCountLimit >= 0 && s.limits.AttributePerLinkCountLimit < 2
}

// limitAttrs is a copy of attrs within the span limits, as the SDK's
// tracer keeps a span's attributes: the first n (n < 0 for all; the
// number left out is returned), each string cut to
// AttributeValueLengthLimit characters, which is how users keep whole
// stacks within what a backend takes of an attribute.
func (s *Sink) limitAttrs(attrs []attribute.KeyValue, n int) ([]attribute.KeyValue, int) {
	dropped := 0
	if n >= 0 && len(attrs) > n {
		attrs, dropped = attrs[:n], len(attrs)-n
	}
	out := slices.Clone(attrs)
	if l := s.limits.AttributeValueLengthLimit; l >= 0 {
		for i, kv := range out {
			out[i] = truncateAttr(kv, l)
		}
	}
	return out, dropped
}

// truncateAttr cuts a string value, or each string of a slice, to limit
// characters.
func truncateAttr(kv attribute.KeyValue, limit int) attribute.KeyValue {
	switch kv.Value.Type() {
	case attribute.STRING:
		if v, cut := truncate(kv.Value.AsString(), limit); cut {
			return kv.Key.String(v)
		}
	case attribute.STRINGSLICE:
		vs := kv.Value.AsStringSlice()
		changed := false
		for i, v := range vs {
			if t, cut := truncate(v, limit); cut {
				vs[i], changed = t, true
			}
		}
		if changed {
			return kv.Key.StringSlice(vs)
		}
	}
	return kv
}

// truncate cuts s to limit characters (runes), reporting whether it did.
func truncate(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	n := 0
	for i := range s {
		if n == limit {
			return s[:i], true
		}
		n++
	}
	return s, false
}

// emit makes the span of rec in trace tid and hands it to the processor,
// which blocks while its queue is full.
func (s *Sink) emit(rec *spanRec, tid trace.TraceID) {
	if rec.skip {
		s.res.SDKTasks++
		return
	}
	if rec.kind != kindPlaceholder && s.cfg.exportedWith(rec.start, rec.end, rec.task, rec.root) {
		s.res.Repeated++ // exported with another window
		return
	}
	if s.cfg.sampledOnly {
		id := tid
		if rec.remote.IsValid() {
			id = rec.remote.TraceID()
		}
		if s.traces.unsampled(rec.task, rec.root, id) {
			s.res.Unsampled++
			return
		}
	}
	sp := &span{
		name:          rec.name,
		start:         s.wall(rec.start),
		end:           s.wall(rec.end),
		droppedEvents: rec.events.dropped,
		status:        rec.status,
		common:        &s.common,
	}
	sp.attrs, sp.droppedAttrs = s.limitAttrs(rec.attrs, s.limits.AttributeCountLimit)
	switch {
	case rec.remote.IsValid():
		sp.parent = rec.remote
		tid = rec.remote.TraceID()
	case rec.parent.IsValid():
		sp.parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: rec.parent, TraceFlags: trace.FlagsSampled})
	}
	// Every span is sampled, whatever a remote parent's flag says: the
	// processor exports only sampled spans.
	sp.sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: rec.spanID, TraceFlags: trace.FlagsSampled})
	if evs := rec.events.events; len(evs) > 0 {
		// Events moved out of nested regions come after the span's own;
		// backends expect them in time order.
		slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.t, b.t) })
		sp.events = make([]sdktrace.Event, len(evs))
		attrs := make([]attribute.KeyValue, 2*len(evs))
		for i, ev := range evs {
			a := attrs[2*i : 2*i+2 : 2*i+2]
			a[0], a[1] = keyMessage.String(ev.message), keyGoroutineID.Int64(int64(ev.g))
			if ev.g == mapping.NoGoroutine {
				// A log a filter kept without its goroutine (a
				// traceparent restated for its task).
				a = a[:1]
			}
			e := sdktrace.Event{Name: ev.name, Attributes: a, Time: s.wall(ev.t)}
			if s.limited() {
				e.Attributes, e.DroppedAttributeCount = s.limitAttrs(a, s.limits.AttributePerEventCountLimit)
			}
			sp.events[i] = e
		}
		s.res.Events += int64(len(evs))
	}
	if links := rec.links; len(links) > 0 {
		if n := s.limits.LinkCountLimit; n >= 0 && len(links) > n {
			links, sp.droppedLinks = links[:n], len(links)-n
		}
		sp.links = make([]sdktrace.Link, len(links))
		for i, l := range links {
			sp.links[i] = sdktrace.Link{SpanContext: l.SpanContext, Attributes: l.Attributes}
			if s.limited() {
				sp.links[i].Attributes, sp.links[i].DroppedAttributeCount = s.limitAttrs(l.Attributes, s.limits.AttributePerLinkCountLimit)
			}
		}
	}
	s.res.DroppedLogs += int64(rec.events.dropped)
	if !sp.parent.IsValid() || sp.parent.IsRemote() {
		s.res.Trees++
	}
	if rec.sdk && !sp.parent.IsValid() {
		s.res.SDKTasksAlone++
	}
	s.bsp.OnEnd(sp)
	s.traces.count(tid)
	s.sizes.add(tid)
	switch rec.kind {
	case kindTask:
		s.res.Tasks++
	case kindRegion:
		s.res.Regions++
	case kindGoroutine:
		s.res.Goroutines++
		if rec.later {
			s.res.GoroutineParts++
		}
	case kindPlaceholder:
		s.res.Placeholders++
	default:
		s.res.Runtime++
	}
}

// End closes what is still open, flushes the spans to the exporter and
// returns the first error of the export.
func (s *Sink) End(sum *mapping.Summary) error {
	if sum == nil {
		// Ended by hand, without the pass's summary: what is open ends
		// at the latest time an item told.
		sum = &mapping.Summary{End: s.latest}
	}
	if s.bsp == nil {
		return s.err // Begin never came
	}
	s.res.StoppedPass = s.err != nil
	// A pass that ctx stopped, with a flush timeout, ends as a trace cut
	// there does: what is open and what waits is made and sent.
	flushing := s.cfg.flushTimeout > 0 && s.ctx.Err() != nil && errors.Is(s.err, s.ctx.Err())
	if s.err == nil || flushing {
		// The logs that wait in regions never delivered (a filter cut
		// them) go where a region of another task would send them, before
		// the goroutines' spans are made.
		for _, id := range slices.Sorted(maps.Keys(s.regionEvents)) {
			l := s.regionEvents[id]
			delete(s.regionEvents, id)
			for _, ev := range l.events {
				s.placeInTask(ev)
			}
			s.res.DroppedLogs += int64(l.dropped)
		}
		s.placeholderRegions(sum.End)
		for _, st := range slices.SortedFunc(maps.Values(s.gs), func(a, b *goState) int { return cmp.Compare(a.serial, b.serial) }) {
			s.endGoroutine(st, sum.End, mapping.OpenEnd)
		}
		for _, sec := range slices.Sorted(maps.Keys(s.runtime)) {
			e := s.runtime[sec]
			from := s.meta.Start + mapping.Time(sec)*mapping.Time(time.Second)
			rec := spanRec{
				kind:   kindRuntimeRoot,
				name:   "Go runtime",
				spanID: s.ids.span(kindRuntimeRoot, uint64(sec)),
				start:  min(from, e.start),
				end:    max(min(from+mapping.Time(time.Second), sum.End), e.end),
			}
			s.emit(&rec, s.ids.trace(kindRuntimeTrace, uint64(sec)))
		}
		for _, st := range slices.SortedFunc(maps.Values(s.traces.tasks), func(a, b *taskState) int { return cmp.Compare(a.id, b.id) }) {
			if st.closing != nil {
				// Cannot happen: every region ends before the pass does.
				st.parked = 1
				s.unpark(event{parked: st})
			}
		}
		s.placeholderTasks(sum.End)
		s.traces.settleAll(s)
		s.res.UnplacedLogs += s.traces.unplaced()
		for _, l := range s.regionEvents {
			s.res.UnplacedLogs += int64(len(l.events))
		}
	}
	// Shutdown drains the queue through the exporter; the exporter's own
	// Shutdown is a no-op, so the caller's exporter stays usable. Once
	// the export stops (ctx's end, or the flush timeout after it), the
	// call under way is cancelled and what is left in the queue is
	// counted failed at once (see exporter.stop); End waits for that, and
	// for the call under way to return (exportGrace: an exporter writing
	// a batch to a file finishes it, and writes nothing after End), not
	// for an exporter that does not heed its context.
	defer s.unhook()
	drained := make(chan error, 1)
	go func() { drained <- s.bsp.Shutdown(context.WithoutCancel(s.ctx)) }()
	var err error
	select {
	case err = <-drained:
		if err == nil && s.ctx.Err() != nil && (sum == nil || sum.Err == nil) {
			err = context.Cause(s.ctx) // the pass stopped short, flushed
		}
	case <-s.stop.Done():
		t := time.NewTimer(exportGrace + time.Second)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
		if sum == nil || sum.Err == nil {
			// Else the pass reports the end itself, where the input
			// stopped.
			err = context.Cause(s.ctx)
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
	if s.err == nil {
		if err := s.exp.firstError(); err != nil {
			s.err = &ExportError{Dest: s.cfg.dest, Err: err}
		}
	}
	return s.err
}

// placeholderRegions makes a span for each region named as a parent and
// never delivered (a filter cut it), over the time of its children, so
// that they have their parent. Not over the whole trace: a backend takes
// a trace to last from its first span's start to its last span's end,
// and the placeholder sits under the span of a task it would outlast.
func (s *Sink) placeholderRegions(end mapping.Time) {
	for _, id := range slices.Sorted(maps.Keys(s.missingRegions)) {
		m := s.missingRegions[id]
		delete(s.missingRegions, id)
		a := append(s.attrs[:0], keyGoroutineID.Int64(int64(m.g)))
		if m.task != mapping.NoTask {
			a = append(a, keyTaskID.Int64(int64(m.task)))
		}
		a = append(a, keyPlaceholder.Bool(true))
		a = appendFlags(a, mapping.OpenStart|mapping.OpenEnd)
		s.attrs = a
		rec := spanRec{
			kind:   kindPlaceholder,
			name:   "region placeholder",
			spanID: s.ids.region(id),
			start:  m.child,
			end:    min(max(m.childEnd, m.child), end),
			attrs:  a,
		}
		if m.task == mapping.NoTask {
			rec.parent = m.goSp
			s.emit(&rec, m.goTr)
		} else {
			rec.parent = s.traces.child(s, m.task, rec.start, rec.end)
			s.traces.place(s, m.task, &rec)
		}
	}
}

// placeholderTasks makes a span for each task named (as a parent, or by a
// region or log) and never delivered: it began and ended outside the
// trace, and so went on over the whole of it, which its placeholder
// covers; or a filter cut it, and its placeholder covers its children,
// the spans and logs under it, as a region's does (the task may have
// been shorter than the trace, and a backend takes a trace to last as
// long as its spans do). It is marked open at both ends, and has no
// parent, for the trace does not tell it.
func (s *Sink) placeholderTasks(end mapping.Time) {
	missing := slices.Collect(maps.Values(s.traces.tasks))
	slices.SortFunc(missing, func(a, b *taskState) int { return cmp.Compare(a.id, b.id) })
	for _, st := range missing {
		if st.ended {
			continue
		}
		if !st.used && len(st.events.events) == 0 && len(st.pending) == 0 && len(st.members) == 0 {
			// Nothing of its trace names it: its children joined remote
			// traces. A span for it would be a trace of one placeholder.
			continue
		}
		if !st.root().decided && st.rootID != mapping.NoTask && st.rootID != st.id {
			// It goes where its root went, a remote trace if the root
			// joined one: a filter that kept a task deep under a request
			// keeps the request's task, and the tasks between are these.
			if tid, ok := s.traces.trace(st.rootID); ok {
				s.traces.decide(s, st.root(), tid)
			}
		}
		for _, ev := range st.events.events {
			st.cover(ev.t, ev.t)
		}
		from, to := s.meta.Start, end
		if s.meta.Filtered && st.hasKids {
			from, to = st.kids.start, min(max(st.kids.end, st.kids.start), end)
		}
		t := mapping.Task{ID: st.id, Root: st.rootID, Start: from, End: to,
			StartG: mapping.NoGoroutine, EndG: mapping.NoGoroutine, Flags: mapping.OpenStart | mapping.OpenEnd}
		a := append(s.attrs[:0], keyTaskID.Int64(int64(t.ID)), keyPlaceholder.Bool(true))
		a = appendFlags(a, t.Flags)
		s.attrs = a
		rec := spanRec{
			kind:   kindPlaceholder,
			name:   "task placeholder",
			spanID: s.ids.span(kindTask, uint64(t.ID)),
			start:  t.Start,
			end:    t.End,
			attrs:  a,
		}
		s.traces.end(s, &t, &rec)
	}
}

// The spans show tasks, regions, goroutines and the runtime's phases:
// the other items of the model have no span of their own.

// Proc ignores the P: spans are not drawn per P.
func (s *Sink) Proc(*mapping.Proc) error { return nil }

// Thread ignores the M: spans are not drawn per thread.
func (s *Sink) Thread(*mapping.Thread) error { return nil }

// ProcRun ignores the P's run: spans are not drawn per P.
func (s *Sink) ProcRun(*mapping.ProcRun) error { return nil }

// Flow ignores the creation or wakeup: spans have no such links.
func (s *Sink) Flow(*mapping.Flow) error { return nil }

// Counter ignores the counter value: spans carry no metrics.
func (s *Sink) Counter(*mapping.Counter) error { return nil }

// CPUSample ignores the sample: spans carry no CPU profile.
func (s *Sink) CPUSample(*mapping.CPUSample) error { return nil }

// Experimental ignores the experimental event.
func (s *Sink) Experimental(*mapping.Experimental) error { return nil }
