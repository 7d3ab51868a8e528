package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/mapping"
)

var chromeCmd = &command{
	name:  "chrome",
	args:  "[-o FILE] [--split SIZE] [--pretty] [trace.out | -]",
	short: "convert to Chrome trace-event JSON for chrome://tracing, go tool trace's viewer, Perfetto",
	long: `Chrome writes the trace as Chrome trace-event JSON (the object form), which
chrome://tracing, the viewer of go tool trace, ui.perfetto.dev and many
other tools open: processes for the Ps, the Ms (tid = OS thread ID), the
goroutines (lanes, as in the Perfetto output: a row of its own for a
goroutine alive at the start, rows shared by start function for the
others, each goroutine a slice "G<id> <start function>" there, with rows
for user regions), the user tasks and the GC; goroutine states (a syscall
that kept its P nested in the run around it), what each P ran and which P
each M held, regions, logs, tasks, GC cycles, stop-the-world pauses,
sweeps and mark assists; flows from a goroutine's creation or unblocking
to its next run; counters; stacks; CPU profile samples. Timestamps are
microseconds, to the nanosecond, from 1us before the start of the trace
(items open at the start are placed just before it to keep their nesting,
and some importers drop negative times).

The output is compact, one event per line; --pretty indents it. An output
name ending in .gz is written gzip-compressed.

chrome://tracing fails on files of several hundred megabytes. --split SIZE
writes parts of about SIZE bytes each (K, M or G: powers of 1024; at least
1M) that each load alone, named after -o with the part number before the
extension: -o t.json gives t.1.json, t.2.json, ... A slice is in the part
where it ended, or for a run with a syscall in it, one up to 10 ms of
trace time later: a part holds a run no longer than that, nor with more
than 16 syscalls in it, so it may draw as several slices, back to back,
a run that the whole file draws as one.

A trace that breaks off is converted up to the break (the generations
before it, about a second each, and what of the broken one the parser
read before the fault; nothing of a Go 1.21 or older trace) and the file
is still valid; the error is printed and the exit status is 1.

Examples:

	trace2x chrome trace.out > trace.json
	trace2x chrome -o trace.json.gz trace.out
	trace2x chrome --split 200M -o big.json big.trace`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs, true)
		resolution := counterFlag(fs)
		out := fs.String("o", "-", "write to `FILE` instead of standard output (.gz: compressed)")
		pretty := fs.Bool("pretty", false, "indent the JSON for people to read")
		split := fs.String("split", "", "write parts of about `SIZE` bytes (e.g. 200M) that each load alone; needs -o")
		return func(e *env, args []string) error {
			var limit int64
			if *split != "" {
				n, err := parseSize(*split)
				if err != nil {
					return usageError{fmt.Sprintf("--split: %v", err)}
				}
				if *out == "-" || *out == "" {
					return usageError{"--split writes several files: name them with -o"}
				}
				// The parts are named after -o: of a directory, they would
				// land beside it.
				if st, err := os.Stat(*out); err == nil && st.IsDir() {
					return fmt.Errorf("open %s: is a directory", *out)
				} else if err == nil && !st.Mode().IsRegular() {
					// /dev/stdout or a pipe would get none of them.
					return usageError{fmt.Sprintf("--split writes files named after -o (%s.1, %s.2...): %s is not a regular file", *out, *out, *out)}
				}
				limit = n
			}
			if err := checkOutputs(e, args, *out); err != nil {
				return err
			}
			if limit > 0 {
				if p := partIsInput(e, args, *out); p != "" {
					return usageError{fmt.Sprintf("the parts of %s are named as the input trace %s, which a part would replace; name another file", *out, p)}
				}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			opts := []chromejson.Option{chromejson.WithPretty(*pretty), chromejson.WithVersion(trace2xVersion())}
			if limit > 0 {
				var parts splitParts
				// The parts are held until the end, as a single output is
				// written under a temporary name: a filter that keeps
				// nothing (a misspelt task type) or a part that cannot be
				// written (a full disk) leaves an earlier conversion's
				// parts as they were.
				w := chromejson.NewSplitWriter(limit, func(n int) (io.WriteCloser, error) {
					parts.begun.Store(int64(n))
					o, err := createOutput(e, partName(*out, n), false)
					if err != nil {
						parts.failed.Store(true)
						return nil, err
					}
					o.hold, o.part = true, true
					return &partOutput{output: o, n: n, parts: &parts}, nil
				}, opts...)
				// A second signal ends the process at once: the parts
				// written by then are kept, and the rest of an earlier
				// conversion's are removed, so that t.*.json is one trace.
				abortHook.Store(func() { parts.settle(e, *out) })
				_, mapErr := in.mapTrace(e, inOpts, in, mapping.ThinCounterGroups(w, *resolution))
				err := joinErrors(mapErr, w.Close())
				abortHook.Store(nil)
				noteChrome(e, in, w, nil)
				if err != nil && !errors.As(err, new(usageError)) {
					// The cause first, then what became of the parts, as
					// a single output's error is followed by what became
					// of it.
					printError(e.stderr, err)
					err = errReported
				}
				parts.settle(e, *out)
				return err
			}
			o, err := createOutput(e, *out, false)
			if err != nil {
				return err
			}
			w := chromejson.NewWriter(o, opts...)
			_, mapErr := in.mapTrace(e, inOpts, in, mapping.ThinCounterGroups(w, *resolution))
			err = joinErrors(mapErr, w.Close(), o.Close())
			noteChrome(e, in, w, o)
			return err
		}
	},
}

// minSplit is the smallest --split: a smaller one is more likely a
// mistake ("--split 200" for 200 MB) than a wish for thousands of files.
const minSplit = 1 << 20

// parseSize reads a size in bytes with an optional K, M or G suffix
// (powers of 1024), which may be followed by B or iB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	shift := 0
	switch {
	case strings.HasSuffix(t, "K"):
		shift = 10
	case strings.HasSuffix(t, "M"):
		shift = 20
	case strings.HasSuffix(t, "G"):
		shift = 30
	}
	if shift > 0 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size like 200M", s)
	}
	n <<= shift
	if n < minSplit {
		return 0, fmt.Errorf("%s is less than the smallest part, 1M", s)
	}
	return n, nil
}

// partName inserts the part number before the extension of name (before
// .gz and the one before it): t.json.gz gives t.1.json.gz.
// splitParts follows the parts of a split output: begun is the number of
// the last part opened, written the number of parts in place, from the
// first, each renamed over any earlier file of its name.
type splitParts struct {
	begun, written atomic.Int64
	failed         atomic.Bool // a part could not be written
	settled        atomic.Bool
	mu             sync.Mutex
	held           []*output // parts written but held, in order (see output.hold)
}

// partOutput is a part of a split output, which counts itself written
// once it is closed into place.
type partOutput struct {
	*output
	n     int
	parts *splitParts
}

func (p *partOutput) Close() error {
	err := p.output.Close()
	if err != nil {
		p.parts.failed.Store(true)
	}
	if err == nil {
		if p.output.heldTmp != "" {
			p.parts.mu.Lock()
			p.parts.held = append(p.parts.held, p.output)
			p.parts.mu.Unlock()
		}
		p.parts.written.CompareAndSwap(int64(p.n-1), int64(p.n))
	}
	return err
}

// settle leaves the parts of the output named name as one trace: the
// parts written are put in place, and every other part of that name
// (those after them, which an earlier conversion left) is removed, since
// loaded with these they would mix two traces. It says what it kept after
// the trace broke off, and what it removed. It runs once. A conversion
// that kept nothing, or that failed to write a part (a full disk), leaves
// an earlier one's parts as they were; so it does a part its owner made
// read-only, and a file of a part's name that is not Chrome trace JSON.
func (sp *splitParts) settle(e *env, name string) {
	if sp.settled.Swap(true) {
		return
	}
	sp.mu.Lock()
	held := sp.held
	sp.held = nil
	sp.mu.Unlock()
	if e.convertedNothing.Load() || sp.failed.Load() {
		for _, o := range held {
			o.discard()
		}
		if sp.failed.Load() {
			fmt.Fprintf(e.stderr, "trace2x: no part of %s is written; any parts there are left as they were\n", name)
		} else {
			fmt.Fprintf(e.stderr, "trace2x: no part of %s is written; the parts there are left as they were\n", name)
		}
		return
	}
	for i, o := range held {
		if err := o.commit(); err != nil {
			// The parts before it hold the trace up to it.
			fmt.Fprintf(e.stderr, "trace2x: %v\n", err)
			for _, rest := range held[i+1:] {
				rest.discard()
			}
			sp.written.Store(int64(i))
			break
		}
	}
	kept, begun := int(sp.written.Load()), int(sp.begun.Load())
	if kept == 0 {
		if begun > 0 {
			fmt.Fprintf(e.stderr, "trace2x: no part of %s is written\n", name)
		}
		return // an earlier conversion's parts are left as they were
	}
	var removed [][2]int // runs of consecutive parts removed
	for part := kept + 1; ; part++ {
		p := partName(name, part)
		st, err := os.Lstat(p)
		if err == nil && st.Mode().IsRegular() && !writable(p) {
			// Made read-only to keep it: left, and said so.
			fmt.Fprintf(e.stderr, "trace2x: %s, of an earlier conversion to %s, is read-only and left as it is\n", p, name)
			continue
		}
		if err == nil && st.Mode().IsRegular() && !chromeJSON(p) {
			// A file of the user's that happens to have the name.
			fmt.Fprintf(e.stderr, "trace2x: %s is not Chrome trace JSON, so not a part of an earlier conversion to %s, and is left as it is\n", p, name)
			continue
		}
		if err != nil || !st.Mode().IsRegular() || os.Remove(p) != nil {
			if part <= begun {
				continue // the part this conversion failed to write
			}
			break
		}
		if n := len(removed); n > 0 && removed[n-1][1] == part-1 {
			removed[n-1][1] = part
		} else {
			removed = append(removed, [2]int{part, part})
		}
	}
	if len(removed) > 0 {
		var runs []string
		for _, r := range removed {
			if r[0] == r[1] {
				runs = append(runs, partName(name, r[0]))
			} else {
				runs = append(runs, partName(name, r[0])+" to "+partName(name, r[1]))
			}
		}
		what := "parts"
		if len(removed) == 1 && removed[0][0] == removed[0][1] {
			what = "a part"
		}
		fmt.Fprintf(e.stderr, "trace2x: removed %s, %s of an earlier conversion to %s\n", strings.Join(runs, ", "), what, name)
	}
	if kept < begun {
		switch kept {
		case 1:
			fmt.Fprintf(e.stderr, "trace2x: %s holds the trace up to where the conversion stopped\n", partName(name, 1))
		default:
			fmt.Fprintf(e.stderr, "trace2x: %s to %s hold the trace up to where the conversion stopped\n", partName(name, 1), partName(name, kept))
		}
	}
}

func partName(name string, part int) string {
	gz := ""
	if strings.HasSuffix(name, ".gz") {
		name, gz = strings.TrimSuffix(name, ".gz"), ".gz"
	}
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + strconv.Itoa(part) + ext + gz
}

// chromeJSON reports whether the file at path begins as Chrome trace JSON
// does, {"traceEvents": (gzip-compressed if its name ends in .gz).
func chromeJSON(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false
		}
		r = zr
	}
	head := make([]byte, 64)
	n, _ := io.ReadFull(r, head)
	head = bytes.TrimLeft(head[:n], " \t\r\n")
	if !bytes.HasPrefix(head, []byte("{")) {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(head[1:], " \t\r\n"), []byte(`"traceEvents"`))
}

// partIsInput returns the name of the file beside name that is named as a
// part of it (t.3.json for t.json) and is the input trace, if any.
func partIsInput(e *env, args []string, name string) string {
	// As partName makes them: prefix, the number, suffix.
	first := partName(name, 1)
	i := len(strings.TrimSuffix(name, ".gz")) - len(filepath.Ext(strings.TrimSuffix(name, ".gz")))
	prefix, suffix := filepath.Base(first[:i+1]), first[i+2:]
	dir := filepath.Dir(name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, ent := range entries {
		n := ent.Name()
		num, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		if num, ok = strings.CutSuffix(num, suffix); !ok || num == "" || strings.Trim(num, "0123456789") != "" {
			continue
		}
		if p := filepath.Join(dir, n); isInput(e, args, p) {
			return p
		}
	}
	return ""
}

// writable reports whether the file at path can be opened for writing,
// which changes nothing in it.
func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
