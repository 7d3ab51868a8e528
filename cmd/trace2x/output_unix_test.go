//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/templock"
)

// TestOutputFIFO: a FIFO named by -o is opened to write only, as a
// shell's > opens it: what is written reaches its reader, and a reader
// that goes away is a broken pipe, not a command that waits for ever on
// a pipe it holds open itself.
func TestOutputFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	// A reader that reads it all gets the whole report.
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	code, _, errs := runCmd(t, nil, "stats", "-o", fifo, sample(t))
	if code != 0 {
		t.Fatalf("stats -o FIFO: exit %d: %s", code, errs)
	}
	if b := <-got; !bytes.Contains(b, []byte("Duration:")) {
		t.Errorf("the FIFO's reader got %.100q, want the report", b)
	}

	// A reader that stops after 100 bytes: the command ends with the
	// broken pipe said.
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			return
		}
		io.ReadFull(f, make([]byte, 100))
		f.Close()
	}()
	cmd := trace2xProcess(t, "chrome", "-q", "-o", fifo, filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitExit(t, cmd, 20*time.Second, "chrome -o a FIFO whose reader left did not end")
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("exit %d, stderr %q; want 1 and the broken pipe said", code, stderr.String())
	}
}

// TestOutputDanglingLink: -o naming a symbolic link to a file not there
// yet writes that file, as a shell's > does, and the link stays.
func TestOutputDanglingLink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tgt"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out.json")
	if err := os.Symlink(filepath.Join("tgt", "x.json"), link); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, nil, "chrome", "-q", "-o", link, sample(t)); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", st.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "tgt", "x.json")); err != nil || !bytes.Contains(b, []byte(`"traceEvents"`)) {
		t.Errorf("the file the link names: %v, %.80q", err, b)
	}

	// Links in a loop name no file: an error, as to a shell, and the
	// links stay.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.Symlink("b", a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", b); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, nil, "chrome", "-q", "-o", a, sample(t)); code != 1 || !strings.Contains(errs, "too many levels of symbolic links") {
		t.Errorf("-o a link loop: exit %d, stderr %q; want 1 and the loop said", code, errs)
	}
	if st, err := os.Lstat(a); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("a link of the loop was replaced: %v, %v", st.Mode(), err)
	}
}

// TestOutputAbandonedTemps: the hidden temporary file of an output that
// a killed trace2x left is removed by the next run writing that output,
// once no process holds it; one a running process holds stays.
func TestOutputAbandonedTemps(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	stale := filepath.Join(dir, ".t.json.123456.tmp")
	held := filepath.Join(dir, ".t.json.654321.tmp")
	other := filepath.Join(dir, ".u.json.123456.tmp") // another output's
	for _, name := range []string{stale, held, other} {
		if err := os.WriteFile(name, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(name, old, old); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	templock.Lock(f) // as the process writing it does
	if code, _, errs := runCmd(t, nil, "chrome", "-q", "-o", out, sample(t)); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the abandoned temporary file is still there")
	}
	for _, name := range []string{held, other} {
		if _, err := os.Stat(name); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(name), err)
		}
	}
}

// TestOutputBesideUnmakeable: -o naming a file that can be opened but
// beside which no file can be made (one of /proc, as root) says that the
// file beside it failed, not that the file named is not there.
func TestOutputBesideUnmakeable(t *testing.T) {
	const path = "/proc/version"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s on this system", path)
	}
	code, _, errs := runCmd(t, nil, "stats", "-q", "-o", path, sample(t))
	if code != 1 {
		t.Fatalf("stats -o %s: exit %d, want 1: %s", path, code, errs)
	}
	if strings.Contains(errs, "no such file") && !strings.Contains(errs, "beside it, in /proc") {
		t.Errorf("stats -o %s, an existing file, says %q", path, errs)
	}
}
