package otel

import (
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/trace2x/trace2x/mapping"
)

// Option configures a conversion.
type Option interface{ apply(*config) }

type config struct {
	inputName      string
	serviceName    string
	noEnvResource  bool // leave the resource variables out
	resource       *resource.Resource
	startTime      time.Time
	version        string
	runtimeSpans   bool
	goroutineSpans bool
	noStacktraces  bool
	sampledOnly    bool
	joinFromStart  bool // see WithTraceparentsExpected
	seed           []byte
	exportedUntil  mapping.Time // see WithExportedUntil; 0 for none
	exported       []window     // see WithExported
	maxQueue       int
	maxBatch       int
	maxBytes       int64
	exportTimeout  time.Duration
	dest           string
	flushTimeout   time.Duration
	retry          time.Duration
	maxPending     int
	eventLimit     int // < 0: unlimited
	eventLimitSet  bool
	limits         sdktrace.SpanLimits
	limitsSet      bool
}

func newConfig(opts []Option) config {
	c := config{
		maxQueue:      2048,
		maxBatch:      512,
		maxBytes:      DefaultMaxRequestBytes,
		exportTimeout: 30 * time.Second,
		maxPending:    1 << 16,
	}
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&c)
		}
	}
	return c
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithInputName names the input, as mapping.WithInputName does: in errors,
// and, for a URL, as the default service.instance.id (its host and
// port). The default is "trace".
func WithInputName(name string) Option {
	return optionFunc(func(c *config) { c.inputName = name })
}

// WithServiceName sets the resource's service.name. It takes precedence
// over OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which in turn take
// precedence over the default, "unknown_service".
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithoutEnvResource leaves OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
// out of the resource, and the span limit variables out of the limits
// (the SDK's defaults apply unless WithSpanLimits says otherwise), for a
// process that converts other programs' traces, such as a Collector: its
// variables describe itself, not the programs whose spans it sends.
func WithoutEnvResource() Option {
	return optionFunc(func(c *config) { c.noEnvResource = true })
}

// WithResource merges res over the resource the conversion builds
// (service.name, process.runtime.*, telemetry.sdk.*, and what the
// OTEL_RESOURCE_ATTRIBUTES environment variable adds); its attributes win.
func WithResource(res *resource.Resource) Option {
	return optionFunc(func(c *config) { c.resource = res })
}

// WithStartTime sets the wall-clock time at which the trace started, for
// traces that carry no clock snapshot (those before Go 1.25). A trace's
// own snapshot takes precedence. Without either, the time the conversion
// begins is taken as the trace's start; Result.TimeSource says which was
// used.
func WithStartTime(t time.Time) Option {
	return optionFunc(func(c *config) { c.startTime = t })
}

// WithVersion sets the version of the instrumentation scope
// (github.com/trace2x/trace2x) that the spans are reported under.
func WithVersion(v string) Option {
	return optionFunc(func(c *config) { c.version = v })
}

// WithRuntimeSpans adds GC cycles and stop-the-world pauses as spans, in a
// trace per second of the trace (by when they begin) under a "Go runtime"
// span. Off by default.
func WithRuntimeSpans() Option {
	return optionFunc(func(c *config) { c.runtimeSpans = true })
}

// WithGoroutineSpans adds a span for the lifetime of every goroutine, each
// a trace of its own. By default a goroutine has a span only when one of
// its regions or logs belongs to no task and needs a parent.
func WithGoroutineSpans() Option {
	return optionFunc(func(c *config) { c.goroutineSpans = true })
}

// WithoutStacktraces leaves out the whole stacks of the spans' begins and
// ends (code.stacktrace and go.end.code.stacktrace), keeping their
// innermost frame of user code (code.function.name, code.file.path,
// code.line.number and their go.end. twins): for a backend that bills by
// volume, the stacks are up to a third of what a span weighs.
func WithoutStacktraces() Option {
	return optionFunc(func(c *config) { c.noStacktraces = true })
}

// WithSampledOnly leaves out the spans of the tasks that joined a remote
// trace the application did not sample (a traceparent whose flags are
// 00), with their regions and the child tasks that follow them into it.
// By default they are sent: they are the only record of such a request,
// but a backend shows them without the application's spans above them,
// and behind a head sampler of 1% they are most of what is sent. Spans
// sent before their task's traceparent was met (see the package
// documentation) are not taken back.
func WithSampledOnly() Option {
	return optionFunc(func(c *config) { c.sampledOnly = true })
}

// WithTraceparentsExpected says that the trace's tasks log their
// traceparents (as the flight package's Middleware has every request's
// task do, at its start and again at its end): the spans of a task that
// has not logged one wait for it, or for the task's end, from the
// trace's start, not only once a first traceparent has been met. So a
// task that began before the trace (a long request in a window that
// began after it) joins by the traceparent it restates at its end, even
// where it is the first to log one. Its regions wait meanwhile, bounded
// by WithMaxPendingSpans.
func WithTraceparentsExpected() Option {
	return optionFunc(func(c *config) { c.joinFromStart = true })
}

// WithIDSeed sets the identity from which trace and span IDs are derived,
// so that converting the same trace twice gives the same IDs and a backend
// can deduplicate a retried upload. [Convert] uses a hash of the start of
// the input; a [Sink] without this option uses a hash of the trace's
// metadata (format, start time and clock snapshot).
func WithIDSeed(seed []byte) Option {
	s := append([]byte(nil), seed...)
	return optionFunc(func(c *config) { c.seed = s })
}

// WithExportedUntil leaves out the spans that ended before t, a time of
// the trace: a conversion of an earlier, overlapping window of the same
// process (the flight recorder's snapshots, which share the trace's
// clock) exported them already, whole, and IDs derived from each window
// would make a backend show them twice. A span still open at t is sent
// again, whole this time. Result.Repeated counts those left out.
func WithExportedUntil(t mapping.Time) Option {
	return optionFunc(func(c *config) { c.exportedUntil = t })
}

// WithExported leaves out the spans that began after start and ended
// before end, times of the trace: a conversion of another window of the
// same process that overlaps this one (a flight recorder's snapshot,
// which shares the trace's clock), from start to end (its Summary's Start
// and End), exported them already, whole, and IDs derived from each
// window would make a backend show them twice. Unlike WithExportedUntil
// it holds for a window that began after this one too. Given several
// times, each window counts; Result.Repeated counts the spans left out.
//
// open lists the tasks still open at that window's end (its
// Result.OpenTasks): that conversion sent them cut, so this one sends
// them whole, and with them their subtasks and regions, even those that
// ended within that window, so that the whole copy of a request holds
// all of it.
func WithExported(start, end mapping.Time, open ...mapping.TaskID) Option {
	w := window{start: start, end: end}
	if len(open) > 0 {
		w.open = make(map[mapping.TaskID]bool, len(open))
		for _, id := range open {
			w.open[id] = true
		}
	}
	return optionFunc(func(c *config) { c.exported = append(c.exported, w) })
}

// window is a span of a trace's time, and the tasks open at its end.
type window struct {
	start, end mapping.Time
	open       map[mapping.TaskID]bool
}

// WithMaxQueueSize bounds the spans waiting for the exporter. When the
// queue is full, the conversion waits: spans are never dropped. The
// default is 2048.
func WithMaxQueueSize(n int) Option {
	return optionFunc(func(c *config) { c.maxQueue = n })
}

// WithMaxExportBatchSize sets how many spans are handed to the exporter at
// once. The default is 512.
func WithMaxExportBatchSize(n int) Option {
	return optionFunc(func(c *config) { c.maxBatch = n })
}

// WithMaxRequestBytes cuts each batch into requests of at most n bytes of
// spans, by an estimate of their OTLP encoding, so that deep stacks (a
// span carries its stacks as text) do not make a request larger than the
// endpoint takes. A request the endpoint still refuses as too large is
// sent again in halves, and later ones are cut smaller. The default is
// DefaultMaxRequestBytes; zero or less does not cut.
func WithMaxRequestBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

// WithDestination names where the exporter sends the spans (an endpoint
// and its protocol), for the export's errors (see ExportError): beside the
// other outputs of one conversion, an error must say which failed.
func WithDestination(name string) Option {
	return optionFunc(func(c *config) { c.dest = name })
}

// WithExportTimeout bounds each call of the exporter: its context ends
// after d, and an exporter that has not returned a second later is left
// to return on its own, the export failed. The default is 30 seconds;
// zero means no bound.
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.exportTimeout = d })
}

// WithFlushTimeout lets the spans converted before the conversion's
// context ended still be exported, for up to d after it ended: the pass
// stops at once, and what it made goes on to the exporter until then (a
// service shutting down hands on what it captured). The default, zero,
// stops the export with the pass: the call under way is cancelled, and
// the spans not sent count as failed. Until the flush timeout, a Sink
// takes what the pass still delivers: Convert stops its pass through its
// reader, and a pass given to NewSink's Sink is stopped with
// mapping.WithContext.
func WithFlushTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.flushTimeout = max(d, 0) })
}

// WithRetry retries a batch whose export failed for want of a connection
// (refused, reset, unavailable), with exponential backoff, for up to d
// after the first attempt, so that a collector that restarts loses
// nothing. Exporters that retry by themselves (the OTLP exporters retry
// some failures) are retried only once their own attempts have failed.
// The default, zero, does not retry.
//
// Once a batch has failed for good, the conversion stops: later batches
// are counted as failed without being sent.
func WithRetry(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retry = d })
}

// WithMaxPendingSpans bounds the spans held back while the trace they
// belong to is undecided (see the package documentation on traceparent).
// When more are pending, every undecided task is settled in the file's own
// trace and its spans are sent. The default is 65536.
func WithMaxPendingSpans(n int) Option {
	return optionFunc(func(c *config) { c.maxPending = n })
}

// WithSpanLimits sets the limits on each span's attributes, events and
// links, and on the length of their string values: the first
// attributes, events and links are kept, the rest counted as dropped, and
// each string value cut. (The SDK's tracer keeps the last events and
// links: the first are kept here, where a request says what it is, in
// its traceparent.) The default is
// sdktrace.NewSpanLimits(), which reads the OTEL_SPAN_*_LIMIT,
// OTEL_LINK_*_LIMIT, OTEL_EVENT_*_LIMIT and OTEL_ATTRIBUTE_*_LIMIT
// variables: OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (or
// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT) keeps code.stacktrace within what
// a backend takes of one attribute. WithEventLimit, if given too, sets the
// event limit.
func WithSpanLimits(l sdktrace.SpanLimits) Option {
	return optionFunc(func(c *config) { c.limits, c.limitsSet = l, true })
}

// WithEventLimit bounds the events (logs) kept for one span; the first n
// are kept and the number dropped is the span's dropped events count.
// Negative means no limit. The default is the SDK's span event limit
// (OTEL_SPAN_EVENT_COUNT_LIMIT, 128 unless set).
func WithEventLimit(n int) Option {
	return optionFunc(func(c *config) { c.eventLimit, c.eventLimitSet = n, true })
}

// exportedWith reports whether a span from start to end, of task (or
// under it) whose root is root, was exported with another window (see
// WithExportedUntil and WithExported).
func (c *config) exportedWith(start, end mapping.Time, task, root mapping.TaskID) bool {
	if end < c.exportedUntil {
		return true
	}
	for _, w := range c.exported {
		if start > w.start && end < w.end && !(task != mapping.NoTask && w.open[task]) && !(root != mapping.NoTask && w.open[root]) {
			return true
		}
	}
	return false
}
