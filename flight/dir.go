package flight

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trace2x/trace2x/internal/oserr"
	"github.com/trace2x/trace2x/internal/templock"
)

// Files in the directory are named so that their names sort in the order
// they were written, and so that the limits touch no other file.
const (
	filePrefix = "trace2x-"
	fileSuffix = ".pftrace"
)

// dirStore writes snapshots into a directory and keeps it within a count
// and a size.
type dirStore struct {
	dir      string
	maxFiles int
	maxBytes int64
	mu       sync.Mutex // one rename and prune at a time
	// disk, if set, stands between the files and their writes: a test's
	// disk of a given size.
	disk func(io.Writer) io.Writer
}

func newDirStore(dir string, maxFiles int, maxBytes int64) (*dirStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("flight: directory for snapshots: %w", err)
	}
	removeStaleTemps(dir, time.Now().Add(-staleTemp))
	return &dirStore{dir: dir, maxFiles: maxFiles, maxBytes: maxBytes}, nil
}

// staleTemp is the age past which a temporary file in the directory is
// left from a program that died while it wrote (killed, out of memory): a
// snapshot takes seconds to write, at most its export timeout. Where
// files have locks, one that no program holds is abandoned once it is
// older than unlockedTemp, the time between its creation and its lock, or
// its close and its rename.
const (
	staleTemp    = time.Hour
	unlockedTemp = 10 * time.Second
)

// removeStaleTemps removes the temporary files of dir that a program that
// died while writing left: nothing else would, and they are hidden from
// ls and outside the limits, and a program killed for its memory again
// and again, restarted each time, would leave one each time (in its
// memory, on a tmpfs). A file last written before t is abandoned, and so
// is one no program holds the lock of (see templock.Lock); a younger one that
// is locked is another program's, writing into the same directory.
func removeStaleTemps(dir string, t time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, "."+filePrefix) || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		path := filepath.Join(dir, name)
		if info.ModTime().Before(t) || time.Since(info.ModTime()) > unlockedTemp && templock.Abandoned(path) {
			os.Remove(path)
		}
	}
}

// fileName names the file of a snapshot taken at t: the UTC time to the
// microsecond, a sequence number for snapshots taken in the same
// microsecond, and the reason.
func fileName(t time.Time, seq int64, reason string) string {
	return filePrefix + t.UTC().Format("20060102T150405.000000Z") + "-" + strconv.FormatInt(seq, 10) + "-" + safeName(reason) + fileSuffix
}

// safeName keeps letters, digits, '.', '_' and '-' of s, at most 40.
func safeName(s string) string {
	b := []byte(s)
	if len(b) > 40 {
		b = b[:40]
	}
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "snapshot"
	}
	return string(b)
}

// fileMode is the snapshots' files' mode, before the umask: they hold
// the program's stacks and annotations, so others may not read them, but
// the program's group may, so that an uploader or a sidecar running as
// another user of that group can ship them.
const fileMode = 0o640

// write creates the file of a snapshot with fill, complete or not at all
// (it is written under a temporary name, then renamed), and removes the
// oldest files beyond the limits. It returns the file's path and how many
// files it removed.
func (d *dirStore) write(t time.Time, seq int64, reason string, fill func(io.Writer) error) (string, int, error) {
	name := fileName(t, seq, reason)
	path := filepath.Join(d.dir, name)
	// Made again if it went (a cleaner of /tmp, an operator): a snapshot
	// must not fail for that until the program restarts.
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("flight: writing a snapshot into %s: %w", d.dir, err)
	}
	f, freed, err := d.fill(fill)
	if err != nil {
		return "", freed, fmt.Errorf("flight: writing %s: %w", path, err)
	}
	if info, err := os.Stat(f.Name()); err == nil && info.Size() > d.maxBytes {
		// Kept, it would be pruned at once, and with it every older
		// file, which fit.
		os.Remove(f.Name())
		return "", freed, fmt.Errorf("flight: the snapshot for %s, %d bytes, is larger than the directory's limit of %d bytes; not kept", path, info.Size(), d.maxBytes)
	}
	// Only the rename and the pruning are serialised: a conversion, which
	// can take seconds, does not hold up another's (a Snapshot's beside
	// a trigger's), nor its cancellation.
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return "", 0, fmt.Errorf("flight: writing %s: %w", path, err)
	}
	removed, err := d.prune(name)
	return path, removed + freed, err
}

// fill writes a temporary file with fill. On a full disk it makes room by
// removing the oldest trace2x files, and tries again: the newest snapshots
// are worth more than the oldest, and a directory that filled up would
// otherwise take none from then on. A try that finds the disk full goes
// on counting what it would have written, so that the snapshot's whole
// size is known: the files removed are only as many as make that room,
// and none if removing them all would not (other files fill the disk, or
// the snapshot is larger than all of them). It returns the file, closed,
// and how many files it removed.
func (d *dirStore) fill(fill func(io.Writer) error) (*os.File, int, error) {
	freed := 0
	for try := 0; ; try++ {
		f, err := createTemp(d.dir)
		sw := &spillWriter{}
		if err == nil {
			// The converters write packet by packet; the disk gets large
			// writes.
			sw.w = f
			if d.disk != nil {
				sw.w = d.disk(f)
			}
			bw := bufio.NewWriterSize(sw, 256<<10)
			err = fill(bw)
			if err == nil {
				err = bw.Flush()
			}
			err = errors.Join(err, f.Close())
			if err == nil && sw.full == nil {
				return f, freed, nil
			}
			os.Remove(f.Name())
			if sw.full != nil && (err == nil || oserr.DiskFull(err)) {
				err = sw.full
			}
		}
		// Three tries: the room made can be taken by another writer
		// meanwhile, but not for ever.
		if !oserr.DiskFull(err) || sw.full == nil || try == 2 {
			return nil, freed, err
		}
		n := d.makeRoom(sw.n - sw.fitted)
		if n == 0 {
			return nil, freed, err
		}
		freed += n
	}
}

// spillWriter writes to w until the disk is full, then counts what it
// would have written, so that a snapshot's size is known.
type spillWriter struct {
	w      io.Writer
	n      int64 // bytes given to it
	fitted int64 // bytes written before the disk was full
	full   error // the write's error on a full disk
}

func (s *spillWriter) Write(p []byte) (int, error) {
	if s.full != nil {
		s.n += int64(len(p))
		return len(p), nil
	}
	n, err := s.w.Write(p)
	if err != nil && oserr.DiskFull(err) {
		s.full, s.fitted = err, s.n+int64(n)
		s.n += int64(len(p))
		return len(p), nil
	}
	s.n += int64(n)
	return n, err
}

// makeRoom removes the oldest trace2x files to free need bytes and a
// margin for the file system's blocks, if they hold that much. The newest
// goes too where the others do not make the room: the snapshot being
// written is newer still, and a large snapshot that filled the disk
// would otherwise keep every later one out. It returns how many it
// removed.
func (d *dirStore) makeRoom(need int64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	files, _, err := d.list()
	if err != nil || len(files) == 0 {
		return 0
	}
	need += need/64 + 64<<10
	var total int64
	n := 0
	for _, f := range files {
		if total >= need {
			break
		}
		total += f.size
		n++
	}
	if total < need {
		return 0 // removing them would not make room
	}
	removed := 0
	for _, f := range files[:n] {
		if os.Remove(filepath.Join(d.dir, f.name)) == nil {
			removed++
		}
	}
	return removed
}

// createTemp creates a new file in dir under a temporary name that the
// limits do not touch, as os.CreateTemp does, but with fileMode rather
// than 0600.
func createTemp(dir string) (*os.File, error) {
	for {
		name := filepath.Join(dir, ".trace2x-"+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			templock.Lock(f)
		}
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// dirFile is a trace2x file of the directory.
type dirFile struct {
	name string
	size int64
}

// list returns the trace2x files of the directory, oldest first, and
// their total size.
func (d *dirStore) list() ([]dirFile, int64, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("flight: listing %s: %w", d.dir, err)
	}
	var files []dirFile
	var total int64
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, filePrefix) || !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		files = append(files, dirFile{name, info.Size()})
		total += info.Size()
	}
	// Names sort by time: oldest first.
	slices.SortFunc(files, func(a, b dirFile) int { return strings.Compare(a.name, b.name) })
	return files, total, nil
}

// prune removes the oldest trace2x files until at most maxFiles are left
// with at most maxBytes in all. newest is the file just written, within
// maxBytes: it stays.
func (d *dirStore) prune(newest string) (int, error) {
	files, total, err := d.list()
	if err != nil {
		return 0, err
	}
	removed, left := 0, len(files)
	var errs []error
	for _, f := range files {
		if left <= d.maxFiles && total <= d.maxBytes {
			break
		}
		if f.name == newest {
			continue
		}
		if err := os.Remove(filepath.Join(d.dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("flight: removing an old snapshot: %w", err))
			continue
		}
		removed++
		left--
		total -= f.size
	}
	return removed, errors.Join(errs...)
}
