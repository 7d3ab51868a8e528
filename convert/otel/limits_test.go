package otel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanLimits: the SDK's span limits, from the standard variables,
// apply as a tracer applies them: the first attributes kept and the rest
// counted as dropped, string values cut to the length limit (whole stacks
// within what a backend takes of an attribute), events' and links'
// attributes likewise.
func TestSpanLimits(t *testing.T) {
	const path = "../../testdata/annotations.go1.26.trace"
	_, whole, _ := convert(t, path)
	byID := map[string]tracetest.SpanStub{}
	longest := 0
	for _, s := range whole {
		byID[s.SpanContext.SpanID().String()] = s
		for _, kv := range s.Attributes {
			longest = max(longest, len(kv.Value.AsString()))
		}
	}
	if longest <= 40 {
		t.Fatalf("the longest attribute holds %d bytes: nothing to cut", longest)
	}

	t.Setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "40")
	t.Setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3")
	t.Setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "1")
	_, cut, _ := convert(t, "../../testdata/annotations.go1.26.trace")
	if len(cut) != len(whole) {
		t.Fatalf("%d spans with limits, %d without", len(cut), len(whole))
	}
	droppedSome, eventsCut := false, 0
	for _, s := range cut {
		w, ok := byID[s.SpanContext.SpanID().String()]
		if !ok {
			t.Fatalf("span %s %q is not among those made without limits", s.SpanContext.SpanID(), s.Name)
		}
		if want := min(len(w.Attributes), 3); len(s.Attributes) != want || s.DroppedAttributes != len(w.Attributes)-want {
			t.Errorf("%q: %d attributes, %d dropped; want %d and %d", s.Name, len(s.Attributes), s.DroppedAttributes, want, len(w.Attributes)-want)
			continue
		}
		droppedSome = droppedSome || s.DroppedAttributes > 0
		for i, kv := range s.Attributes {
			checkCut(t, s.Name, kv, w.Attributes[i], 40)
		}
		for i, ev := range s.Events {
			we := w.Events[i]
			if len(ev.Attributes) != 1 || ev.DroppedAttributeCount != len(we.Attributes)-1 {
				t.Errorf("%q: event %q has %d attributes, %d dropped; want 1 of %d", s.Name, ev.Name, len(ev.Attributes), ev.DroppedAttributeCount, len(we.Attributes))
				continue
			}
			checkCut(t, s.Name, ev.Attributes[0], we.Attributes[0], 40)
			eventsCut++
		}
	}
	if !droppedSome || eventsCut == 0 {
		t.Errorf("no span lost an attribute (%v) or had its events' cut (%d): the limits were not tried", droppedSome, eventsCut)
	}

	// Characters, not bytes: a multi-byte character is kept whole.
	if got, cut := truncate("héllo wörld", 4); got != "héll" || !cut {
		t.Errorf(`truncate("héllo wörld", 4) = %q, %v`, got, cut)
	}
	if got, cut := truncate("héllo", 5); got != "héllo" || cut {
		t.Errorf(`truncate("héllo", 5) = %q, %v; want it whole`, got, cut)
	}
}

// checkCut checks that kv is orig with its string value cut to limit
// characters.
func checkCut(t *testing.T, span string, kv, orig attribute.KeyValue, limit int) {
	t.Helper()
	if kv.Key != orig.Key {
		t.Errorf("%q: attribute %s where %s was first", span, kv.Key, orig.Key)
		return
	}
	if kv.Value.Type() != attribute.STRING {
		if kv.Value != orig.Value {
			t.Errorf("%q: %s = %s, want %s", span, kv.Key, kv.Value.Emit(), orig.Value.Emit())
		}
		return
	}
	v, o := kv.Value.AsString(), orig.Value.AsString()
	want := min(utf8.RuneCountInString(o), limit)
	if utf8.RuneCountInString(v) != want || !strings.HasPrefix(o, v) {
		t.Errorf("%q: %s = %q, want the first %d characters of %q", span, kv.Key, v, want, o)
	}
}

// TestSpanLimitsWithoutEnv: a process converting other programs' traces
// (WithoutEnvResource, as the Collector's receiver) leaves its own limit
// variables out, as it does its resource variables.
func TestSpanLimitsWithoutEnv(t *testing.T) {
	t.Setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1")
	_, spans, _ := convert(t, "../../testdata/annotations.go1.26.trace", WithoutEnvResource())
	for _, s := range spans {
		if s.DroppedAttributes != 0 {
			t.Fatalf("%q: %d attributes dropped", s.Name, s.DroppedAttributes)
		}
	}
}

// TestLimitEnvRefused: a span limit variable that is not a whole number,
// which the SDK would log and take as unset, is refused with its name.
func TestLimitEnvRefused(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	for _, v := range []string{"abc", " 5", "1.5"} {
		t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", v)
		if err := CheckEnv(); err == nil || !strings.Contains(err.Error(), "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
			t.Errorf("%q: %v, want it refused", v, err)
		}
	}
	for _, v := range []string{"", "0", "-1", "4096"} {
		t.Setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", v)
		if err := CheckEnv(); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
}
