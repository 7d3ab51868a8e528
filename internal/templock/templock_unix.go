//go:build unix

package templock

import (
	"os"
	"syscall"
)

// Lock marks a temporary file as in use, for as long as it is open: a
// program that dies lets go of it, so that the next one to start can tell
// its file from one another program uses.
func Lock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// Abandoned reports whether no program uses the temporary file at path:
// none holds its lock.
func Abandoned(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
