package flight_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/trace2x/trace2x/flight"
)

// TestSuperfluousWriteHeader: a handler's second WriteHeader is logged
// in the server's error log as net/http logs it, naming the handler's
// call rather than the middleware's, and changes nothing.
func TestSuperfluousWriteHeader(t *testing.T) {
	rec, err := flight.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop(context.Background())
	var line int
	h := rec.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _, line, _ = runtime.Caller(0)
		w.WriteHeader(http.StatusInternalServerError) // the line after
	}))
	var logged bytes.Buffer
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(&logged, "", 0)
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status %s, want the first one's", resp.Status)
	}
	want := fmt.Sprintf("http: superfluous response.WriteHeader call from github.com/trace2x/trace2x/flight_test.TestSuperfluousWriteHeader.func1 (superfluous_test.go:%d)\n", line+1)
	if logged.String() != want {
		t.Errorf("the server logged %q, want %q", logged.String(), want)
	}
}
