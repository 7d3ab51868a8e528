package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openTTY opens a pseudo-terminal and returns its terminal end, as a
// program started in a shell gets for its standard input, and the other
// end, where what is written is typed in.
func openTTY(t *testing.T) (tty, keyboard *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, ptmx
}

// TestNoInputFromTerminal checks that a command given no input, with a
// terminal for standard input, says what it needs instead of waiting for
// a trace typed in; "-" still reads standard input.
func TestNoInputFromTerminal(t *testing.T) {
	tty, keyboard := openTTY(t)
	out := t.TempDir()
	for _, args := range [][]string{{"perfetto", "-o", out + "/t.pftrace"}, {"chrome"}, {"stats"}, {"otlp", "--json"},
		{"pprof", "--kind=sched"}, {"convert", "--stats", out + "/t.json"}, {"view"}} {
		// Should the command read the terminal, it gets ends of input
		// (Ctrl-D, one per read: a terminal's is not for good) rather
		// than waiting for ever.
		if _, err := keyboard.Write([]byte{4, 4, 4, 4, 4, 4, 4, 4}); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr strings.Builder
		code := run(args, tty, &stdout, &stderr)
		if code != 2 || !strings.HasPrefix(stderr.String(), "trace2x "+args[0]+": no input: name a trace file or URL, or pipe a trace in\n") {
			t.Errorf("%v with a terminal for input: exit %d, stderr %q; want 2 and a usage error", args, code, stderr.String())
		}
	}

}
