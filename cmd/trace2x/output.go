package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
)

// output is where a command writes. Close flushes it and reports the first
// error of any write, so that a full disk or a closed pipe is never lost.
type output struct {
	bw      *bufio.Writer
	gz      *gzip.Writer
	f       *os.File // nil for standard output
	tmp     string   // f's name when it stands in for name until Close
	name    string
	written bool
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
		o.gz = gzip.NewWriter(w)
		w = o.gz
	}
	o.bw = bufio.NewWriterSize(w, 256<<10)
	return o, nil
}

func (o *output) Write(p []byte) (int, error) {
	o.written = true
	n, err := o.bw.Write(p)
	if err != nil {
		err = fmt.Errorf("writing %s: %w", o.name, err)
		o.werr = err
	}
	return n, err
}

// Close flushes and closes the output. An error that a Write returned
// already is not returned again.
func (o *output) Close() error {
	err := o.bw.Flush()
	if o.werr != nil {
		err = nil
	}
	if o.gz != nil {
		err = errors.Join(err, o.gz.Close())
	}
	if o.f != nil {
		err = errors.Join(err, o.f.Close())
	}
	if o.tmp != "" {
		// A conversion that wrote nothing (the input was not a trace,
		// another output failed) leaves the destination as it was.
		if o.written {
			err = errors.Join(err, os.Rename(o.tmp, o.name))
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
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
