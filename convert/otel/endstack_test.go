package otel

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/mapping"
)

// TestEndStacktraceOnlyWhereItDiffers: a span's end carries its whole
// stack only where it reads otherwise than its begin's, under another
// stack ID or the same; its innermost frame of user code is always there.
func TestEndStacktraceOnlyWhereItDiffers(t *testing.T) {
	sc := newScript(t)
	frames := func(line uint64) []mapping.Frame {
		return []mapping.Frame{
			{PC: 0x10 + line, Func: "runtime/trace.WithRegion", File: "annotation.go", Line: 141},
			{PC: 0x20 + line, Func: "main.handle", File: "main.go", Line: line},
			{PC: 0x30, Func: "main.main", File: "main.go", Line: 9},
		}
	}
	// Stacks 1 and 2 read alike; 3 ends at another line.
	for id, line := range map[mapping.StackID]uint64{1: 20, 2: 20, 3: 25} {
		sc.must(sc.s.Stack(&mapping.Stack{ID: id, Frames: frames(line)}))
	}
	sc.must(sc.s.Task(&mapping.Task{ID: 1, Parent: mapping.NoTask, Root: 1, Type: "req", Start: 1000, End: 2000, StartG: 1, EndG: 1, Stack: 1, EndStack: 3}))
	regions := []struct {
		begin, end mapping.StackID
		endText    bool // the end's whole stack is there
	}{
		{1, 1, false}, // the same stack
		{1, 2, false}, // another ID, read alike
		{1, 3, true},  // another line
		{0, 3, true},  // no begin stack
		{1, 0, false}, // no end stack: no end attributes at all
	}
	for i, r := range regions {
		start := mapping.Time(1100 + 100*i)
		sc.must(sc.s.Region(&mapping.Region{ID: mapping.RegionID(i + 1), G: 1, Task: 1, Root: 1, Type: "work",
			Start: start, End: start + 50, Stack: r.begin, EndStack: r.end}))
	}
	spans := sc.finish()

	has := func(sp *tracetest.SpanStub, k attribute.Key) bool { return attr(sp, k).Type() != attribute.INVALID }
	task := sc.taskSpan(spans, 1)
	if got := attr(&task, keyEndStacktrace).AsString(); !strings.Contains(got, "main.go:25") {
		t.Errorf("the task's end stack %q, want the one at line 25", got)
	}
	for i, r := range regions {
		sp := sc.regionSpan(spans, mapping.RegionID(i+1))
		if got := has(&sp, keyStacktrace); got != (r.begin != 0) {
			t.Errorf("region %d (stacks %d, %d): code.stacktrace there: %v", i+1, r.begin, r.end, got)
		}
		if got := has(&sp, keyEndStacktrace); got != r.endText {
			t.Errorf("region %d (stacks %d, %d): go.end.code.stacktrace there: %v, want %v", i+1, r.begin, r.end, got, r.endText)
		}
		wantLine := int64(0)
		switch r.end {
		case 1, 2:
			wantLine = 20
		case 3:
			wantLine = 25
		}
		if got := attr(&sp, keyEndLine).AsInt64(); got != wantLine {
			t.Errorf("region %d (stacks %d, %d): go.end.code.line.number %d, want %d", i+1, r.begin, r.end, got, wantLine)
		}
		if wantLine != 0 && attr(&sp, keyEndFunction).AsString() != "main.handle" {
			t.Errorf("region %d: go.end.code.function.name %q", i+1, attr(&sp, keyEndFunction).AsString())
		}
	}
}
