package main

import (
	"errors"
	"io"
	"sync"
)

// pipeWriter hands what it is given, in blocks, to a goroutine that writes
// them on, so that compressing a .gz output runs beside the conversion
// rather than inside each of its writes.
type pipeWriter struct {
	w    io.Writer
	buf  []byte      // the block being filled
	full chan []byte // blocks to write, in order
	free chan []byte // blocks written, to fill again
	done chan struct{}
	shut bool // Close was called

	mu  sync.Mutex
	err error // the first error of w
}

var errPipeClosed = errors.New("write after close")

const (
	pipeBlock = 256 << 10
	pipeDepth = 4 // blocks queued before Write waits
)

func newPipeWriter(w io.Writer) *pipeWriter {
	p := &pipeWriter{
		w:    w,
		full: make(chan []byte, pipeDepth),
		free: make(chan []byte, pipeDepth+2),
		done: make(chan struct{}),
	}
	for range pipeDepth + 1 {
		p.free <- make([]byte, 0, pipeBlock)
	}
	p.buf = <-p.free
	go p.run(p.full)
	return p
}

func (p *pipeWriter) run(full <-chan []byte) {
	defer close(p.done)
	for b := range full {
		if p.error() == nil {
			if _, err := p.w.Write(b); err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
			}
		}
		p.free <- b[:0]
	}
}

func (p *pipeWriter) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Write queues b. An error of an earlier block is returned here, on the
// next Write, or by Close.
func (p *pipeWriter) Write(b []byte) (int, error) {
	if err := p.error(); err != nil {
		return 0, err
	}
	if p.shut {
		return 0, errPipeClosed
	}
	n := len(b)
	for len(b) > 0 {
		k := copy(p.buf[len(p.buf):cap(p.buf)], b)
		p.buf = p.buf[:len(p.buf)+k]
		b = b[k:]
		if len(p.buf) == cap(p.buf) {
			p.full <- p.buf
			p.buf = <-p.free
		}
	}
	return n, nil
}

// Close writes what is queued, stops the goroutine and returns the first
// error of the underlying writer. It does not close that writer.
func (p *pipeWriter) Close() error {
	if p.shut {
		return p.error()
	}
	p.shut = true
	if len(p.buf) > 0 {
		p.full <- p.buf
	}
	p.buf = nil
	close(p.full)
	<-p.done
	return p.error()
}
