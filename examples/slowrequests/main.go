// Slowrequests shows the flight recorder of trace2x catching a slow
// request. It serves a small HTTP API through flight's middleware, sends
// itself requests as a traced client would (each with a W3C traceparent
// header, its client span exported too), makes one of them slow, and the
// flight recorder exports the last seconds of the Go runtime's execution
// trace to an OpenTelemetry Collector: the slow request's task and regions
// arrive inside the client's trace.
//
// Start a Collector that prints what it receives, then the example:
//
//	$(make -s otelcol) --config examples/slowrequests/collector.yaml
//	go run ./examples/slowrequests
//
// Flags:
//
//	-otlp ENDPOINT    the Collector's OTLP endpoint, host:port or a URL (default:
//	                  the OTEL_EXPORTER_OTLP_* variables, else 127.0.0.1:4317 over gRPC, :4318 over HTTP)
//	-dir DIR          also write each snapshot as a Perfetto file into DIR
//	-addr HOST:PORT   where to serve (default 127.0.0.1:8080)
//	-fast N           fast requests before and after the slow one (default 20)
//	-serve            keep serving after the demo, for /debug/trace2x/ (Ctrl-C stops)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/trace"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/convert/otel/otlpexport"
	"github.com/trace2x/trace2x/flight"
)

func main() {
	var c config
	flag.StringVar(&c.otlp, "otlp", "", "the Collector's OTLP `endpoint` (default: the OTEL_EXPORTER_OTLP_* variables, else 127.0.0.1:4317 over gRPC, :4318 over HTTP)")
	flag.StringVar(&c.dir, "dir", "", "also write snapshots as Perfetto files into `DIR`")
	flag.StringVar(&c.addr, "addr", "127.0.0.1:8080", "serve on `HOST:PORT`")
	flag.IntVar(&c.fast, "fast", 20, "fast requests before and after the slow one")
	flag.BoolVar(&c.serve, "serve", false, "keep serving after the demo, until Ctrl-C")
	flag.Parse()
	c.slow = 1200 * time.Millisecond
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slowrequests:", err)
		os.Exit(1)
	}
}

type config struct {
	otlp  string
	dir   string
	addr  string
	fast  int
	slow  time.Duration // how long the slow request takes
	serve bool
}

// result tells what run did, for the end-to-end test.
type result struct {
	Before, After []oteltrace.SpanContext // the client spans of the fast requests
	Slow          oteltrace.SpanContext   // the client span of the slow one
	Export        flight.Export           // the snapshot the slow request triggered
	Stats         flight.Stats
}

func run(ctx context.Context, c config, out io.Writer) (*result, error) {
	// The endpoint as trace2x otlp finds it: the flag, the standard
	// variables, the default. Say at once when the Collector is not
	// there, rather than after the exporter's retries.
	ep, err := otlpexport.Resolve(otlpexport.Config{Endpoint: c.otlp})
	if err != nil {
		return nil, err
	}
	if err := ep.Check(); err != nil {
		var se *otlpexport.SettingError
		var ce *otlpexport.CertificateError
		var te *otlpexport.TLSError
		var pe *otlpexport.ProtocolError
		if errors.As(err, &se) || errors.As(err, &ce) || errors.As(err, &te) || errors.As(err, &pe) {
			return nil, err // something answers: the advice below would not help
		}
		return nil, fmt.Errorf("%w: start the Collector first:\n\t$(make -s otelcol) --config examples/slowrequests/collector.yaml", err)
	}
	exp, err := ep.NewExporter(ctx)
	if err != nil {
		return nil, err
	}
	defer exp.Shutdown(context.WithoutCancel(ctx))

	// The flight recorder: the runtime's execution trace of the last
	// seconds, exported as spans (and Perfetto files) when a request is
	// slow.
	exported := make(chan flight.Export, 4)
	opts := []flight.Option{
		flight.WithExporter(exp),
		flight.WithServiceName("slowrequests"),
		flight.WithOnExport(func(e flight.Export) { exported <- e }),
	}
	if c.dir != "" {
		opts = append(opts, flight.WithDir(c.dir))
	}
	rec, err := flight.Start(opts...)
	if err != nil {
		return nil, err
	}
	defer rec.Stop(context.WithoutCancel(ctx))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout/{id}", checkout(c.slow))
	// In a real service, the handler goes on an address only operators reach.
	mux.Handle("/debug/trace2x/", rec.Handler())
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: rec.Middleware(mux, flight.SlowerThan(500*time.Millisecond))}
	go srv.Serve(ln)
	defer srv.Shutdown(context.WithoutCancel(ctx))
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "serving on %s; the flight recorder's page is %s/debug/trace2x/\n", base, base)

	// The client's own spans, so that the backend shows each request's
	// trace whole: the client's span, and under it the server's runtime
	// task and regions.
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "slowrequests-client"))))
	defer tp.Shutdown(context.WithoutCancel(ctx))
	cl := &client{base: base, tracer: tp.Tracer("slowrequests")}

	res := &result{}
	for i := range c.fast {
		sc, _, err := cl.get(ctx, strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		res.Before = append(res.Before, sc)
	}
	fmt.Fprintf(out, "sent %d fast requests\n", c.fast)
	sc, took, err := cl.get(ctx, "slow")
	if err != nil {
		return nil, err
	}
	res.Slow = sc
	fmt.Fprintf(out, "sent a slow request: it took %v; its trace ID is %s\n", took.Round(time.Millisecond), sc.TraceID())

	select {
	case res.Export = <-exported:
	case <-time.After(time.Minute):
		return nil, errors.New("no snapshot was exported within a minute")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e := res.Export
	fmt.Fprintf(out, "snapshot (%s): %d KB of execution trace, %d spans exported to %s, %d tasks joined their request's trace\n",
		e.Reason, e.Bytes>>10, e.Spans, ep, e.Joined)
	if e.File != "" {
		fmt.Fprintf(out, "  and written to %s (open it in ui.perfetto.dev)\n", e.File)
	}
	if e.Err != nil {
		fmt.Fprintf(out, "  with errors: %v\n", e.Err)
	}

	for i := range c.fast {
		sc, _, err := cl.get(ctx, strconv.Itoa(c.fast+i))
		if err != nil {
			return nil, err
		}
		res.After = append(res.After, sc)
	}
	fmt.Fprintf(out, "sent %d fast requests more: they trigger nothing, and their server tasks are not exported\n", c.fast)
	if err := tp.ForceFlush(ctx); err != nil {
		fmt.Fprintf(out, "exporting the client's spans: %v\n", err)
	}
	res.Stats = rec.Stats()
	if e.Spans > 0 {
		fmt.Fprintf(out, "look for trace %s in the Collector's output\n", res.Slow.TraceID())
	} else {
		fmt.Fprintf(out, "no span reached %s: is a Collector listening there? (see the errors above)\n", ep)
	}

	if c.serve {
		fmt.Fprintf(out, "serving until Ctrl-C; open %s/debug/trace2x/\n", base)
		<-ctx.Done()
	}
	return res, nil
}

// checkout stands for a handler with some work in regions: a database
// query, slow for the item "slow", and rendering.
func checkout(slow time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		trace.WithRegion(r.Context(), "db.query", func() {
			d := 2 * time.Millisecond
			if id == "slow" {
				d = slow
			}
			time.Sleep(d)
		})
		trace.WithRegion(r.Context(), "render", func() {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"id": id, "status": "ok"})
		})
	}
}

// client sends requests with a span each, and its traceparent header.
type client struct {
	base   string
	tracer oteltrace.Tracer
}

func (c *client) get(ctx context.Context, id string) (oteltrace.SpanContext, time.Duration, error) {
	ctx, span := c.tracer.Start(ctx, "client: GET /checkout/{id}",
		oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(attribute.String("checkout.id", id)))
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/checkout/"+id, nil)
	if err != nil {
		return span.SpanContext(), 0, err
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return span.SpanContext(), 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return span.SpanContext(), 0, fmt.Errorf("GET /checkout/%s: %s", id, resp.Status)
	}
	return span.SpanContext(), time.Since(start), nil
}
