package oserr

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
)

// TestReal: the errors this system's own calls return are told apart.
func TestReal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = net.Listen("tcp", l.Addr().String())
	if !AddrInUse(err) || ConnRefused(err) {
		t.Errorf("a second listen on %s: %v: AddrInUse %v", l.Addr(), err, AddrInUse(err))
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.Dial("tcp", addr)
	if !ConnRefused(err) || AddrInUse(err) {
		t.Errorf("a dial of a closed port: %v: ConnRefused %v", err, ConnRefused(err))
	}
	if runtime.GOOS == "linux" {
		f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Skip(err)
		}
		defer f.Close()
		_, err = f.Write([]byte("x"))
		if !DiskFull(err) {
			t.Errorf("a write to /dev/full: %v: DiskFull false", err)
		}
	}
}

// TestWrapped: the kinds are found through wrapping, and nil is none.
func TestWrapped(t *testing.T) {
	for _, e := range diskFull {
		if !DiskFull(fmt.Errorf("writing x: %w", &os.PathError{Op: "write", Path: "x", Err: e})) {
			t.Errorf("%v wrapped: not a full disk", e)
		}
	}
	for _, e := range reset {
		if !ConnReset(&net.OpError{Op: "read", Err: os.NewSyscallError("wsarecv", e)}) || ConnRefused(e) {
			t.Errorf("%v: not a reset alone", e)
		}
	}
	if DiskFull(nil) || ConnReset(nil) || ConnRefused(errors.New("refused")) {
		t.Error("nil, or a plain error, taken for a system error")
	}
}
