package main

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestPrefetchFollow writes a prefetch's file in steps while a request
// follows it, and checks that the request gets every byte, in order, and
// ends when the conversion does, with its error.
func TestPrefetchFollow(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "pre.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := newPrefetch(1, f.Name())
	if !p.follow() {
		t.Fatal("a fresh prefetch cannot be followed")
	}
	var got bytes.Buffer
	served := make(chan error)
	go func() { served <- p.serve(&got) }()
	w := p.writer(f)
	var want bytes.Buffer
	for i := range 50 {
		chunk := bytes.Repeat([]byte{byte(i)}, 1000+i)
		want.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	// A drop while the request follows must not cut it short.
	p.drop()
	if _, err := w.Write([]byte("end")); err != nil {
		t.Fatalf("a followed prefetch was dropped: %v", err)
	}
	want.WriteString("end")
	p.finish(io.ErrUnexpectedEOF)
	select {
	case err := <-served:
		if err != io.ErrUnexpectedEOF {
			t.Errorf("serve returned %v, want the conversion's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not end with the conversion")
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("served %d bytes, want the %d written", got.Len(), want.Len())
	}
	// A failed prefetch is not served again: the part is converted anew.
	if p.follow() {
		t.Error("a prefetch that failed is followed")
	}
}

// TestViewPrefetch checks that view's index serves its first window from
// the prefetch, byte for byte what a conversion on demand gives, and that
// asking for another part first drops the prefetch, after which the first
// window is converted on demand.
func TestViewPrefetch(t *testing.T) {
	path := recordGenerations(t, 4)
	e := &env{stdout: io.Discard, stderr: io.Discard}
	newServer := func() (*indexServer, func()) {
		in, err := openTrace(e, []string{path}, &inputOpts{})
		if err != nil {
			t.Fatal(err)
		}
		file := in.ReadCloser.(*os.File)
		idx, err := tracefile.Read(file, in.size)
		if err != nil {
			t.Fatal(err)
		}
		s := newIndexServer(in, file, idx, float64(traceBytesPerRow), in.size/3, 0)
		if len(s.windows) < 2 {
			t.Fatalf("%d windows", len(s.windows))
		}
		return s, func() { in.Close() }
	}
	s, closeIn := newServer()
	w1 := s.windows[0]
	var want bytes.Buffer
	if err := s.convert(&want, w1.From, w1.To); err != nil {
		t.Fatal(err)
	}
	pre, err := os.Create(filepath.Join(t.TempDir(), "pre.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	s.prefetchFirst(pre)
	srv := httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	// With the trace closed, only the prefetch can serve the window.
	closeIn()
	if got := get(t, srv.URL+s.windowPath(1)); got != want.String() {
		t.Errorf("the prefetched window is %d bytes, a conversion on demand %d", len(got), want.Len())
	}
	srv.Close()

	// A generation asked for first drops the prefetch, which stops at its
	// first write; the window is then converted on demand.
	s, closeIn = newServer()
	defer closeIn()
	srv = httptest.NewServer(s.handler("127.0.0.1:9001", io.Discard))
	defer srv.Close()
	pre2, err := os.Create(filepath.Join(t.TempDir(), "pre2.pftrace"))
	if err != nil {
		t.Fatal(err)
	}
	defer pre2.Close()
	p := s.beginPrefetch(pre2)
	if p == nil {
		t.Fatal("no prefetch before any request")
	}
	get(t, srv.URL+s.genPath(2))
	s.runPrefetch(p, pre2)
	if !errors.Is(p.err, errDropped) {
		t.Errorf("the prefetch ended with %v, want it dropped", p.err)
	}
	if got := get(t, srv.URL+s.windowPath(1)); got != want.String() {
		t.Errorf("the window after a dropped prefetch is %d bytes, want %d", len(got), want.Len())
	}
	// Once a part was asked for, no prefetch begins.
	if s.beginPrefetch(pre2) != nil {
		t.Error("a prefetch begins after a request")
	}
}
