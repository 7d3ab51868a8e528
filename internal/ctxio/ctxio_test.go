package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"
)

// TestAbandoningCopies checks that Abandoning hands on what R gives, in
// order, then R's error, through reads of any size.
func TestAbandoningCopies(t *testing.T) {
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	boom := errors.New("boom")
	for _, r := range []io.Reader{
		bytes.NewReader(data),
		iotest.HalfReader(bytes.NewReader(data)),
		io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)),
	} {
		a := &Abandoning{Ctx: context.Background(), R: r}
		var got []byte
		var err error
		for err == nil {
			buf := make([]byte, 1+rand.IntN(100<<10))
			var n int
			n, err = a.Read(buf)
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes handed on, differing from the %d read", len(got), len(data))
		}
		if err != io.EOF && !errors.Is(err, boom) {
			t.Errorf("ended with %v", err)
		}
	}
}

// TestAbandoningStops checks that a read blocked in R returns once the
// context is done, with its cause, where a plain read would wait for R.
func TestAbandoningStops(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	stop := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(context.Background())
	a := &Abandoning{Ctx: ctx, R: pr}
	go func() {
		pw.Write([]byte("start"))
		time.Sleep(50 * time.Millisecond)
		cancel(stop)
	}()
	buf := make([]byte, 10)
	if n, err := a.Read(buf); err != nil || string(buf[:n]) != "start" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(buf)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Errorf("read ended with %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read is still blocked after the context ended")
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("reader bug") }

// TestAbandoningPanics checks that a panic of R is raised by Read, on the
// caller's goroutine, where it can be recovered, not on the goroutine
// that reads R, where it would end the program.
func TestAbandoningPanics(t *testing.T) {
	a := &Abandoning{Ctx: context.Background(), R: panicReader{}}
	got := func() (p any) {
		defer func() { p = recover() }()
		a.Read(make([]byte, 10))
		return nil
	}()
	if got != "reader bug" {
		t.Errorf("Read raised %v, want the reader's panic", got)
	}
	if _, err := a.Read(make([]byte, 10)); err == nil {
		t.Error("a Read after the panic: no error")
	}
	a.Wait()
}

// stallCancel gives data once, then, in its next read, ends the context
// and blocks until released.
type stallCancel struct {
	data    []byte
	cancel  func()
	release chan struct{}
}

func (r *stallCancel) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.cancel()
	<-r.release
	return 0, io.EOF
}

// TestAbandoningKeepsWhatCame checks that what R gave before the context
// ended is handed out before the context's error, every time: a stalled
// stream is converted up to where it stalled.
func TestAbandoningKeepsWhatCame(t *testing.T) {
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		r := &stallCancel{data: []byte("what came"), cancel: cancel, release: make(chan struct{})}
		a := &Abandoning{Ctx: ctx, R: r}
		got, err := io.ReadAll(a)
		close(r.release)
		a.Wait()
		if string(got) != "what came" || !errors.Is(err, context.Canceled) {
			t.Fatalf("read %q, then %v; want what came, then the context's end", got, err)
		}
	}
}
