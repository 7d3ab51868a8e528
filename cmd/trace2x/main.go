// Command trace2x converts Go execution traces (runtime/trace, go test
// -trace, /debug/pprof/trace, the flight recorder) to other formats, in one
// streaming pass.
//
// Usage:
//
//	trace2x <command> [flags] [trace.out | -]
//
// The commands are:
//
//	chrome    convert to Chrome trace-event JSON for chrome://tracing, go tool trace's viewer, Perfetto
//	convert   convert in one pass to several formats at once
//	otlp      push tasks and regions as OpenTelemetry spans to an OTLP endpoint, or write OTLP JSON
//	perfetto  convert to a Perfetto trace (.pftrace) for ui.perfetto.dev
//	pprof     write a pprof profile (blocking, syscalls, scheduling, CPU, wall time)
//	stats     summarise a trace: version, duration, events, goroutines, GC, tasks
//	version   print the version of trace2x
//	view      convert to Perfetto and open the result in ui.perfetto.dev
//
// Input is a file, an http(s) URL (such as net/http/pprof's
// /debug/pprof/trace), or standard input when the argument is "-" or missing;
// gzip- and zstd-compressed input is recognised by its first bytes. Output goes to
// standard output unless -o names a file. Diagnostics go to standard error,
// prefixed "trace2x:". The exit status is 0 on success, 1 on failure and 2
// for a usage error.
//
// Examples:
//
//	trace2x perfetto trace.out > trace.pftrace
//	trace2x stats trace.out
//	curl -s 'localhost:6060/debug/pprof/trace?seconds=5' | trace2x stats --json
package main

import (
	"context"
	"io"
	"os"
	"sync/atomic"
)

func main() {
	ctx := handleSignals(os.Stderr)
	os.Exit(runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is the world a command runs in, injected so that tests can run the
// whole command in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// ctx ends when the command is interrupted (see handleSignals); nil
	// is context.Background.
	ctx context.Context
	// convertedNothing is set when a filter kept nothing of the trace, or
	// the trace broke off before its first event: the files the command
	// writes then leave what they would replace as it was (see
	// output.Close), since an empty conversion, of a misspelt task type
	// or a trace cut short, would pass for one of the trace. (A trace
	// that breaks off later is converted up to the break.)
	convertedNothing atomic.Bool
}

// context returns e's context.
func (e *env) context() context.Context {
	if e.ctx == nil {
		return context.Background()
	}
	return e.ctx
}
