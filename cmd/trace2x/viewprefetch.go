package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/trace2x/trace2x/convert/perfetto"
)

// A prefetch is a Perfetto trace written into a temporary file before it
// is asked for, which requests follow as it grows: a request that comes
// while the file is being written gets each byte as it is written, and
// ends when the conversion does, so it is never later than a conversion
// of its own. View serves its whole conversion so (see viewWhole), and
// converts the index page's first window so while the person reads the
// page: the window they most often open first is then ready when the UI
// asks for it (on the 121 MB service trace its conversion takes about
// 6 s of the time to a view).
//
// Any other part of the index asked for first means the person went
// elsewhere: the first window's prefetch is dropped (stopped if it runs
// and nobody follows it), so that it takes no core from the part they
// wait for, and the first window is converted on demand as the others
// are.
type prefetch struct {
	window int // the window's number; 0 for view's whole conversion
	path   string

	mu      sync.Mutex
	grew    *sync.Cond // signalled as size grows and when done is set
	size    int64      // bytes written
	done    bool
	err     error // the conversion's, once done
	readers int   // requests following the file
	dropped bool  // stop converting: nobody will read it
}

// errDropped stops a prefetch that another request made useless.
var errDropped = errors.New("prefetch dropped")

func newPrefetch(window int, path string) *prefetch {
	p := &prefetch{window: window, path: path}
	p.grew = sync.NewCond(&p.mu)
	return p
}

// writer appends to f, the prefetch's file, for the conversion, and tells
// the requests following it; it stops the conversion once the prefetch
// is dropped.
func (p *prefetch) writer(f *os.File) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		dropped := p.dropped
		p.mu.Unlock()
		if dropped {
			return 0, errDropped
		}
		n, err := f.Write(b)
		p.mu.Lock()
		p.size += int64(n)
		p.grew.Broadcast()
		p.mu.Unlock()
		return n, err
	})
}

// finish records the end of the conversion, with its error.
func (p *prefetch) finish(err error) {
	p.mu.Lock()
	p.done, p.err = true, err
	p.grew.Broadcast()
	p.mu.Unlock()
}

// drop stops the prefetch unless it is done or a request follows it.
func (p *prefetch) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done && p.readers == 0 {
		p.dropped = true
	}
}

// follow reports whether a request can be served from the prefetch (it
// was not dropped, and did not fail but for the row limit, which leaves a
// valid trace), and if so counts it as a reader, which must call serve.
func (p *prefetch) follow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropped || p.done && p.err != nil && !errors.Is(p.err, perfetto.ErrRowLimit) {
		return false
	}
	p.readers++
	return true
}

// doneSize returns the file's size and whether the conversion is done,
// so that the size is final.
func (p *prefetch) doneSize() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size, p.done
}

// finished reports whether the conversion is done.
func (p *prefetch) finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// serve copies the file to w as it is written, until the conversion is
// done, and returns the conversion's error, or w's.
func (p *prefetch) serve(w io.Writer) error {
	defer func() {
		p.mu.Lock()
		p.readers--
		p.mu.Unlock()
	}()
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	defer f.Close()
	var sent int64
	for {
		p.mu.Lock()
		for sent == p.size && !p.done {
			p.grew.Wait()
		}
		size, done, convErr := p.size, p.done, p.err
		p.mu.Unlock()
		if size > sent {
			n, err := io.Copy(w, io.NewSectionReader(f, sent, size-sent))
			sent += n
			if err != nil {
				return err
			}
			continue
		}
		if done {
			return convErr
		}
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// prefetchFirst converts the first window into f ahead of the UI's
// request (see prefetch), unless a part was asked for already.
func (s *indexServer) prefetchFirst(f *os.File) {
	if p := s.beginPrefetch(f); p != nil {
		s.runPrefetch(p, f)
	}
}

// beginPrefetch makes the prefetch of the first window into f, the one
// requests look for, or returns nil if a part was asked for already.
func (s *indexServer) beginPrefetch(f *os.File) *prefetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asked {
		return nil
	}
	s.pre = newPrefetch(1, f.Name())
	return s.pre
}

// runPrefetch converts the window of p into f.
func (s *indexServer) runPrefetch(p *prefetch, f *os.File) {
	w := s.windows[p.window-1]
	p.finish(s.convert(p.writer(f), w.From, w.To))
}

// servePart writes the part from from to to (times from the trace's
// start) to w as a Perfetto trace: from the prefetch if it is of that
// window (window is 0 for a generation alone), converted now otherwise.
func (s *indexServer) servePart(w io.Writer, window int, from, to time.Duration) error {
	s.mu.Lock()
	s.asked = true
	p := s.pre
	s.mu.Unlock()
	if p != nil {
		if p.window == window && p.follow() {
			if rw, ok := w.(http.ResponseWriter); ok {
				if size, done := p.doneSize(); done {
					// Whole already: its length lets the UI show
					// progress, as the whole-file link's does.
					rw.Header().Set("Content-Length", strconv.FormatInt(size, 10))
				}
			}
			return p.serve(w)
		}
		if p.window != window {
			p.drop()
		}
	}
	return s.convert(w, from, to)
}
