package otel

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trace2x/trace2x/internal/jsonstr"
)

// appendRequestJSON appends an ExportTraceServiceRequest holding rss in
// OTLP JSON: the protobuf JSON mapping (camelCase names, 64-bit integers
// as strings, fields at their zero value left out, enums as numbers) with
// OTLP's exception of trace and span IDs in hex. It walks the messages
// directly, which is many times faster than protojson's reflection and
// makes the JSON output as cheap as the conversion.
func appendRequestJSON(b []byte, rss []*tracepb.ResourceSpans) []byte {
	return object(b, func(o *obj) {
		jsonArray(o, "resourceSpans", rss, func(b []byte, rs *tracepb.ResourceSpans) []byte {
			return object(b, func(o *obj) {
				if r := rs.GetResource(); r != nil {
					o.key("resource")
					o.b = object(o.b, func(o *obj) {
						o.keyValues("attributes", r.GetAttributes())
						o.uint("droppedAttributesCount", uint64(r.GetDroppedAttributesCount()))
					})
				}
				jsonArray(o, "scopeSpans", rs.GetScopeSpans(), appendScopeSpans)
				o.str("schemaUrl", rs.GetSchemaUrl())
			})
		})
	})
}

func appendScopeSpans(b []byte, ss *tracepb.ScopeSpans) []byte {
	return object(b, func(o *obj) {
		if sc := ss.GetScope(); sc != nil {
			o.key("scope")
			o.b = object(o.b, func(o *obj) {
				o.str("name", sc.GetName())
				o.str("version", sc.GetVersion())
				o.keyValues("attributes", sc.GetAttributes())
				o.uint("droppedAttributesCount", uint64(sc.GetDroppedAttributesCount()))
			})
		}
		jsonArray(o, "spans", ss.GetSpans(), appendSpan)
		o.str("schemaUrl", ss.GetSchemaUrl())
	})
}

func appendSpan(b []byte, sp *tracepb.Span) []byte {
	return object(b, func(o *obj) {
		o.id("traceId", sp.GetTraceId())
		o.id("spanId", sp.GetSpanId())
		o.str("traceState", sp.GetTraceState())
		o.id("parentSpanId", sp.GetParentSpanId())
		o.uint("flags", uint64(sp.GetFlags()))
		o.str("name", sp.GetName())
		o.uint("kind", uint64(sp.GetKind()))
		o.uint64s("startTimeUnixNano", sp.GetStartTimeUnixNano())
		o.uint64s("endTimeUnixNano", sp.GetEndTimeUnixNano())
		o.keyValues("attributes", sp.GetAttributes())
		o.uint("droppedAttributesCount", uint64(sp.GetDroppedAttributesCount()))
		jsonArray(o, "events", sp.GetEvents(), func(b []byte, ev *tracepb.Span_Event) []byte {
			return object(b, func(o *obj) {
				o.uint64s("timeUnixNano", ev.GetTimeUnixNano())
				o.str("name", ev.GetName())
				o.keyValues("attributes", ev.GetAttributes())
				o.uint("droppedAttributesCount", uint64(ev.GetDroppedAttributesCount()))
			})
		})
		o.uint("droppedEventsCount", uint64(sp.GetDroppedEventsCount()))
		jsonArray(o, "links", sp.GetLinks(), func(b []byte, l *tracepb.Span_Link) []byte {
			return object(b, func(o *obj) {
				o.id("traceId", l.GetTraceId())
				o.id("spanId", l.GetSpanId())
				o.str("traceState", l.GetTraceState())
				o.keyValues("attributes", l.GetAttributes())
				o.uint("droppedAttributesCount", uint64(l.GetDroppedAttributesCount()))
				o.uint("flags", uint64(l.GetFlags()))
			})
		})
		o.uint("droppedLinksCount", uint64(sp.GetDroppedLinksCount()))
		if st := sp.GetStatus(); st != nil {
			o.key("status")
			o.b = object(o.b, func(o *obj) {
				o.str("message", st.GetMessage())
				o.uint("code", uint64(st.GetCode()))
			})
		}
	})
}

// object appends a JSON object whose members fill writes.
func object(b []byte, fill func(o *obj)) []byte {
	o := obj{b: append(b, '{')}
	fill(&o)
	return append(o.b, '}')
}

// jsonArray writes member k, an array of xs each written by elem; an empty
// array is left out, as the JSON mapping does.
func jsonArray[T any](o *obj, k string, xs []T, elem func([]byte, T) []byte) {
	if len(xs) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, x := range xs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = elem(o.b, x)
	}
	o.b = append(o.b, ']')
}

// obj appends the members of a JSON object, leaving out the ones at their
// zero value, as the protobuf JSON mapping does.
type obj struct {
	b    []byte
	more bool
}

func (o *obj) key(k string) {
	if o.more {
		o.b = append(o.b, ',')
	}
	o.more = true
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, `":`...)
}

func (o *obj) str(k, v string) {
	if v != "" {
		o.key(k)
		o.b = jsonstr.Append(o.b, v)
	}
}

func (o *obj) uint(k string, v uint64) {
	if v != 0 {
		o.key(k)
		o.b = strconv.AppendUint(o.b, v, 10)
	}
}

// uint64s writes a 64-bit integer, which the JSON mapping puts in a string.
func (o *obj) uint64s(k string, v uint64) {
	if v != 0 {
		o.key(k)
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, v, 10)
		o.b = append(o.b, '"')
	}
}

// id writes a trace or span ID in hex, as OTLP JSON wants.
func (o *obj) id(k string, v []byte) {
	if len(v) != 0 {
		o.key(k)
		o.b = append(o.b, '"')
		o.b = hex.AppendEncode(o.b, v)
		o.b = append(o.b, '"')
	}
}

func (o *obj) keyValues(k string, kvs []*commonpb.KeyValue) {
	jsonArray(o, k, kvs, appendKeyValue)
}

func appendKeyValue(b []byte, kv *commonpb.KeyValue) []byte {
	return object(b, func(o *obj) {
		o.str("key", kv.GetKey())
		if v := kv.GetValue(); v != nil {
			o.key("value")
			o.b = appendAnyValue(o.b, v)
		}
	})
}

// appendAnyValue writes an AnyValue; the member of its oneof that is set
// is written even at its zero value, as the JSON mapping does.
func appendAnyValue(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		b = append(b, `{"stringValue":`...)
		b = jsonstr.Append(b, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		b = append(b, `{"boolValue":`...)
		b = strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, x.IntValue, 10)
		b = append(b, '"')
	case *commonpb.AnyValue_DoubleValue:
		b = append(b, `{"doubleValue":`...)
		switch f := x.DoubleValue; {
		case math.IsNaN(f):
			b = append(b, `"NaN"`...)
		case math.IsInf(f, 1):
			b = append(b, `"Infinity"`...)
		case math.IsInf(f, -1):
			b = append(b, `"-Infinity"`...)
		default:
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case *commonpb.AnyValue_BytesValue:
		b = append(b, `{"bytesValue":"`...)
		b = base64.StdEncoding.AppendEncode(b, x.BytesValue)
		b = append(b, '"')
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, `{"arrayValue":`...)
		b = object(b, func(o *obj) { jsonArray(o, "values", x.ArrayValue.GetValues(), appendAnyValue) })
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, `{"kvlistValue":`...)
		b = object(b, func(o *obj) { o.keyValues("values", x.KvlistValue.GetValues()) })
	default:
		return append(b, "{}"...)
	}
	return append(b, '}')
}
