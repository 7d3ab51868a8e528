package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/term"

	"github.com/trace2x/trace2x/internal/templock"
)

// output is where a command writes. Close flushes it and reports the first
// error of any write, so that a full disk or a closed pipe is never lost.
type output struct {
	env     *env
	bw      *bufio.Writer
	gz      *gzip.Writer
	pipe    *pipeWriter // feeds gz from a goroutine of its own
	f       *os.File    // nil for standard output
	tmp     string      // f's name when it stands in for name until Close
	name    string
	dest    string // the file tmp becomes: name, or the file a link names
	existed bool   // dest was there before
	written bool
	whole   bool // the conversion is complete, even if it wrote nothing
	// hold makes Close leave a complete file under its temporary name,
	// held, for commit or discard to settle (see splitParts).
	hold    bool
	heldTmp string // the held file's name, until commit or discard
	// part marks a part of a split output, whose splitParts says for all
	// the parts what was written.
	part bool
	// unwritten is set by a Close that failed, or left the destination
	// as it was: what was written is nowhere to be noted.
	unwritten bool
	n         int64 // bytes written, before compression
	werr      error // the error a Write already returned
}

// createOutput opens path for writing ("-" is standard output). A name
// ending in .gz is written gzip-compressed. Binary output refuses to go to
// a terminal, where it would only garble the screen.
func createOutput(e *env, path string, binary bool) (*output, error) {
	o := &output{env: e, name: path}
	var w io.Writer
	if path == "-" || path == "" {
		o.name = "standard output"
		if binary && isTerminal(e.stdout) {
			return nil, usageError{"refusing to write binary output to a terminal; redirect it or use -o FILE"}
		}
		w = e.stdout
	} else {
		f, tmp, dest, err := createFile(path)
		if err != nil {
			return nil, err
		}
		o.f, o.tmp, o.dest, w = f, tmp, dest, f
		if tmp != "" {
			_, err := os.Lstat(dest)
			o.existed = err == nil
		}
	}
	if strings.HasSuffix(path, ".gz") {
		// klauspost's gzip at its default level compresses converter
		// output 3 to 4 times faster than compress/gzip's, for files about
		// 10% larger: the price of a .gz name stays well under the
		// conversion's own.
		o.gz = gzip.NewWriter(w)
		o.pipe = newPipeWriter(o.gz)
		w = o.pipe
	}
	o.bw = bufio.NewWriterSize(w, 256<<10)
	return o, nil
}

func (o *output) Write(p []byte) (int, error) {
	if o.bw == nil {
		return 0, fmt.Errorf("writing %s: %w", o.name, os.ErrClosed)
	}
	o.written = true
	n, err := o.bw.Write(p)
	o.n += int64(n)
	if err != nil {
		err = fmt.Errorf("writing %s: %w", o.name, o.unwrapTemp(err))
		if o.werr == nil && o.tmp != "" {
			// Close removes what was written; the space it takes goes
			// now, for the outputs that go on beside this one (a full
			// disk fails the largest first).
			_ = o.f.Truncate(0)
		}
		o.werr = err
	}
	return n, err
}

// complete marks the conversion as done: an output it wrote nothing to
// (OTLP JSON lines of a trace without spans) is still written, empty,
// instead of leaving the destination as it was, which would pass an
// earlier conversion's file for this one's.
func (o *output) complete() { o.whole = true }

// unwrapTemp drops the file's name from err, which "writing NAME" says:
// the temporary file's (the user named the destination), a device's
// (/dev/full), standard output's (/dev/stdout).
func (o *output) unwrapTemp(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && (o.tmp != "" && pe.Path == o.tmp || pe.Path == o.name || o.f == nil && pe.Path == "/dev/stdout") {
		return pe.Err
	}
	return err
}

// Close flushes and closes the output. It returns one error, the first:
// the layers below a failed write (the pipe, gzip) repeat it. An error
// that a Write returned already is not returned again.
func (o *output) Close() error {
	if o.bw == nil {
		return nil // closed already
	}
	errs := []error{o.bw.Flush()}
	if o.gz != nil {
		errs = append(errs, o.pipe.Close(), o.gz.Close())
	}
	if o.f != nil {
		errs = append(errs, o.f.Close())
	}
	// A part of a split output is held after its Close until the whole
	// is settled: without its buffers (a quarter MB, and gzip's), or a
	// conversion into many parts would hold them all.
	o.bw, o.gz, o.pipe = nil, nil, nil
	var err error
	if o.werr == nil {
		for _, e := range errs {
			if e != nil {
				err = e
				break
			}
		}
	}
	failed := err != nil || o.werr != nil
	o.unwritten = failed
	if o.tmp != "" {
		// A conversion that wrote nothing (the input was not a trace,
		// another output failed) or kept nothing (a filter matched
		// nothing) leaves the destination as it was, and so does one
		// whose output failed (a full disk): what it wrote is cut short,
		// and would replace what was there.
		tmp := o.tmp
		defer func() { o.tmp = "" }()
		empty := o.env != nil && o.env.convertedNothing.Load()
		switch {
		case (o.written || o.whole) && !failed && !empty && o.hold:
			o.heldTmp = tmp
			return nil
		case (o.written || o.whole) && !failed && !empty:
			err = o.place(tmp)
		default:
			o.unwritten = true
			temps.done(tmp, func() error { return os.Remove(tmp) })
			switch {
			case err != nil:
				return fmt.Errorf("writing %s: %w; %s", o.name, o.unwrapTemp(err), o.leftAlone())
			case empty && !failed && (o.hold || o.part):
				return nil // a part: its split output says what it kept
			case failed || empty:
				// The write's error, or the filter's, is reported
				// already.
				return errors.New(o.leftAlone())
			}
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", o.name, o.unwrapTemp(err))
	}
	return nil
}

// commit puts a held output in place.
func (o *output) commit() error {
	tmp := o.heldTmp
	if tmp == "" {
		return nil
	}
	o.heldTmp = ""
	if err := o.place(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	return nil
}

// place puts the output written to tmp in place of the destination. If
// that fails (a directory made there meanwhile; on Windows, a file that
// another program holds open), tmp is removed: it is hidden, as large as
// the output, and nothing would remove it.
func (o *output) place(tmp string) error {
	return temps.done(tmp, func() error {
		err := os.Rename(tmp, o.dest)
		if err == nil {
			return nil
		}
		os.Remove(tmp)
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err // it names the hidden file
		}
		if st, serr := os.Stat(o.dest); serr == nil && st.IsDir() {
			return errors.New("a directory was made at its name meanwhile, so nothing was written")
		}
		return fmt.Errorf("it could not replace what is there (%w), so nothing was written", err)
	})
}

// discard removes a held output: the destination stays as it was.
func (o *output) discard() {
	if tmp := o.heldTmp; tmp != "" {
		o.heldTmp = ""
		temps.done(tmp, func() error { return os.Remove(tmp) })
	}
}

// leftAlone says what became of the destination of a failed output.
func (o *output) leftAlone() string {
	if o.existed {
		return o.name + " is left as it was"
	}
	return o.name + " is not written"
}

// createFile opens path for writing. A regular file (or a new one) is
// written under a temporary name beside it and renamed at Close, so that
// a conversion that fails before writing anything neither creates nor
// truncates it; a device or a pipe is written directly, opened to write
// only, as a shell's > opens it: a FIFO held open to read as well would
// never report that its reader went away.
//
// A symbolic link is followed, one that names no file yet too: the file
// it names is written, and the link stays.
func createFile(path string) (f *os.File, tmp, dest string, err error) {
	mode := os.FileMode(0) // a new file's: 0666 less the umask, as a shell's >
	dest = path
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			return f, "", path, err
		}
		mode = st.Mode().Perm()
		if real, err := filepath.EvalSymlinks(path); err == nil {
			dest = real
		}
		// The rename needs only the directory's permission: a file its
		// owner made read-only would be replaced where a shell's > would
		// refuse to write it. Opening it to write tells, and changes
		// nothing.
		w, err := os.OpenFile(dest, os.O_WRONLY, 0)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, "", "", &fs.PathError{Op: "open", Path: path, Err: err}
		}
		w.Close()
	} else if target, err := danglingLink(path); err != nil {
		return nil, "", "", &fs.PathError{Op: "open", Path: path, Err: err}
	} else if target != "" {
		dest = target
	}
	dir := filepath.Dir(dest)
	removeAbandonedOutputs(dir, filepath.Base(dest))
	f, err = createTemp(dir, "."+filepath.Base(dest)+".")
	if errors.Is(err, syscall.ENAMETOOLONG) {
		// A name near the system's limit leaves no room for the
		// temporary name's additions.
		f, err = createTemp(dir, ".trace2x-")
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if mode != 0 {
			// The file could be written; no file can be made beside it
			// (a directory that cannot be written to, or one of /proc).
			return nil, "", "", fmt.Errorf("open %s: %w, making the file that takes its place beside it, in %s (an output is written there and put in its place once whole: write to another directory, or to standard output)", path, err, dir)
		}
		return nil, "", "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	templock.Lock(f)
	temps.add(f.Name())
	if mode == 0 {
		return f, f.Name(), dest, nil
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		temps.done(f.Name(), func() error { return os.Remove(f.Name()) })
		return nil, "", "", err
	}
	return f, f.Name(), dest, nil
}

// danglingLink returns what the symbolic link at path names when that is
// not there yet (following links to links), for the output to be written
// there, as a shell's > writes it; "" if path is no such link. Links that
// lead round in a loop are an error, as they are to a shell.
func danglingLink(path string) (string, error) {
	cur := path
	for range 40 { // the hops Linux follows before ELOOP
		st, err := os.Lstat(cur)
		if err != nil {
			if cur != path && errors.Is(err, fs.ErrNotExist) {
				return cur, nil
			}
			return "", nil
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return "", nil
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(cur), target)
		}
		cur = target
	}
	return "", syscall.ELOOP
}

// abandonedOutputAge is how old an output's temporary file must be, its
// lock held by no process, to be taken as left by a trace2x that was
// killed (SIGKILL, out of memory, SIGQUIT) before it could remove it: a
// process locks its file as soon as it has made it, so the age covers
// only the moment between, and a run retried at once after a kill
// removes what the kill left.
const abandonedOutputAge = 2 * time.Second

// removeAbandonedOutputs removes the temporary files of outputs named
// base in dir that killed processes left: they are hidden, as large as
// the output, and nothing else would remove them.
func removeAbandonedOutputs(dir, base string) {
	names, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(base)+".*.tmp"))
	old := time.Now().Add(-abandonedOutputAge)
	for _, name := range names {
		digits := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "."+base+"."), ".tmp")
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue // not a name createTemp gives
		}
		if info, err := os.Lstat(name); err == nil && info.Mode().IsRegular() && info.ModTime().Before(old) && templock.Abandoned(name) {
			os.Remove(name)
		}
	}
}

// globEscape quotes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	if runtime.GOOS == "windows" {
		// The separator is \ there, which Match takes literally: the
		// meta characters are bracketed instead.
		var b strings.Builder
		for _, r := range s {
			if strings.ContainsRune("*?[", r) {
				b.WriteByte('[')
				b.WriteRune(r)
				b.WriteByte(']')
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("*?[\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sameFile reports whether the paths a and b name one regular file, or
// would: two outputs there would keep only one, and an output there
// would replace the input. Devices (/dev/null) can take several.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return sa.Mode().IsRegular() && os.SameFile(sa, sb)
	}
	if errA == nil || errB == nil {
		return false // one is there and the other is not
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	if errA != nil || errB != nil {
		return false
	}
	if foldsCase(runtime.GOOS) {
		// Their disks tell no case apart, by default: a.json and
		// A.json would be one file, one output replacing the other.
		return strings.EqualFold(absA, absB)
	}
	return absA == absB
}

// foldsCase reports whether goos's file systems are, by default, blind
// to case.
func foldsCase(goos string) bool { return goos == "darwin" || goos == "ios" || goos == "windows" }

// checkOutputs refuses outputs that would overwrite the input trace
// that args name, or each other. "" is no output; "-", standard output, is
// refused when the shell opened the input there (trace2x chrome t.trace
// >> t.trace), as cat refuses it.
func checkOutputs(e *env, args []string, paths ...string) error {
	var files []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if p == "-" {
			if f, ok := e.stdout.(*os.File); ok && isInput(e, args, f.Name()) {
				return usageError{"standard output is the input trace, which the output would overwrite; name another file"}
			}
			continue
		}
		if isInput(e, args, p) {
			return usageError{fmt.Sprintf("the output %s is the input trace, which it would replace; name another file", p)}
		}
		for _, q := range files {
			if sameFile(p, q) {
				return usageError{fmt.Sprintf("two outputs are the file %s; name one file for each", p)}
			}
		}
		files = append(files, p)
	}
	return nil
}

// isInput reports whether path names the input trace: the file args
// name, or the file standard input reads.
func isInput(e *env, args []string, path string) bool {
	st, err := os.Stat(path)
	if f, ok := e.stdout.(*os.File); ok && path == f.Name() {
		st, err = f.Stat() // its name says nothing of where it leads
	}
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	var ist os.FileInfo
	switch {
	case len(args) == 1 && args[0] != "-":
		ist, err = os.Stat(args[0])
	case len(args) <= 1:
		f, ok := e.stdin.(*os.File)
		if !ok {
			return false
		}
		ist, err = f.Stat()
	default:
		return false
	}
	return err == nil && os.SameFile(st, ist)
}

// isTerminal reports whether w is a terminal. A character device is not
// enough: /dev/null and /dev/full are character devices too.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// createTemp creates a new file in dir named prefix, a random number and
// .tmp, with the permissions a shell's > gives a new file (0666 less the
// umask): os.CreateTemp's 0600 would need a chmod, which ignores the
// umask, and a trace's log messages can hold what the user's umask keeps
// from others.
func createTemp(dir, prefix string) (*os.File, error) {
	var err error
	for range 1000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+".tmp")
		var f *os.File
		if f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666); !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, err
}
