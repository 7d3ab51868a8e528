package gotracereceiver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
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
	s, err := newSpool(pr, t.TempDir(), 0)
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
	s, err := newSpool(pr, t.TempDir(), 0)
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
	if s, err = newSpool(pr, t.TempDir(), 0); err != nil {
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

// midChunkServer answers every request with a chunked response that
// declares one chunk of len(data) bytes and sends only the first sent of
// them, then holds the connection until the test ends: what a Go program
// serving /debug/pprof/trace sends while a generation fills, its
// buffers flushed in the middle of a chunk.
func midChunkServer(t *testing.T, data []byte, sent int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", len(data))
				c.Write(data[:sent])
				<-done
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestSpoolMidChunk checks that what a target sent reaches the spool's
// reader while the target's chunk is incomplete: net/http's body waits
// for the rest of a chunk it began until it has filled the read's
// buffer, so a large read would hold what came, for a target that sends
// little, until its trace ends.
func TestSpoolMidChunk(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	const sent = 40 << 10
	resp, err := http.Get(midChunkServer(t, data, sent) + "/debug/pprof/trace")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSpool(resp.Body, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(resp.Body.Close)
	got := make(chan int, 1)
	go func() {
		n, _ := io.ReadFull(s, make([]byte, sent-spoolRead))
		got <- n
	}()
	select {
	case n := <-got:
		if n != sent-spoolRead {
			t.Errorf("read %d bytes; want %d", n, sent-spoolRead)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("of the %d bytes sent, not %d reached the reader in 20s", sent, sent-spoolRead)
	}
}
