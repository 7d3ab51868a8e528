package capture

import (
	"io"
	"sync"
)

// pump reads a response body a kilobyte at a time on a goroutine
// of its own, and Read hands over whatever it has read. net/http's
// chunked body, once it has begun a chunk, waits for the rest of it
// until the read's buffer is full, and a Go program's /debug/pprof/trace
// leaves the end of each chunk in its own buffer until it writes again:
// a large read would hold what a program that traces little sent (some
// kilobytes a second), often seconds of it, which an interrupt or a
// timeout would then lose. Small reads handed over one by one would cost
// a busy capture's conversion a tenth to a third of its speed; gathered
// here, a reader that keeps up gets them as they come and one that falls
// behind gets them in large reads.
type pump struct {
	read func([]byte) (int, error) // a read of the body
	body io.Closer

	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte // read from the body; buf[off:] not yet handed over
	off    int
	err    error // the body's, once it has failed or ended
	closed bool
	done   chan struct{}
}

const (
	pumpRead = 1 << 10   // one read of the body: what it may hold back
	pumpMax  = 256 << 10 // read ahead at most: the target waits beyond it
)

func newPump(read func([]byte) (int, error), body io.Closer) *pump {
	p := &pump{read: read, body: body, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.run()
	return p
}

func (p *pump) run() {
	defer close(p.done)
	tmp := make([]byte, pumpRead)
	for {
		p.mu.Lock()
		for len(p.buf)-p.off >= pumpMax && !p.closed {
			p.cond.Wait()
		}
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		n, err := p.read(tmp)
		p.mu.Lock()
		if p.off > 0 && p.off >= len(p.buf)/2 {
			// What was handed over makes room, without growing buf.
			p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
			p.off = 0
		}
		p.buf = append(p.buf, tmp[:n]...)
		if err != nil {
			p.err = err
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Read hands over what the pump has read, waiting only while it has
// nothing.
func (p *pump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.off == len(p.buf) && p.err == nil && !p.closed {
		p.cond.Wait()
	}
	if p.off == len(p.buf) {
		if p.err == nil {
			return 0, io.ErrClosedPipe
		}
		return 0, p.err
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	p.cond.Broadcast() // room for the pump
	return n, nil
}

// Close closes the body, which ends a read under way, and waits for the
// pump's goroutine to end.
func (p *pump) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	err := p.body.Close()
	<-p.done
	return err
}
