package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
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
// wait for. Every part of the index is converted so, when first asked
// for, and kept a while (see indexServer.part).
type prefetch struct {
	key  string // what requests ask for: the path of its URL
	path string // the file

	// For the parts of view's index: the file the conversion writes and
	// the part's times, from the trace's start.
	file     *os.File
	from, to time.Duration

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

func newPrefetch(key, path string) *prefetch {
	p := &prefetch{key: key, path: path}
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

// drop stops the prefetch unless it is done or a request follows it, and
// reports whether it is dropped.
func (p *prefetch) drop() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done && p.readers == 0 {
		p.dropped = true
	}
	return p.dropped
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

// idle reports whether the conversion is done and no request reads it.
func (p *prefetch) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done && p.readers == 0
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

// keepParts is how many converted parts of the index the server keeps,
// done or under way: a part is a file of up to the row budget (about 100
// MB deflated), and the UI asks again for one it has shown when the tab
// is reloaded or the person goes back to it.
const keepParts = 3

// prefetchFirst converts the first window into f ahead of the UI's
// request (see prefetch), unless a part was asked for already.
func (s *indexServer) prefetchFirst(f *os.File) {
	if p := s.beginPrefetch(f); p != nil {
		s.runPart(p)
	}
}

// beginPrefetch makes the prefetch of the first window into f, the one
// requests look for, or returns nil if a part was asked for already. The
// server then owns f.
func (s *indexServer) beginPrefetch(f *os.File) *prefetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asked || s.closed {
		return nil
	}
	w := s.windows[0]
	p := newPrefetch(s.windowPath(1), f.Name())
	p.file, p.from, p.to = f, w.From, w.To
	s.parts = append(s.parts, p)
	return p
}

// runPart converts the part of p into its file.
func (s *indexServer) runPart(p *prefetch) {
	p.finish(s.convert(p.writer(p.file), p.from, p.to))
}

// servePart writes the part at path, from from to to (times from the
// trace's start), to w as a Perfetto trace. Each part is converted once
// into a file of its own that every request for it follows (see
// prefetch): two requests for the same part at once, a reload of the UI's
// tab, or a return to a part shown before get the one conversion, not one
// each.
func (s *indexServer) servePart(w io.Writer, path string, from, to time.Duration) error {
	p, start := s.part(path, from, to)
	if p == nil {
		// No file to convert into: converted into the answer.
		return s.convert(w, from, to)
	}
	if start {
		go s.runPart(p)
	}
	if rw, ok := w.(http.ResponseWriter); ok {
		if size, done := p.doneSize(); done {
			// Whole already: its length lets the UI show progress, as
			// the whole-file link's does.
			rw.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
	}
	return p.serve(w)
}

// part returns the conversion of the part at path for a request to
// follow, counted as its reader, and whether it is new and must be run;
// nil if no file could be made for it. A part asked for means the person
// went there: the conversions of other parts that nobody follows are
// dropped, so that they take no core from the one they wait for.
func (s *indexServer) part(path string, from, to time.Duration) (*prefetch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = true
	if s.closed {
		return nil, false
	}
	var found *prefetch
	s.parts = slices.DeleteFunc(s.parts, func(q *prefetch) bool {
		if q.key == path {
			found = q
			return false
		}
		// A dropped part is of no more use: its file goes.
		if q.drop() {
			s.retire(q)
			return true
		}
		return false
	})
	if found != nil && found.follow() {
		return found, false
	}
	f, err := createConverted()
	if err != nil {
		return nil, false
	}
	p := newPrefetch(path, f.Name())
	p.file, p.from, p.to = f, from, to
	p.follow() // before the conversion begins, which nothing may drop
	if found != nil {
		// Dropped or failed: its file goes once nobody reads it.
		s.parts = slices.DeleteFunc(s.parts, func(q *prefetch) bool { return q == found })
		s.retire(found)
	}
	s.parts = append(s.parts, p)
	// The oldest parts that are done and unread make room.
	for i := 0; len(s.parts) > keepParts && i < len(s.parts)-1; {
		if q := s.parts[i]; q.idle() {
			s.parts = slices.Delete(s.parts, i, i+1)
			s.retire(q)
			continue
		}
		i++
	}
	return p, true
}

// retire removes the file of a part the server no longer keeps, once its
// conversion and the requests reading it are done. (Removed while they
// read, the file would stay readable to them; but a conversion under way
// must not write into a file that is gone.)
func (s *indexServer) retire(p *prefetch) {
	remove := func() {
		p.file.Close()
		temps.done(p.path, func() error { return os.Remove(p.path) })
	}
	if p.finished() {
		remove()
		return
	}
	go func() {
		p.mu.Lock()
		for !p.done {
			p.grew.Wait()
		}
		p.mu.Unlock()
		remove()
	}()
}

// closeParts stops the conversions of parts under way and removes every
// part's file: the server is stopping.
func (s *indexServer) closeParts() {
	s.mu.Lock()
	parts := s.parts
	s.parts, s.closed = nil, true
	s.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		p.dropped = true
		p.mu.Unlock()
		p.file.Close()
		temps.done(p.path, func() error { return os.Remove(p.path) })
	}
}
