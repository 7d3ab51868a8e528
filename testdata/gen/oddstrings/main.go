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
	"flag"
	"log"
	"os"
	"runtime/trace"
	"strings"
)

// odd holds, in one string, what a JSON or protobuf writer must handle.
const odd = "caf\xe9 \xff\xfe|\x00nul\x01\x1f|\"q\" \\ /|\u2028\u2029|\U0001F600|<&>|\xed\xa0\x80"

func main() {
	out := flag.String("o", "", "write the execution trace to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}
	run()
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

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
