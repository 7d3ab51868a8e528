package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/term"
)

// output is where a command writes. Close flushes it and reports the first
// error of any write, so that a full disk or a closed pipe is never lost.
type output struct {
	bw      *bufio.Writer
	gz      *gzip.Writer
	pipe    *pipeWriter // feeds gz from a goroutine of its own
	f       *os.File    // nil for standard output
	tmp     string      // f's name when it stands in for name until Close
	name    string
	written bool
	n       int64 // bytes written, before compression
	werr    error // the error a Write already returned
}

// createOutput opens path for writing ("-" is standard output). A name
// ending in .gz is written gzip-compressed. Binary output refuses to go to
// a terminal, where it would only garble the screen.
func createOutput(e *env, path string, binary bool) (*output, error) {
	o := &output{name: path}
	var w io.Writer
	if path == "-" || path == "" {
		o.name = "standard output"
		if binary && isTerminal(e.stdout) {
			return nil, usageError{"refusing to write binary output to a terminal; redirect it or use -o FILE"}
		}
		w = e.stdout
	} else {
		f, tmp, err := createFile(path)
		if err != nil {
			return nil, err
		}
		o.f, o.tmp, w = f, tmp, f
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
	o.written = true
	n, err := o.bw.Write(p)
	o.n += int64(n)
	if err != nil {
		err = fmt.Errorf("writing %s: %w", o.name, err)
		o.werr = err
	}
	return n, err
}

// Close flushes and closes the output. It returns one error, the first:
// the layers below a failed write (the pipe, gzip) repeat it. An error
// that a Write returned already is not returned again.
func (o *output) Close() error {
	errs := []error{o.bw.Flush()}
	if o.gz != nil {
		errs = append(errs, o.pipe.Close(), o.gz.Close())
	}
	if o.f != nil {
		errs = append(errs, o.f.Close())
	}
	var err error
	if o.werr == nil {
		for _, e := range errs {
			if e != nil {
				err = e
				break
			}
		}
	}
	if o.tmp != "" {
		// A conversion that wrote nothing (the input was not a trace,
		// another output failed) leaves the destination as it was.
		if o.written {
			if rerr := os.Rename(o.tmp, o.name); err == nil {
				err = rerr
			}
		} else {
			os.Remove(o.tmp)
		}
		o.tmp = ""
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", o.name, err)
	}
	return nil
}

// createFile opens path for writing. A regular file (or a new one) is
// written under a temporary name beside it and renamed at Close, so that
// a conversion that fails before writing anything neither creates nor
// truncates it; a device or a pipe is written directly.
func createFile(path string) (f *os.File, tmp string, err error) {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			f, err := os.Create(path)
			return f, "", err
		}
		mode = st.Mode().Perm()
	}
	f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, "", err
	}
	return f, f.Name(), nil
}

// isTerminal reports whether w is a terminal. A character device is not
// enough: /dev/null and /dev/full are character devices too.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
