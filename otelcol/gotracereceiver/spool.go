package gotracereceiver

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// spool reads a capture as fast as the target sends it into a file, and
// hands it on from there at the conversion's pace. Read straight from the
// connection, a conversion slower than the target's trace (a busy
// program writes tens of MB a second; the conversion to spans takes
// longer) would make the receiver a slow reader, and the Go runtime keeps
// what its reader has not taken: the target's memory grows by hundreds of
// MB, its trace runs on past the capture's length in one huge generation,
// and the Collector then holds that generation whole.
type spool struct {
	f    *os.File
	name string // the file's name, where it cannot be removed while open

	mu      sync.Mutex
	grew    *sync.Cond
	size    int64 // bytes taken from the source
	flushed int64 // bytes written to f; those after are in mem
	// mem holds the bytes taken since the last write to f: the reader
	// gets them from there at once, rather than when mem is full.
	mem    []byte
	done   bool  // the source ended
	err    error // why, if not at its end
	closed bool

	off    int64 // bytes read
	copied chan struct{}
	// limit, if not 0, is the most taken from the source: past it the
	// copy ends with a *captureTooLarge.
	limit int64
}

// captureTooLarge is the error of a capture cut at max_capture_size.
type captureTooLarge struct{ limit int64 }

func (e *captureTooLarge) Error() string {
	return fmt.Sprintf("the target sent more than max_capture_size (%d bytes): the capture is cut there", e.limit)
}

// spoolChunk is how much of the source is gathered before it is written
// to the file.
const spoolChunk = 256 << 10

// spoolRead is how much one read of the source asks for. A response body
// of net/http, once it has begun a chunk, waits for the rest of it until
// it has filled the read's buffer: a read of spoolChunk would hold what
// a target that traces little sent (a few kB a second) until its trace
// ended, and a shutdown or a timeout before then would lose it all. A
// read of spoolRead holds less than that, which the target's own buffers
// (4 kB) outweigh.
const spoolRead = 1 << 10

// newSpool starts copying src to a temporary file in dir (the system's
// if empty).
// checkSpoolDir makes and removes a file where captures are taken, dir
// or the system's temporary directory, and says what keeps it from it.
func checkSpoolDir(dir string) error {
	f, err := os.CreateTemp(dir, "trace2x-capture-check-*")
	if err != nil {
		tmp := "TMPDIR"
		if runtime.GOOS == "windows" {
			tmp = "TMP"
		}
		return fmt.Errorf("captures are taken into a temporary file, and none can be made (set %s to a writable directory, such as a volume of the Collector's pod): %w", tmp, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func newSpool(src io.Reader, dir string, limit int64) (*spool, error) {
	f, err := os.CreateTemp(dir, "trace2x-capture-*")
	if err != nil {
		return nil, fmt.Errorf("a file to take the capture in: %w", err)
	}
	s := &spool{f: f, copied: make(chan struct{}), limit: limit}
	s.grew = sync.NewCond(&s.mu)
	if runtime.GOOS == "windows" {
		s.name = f.Name() // an open file cannot be removed there
	} else {
		// Gone with the process however it ends; read through f.
		os.Remove(f.Name())
	}
	go s.copy(src)
	return s, nil
}

func (s *spool) copy(src io.Reader) {
	defer close(s.copied)
	mem := make([]byte, spoolChunk)
	s.mu.Lock()
	s.mem = mem
	s.mu.Unlock()
	used := 0 // bytes of mem taken
	for {
		n, err := src.Read(mem[used:min(used+spoolRead, len(mem))])
		over := false
		if n > 0 {
			s.mu.Lock()
			if s.limit > 0 && s.size+int64(n) > s.limit {
				// Kept up to the limit, and not a byte past it.
				n, over = int(s.limit-s.size), true
			}
			used += n
			closed := s.closed
			s.size += int64(n)
			s.grew.Broadcast()
			s.mu.Unlock()
			if closed {
				return
			}
			if over {
				// What was taken is read first: the bytes in mem go
				// to the reader from there.
				s.end(&captureTooLarge{s.limit})
				return
			}
		}
		if used == len(mem) {
			// The reader may copy from mem meanwhile: both only read it.
			if _, werr := s.f.WriteAt(mem, s.flushed); werr != nil {
				s.end(fmt.Errorf("writing the capture to %s: %w", s.f.Name(), werr))
				return
			}
			s.mu.Lock()
			s.flushed += int64(used)
			s.mu.Unlock()
			used = 0
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			s.end(err)
			return
		}
	}
}

// end records that the source ended, with err unless at its end.
func (s *spool) end(err error) {
	s.mu.Lock()
	s.done, s.err = true, err
	s.grew.Broadcast()
	s.mu.Unlock()
}

// Read returns what the source sent next, waiting for it if need be, and
// the source's error once all it sent has been read.
func (s *spool) Read(p []byte) (int, error) {
	s.mu.Lock()
	for s.off == s.size && !s.done && !s.closed {
		s.grew.Wait()
	}
	size, flushed, done, err, closed := s.size, s.flushed, s.done, s.err, s.closed
	if closed {
		s.mu.Unlock()
		return 0, os.ErrClosed
	}
	if s.off == size {
		s.mu.Unlock()
		if done && err == nil {
			return 0, io.EOF
		}
		return 0, err
	}
	if s.off >= flushed {
		// Not yet in the file: copied while the copy cannot reuse mem.
		n := copy(p, s.mem[s.off-flushed:size-flushed])
		s.off += int64(n)
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	n, rerr := s.f.ReadAt(p[:min(int64(len(p)), flushed-s.off)], s.off)
	s.off += int64(n)
	if rerr == io.EOF && n > 0 {
		rerr = nil
	}
	return n, rerr
}

// Close stops the copy, once src is closed (which ends its Read), and
// removes the file. src must be closed first, or with it.
func (s *spool) Close(closeSrc func() error) error {
	s.mu.Lock()
	s.closed = true
	s.grew.Broadcast()
	s.mu.Unlock()
	err := closeSrc()
	<-s.copied
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if s.name != "" {
		os.Remove(s.name)
	}
	return err
}

// taken returns how much the source sent.
func (s *spool) taken() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// read returns how much of the source the reader has read.
func (s *spool) read() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.off
}
