package otel

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// appendRequestJSON appends an ExportTraceServiceRequest holding rss in
// OTLP JSON: the protobuf JSON mapping (camelCase names, 64-bit integers
// as strings, fields at their zero value left out, enums as numbers) with
// OTLP's exception of trace and span IDs in hex. It walks the messages
// directly, which is many times faster than protojson's reflection and
// makes the JSON output as cheap as the conversion.
func appendRequestJSON(b []byte, rss []*tracepb.ResourceSpans) []byte {
	b = append(b, `{"resourceSpans":[`...)
	for i, rs := range rss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		o := obj{b: b}
		if r := rs.GetResource(); r != nil {
			o.key("resource")
			o.b = append(o.b, '{')
			ro := obj{b: o.b}
			ro.keyValues("attributes", r.GetAttributes())
			ro.uint("droppedAttributesCount", uint64(r.GetDroppedAttributesCount()))
			o.b = append(ro.b, '}')
		}
		if sss := rs.GetScopeSpans(); len(sss) > 0 {
			o.key("scopeSpans")
			o.b = append(o.b, '[')
			for j, ss := range sss {
				if j > 0 {
					o.b = append(o.b, ',')
				}
				o.b = appendScopeSpans(o.b, ss)
			}
			o.b = append(o.b, ']')
		}
		o.str("schemaUrl", rs.GetSchemaUrl())
		b = append(o.b, '}')
	}
	return append(b, "]}"...)
}

func appendScopeSpans(b []byte, ss *tracepb.ScopeSpans) []byte {
	b = append(b, '{')
	o := obj{b: b}
	if sc := ss.GetScope(); sc != nil {
		o.key("scope")
		o.b = append(o.b, '{')
		so := obj{b: o.b}
		so.str("name", sc.GetName())
		so.str("version", sc.GetVersion())
		so.keyValues("attributes", sc.GetAttributes())
		so.uint("droppedAttributesCount", uint64(sc.GetDroppedAttributesCount()))
		o.b = append(so.b, '}')
	}
	if spans := ss.GetSpans(); len(spans) > 0 {
		o.key("spans")
		o.b = append(o.b, '[')
		for i, sp := range spans {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendSpan(o.b, sp)
		}
		o.b = append(o.b, ']')
	}
	o.str("schemaUrl", ss.GetSchemaUrl())
	return append(o.b, '}')
}

func appendSpan(b []byte, sp *tracepb.Span) []byte {
	b = append(b, '{')
	o := obj{b: b}
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
	if evs := sp.GetEvents(); len(evs) > 0 {
		o.key("events")
		o.b = append(o.b, '[')
		for i, ev := range evs {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			eo := obj{b: o.b}
			eo.uint64s("timeUnixNano", ev.GetTimeUnixNano())
			eo.str("name", ev.GetName())
			eo.keyValues("attributes", ev.GetAttributes())
			eo.uint("droppedAttributesCount", uint64(ev.GetDroppedAttributesCount()))
			o.b = append(eo.b, '}')
		}
		o.b = append(o.b, ']')
	}
	o.uint("droppedEventsCount", uint64(sp.GetDroppedEventsCount()))
	if links := sp.GetLinks(); len(links) > 0 {
		o.key("links")
		o.b = append(o.b, '[')
		for i, l := range links {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			lo := obj{b: o.b}
			lo.id("traceId", l.GetTraceId())
			lo.id("spanId", l.GetSpanId())
			lo.str("traceState", l.GetTraceState())
			lo.keyValues("attributes", l.GetAttributes())
			lo.uint("droppedAttributesCount", uint64(l.GetDroppedAttributesCount()))
			lo.uint("flags", uint64(l.GetFlags()))
			o.b = append(lo.b, '}')
		}
		o.b = append(o.b, ']')
	}
	o.uint("droppedLinksCount", uint64(sp.GetDroppedLinksCount()))
	if st := sp.GetStatus(); st != nil {
		o.key("status")
		o.b = append(o.b, '{')
		so := obj{b: o.b}
		so.str("message", st.GetMessage())
		so.uint("code", uint64(st.GetCode()))
		o.b = append(so.b, '}')
	}
	return append(o.b, '}')
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
		o.b = appendJSONString(o.b, v)
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
	if len(kvs) == 0 {
		return
	}
	o.key(k)
	o.b = appendKeyValues(o.b, kvs)
}

func appendKeyValues(b []byte, kvs []*commonpb.KeyValue) []byte {
	b = append(b, '[')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		o := obj{b: b}
		o.str("key", kv.GetKey())
		if v := kv.GetValue(); v != nil {
			o.key("value")
			o.b = appendAnyValue(o.b, v)
		}
		b = append(o.b, '}')
	}
	return append(b, ']')
}

// appendAnyValue writes an AnyValue; the member of its oneof that is set
// is written even at its zero value, as the JSON mapping does.
func appendAnyValue(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		b = append(b, `{"stringValue":`...)
		b = appendJSONString(b, x.StringValue)
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
		b = append(b, `{"arrayValue":{`...)
		if vs := x.ArrayValue.GetValues(); len(vs) > 0 {
			b = append(b, `"values":[`...)
			for i, e := range vs {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendAnyValue(b, e)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, `{"kvlistValue":{`...)
		if kvs := x.KvlistValue.GetValues(); len(kvs) > 0 {
			b = append(b, `"values":`...)
			b = appendKeyValues(b, kvs)
		}
		b = append(b, '}')
	default:
		return append(b, "{}"...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as a protobuf string may not hold them.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
