// Package gotracereceiver is an OpenTelemetry Collector receiver that
// captures Go execution traces from running programs and sends their user
// tasks and regions, as spans, down the Collector's traces pipeline.
//
// Each target is a program's /debug/pprof/trace endpoint (net/http/pprof),
// or any URL that serves a Go execution trace, such as a handler that
// writes a flight-recorder snapshot. Every interval, the receiver captures
// a trace of the configured duration from each target, takes it into a
// temporary file as fast as the target sends it (a conversion slower than
// the target's trace would otherwise make the target's runtime hold what
// was not read), and converts it from there with trace2x's OpenTelemetry
// conversion
// (github.com/trace2x/trace2x/convert/otel): the spans are those that
// `trace2x otlp` sends, under the target's service.name, with the
// endpoint's host and port as service.instance.id unless
// resource_attributes names one. A flight-recorder window polled more
// often than it turns over gives captures that overlap, whose common part
// is exported twice; the receiver logs that once per target.
//
//	receivers:
//	  gotrace:
//	    max_concurrent_captures: 4
//	    targets:
//	      - endpoint: http://checkout:6060/debug/pprof/trace
//	        service_name: checkout
//	        interval: 1m
//	        duration: 5s
//	        resource_attributes:
//	          deployment.environment.name: prod
//
// A target's headers and tls settings (the Collector's client TLS
// settings) reach endpoints that want credentials; a password in the
// endpoint's URL is never logged.
//
// The receiver is made for a long-running Collector: a target that is
// down, slow or serves something that is not a trace is logged with its
// name, counted in the otelcol_gotrace_captures metric (outcome "failed"),
// and tried again at its next turn; the other targets go on, within
// max_concurrent_captures (a target that hangs holds its slot until its
// timeout). A capture is bounded by its timeout, and its memory does not
// grow with the trace's length; when the next component
// in the pipeline pushes back, the capture waits rather than drops spans.
// Shutting the Collector down cancels the captures under way. A capture
// that reaches its timeout, or is cancelled, still offers the spans it
// converted by then to the pipeline for up to 5 seconds (the flush
// grace): a capture whose pipeline pushes back can end up to 5 seconds
// after its timeout, and a shutdown can wait that long for it.
//
// With an upload section, the receiver also serves an HTTP endpoint to
// which programs and CI jobs POST trace files (plain, gzip or zstd):
//
//	receivers:
//	  gotrace:
//	    upload:
//	      endpoint: 0.0.0.0:4319
//
//	curl --data-binary @trace.out.gz 'http://collector:4319/v1/gotrace?service_name=checkout'
//
// It answers 200 with the count of spans handed on (and, with
// sampled_only, of the spans of unsampled requests left out), 400 for a
// body that is not a whole Go execution trace (with the reason, and the spans
// handed on before the fault), or a request without service_name, 405
// for another method than POST, 408 for an upload whose client sends
// under 1 KiB in 30 seconds of waiting for it (uploads share
// max_concurrent_captures with the targets' captures, and would hold one),
// 413 for one over the endpoint's max_request_body_size (1 GiB unless
// set), or that decompresses to more than that, and 503 when the pipeline refused the spans for good, or for two
// minutes for a reason that may pass, or the Collector is shutting down.
package gotracereceiver
