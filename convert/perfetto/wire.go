package perfetto

import (
	"google.golang.org/protobuf/encoding/protowire"
	"strings"

	"github.com/trace2x/trace2x/internal/utf8fix"
)

// Field numbers of the Perfetto messages the writer encodes by hand. They
// are those of upstream protos/perfetto/trace (see perfettopb/perfetto.proto,
// which is generated into the types the tests decode with); wire_test.go
// checks every one against the generated descriptors.
const (
	fTracePacket = 1 // Trace.packet

	// TracePacket
	fPktTimestamp        = 8
	fPktTimestampClockID = 58
	fPktSequenceID       = 10
	fPktSequenceFlags    = 13
	fPktInternedData     = 12
	fPktTrackEvent       = 11
	fPktTrackDescriptor  = 60
	fPktClockSnapshot    = 6
	fPktPerfSample       = 66
	fPktFirstOnSequence  = 87
	fPktDefaults         = 59 // trace_packet_defaults

	// TracePacketDefaults
	fDefTimestampClockID  = 58
	fPktCompressedPackets = 50

	// TrackEvent
	fEvType                   = 9
	fEvTrackUUID              = 11
	fEvNameIID                = 10
	fEvCategoryIIDs           = 3
	fEvCounterValue           = 30
	fEvExtraCounterTrackUUIDs = 31
	fEvExtraCounterValues     = 12
	fEvDebugAnnotations       = 4
	fEvFlowIDs                = 47
	fEvTerminatingFlowIDs     = 48
	fEvCorrelationID          = 52
	fEvCallstackIID           = 56

	// DebugAnnotation
	fDaNameIID     = 1
	fDaUintValue   = 3
	fDaIntValue    = 4
	fDaBoolValue   = 2
	fDaStringValue = 6

	// InternedData
	fIntEventCategories      = 1
	fIntEventNames           = 2
	fIntDebugAnnotationNames = 3
	fIntFunctionNames        = 5
	fIntFrames               = 6
	fIntCallstacks           = 7
	fIntSourcePaths          = 18
	fIntMappings             = 19
	fIntMappingPaths         = 17

	// EventName, EventCategory, DebugAnnotationName, InternedString
	fIIDIID  = 1
	fIIDName = 2

	// Frame
	fFrameIID            = 1
	fFrameFunctionNameID = 2
	fFrameMappingID      = 3
	fFrameRelPC          = 4
	fFrameSourcePathIID  = 5
	fFrameLineNumber     = 6

	// Mapping
	fMappingIID           = 1
	fMappingPathStringIDs = 7

	// Callstack
	fCallstackIID      = 1
	fCallstackFrameIDs = 2

	// TrackDescriptor
	fTdUUID                 = 1
	fTdParentUUID           = 5
	fTdName                 = 2
	fTdProcess              = 3
	fTdThread               = 4
	fTdCounter              = 8
	fTdChildOrdering        = 11
	fTdSiblingOrderRank     = 12
	fTdSiblingMergeBehavior = 15

	// ProcessDescriptor, ThreadDescriptor
	fProcPID         = 1
	fProcName        = 6
	fThreadPID       = 1
	fThreadTID       = 2
	fThreadName      = 5
	fCounterUnit     = 3
	fCounterShareKey = 7

	// ClockSnapshot
	fCsClocks       = 1
	fCsClockID      = 1
	fCsClockTs      = 2
	fCsPrimaryClock = 2
	fCsIncremental  = 3 // Clock.is_incremental

	// PerfSample
	fPsCPU          = 1
	fPsPID          = 2
	fPsTID          = 3
	fPsCallstackIID = 4
)

// Enum values.
const (
	evSliceBegin = 1
	evSliceEnd   = 2
	evInstant    = 3
	evCounter    = 4

	seqIncrementalStateCleared = 1

	childOrderingExplicit = 3
	siblingMergeNone      = 2 // SIBLING_MERGE_BEHAVIOR_NONE

	unitCount = 2
	unitBytes = 3

	clockRealtime  = 1
	clockMonotonic = 3
	clockBoottime  = 6
	// clockDelta is the writer's own clock, scoped to its sequence
	// (64-127 are): its timestamps count from the one before, see order.go.
	clockDelta = 64
)

// msg is a protobuf message being encoded.
type msg []byte

func (m msg) uint(f protowire.Number, v uint64) msg {
	// Most fields have small numbers and small values: one byte each. This
	// path is kept small enough to be inlined.
	if f < 16 && v < 0x80 {
		return append(m, byte(f)<<3, byte(v))
	}
	return m.uintLong(f, v)
}

func (m msg) uintLong(f protowire.Number, v uint64) msg {
	if f < 16 {
		return appendVarint(append(m, byte(f)<<3), v)
	}
	return appendVarint(appendVarint(m, uint64(f)<<3), v)
}

// appendVarint is protowire.AppendVarint as a loop: the values here are
// mostly two to seven bytes long, and it is shorter and faster on them.
func appendVarint(m msg, v uint64) msg {
	for v >= 0x80 {
		m = append(m, byte(v)|0x80)
		v >>= 7
	}
	return append(m, byte(v))
}

func (m msg) int(f protowire.Number, v int64) msg { return m.uint(f, uint64(v)) }

func (m msg) bool(f protowire.Number, v bool) msg {
	return m.uint(f, protowire.EncodeBool(v))
}

func (m msg) fixed64(f protowire.Number, v uint64) msg {
	m = protowire.AppendTag(m, f, protowire.Fixed64Type)
	return protowire.AppendFixed64(m, v)
}

// str writes a string field, made valid UTF-8 (see utf8fix) as the
// other formats make it: the trace processor and the UI read UTF-8.
func (m msg) str(f protowire.Number, s string) msg {
	s = utf8fix.String(s)
	if strings.IndexByte(s, 0) >= 0 {
		// The trace processor hands strings to the UI NUL-terminated,
		// which would cut a name at its first NUL.
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	m = protowire.AppendTag(m, f, protowire.BytesType)
	return protowire.AppendString(m, s)
}

// open starts a nested message and returns the offset to pass to close.
// The length is given one byte and widened on close if it needs more.
func (m msg) open(f protowire.Number) (msg, int) {
	if f < 16 {
		m = append(m, byte(f)<<3|byte(protowire.BytesType), 0)
		return m, len(m)
	}
	m = protowire.AppendTag(m, f, protowire.BytesType)
	return append(m, 0), len(m) + 1
}

// close ends the nested message started at off.
func (m msg) close(off int) msg {
	if n := len(m) - off; n < 0x80 {
		m[off-1] = byte(n)
		return m
	}
	return m.closeLong(off)
}

func (m msg) closeLong(off int) msg {
	n := len(m) - off
	size := protowire.SizeVarint(uint64(n))
	// Shift the body to make room for a longer length.
	m = append(m, make([]byte, size-1)...)
	copy(m[off-1+size:], m[off:off+n])
	protowire.AppendVarint(m[off-1:off-1], uint64(n))
	return m
}
