package flight_test

import (
	"context"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/trace2x/trace2x/convert/otel/otlpexport"
	"github.com/trace2x/trace2x/flight"
)

// Keep the last seconds of the trace, export them when a request is slow
// or fails, and let operators download the window. A recorder that fails
// to start is logged, and the service runs without it. On SIGTERM the
// server stops taking requests, then Stop exports what is queued within
// what is left of the grace period.
func ExampleStart() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var opts []flight.Option
	if ep, err := otlpexport.Resolve(otlpexport.Config{}); err != nil { // OTEL_EXPORTER_OTLP_*, else 127.0.0.1:4317
		log.Print(err)
	} else if exp, err := ep.NewExporter(ctx); err != nil {
		log.Print(err)
	} else {
		opts = append(opts, flight.WithExporter(exp))
	}
	rec, err := flight.Start(append(opts, flight.WithDir("/var/tmp/traces"))...)
	if err != nil {
		log.Printf("no flight recorder: %v", err) // rec is nil, and does nothing
	}

	// The Recorder's own endpoints (stacks, live captures) go on an
	// address only operators reach, not on the service's.
	admin := http.NewServeMux()
	admin.Handle("/debug/trace2x/", rec.Handler())
	go func() { log.Print(http.ListenAndServe("127.0.0.1:6060", admin)) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout/{id}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond) // the service's work
	})
	srv := &http.Server{Addr: ":8080", Handler: rec.Middleware(mux, flight.SlowerThan(500*time.Millisecond))}
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	grace, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	srv.Shutdown(grace)
	if err := rec.Stop(grace); err != nil {
		log.Printf("flight recorder: %v", err)
	}
}
