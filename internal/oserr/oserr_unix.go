//go:build !windows

package oserr

import "syscall"

var (
	diskFull  = []error{syscall.ENOSPC}
	refused   = []error{syscall.ECONNREFUSED}
	reset     = []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE}
	addrInUse = []error{syscall.EADDRINUSE}
)
