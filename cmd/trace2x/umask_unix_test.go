//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOutputUmask: a new output gets the permissions a shell's > gives
// it, 0666 less the umask (a trace's log messages can hold what a umask
// of 077 keeps from others), and an output that exists keeps its own.
func TestOutputUmask(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o077, 0o600}, {0o022, 0o644}, {0o002, 0o664}} {
		old := unix.Umask(c.umask)
		out := filepath.Join(dir, "new.pftrace")
		os.Remove(out)
		code, _, stderr := runCmd(t, nil, "perfetto", "-o", out, sample(t))
		unix.Umask(old)
		if code != 0 {
			t.Fatalf("umask %03o: exit %d: %s", c.umask, code, stderr)
		}
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != c.want {
			t.Errorf("umask %03o: a new output's mode %v, want %v", c.umask, got, c.want)
		}
	}
	out := filepath.Join(dir, "kept.pftrace")
	if err := os.WriteFile(out, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o640); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, nil, "perfetto", "-o", out, sample(t)); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("an output that existed: %v, %v; want its mode 0640 kept", st.Mode(), err)
	}
}
