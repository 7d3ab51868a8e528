package flight_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/trace2x/trace2x/convert/otel/otlpexport"
	"github.com/trace2x/trace2x/flight"
)

// Keep the last seconds of the trace, export them when a request is slow
// or fails, and let operators download the window.
func ExampleStart() {
	ctx := context.Background()
	ep, err := otlpexport.Resolve(otlpexport.Config{}) // OTEL_EXPORTER_OTLP_*, else 127.0.0.1:4317
	if err != nil {
		log.Fatal(err)
	}
	exp, err := ep.NewExporter(ctx)
	if err != nil {
		log.Fatal(err)
	}
	rec, err := flight.Start(flight.WithExporter(exp), flight.WithDir("/var/tmp/traces"))
	if err != nil {
		log.Fatal(err)
	}
	defer rec.Stop(context.Background())

	// The Recorder's own endpoints (stacks, live captures) go on an
	// address only operators reach, not on the service's.
	admin := http.NewServeMux()
	admin.Handle("/debug/trace2x/", rec.Handler())
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:6060", admin)) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout/{id}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond) // the service's work
	})
	log.Fatal(http.ListenAndServe(":8080", rec.Middleware(mux, flight.SlowerThan(500*time.Millisecond))))
}
