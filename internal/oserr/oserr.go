// Package oserr tells kinds of system errors apart on every system:
// Windows reports a full disk, a refused or reset connection and an
// address in use with codes of its own, which syscall's names of the Unix
// codes do not match (errors.Is of syscall.ECONNRESET is false there for
// a connection reset).
package oserr

import "errors"

// DiskFull reports whether err is a write to a full disk.
func DiskFull(err error) bool { return isAny(err, diskFull) }

// ConnRefused reports whether err is a connection the peer refused.
func ConnRefused(err error) bool { return isAny(err, refused) }

// ConnReset reports whether err is a connection the peer reset or closed
// under a write (a reset, an abort, a broken pipe).
func ConnReset(err error) bool { return isAny(err, reset) }

// AddrInUse reports whether err is a listen on an address in use.
func AddrInUse(err error) bool { return isAny(err, addrInUse) }

func isAny(err error, targets []error) bool {
	if err == nil {
		return false
	}
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
