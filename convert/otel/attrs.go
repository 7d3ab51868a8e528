package otel

import (
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/trace2x/trace2x/internal/utf8fix"
	"github.com/trace2x/trace2x/mapping"
)

// Attribute keys. The code.* keys are OpenTelemetry's semantic
// conventions for code locations; the rest are trace2x's own, under go.
const (
	keyTaskID            = attribute.Key("go.task.id")
	keyTaskParentID      = attribute.Key("go.task.parent_id")
	keyTaskBeginG        = attribute.Key("go.task.begin_goroutine")
	keyTaskEndG          = attribute.Key("go.task.end_goroutine")
	keyTraceparent       = attribute.Key("go.task.traceparent")
	keyDatadogSpanID     = attribute.Key("datadog.span_id")
	keyGoroutineID       = attribute.Key("go.goroutine.id")
	keyStartFunc         = attribute.Key("go.goroutine.start_function")
	keyCreator           = attribute.Key("go.goroutine.creator_id")
	keyLabel             = attribute.Key("go.goroutine.label")
	keyPart              = attribute.Key("go.goroutine.part")
	keyOpenStart         = attribute.Key("go.trace.open_start")
	keyOpenEnd           = attribute.Key("go.trace.open_end")
	keyPlaceholder       = attribute.Key("go.trace.placeholder")
	keyGCCycle           = attribute.Key("go.gc.cycle")
	keySTWReason         = attribute.Key("go.stw.reason")
	keyLinkReason        = attribute.Key("go.link.reason")
	keyRunningNS         = attribute.Key("go.goroutine.running_ns")
	keyRunnableNS        = attribute.Key("go.goroutine.runnable_ns")
	keySyscallNS         = attribute.Key("go.goroutine.syscall_ns")
	keyWaitingNS         = attribute.Key("go.goroutine.waiting_ns")
	keyNetworkNS         = attribute.Key("go.goroutine.waiting.network_ns")
	keySyncNS            = attribute.Key("go.goroutine.waiting.sync_ns")
	keySTWNS             = attribute.Key("go.goroutine.gc.stw_ns")
	keyMarkAssistNS      = attribute.Key("go.goroutine.gc.mark_assist_ns")
	keySweepNS           = attribute.Key("go.goroutine.gc.sweep_ns")
	keyMessage           = attribute.Key("message")
	keyHTTPStatus        = attribute.Key("http.response.status_code")
	keyErrorType         = attribute.Key("error.type")
	keyFunction          = attribute.Key("code.function.name")
	keyFile              = attribute.Key("code.file.path")
	keyLine              = attribute.Key("code.line.number")
	keyStacktrace        = attribute.Key("code.stacktrace")
	keyEndFunction       = attribute.Key("go.end.code.function.name")
	keyEndFile           = attribute.Key("go.end.code.file.path")
	keyEndLine           = attribute.Key("go.end.code.line.number")
	keyEndStacktrace     = attribute.Key("go.end.code.stacktrace")
	keyServiceName       = attribute.Key("service.name")
	keyServiceInstanceID = attribute.Key("service.instance.id")
	keyRuntimeName       = attribute.Key("process.runtime.name")
	keyTraceFormat       = attribute.Key("go.trace.format_version")
	instrumentationURL   = "github.com/trace2x/trace2x"
)

// stackInfo is a stack kept for the attributes of spans that name it. The
// attributes are worked out on first use: most stacks (those of goroutine
// states, CPU samples) never are.
type stackInfo struct {
	frames []mapping.Frame
	done   bool
	top    mapping.Frame // the innermost frame of user code
	text   string        // the whole stack, as Go prints a goroutine's frames in a panic
}

// maxTraceFrames is the most frames the runtime records of a stack in a
// trace: a stack that long was most likely cut.
const maxTraceFrames = 128

func (si *stackInfo) prepare() {
	if si.done {
		return
	}
	si.done = true
	si.top = si.frames[0]
	for _, f := range si.frames {
		if !runtimeFrame(f.Func) {
			si.top = f
			break
		}
	}
	// The trace has no arguments or PC offsets: "(...)" is how Go's own
	// traceback writes arguments it leaves out, which stack parsers read.
	var b strings.Builder
	for _, f := range si.frames {
		b.WriteString(f.Func)
		b.WriteString("(...)\n\t")
		b.WriteString(f.File)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(f.Line, 10))
		b.WriteByte('\n')
	}
	if len(si.frames) >= maxTraceFrames {
		b.WriteString("...additional frames elided...\n")
	}
	si.text = b.String()
	si.top.Func, si.top.File, si.text = valid(si.top.Func), valid(si.top.File), valid(si.text)
	si.frames = nil // no longer needed
}

// runtimeFrame reports whether a frame is the runtime's rather than the
// program's: a task or region begins inside runtime/trace.
func runtimeFrame(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "runtime/") || strings.HasPrefix(fn, "internal/")
}

// appendStacks adds the code.* attributes of a span's begin stack and the
// go.end.code.* ones of its end stack. The end's whole stack is left out
// where it reads as the begin's (a region of trace.WithRegion, a task
// begun and ended in one call): it would be about a third of the span's
// bytes and say nothing the begin's does not.
func (s *Sink) appendStacks(a []attribute.KeyValue, begin, end mapping.StackID) []attribute.KeyValue {
	b, e := s.stack(begin), s.stack(end)
	a = s.appendStack(a, b, false)
	if b != nil && e != nil && e.text == b.text {
		return appendTop(a, e, true)
	}
	return s.appendStack(a, e, true)
}

// appendStack adds the code.* attributes of a stack, or the go.end.code.*
// ones when end is set.
func (s *Sink) appendStack(a []attribute.KeyValue, si *stackInfo, end bool) []attribute.KeyValue {
	if si == nil {
		return a
	}
	a = appendTop(a, si, end)
	if s.cfg.noStacktraces {
		return a
	}
	key := keyStacktrace
	if end {
		key = keyEndStacktrace
	}
	return append(a, key.String(si.text))
}

// appendTop adds the innermost frame of user code of a stack: its
// code.function.name, code.file.path and code.line.number, or their
// go.end. twins when end is set.
func appendTop(a []attribute.KeyValue, si *stackInfo, end bool) []attribute.KeyValue {
	fn, file, line := keyFunction, keyFile, keyLine
	if end {
		fn, file, line = keyEndFunction, keyEndFile, keyEndLine
	}
	return append(a,
		fn.String(si.top.Func),
		file.String(si.top.File),
		line.Int64(int64(si.top.Line)))
}

func appendFlags(a []attribute.KeyValue, f mapping.Flags) []attribute.KeyValue {
	if f.Has(mapping.OpenStart) {
		a = append(a, keyOpenStart.Bool(true))
	}
	if f.Has(mapping.OpenEnd) {
		a = append(a, keyOpenEnd.Bool(true))
	}
	return a
}

// valid makes s valid UTF-8. Strings in a trace are whatever the program
// logged, and a protobuf string field that is not UTF-8 makes the whole
// export request fail to marshal.
func valid(s string) string { return utf8fix.String(s) }

// appendStateTimes appends where a region's goroutine spent the region's
// time: what a slow request's span needs to say why it was slow (waiting
// on the network, on a lock or channel, for a P, in syscalls, or running).
// The parts of the wait are there when not zero, and so is the GC's work
// that fell to the goroutine (a stop-the-world pause it began, mark
// assists), which its running time holds without telling.
func appendStateTimes(a []attribute.KeyValue, st *mapping.StateTimes) []attribute.KeyValue {
	a = append(a, keyRunningNS.Int64(int64(st.Running)), keyRunnableNS.Int64(int64(st.Runnable)),
		keySyscallNS.Int64(int64(st.Syscall)), keyWaitingNS.Int64(int64(st.Waiting)))
	if st.Network > 0 {
		a = append(a, keyNetworkNS.Int64(int64(st.Network)))
	}
	if st.Sync > 0 {
		a = append(a, keySyncNS.Int64(int64(st.Sync)))
	}
	if st.STW > 0 {
		a = append(a, keySTWNS.Int64(int64(st.STW)))
	}
	if st.MarkAssist > 0 {
		a = append(a, keyMarkAssistNS.Int64(int64(st.MarkAssist)))
	}
	if st.Sweep > 0 {
		a = append(a, keySweepNS.Int64(int64(st.Sweep)))
	}
	return a
}
