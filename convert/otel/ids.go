package otel

import (
	"crypto/sha256"
	"encoding/binary"

	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// idKind separates the namespaces of the things that get an ID, so that a
// task and a region with the same number get different span IDs.
type idKind uint8

const (
	kindTask           idKind = iota + 1 // a user task, by TaskID
	kindRegion                           // a user region begun in the trace, by RegionID
	kindGoroutine                        // a goroutine's life, by its serial number
	kindRuntime                          // a GC cycle or STW pause, by serial number
	kindRuntimeRoot                      // a "Go runtime" span, by second of the trace
	kindTaskTrace                        // the trace of a root task, by TaskID
	kindGoroutineTrace                   // the trace of a goroutine's spans outside tasks, by serial number
	kindRuntimeTrace                     // the trace of one second's runtime spans
	// kindPlaceholder marks the span of a task or region never delivered;
	// its ID is that of the task or region it stands for.
	kindPlaceholder
	kindEarlierRegion // a user region begun before the trace, by its number
)

// ids derives trace and span IDs from the identity of a trace.
//
// An ID is a bijective mix of the seed XORed with the kind and number of
// what it names. Being a bijection, it gives distinct IDs to distinct
// (kind, number) pairs of one trace, never a collision, as long as numbers
// stay below 2^56; two traces get unrelated IDs.
type ids struct{ seed [4]uint64 }

func newIDs(seed []byte) ids {
	sum := sha256.Sum256(seed)
	var x ids
	for i := range x.seed {
		x.seed[i] = binary.LittleEndian.Uint64(sum[8*i:])
	}
	return x
}

// metaSeed is the identity of a trace for a Sink given no seed: what the
// trace's metadata says about when it was recorded.
func metaSeed(m *mapping.Meta) []byte {
	b := []byte(m.FormatVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.Start))
	if c := m.Clock; c != nil {
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Trace))
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Wall.UnixNano()))
		b = binary.LittleEndian.AppendUint64(b, c.Mono)
	}
	return b
}

// mix is the finalizer of SplitMix64: each step is invertible, so mix is a
// bijection on uint64.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

func key(k idKind, n uint64) uint64 { return uint64(k)<<56 | n&(1<<56-1) }

func (x ids) span(k idKind, n uint64) trace.SpanID {
	var id trace.SpanID
	v := mix(x.seed[0] ^ key(k, n))
	if v == 0 {
		v = 1 // the one input that maps to the invalid ID
	}
	binary.BigEndian.PutUint64(id[:], v)
	return id
}

// region is the span ID of a region. A region is named by the time of its
// begin (see mapping.RegionID), whose low 56 bits tell it from the others
// of a trace unless the trace lasts two years; a region begun before the
// trace has IDs of its own.
func (x ids) region(id mapping.RegionID) trace.SpanID {
	if id&(1<<63) != 0 {
		return x.span(kindEarlierRegion, uint64(id)&^(1<<63))
	}
	return x.span(kindRegion, uint64(id))
}

func (x ids) trace(k idKind, n uint64) trace.TraceID {
	var id trace.TraceID
	binary.BigEndian.PutUint64(id[:8], mix(x.seed[1]^key(k, n)))
	binary.BigEndian.PutUint64(id[8:], mix(x.seed[2]^key(k, n)))
	return id
}
