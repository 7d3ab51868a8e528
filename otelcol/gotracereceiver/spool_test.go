package gotracereceiver

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// TestSpoolTakesAll checks that the spool takes all the source sends
// without waiting for its reader, then hands it on whole and in order,
// and the source's error after its last byte.
func TestSpoolTakesAll(t *testing.T) {
	data := make([]byte, 8<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	boom := errors.New("connection reset")
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data)
		pw.CloseWithError(boom)
	}()
	s, err := newSpool(pr, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is read yet: the source must still be drained.
	select {
	case <-s.copied:
	case <-time.After(10 * time.Second):
		t.Fatal("the source was not taken while nothing read the spool")
	}
	got, err := io.ReadAll(s)
	if !errors.Is(err, boom) || !bytes.Equal(got, data) {
		t.Errorf("read %d bytes (equal: %v), error %v; want the %d bytes sent, then %v", len(got), bytes.Equal(got, data), err, len(data), boom)
	}
	if err := s.Close(pr.Close); err != nil {
		t.Error(err)
	}
}

// TestSpoolFollows checks that a reader waiting for more gets it as it
// comes, the end as io.EOF, and that closing the spool while a read
// waits ends that read.
func TestSpoolFollows(t *testing.T) {
	pr, pw := io.Pipe()
	s, err := newSpool(pr, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, part := range []string{"go 1.26 ", "trace\x00\x00\x00"} {
			time.Sleep(20 * time.Millisecond)
			pw.Write([]byte(part))
		}
		pw.Close()
	}()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "go 1.26 trace\x00\x00\x00" {
		t.Errorf("read %q, %v", got, err)
	}
	s.Close(pr.Close)

	pr, pw = io.Pipe()
	defer pw.Close()
	if s, err = newSpool(pr, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 10))
		read <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close(pr.Close)
	select {
	case err := <-read:
		if err == nil {
			t.Error("a read waiting when the spool closed returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read waiting when the spool closed did not return")
	}
}
