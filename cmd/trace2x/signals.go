package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trace2x/trace2x/internal/templock"
)

// interrupted is the cause of the command's context when a signal ended
// it.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + sigName(i.sig) }

// status is the exit status of a command the signal stopped: 128 and the
// signal's number, as a shell reports a process the signal ended (130 for
// SIGINT, 143 for SIGTERM, 129 for SIGHUP).
func (i interrupted) status() int { return exitStatus(i.sig) }

func exitStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok && s > 0 && s < 128 {
		return 128 + int(s)
	}
	return exitInterrupted
}

// sigName names a signal as kill(1) does.
func sigName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// exitInterrupted is the exit status of a command that SIGINT stopped, as
// a shell reports a process that SIGINT ended.
const exitInterrupted = 130

// handleSignals returns a context that the first SIGINT, SIGTERM or
// SIGHUP (the terminal or the SSH session closed) cancels, unless the
// command was started with it ignored (nohup): the conversion stops at its next read (standard input's read
// under way too, see ctxio.Abandoning), and the outputs are closed with
// what was converted, as for a trace that breaks off. A second signal
// ends the process at once, removing the temporary files first, for a
// command stuck elsewhere (writing to a pipe that nobody reads).
//
// A write to a closed pipe then fails with EPIPE, reported like any
// failed write, instead of killing the process: convert still finishes
// its other outputs, and a temporary file is never left behind.
func handleSignals(stderr io.Writer) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		// A signal the command was started ignoring stays ignored:
		// nohup ignores SIGHUP, and a shell SIGINT for a job it runs in
		// the background, so that the job outlives the terminal or a
		// Ctrl-C meant for the foreground.
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		sig := <-sigs
		cancel(interrupted{sig})
		sig = <-sigs
		// A new line ends a progress line, which only a terminal shows.
		nl := ""
		if isTerminal(stderr) {
			nl = "\n"
		}
		fmt.Fprintf(stderr, "%strace2x: %s again: stopped at once; outputs not complete are not written\n", nl, sigName(sig))
		// The hook first: it puts in place the parts of a split output
		// that are whole, held under temporary names that removeAll
		// would remove, and takes the lock removeAll keeps.
		if h := abortHook.Load(); h != nil {
			(*h)()
		}
		temps.removeAll()
		os.Exit(exitStatus(sig))
	}()
	return ctx
}

// abortHook, if set, runs when a second signal ends the process, after
// the temporary files are removed: a split output settles its parts.
var abortHook hook

// hook is a function that one goroutine sets and another may run.
type hook struct{ p atomic.Pointer[func()] }

// Store sets the hook; nil clears it.
func (h *hook) Store(fn func()) {
	if fn == nil {
		h.p.Store(nil)
		return
	}
	h.p.Store(&fn)
}

// Load returns the hook, or nil.
func (h *hook) Load() *func() { return h.p.Load() }

// temps are the temporary files the command has made: the outputs
// before they are renamed into place, a copy of a stream. A second
// signal removes them before the process ends.
var temps tempFiles

type tempFiles struct {
	mu    sync.Mutex
	names map[string]bool
}

// createConverted makes a temporary file for a converted trace that view
// serves, noted for removal and locked while it is open, and first
// removes those that views killed before they could remove theirs left
// (see removeAbandoned).
func createConverted() (*os.File, error) {
	abandonedOnce.Do(func() { removeAbandoned(os.TempDir(), time.Now().Add(-abandonedAge)) })
	f, err := os.CreateTemp("", convertedPattern)
	if err != nil {
		return nil, err
	}
	templock.Lock(f)
	temps.add(f.Name()) // a second signal removes it
	return f, nil
}

// convertedPattern names view's temporary files.
const convertedPattern = "trace2x-*.pftrace"

var abandonedOnce sync.Once

// abandonedAge is how old a temporary file of view's must be, its lock
// held by no process, to be taken as left by a view that was killed: an
// hour, as the temporary directory is shared with other users and with
// versions of trace2x that took no lock.
const abandonedAge = time.Hour

// removeAbandoned removes the files of view's in dir last written before
// t that no process holds (see templock): a view killed (SIGKILL, out of
// memory) leaves the parts it converted, hundreds of megabytes.
func removeAbandoned(dir string, t time.Time) {
	names, _ := filepath.Glob(filepath.Join(dir, convertedPattern))
	for _, name := range names {
		if info, err := os.Lstat(name); err == nil && info.Mode().IsRegular() && info.ModTime().Before(t) && templock.Abandoned(name) {
			os.Remove(name)
		}
	}
}

func (t *tempFiles) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil {
		t.names = make(map[string]bool)
	}
	t.names[name] = true
}

// done forgets name after running fn (the rename or removal of the
// file), so that a signal's cleanup never runs beside it.
func (t *tempFiles) done(name string, fn func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, name)
	return fn()
}

// removeAll removes the files and keeps the lock: the process is ending.
func (t *tempFiles) removeAll() {
	t.mu.Lock()
	for name := range t.names {
		os.Remove(name)
	}
}
