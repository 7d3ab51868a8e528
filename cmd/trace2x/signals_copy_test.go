//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptFilterCopy checks SIGINT while a task filter copies a
// stream for its first pass: the copy so far is converted, as the
// stream's part would be without the filter, and the exit status is 130.
func TestInterruptFilterCopy(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")
	out := filepath.Join(t.TempDir(), "part.pftrace")
	cmd := trace2xProcess(t, "perfetto", "-q", "--task", "request", "-o", out, "-")
	_, _, stderr := startSlowInput(t, cmd, trace) // the first generation whole, and a stall
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, cmd, 10*time.Second, "SIGINT did not end the copy of a stalled stream")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted by SIGINT") {
		t.Errorf("exit %d, stderr %q; want %d and the interrupt said", code, stderr, exitInterrupted)
	}
	tasks := perfettoTasks(t, out, "nothing written of what came before the interrupt")
	if tasks == 0 {
		t.Error("the output holds no task of the generation that came whole")
	}
}
