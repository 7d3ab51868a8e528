package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestPipeWriter checks that the blocks reach the writer whole and in
// order, whatever the sizes of the writes.
func TestPipeWriter(t *testing.T) {
	want := make([]byte, 3*pipeDepth*pipeBlock+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	var got bytes.Buffer
	p := newPipeWriter(&got)
	for rest := want; len(rest) > 0; {
		n := min(len(rest), r.IntN(2*pipeBlock))
		if k, err := p.Write(rest[:n]); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		rest = rest[n:]
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("wrote %d bytes, not the %d given, or not in order", got.Len(), len(want))
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.Write([]byte("late")); !errors.Is(err, errPipeClosed) {
		t.Errorf("Write after Close: %v, want %v", err, errPipeClosed)
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct{ n int }

var errBroken = errors.New("broken")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errBroken
	}
	f.n--
	return len(b), nil
}

// TestPipeWriterError checks that the writer's error comes back, on a
// later Write or at the latest from Close, and that nothing hangs.
func TestPipeWriterError(t *testing.T) {
	p := newPipeWriter(&failAfter{n: 1})
	block := make([]byte, pipeBlock)
	var werr error
	for range 4 * pipeDepth {
		if _, werr = p.Write(block); werr != nil {
			break
		}
	}
	if err := p.Close(); !errors.Is(err, errBroken) || (werr != nil && !errors.Is(werr, errBroken)) {
		t.Fatalf("Write: %v, Close: %v; want %v", werr, err, errBroken)
	}
}
