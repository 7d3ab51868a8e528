// Package otel turns the timeline model of a Go execution trace into
// OpenTelemetry spans and hands them to any sdktrace.SpanExporter: an
// OTLP exporter to a Collector, Jaeger, Tempo or a vendor, an in-memory
// exporter in tests, or [JSONExporter] for OTLP JSON files.
//
// [Convert] is the entry point: it reads a trace from an io.Reader (a file,
// or a program's own flight-recorder snapshot) and exports it in one pass.
// [Sink] is the same conversion as a mapping.Sink, to feed alongside other
// outputs with mapping.FanOut.
//
// An export that fails is returned as an [*ExportError] (spans the
// endpoint refused, but the rest took, as a [*RejectedError] within it)
// and counted in [Result]. The SDK's batch span processor, which the
// conversion hands its spans to, also reports each failed export to the
// process-wide OpenTelemetry error handler (otel.SetErrorHandler), which
// by default logs it with the standard logger: a program that reports
// the returned error itself can set a handler that does not.
//
// # The mapping
//
//   - A user task (runtime/trace.NewTask) is a span named after the task's
//     type, a child of its parent task's span. Attributes: go.task.id,
//     go.task.parent_id, go.task.begin_goroutine and go.task.end_goroutine
//     (the goroutines that began and ended it), and the stacks of its
//     begin (code.function.name, code.file.path and code.line.number of
//     the innermost frame of user code, and code.stacktrace, the whole
//     stack as Go prints it) and of its end (the same keys under go.end.;
//     go.end.code.stacktrace only where the end's stack reads otherwise
//     than the begin's, as it does not for trace.WithRegion).
//     The tasks that the OpenTelemetry Go SDK begins for the application's
//     spans are left out (Result.SDKTasks), unless a span of their trace
//     names one as its parent: the application exports those spans
//     itself, and a copy would stand beside the original in a joined
//     trace, or alone in a trace of its own.
//   - A user region is a span named after the region's type, a child of
//     its enclosing region on the same goroutine if that region is of the
//     same task, or else of its task's span, or else, for a region outside
//     any task, of its goroutine's span. Attributes: go.goroutine.id, go.goroutine.start_function,
//     go.task.id, the stacks of its begin and end, and where its
//     goroutine spent the region's time (mapping.Region.Time), in
//     nanoseconds: go.goroutine.running_ns, runnable_ns (waiting for a
//     P), syscall_ns, waiting_ns (blocked), and of the wait
//     waiting.network_ns and waiting.sync_ns (channels, select, package
//     sync) when not zero, and the GC's work that fell to the goroutine,
//     part of that time, when not zero: gc.stw_ns (a stop-the-world
//     pause it began), gc.mark_assist_ns and gc.sweep_ns (the P's sweeps
//     it began and ended); not for a region begun
//     before the trace, or cut by a filter, whose time the trace does not
//     tell.
//   - A goroutine's span, "goroutine <start function>", covers the
//     goroutine's life in the trace. Attributes: go.goroutine.id,
//     go.goroutine.start_function, go.goroutine.creator_id (the goroutine
//     that created it) and go.goroutine.label (the runtime's label). It is made only for goroutines that
//     need one (a region or log outside any task), or for every goroutine
//     with [WithGoroutineSpans] (under a [mapping.Filter], for every
//     goroutine whose states it keeps: not for those only named by what it
//     kept, such as the goroutines a kept one created or woke). A
//     goroutine whose spans outside tasks are
//     cut into several traces has a span in each, over the spans there,
//     with its part (from 0) in go.goroutine.part.
//   - A log (runtime/trace.Log) is a span event named after its category
//     ("log" if it has none), with the message as the attribute message and
//     the goroutine as go.goroutine.id. It goes on the innermost region
//     open on its goroutine that belongs to its task, or else on its task's
//     span, or else on its goroutine's span.
//   - With [WithRuntimeSpans], GC cycles (go.gc.cycle) and stop-the-world
//     pauses (go.stw.reason) are spans under a "Go runtime" span for each
//     second of the trace, by when they begin.
//   - Tasks, regions and goroutines that began before the trace or were
//     still going on at its end are clipped to the trace's bounds and
//     marked go.trace.open_start or go.trace.open_end; none is dropped.
//   - A task that the trace names but never shows (the parent of tasks in
//     a flight-recorder snapshot, begun and ended outside it), or a task or
//     enclosing region that a mapping.Filter cut, is a placeholder span,
//     "task placeholder" or "region placeholder", marked
//     go.trace.placeholder and open at both ends, so that its children
//     have their parent: over the whole trace for the first, which went
//     on over all of it, and over its children (spans and logs) for one a
//     filter cut, which may have been shorter, so that it does not make
//     its request's trace look longer. Nothing else of it is invented.
//
// # Traces
//
// A backend shows a trace as one request's tree, lists and searches traces
// one by one, and limits the size of each. So the spans are cut into
// traces as the program's own trees are:
//
//   - Each root task (a task without a parent task) is a trace, holding
//     its regions and logs, its child tasks and everything under them. A
//     task whose parent the trace never shows is under that parent's
//     placeholder, in its trace. Past about 1,000 spans in a root task's
//     trace, each task under it yet to be placed begins a trace of its
//     own, linked to its parent's span: a worker's task that lasts the
//     program with a child task per job would otherwise be one trace a
//     backend cannot show.
//   - A task that joins a remote trace by a traceparent takes its subtree
//     there (see below).
//   - The regions outside any task of a goroutine, and its logs outside
//     any task or region, are a trace under the goroutine's span; so is
//     each goroutine's span made by [WithGoroutineSpans]. Past about 1,000
//     spans, its next regions begin another trace, under another span of
//     the goroutine, so that a loop marking each round with a region does
//     not make one trace a backend cannot show; a region stays in the
//     trace of the region it nests in.
//   - Runtime spans are a trace per second of the trace.
//
// No trace holds two root tasks' spans. The largest trace is the largest
// region outside tasks with what nests in it, or a task with more regions
// than the bound.
//
// All spans are of kind internal. The resource has service.name
// (unknown_service, the semantic conventions' name for a service nothing
// names, unless OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES or
// [WithServiceName] say otherwise: a trace does not name its program, and
// a file's name would make each capture a service of its own), for a
// capture from a URL service.instance.id (its host and port),
// process.runtime.name "go",
// go.trace.format_version (not process.runtime.version: a format is
// written by several Go versions, Go 1.27 writing Go 1.26's) and the
// SDK's telemetry.sdk.* attributes. The
// instrumentation scope is github.com/trace2x/trace2x.
//
// # Identity and time
//
// Trace and span IDs are derived from the trace's identity (see
// [WithIDSeed]) and the root task, region or goroutine they name, so
// converting the same trace twice gives the same IDs, and a backend
// deduplicates a file sent twice.
//
// Times are wall-clock times from the trace's clock snapshot (Go 1.25 and
// later), or from [WithStartTime], or else from the time of the
// conversion; Result.TimeSource says which.
//
// # Joining the application's distributed trace
//
// A task that logs its request's W3C trace context with the category
// "traceparent" joins the application's trace: its span becomes a child
// of the remote span, and the task and all its descendants (regions, child
// tasks and their regions) take the remote trace ID; the span keeps the
// value as go.task.traceparent:
//
//	ctx, task := trace.NewTask(ctx, "http.request")
//	defer task.End()
//	carrier := propagation.MapCarrier{}
//	propagation.TraceContext{}.Inject(ctx, carrier)
//	trace.Log(ctx, "traceparent", carrier["traceparent"]) // "00-<trace-id>-<span-id>-<flags>"
//
// The traceparent must be logged before any region of the task ends: spans
// are sent as they end and cannot be moved to another trace afterwards,
// so a later traceparent is linked (a span link, whose go.link.reason
// says so) rather than made the parent. A second traceparent in one task
// is ignored: the first one counts. A child task without a traceparent of its own follows its parent
// into the remote trace; once a trace has shown a traceparent (from its
// start with [WithTraceparentsExpected]; from the first a Filter's
// prepass saw, where the filter may leave it out: see
// mapping.Meta.TraceparentSeen), the spans of a task that has
// not joined wait for the task's end, when its parent is known (see
// [WithMaxPendingSpans]). A request the application did
// not sample (flags 00) joins all the same, unless [WithSampledOnly]
// leaves its spans out. A Datadog tracer logs the
// ID of each of its spans with the category datadog.uint64_span_id in the
// span's task; that carries no trace ID, so it becomes the task span's
// datadog.span_id attribute, in decimal, to find the Datadog span by.
//
// # Volume and memory
//
// Spans go through the SDK's batch span processor with a bounded queue
// that blocks the conversion rather than drop a span. The sink keeps only
// what open spans need: the logs of open regions and tasks (up to the
// span event limit each), the goroutines alive, a table of the trace's
// stacks, and the spans held back while their trace is undecided.
package otel
