// Command gotext writes Go's own trace parser tests, which keep their
// traces in a text form, as binary traces that any reader takes.
//
// It is built by package testtraces as a module whose path lies under
// golang.org/x/exp/trace, which is what lets it use x/exp/trace's
// internal text reader and binary writer instead of a copy of them.
//
// Usage: gotext OUTDIR FILE.test...
//
// Each FILE.test becomes OUTDIR/FILE.trace, and its expectation (the
// "expect" part: SUCCESS, or FAILURE and a quoted regular expression)
// OUTDIR/FILE.expect.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/exp/trace/internal/raw"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gotext OUTDIR FILE.test...")
		os.Exit(2)
	}
	for _, in := range os.Args[2:] {
		if err := convert(os.Args[1], in); err != nil {
			fmt.Fprintf(os.Stderr, "gotext: %s: %v\n", in, err)
			os.Exit(1)
		}
	}
}

func convert(outDir, in string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	expect, trace, err := split(data)
	if err != nil {
		return err
	}
	tr, err := raw.NewTextReader(bytes.NewReader(trace))
	if err != nil {
		return err
	}
	var out bytes.Buffer
	tw, err := raw.NewWriter(&out, tr.Version())
	if err != nil {
		return err
	}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := tw.WriteEvent(ev); err != nil {
			return err
		}
	}
	base := filepath.Join(outDir, strings.TrimSuffix(filepath.Base(in), ".test"))
	if err := os.WriteFile(base+".trace", out.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".expect", expect, 0o644)
}

// split returns the "expect" and "trace" parts of a test file, a txtar
// archive of these two files in this order.
func split(data []byte) (expect, trace []byte, err error) {
	const e, t = "-- expect --\n", "\n-- trace --\n"
	if !bytes.HasPrefix(data, []byte(e)) {
		return nil, nil, fmt.Errorf("no %q part first", "expect")
	}
	i := bytes.Index(data, []byte(t))
	if i < 0 {
		return nil, nil, fmt.Errorf("no %q part", "trace")
	}
	return data[len(e) : i+1], data[i+len(t):], nil
}
