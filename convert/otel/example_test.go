package otel_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/trace2x/trace2x/convert/otel"
)

// Convert a trace's tasks and regions to spans, written as OTLP JSON;
// any exporter of the OpenTelemetry SDK (otlptracegrpc, or otlpexport's,
// which finds the endpoint as trace2x otlp does) sends them instead.
func ExampleConvert() {
	in, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	exp := otel.NewJSONExporter(os.Stdout)
	res, err := otel.Convert(context.Background(), in, exp, otel.WithServiceName("checkout"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%d spans in %d traces\n", res.Spans(), res.Traces())
}
