package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestViewPostRefused: view answers a request other than GET and HEAD
// with 405 (a POST got the trace), and the link still serves the GET.
func TestViewPostRefused(t *testing.T) {
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	addr, path, result, stderr := viewConverted(t, ctx)
	resp, err := http.Post("http://"+addr+path, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Errorf("POST: %s, Allow %q; want 405 naming GET", resp.Status, resp.Header.Get("Allow"))
	}
	if body := get(t, "http://"+addr+path); len(body) == 0 {
		t.Error("GET after the POST: empty")
	}
	waitLine(t, stderr, regexp.MustCompile(`fetched whole`))
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("view: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("view did not end after the whole fetch")
	}
}
