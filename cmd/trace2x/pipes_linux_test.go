package main

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitPipeFull waits until the pipe whose read end is r is full: its
// writer is then blocked in a write.
func waitPipeFull(t *testing.T, r *os.File) {
	t.Helper()
	size, err := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ); err == nil && n >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not fill its output pipe")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPipeDrained waits until the pipe with end fd holds no bytes.
func waitPipeDrained(t *testing.T, fd uintptr) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err != nil || n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not read its input")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
