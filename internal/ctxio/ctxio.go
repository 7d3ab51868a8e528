// Package ctxio stops reads when a context is done.
package ctxio

import (
	"context"
	"errors"
	"io"
)

// Reader fails every read once Ctx is done, with its cause. A read under
// way when it is done goes on.
type Reader struct {
	Ctx context.Context
	R   io.Reader
}

func (c Reader) Read(p []byte) (int, error) {
	if c.Ctx.Err() != nil {
		return 0, context.Cause(c.Ctx)
	}
	return c.R.Read(p)
}

// ReaderAt is Reader for an io.ReaderAt.
type ReaderAt struct {
	Ctx context.Context
	R   io.ReaderAt
}

func (c ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.Ctx.Err() != nil {
		return 0, context.Cause(c.Ctx)
	}
	return c.R.ReadAt(p, off)
}

// Abandoning reads R on a goroutine of its own, a buffer ahead, so that
// a read blocked when Ctx is done returns at once, with its cause: a
// pipe whose writer stalls (ssh host cat trace | trace2x) holds its
// reader in a read that nothing else ends, since the runtime cannot poll
// a blocking descriptor such as standard input. The read under way is
// abandoned, and what it brings is dropped.
type Abandoning struct {
	Ctx context.Context
	R   io.Reader

	started bool
	done    chan struct{} // closed when fill returns
	free    chan []byte
	full    chan chunk
	cur     chunk // the chunk being handed out
	err     error // the error that ended R, once its data is out
}

type chunk struct {
	buf      []byte // the whole buffer, for reuse
	data     []byte // what of it is not handed out yet
	err      error
	panicked any // R's panic, raised again by Read
}

// errReaderPanicked is what Read returns after it raised R's panic.
var errReaderPanicked = errors.New("ctxio: the reader panicked")

// abandoningBuf is the size of a read of R: a pipe's capacity.
const abandoningBuf = 64 << 10

// Read hands out what R gave, then R's error; once Ctx is done, what was
// read before is still handed out, then Ctx's cause: a stream that
// stalled is converted up to where it stalled, whichever comes first of
// its last bytes and the end of Ctx.
func (a *Abandoning) Read(p []byte) (int, error) {
	if !a.started {
		if a.Ctx.Err() != nil {
			return 0, context.Cause(a.Ctx)
		}
		if len(p) == 0 {
			return 0, nil
		}
		a.started = true
		a.done = make(chan struct{})
		a.free, a.full = make(chan []byte, 2), make(chan chunk, 1)
		a.free <- make([]byte, abandoningBuf)
		a.free <- make([]byte, abandoningBuf)
		go a.fill()
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(a.cur.data) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.cur.buf != nil {
			a.free <- a.cur.buf
			a.cur.buf = nil
		}
		var c chunk
		select {
		case c = <-a.full: // read already, before any end of Ctx
		default:
			select {
			case c = <-a.full:
			case <-a.Ctx.Done():
				// A chunk may have come between the two selects,
				// before the end of Ctx: it is handed out first.
				select {
				case c = <-a.full:
				default:
					return 0, context.Cause(a.Ctx)
				}
			}
		}
		if c.panicked != nil {
			a.err = errReaderPanicked // for a caller that reads on
			panic(c.panicked)
		}
		a.cur, a.err = c, c.err
	}
	n := copy(p, a.cur.data)
	a.cur.data = a.cur.data[n:]
	return n, nil
}

// Wait waits until the goroutine reading R has returned, which it does
// once Ctx is done and the read under way, if any, has returned: a caller
// that is done with a reader it did not abandon waits so that R is not
// read after it returns.
func (a *Abandoning) Wait() {
	if a.started {
		<-a.done
	}
}

// read reads R, recovering its panic: raised on this goroutine, nothing
// of the caller's could recover it; Read raises it again on the caller's.
func (a *Abandoning) read(buf []byte) (n int, panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	n, err = a.R.Read(buf)
	return n, nil, err
}

// fill reads R into free buffers until it fails, or Ctx is done.
func (a *Abandoning) fill() {
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.Ctx.Done():
			return
		}
		n, p, err := a.read(buf)
		if p != nil {
			select {
			case a.full <- chunk{panicked: p}:
			case <-a.Ctx.Done():
			}
			return
		}
		select {
		case a.full <- chunk{buf: buf, data: buf[:n], err: err}:
		case <-a.Ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}
