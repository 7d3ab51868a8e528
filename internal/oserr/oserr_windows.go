//go:build windows

package oserr

import "syscall"

// Windows' codes, beside the names syscall gives them, which its own
// calls never return (go.dev/issue/45621).
const (
	errorHandleDiskFull = syscall.Errno(39)    // ERROR_HANDLE_DISK_FULL
	errorBrokenPipe     = syscall.Errno(109)   // ERROR_BROKEN_PIPE
	errorDiskFull       = syscall.Errno(112)   // ERROR_DISK_FULL
	errorNoData         = syscall.Errno(232)   // ERROR_NO_DATA: the pipe is being closed
	wsaeAddrInUse       = syscall.Errno(10048) // WSAEADDRINUSE
	wsaeConnAborted     = syscall.Errno(10053) // WSAECONNABORTED
	wsaeConnReset       = syscall.Errno(10054) // WSAECONNRESET
	wsaeConnRefused     = syscall.Errno(10061) // WSAECONNREFUSED
)

var (
	diskFull  = []error{syscall.ENOSPC, errorDiskFull, errorHandleDiskFull}
	refused   = []error{syscall.ECONNREFUSED, wsaeConnRefused}
	reset     = []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, wsaeConnReset, wsaeConnAborted, errorBrokenPipe, errorNoData}
	addrInUse = []error{syscall.EADDRINUSE, wsaeAddrInUse}
)
