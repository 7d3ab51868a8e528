//go:build unix

package flight

import (
	"os"
	"syscall"
)

// lockTemp marks a temporary file as being written, for as long as it is
// open: a program that dies lets go of it, so that the next one to start
// in the directory can tell its file from one another program writes.
func lockTemp(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// abandoned reports whether no program is writing the temporary file at
// path: none holds its lock.
func abandoned(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
