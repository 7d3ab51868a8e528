package otel

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/mapping"
)

// TestStacksShareFrames checks that stacks are kept as their frames,
// each frame once however many stacks hold it, and that a stack a span
// names gets its frames back in order.
func TestStacksShareFrames(t *testing.T) {
	s := NewSink(context.Background(), tracetest.NewInMemoryExporter())
	frame := func(n int) mapping.Frame {
		return mapping.Frame{PC: uint64(0x1000 + n), Func: fmt.Sprintf("main.f%d", n), File: "main.go", Line: uint64(n)}
	}
	const stacks, depth, distinct = 1000, 20, 30
	for id := 1; id <= stacks; id++ {
		st := &mapping.Stack{ID: mapping.StackID(id)}
		for i := range depth {
			st.Frames = append(st.Frames, frame((id+i)%distinct))
		}
		if err := s.Stack(st); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.frames) != distinct {
		t.Errorf("%d frames kept for %d distinct ones", len(s.frames), distinct)
	}
	si := s.stack(7)
	if si == nil {
		t.Fatal("stack 7 is not kept")
	}
	var want strings.Builder
	for i := range depth {
		f := frame((7 + i) % distinct)
		// As Go's traceback writes a frame whose arguments it leaves out.
		fmt.Fprintf(&want, "%s(...)\n\t%s:%d\n", f.Func, f.File, f.Line)
	}
	if si.text != want.String() {
		t.Errorf("stack 7:\n%s\nwant\n%s", si.text, want.String())
	}
	if s.stack(7) != si || s.stack(stacks+1) != nil {
		t.Error("a stack is looked up again, or one never given is found")
	}

	// A stack as deep as the runtime records was most likely cut: the
	// text says so, as Go's traceback does.
	deep := &mapping.Stack{ID: stacks + 1}
	for i := range maxTraceFrames {
		deep.Frames = append(deep.Frames, frame(i%distinct))
	}
	if err := s.Stack(deep); err != nil {
		t.Fatal(err)
	}
	if text := s.stack(stacks + 1).text; !strings.HasSuffix(text, ":7\n...additional frames elided...\n") {
		t.Errorf("a stack of %d frames ends %q", maxTraceFrames, text[max(0, len(text)-80):])
	}
	if strings.Contains(si.text, "elided") {
		t.Errorf("a stack of %d frames is said to be cut", depth)
	}
}
