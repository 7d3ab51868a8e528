package mapping_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestFilterPrepassNotRun: a selection that needs a prepass is refused
// with ErrNoPrepass when Prepass was called but its pass never began (not
// run, or run over input that is not a trace), as when it was not called:
// the pass kept nothing and said nothing.
func TestFilterPrepassNotRun(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	for name, prepass := range map[string]func(*mapping.Filter){
		"not run": func(f *mapping.Filter) { f.Prepass() },
		"not a trace": func(f *mapping.Filter) {
			mapping.Map(strings.NewReader("not a trace at all, not even close"), f.Prepass())
		},
	} {
		f := &mapping.Filter{Tasks: []string{"http.request"}}
		prepass(f)
		_, err := mapping.Map(bytes.NewReader(data), f.Sink(mapping.NopSink{}))
		if !errors.Is(err, mapping.ErrNoPrepass) {
			t.Errorf("%s: error %v, want ErrNoPrepass", name, err)
		}
	}
	// Run, it keeps what it selects.
	f := &mapping.Filter{Tasks: []string{"http.request"}}
	if _, err := mapping.Map(bytes.NewReader(data), f.Prepass()); err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.Map(bytes.NewReader(data), f.Sink(mapping.NopSink{})); err != nil || f.Kept() == 0 {
		t.Errorf("after a prepass: error %v, %d kept", err, f.Kept())
	}
}

// TestFilterSinksTakeOnePass: a Prepass sink or a Filter.Sink given a
// second pass refuses it with an error that says so, where a second
// prepass failed as a bug of trace2x and a second pass through Sink
// added its count to the first's.
func TestFilterSinksTakeOnePass(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	f := &mapping.Filter{Tasks: []string{"http.request"}}
	p := f.Prepass()
	if _, err := mapping.Map(bytes.NewReader(data), p); err != nil {
		t.Fatal(err)
	}
	_, err := mapping.Map(bytes.NewReader(data), p)
	var sp *mapping.SinkPanicError
	if err == nil || errors.As(err, &sp) || !strings.Contains(err.Error(), "one pass") {
		t.Errorf("a second pass through one Prepass sink: %v, want a refusal", err)
	}
	next := &beginEnds{}
	s := f.Sink(next)
	if _, err := mapping.Map(bytes.NewReader(data), s); err != nil {
		t.Fatal(err)
	}
	kept := f.Kept()
	if _, err := mapping.Map(bytes.NewReader(data), s); err == nil || !strings.Contains(err.Error(), "one pass") {
		t.Errorf("a second pass through one Filter.Sink: %v, want a refusal", err)
	}
	if f.Kept() != kept {
		t.Errorf("Kept %d after a second pass refused, %d after the first", f.Kept(), kept)
	}
	// The sink behind it had one pass: one Begin, one End.
	if next.begins != 1 || next.ends != 1 {
		t.Errorf("the sink behind the filter had %d Begins and %d Ends, want one of each", next.begins, next.ends)
	}
}

// beginEnds counts the Begins and Ends of a pass.
type beginEnds struct {
	mapping.NopSink
	begins, ends int
}

func (b *beginEnds) Begin(*mapping.Meta) error  { b.begins++; return nil }
func (b *beginEnds) End(*mapping.Summary) error { b.ends++; return nil }

// TestPrepassFileNegativeSize: PrepassFile refuses a negative size, as
// MapFile does, where it returned nil and the pass kept nothing.
func TestPrepassFileNegativeSize(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	f := &mapping.Filter{Tasks: []string{"http.request"}}
	if err := f.PrepassFile(bytes.NewReader(data), -1); err == nil || !strings.Contains(err.Error(), "below 0") {
		t.Errorf("PrepassFile of size -1: %v, want an error", err)
	}
}
