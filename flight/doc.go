// Package flight keeps the last seconds of a Go program's execution trace
// in memory with the runtime's flight recorder (runtime/trace.FlightRecorder),
// and exports them, converted, when something goes wrong: as
// OpenTelemetry spans inside the distributed trace of the request that was
// slow, and as Perfetto files in a directory.
//
// A service adds it in a few lines:
//
//	rec, err := flight.Start(
//		flight.WithExporter(exp),      // an OTLP exporter: otlpexport finds the endpoint as trace2x otlp does
//		flight.WithDir("/var/tmp/traces"),
//	)
//	if err != nil {
//		return err
//	}
//	defer func() { // Stop waits for queued exports: give it the shutdown's grace
//		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//		defer cancel()
//		rec.Stop(ctx)
//	}()
//	http.ListenAndServe(":8080", rec.Middleware(mux, flight.SlowerThan(500*time.Millisecond)))
//
// and, on an address only operators reach, the on-demand handler:
//
//	admin.Handle("/debug/trace2x/", rec.Handler())
//
// # Requests
//
// The Middleware runs each request in a runtime/trace task named after its
// route, and logs the request's W3C traceparent in it, so that the task's
// span, and the spans of its regions and child tasks, join the request's
// trace in the OpenTelemetry output; a request of a millisecond or more
// restates its traceparent and task name at its end, for a window that
// began after it did. A request that is slow, fails or matches a
// predicate triggers a snapshot. The request never waits for it: a
// trigger is a counter and a channel send.
//
// # Snapshots
//
// A snapshot is taken a moment after the first trigger (WithCoalesce), so
// that a burst of slow requests shares one, and at most once per
// WithMinInterval; triggers in between are served by the next one. The
// snapshot, a copy of the window, waits in a bounded queue for the export
// goroutine, which converts it to spans for the exporter (WithExporter)
// and to a Perfetto file (WithDir, within WithDirLimits). While the queue
// is full, no snapshot is taken: the triggers wait for room, and the next
// one serves them all. Programs trigger snapshots themselves
// with Trigger (rate-limited, in the background) or Snapshot (now, and
// waits for the export). Nothing here stops or slows the program when it
// fails: Stats counts every snapshot, export and error.
//
// # What it costs
//
// The flight recorder keeps the runtime's execution tracer on, which costs
// a few percent of CPU in a busy program, and the window in memory
// (WithMaxBytes). The middleware adds a task, a log and a few allocations
// to each request. A snapshot's two conversions, to spans and to a
// Perfetto file, run side by side off the request path, and each takes
// about a second of CPU for every 3 to 7 MB of trace. The README gives
// the figures measured.
//
// Only one flight recorder can run in a process: Start fails while
// another (this package's or runtime/trace's) is running.
package flight
