//go:build go1.25

// Command frsubtasks records a flight-recorder snapshot (Go 1.25+) of a
// server whose requests are child tasks of one long-lived task, begun
// long before the snapshot's window and ended after it: the snapshot
// holds many child tasks (some with a grandchild task, regions and logs)
// whose parent it never shows, neither begun nor ended.
//
// Usage:
//
//	frsubtasks -o FILE
package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log"
	"os"
	"runtime/trace"
	"sync"
	"time"

	"github.com/trace2x/trace2x/testdata/gen/internal/spin"
)

// minAge is the flight recorder's window; the parent task begins more
// than two windows before the snapshot.
const minAge = 30 * time.Millisecond

func main() {
	out := flag.String("o", "", "write the execution trace snapshot to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: minAge, MaxBytes: 1 << 20})
	if err := fr.Start(); err != nil {
		log.Fatal(err)
	}

	ctx, server := trace.NewTask(context.Background(), "server")
	trace.Log(ctx, "server", "listening")
	// Two windows' worth of requests, each window ended by a throwaway
	// snapshot, so the parent's begin ages out.
	for i := 0; i < 2; i++ {
		serve(ctx, 20, i*1000)
		time.Sleep(minAge + 10*time.Millisecond)
		if _, err := fr.WriteTo(io.Discard); err != nil {
			log.Fatal(err)
		}
	}
	serve(ctx, 60, 5000)

	var buf bytes.Buffer
	if _, err := fr.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}
	server.End()
	fr.Stop()
	if err := os.WriteFile(*out, buf.Bytes(), 0o666); err != nil {
		log.Fatal(err)
	}
}

// serve handles n requests on a few goroutines, each a child task of the
// server's, every third with a grandchild task.
func serve(ctx context.Context, n, first int) {
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				id := first + i
				rctx, req := trace.NewTask(ctx, "request")
				trace.Logf(rctx, "request", "id=%d", id)
				trace.WithRegion(rctx, "decode", func() { spin.Busy(5) })
				if id%3 == 0 {
					dctx, db := trace.NewTask(rctx, "db.query")
					trace.WithRegion(dctx, "query", func() { spin.Busy(10) })
					db.End()
				}
				trace.WithRegion(rctx, "encode", func() {
					trace.WithRegion(rctx, "compress", func() { spin.Busy(5) })
				})
				req.End()
			}
		}(w)
	}
	wg.Wait()
}
