// Command oddstrings records an execution trace whose user annotations
// carry strings that output formats must escape or repair: bytes that are
// not UTF-8, NUL and other control characters, quotes and backslashes,
// U+2028, characters outside the BMP, HTML metacharacters, empty strings,
// a long message, and a traceparent log that does not parse. runtime/trace
// records them byte for byte.
//
// Usage:
//
//	oddstrings -o FILE
package main

import (
	"context"
	"runtime/trace"
	"strings"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

// odd holds, in one string, what a JSON or protobuf writer must handle.
const odd = "caf\xe9 \xff\xfe|\x00nul\x01\x1f|\"q\" \\ /|\u2028\u2029|\U0001F600|<&>|\xed\xa0\x80"

func main() { tracemain.Run(run) }

func run() {
	ctx, task := trace.NewTask(context.Background(), "task "+odd)
	trace.Log(ctx, "category "+odd, "message "+odd)
	trace.Log(ctx, "traceparent", "00-\xff\xfe-not-a-traceparent")
	trace.Log(ctx, "", "")
	trace.WithRegion(ctx, "region "+odd, func() {
		trace.Log(ctx, "long", strings.Repeat("0123456789abcdef", 4096))
		_, sub := trace.NewTask(ctx, "")
		trace.WithRegion(ctx, "", func() {})
		sub.End()
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		trace.WithRegion(ctx, "\xff", func() { trace.Log(ctx, "\x00", "\x00") })
	}()
	<-done
	task.End()
}
