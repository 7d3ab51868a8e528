package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trace2x/trace2x/capture"
	"github.com/trace2x/trace2x/mapping"
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

// TestProgressCleared checks that the progress line is cleared when a
// pass ends without its last report, as one that fails does, so that the
// error is a line of its own on the terminal.
func TestProgressCleared(t *testing.T) {
	tty, screen := openTTY(t)
	in := &input{name: "t.trace", size: 100e6}
	report, clear := in.progress(&env{stderr: tty}, &inputOpts{})
	if report == nil {
		t.Fatal("no progress line on a terminal")
	}
	report(mapping.Progress{BytesRead: 1e6, Events: 70_000})
	clear()
	fmt.Fprintln(tty, "trace2x: t.trace: broken trace")
	screen.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(out, []byte("broken trace")) {
		n, err := screen.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			t.Fatalf("reading the terminal: %v; got %q", err, out)
		}
	}
	if want := "\r\x1b[Ktrace2x: 1.0 MB of 100.0 MB (1%)"; !bytes.HasPrefix(out, []byte(want)) {
		t.Fatalf("the terminal shows %q, want the progress line first", out)
	}
	if i := bytes.Index(out, []byte("trace2x: t.trace")); i < 4 || string(out[i-4:i]) != "\r\x1b[K" {
		t.Errorf("the error does not begin a cleared line: %q", out)
	}
}

// TestOpenBrowserFails checks that an opener that finds no browser (as
// xdg-open does in an SSH session, exit 3) is reported, not taken for
// an opened browser.
func TestOpenBrowserFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if err := openBrowser("http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("openBrowser with a failing xdg-open: %v", err)
	}
}

// TestProgressWithoutEvents checks that the progress line shows the bytes
// an input gives before the mapping has any event to report (a capture's
// seconds, a stream's first generation), and says a capture is one.
func TestProgressWithoutEvents(t *testing.T) {
	for _, c := range []struct {
		capture *capture.Capture
		want    string
	}{
		{nil, "trace2x: 0.3 MB, "},
		{&capture.Capture{URL: "http://127.0.0.1:6060/debug/pprof/trace?seconds=5"}, "trace2x: capturing 5s: 0.3 MB in "},
	} {
		tty, screen := openTTY(t)
		in := &input{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, 300e3))), name: "-", capture: c.capture}
		_, clear := in.progress(&env{stderr: tty}, &inputOpts{})
		if _, err := io.Copy(io.Discard, in); err != nil {
			t.Fatal(err)
		}
		screen.SetReadDeadline(time.Now().Add(10 * time.Second))
		var out []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(out, []byte(c.want)) {
			n, err := screen.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				t.Fatalf("reading the terminal: %v; got %q, want %q", err, out, c.want)
			}
		}
		clear()
	}
}

// TestRedrawWindows: on Windows, and on a terminal that says it is dumb,
// the progress line is redrawn without the ANSI sequence a console would
// show as text: a shorter line overwrites the rest of the longer one with
// spaces, and the last clears it.
func TestRedrawWindows(t *testing.T) {
	t.Setenv("TERM", "dumb")
	width := 0
	var screen []rune
	for _, line := range []string{"trace2x: 10.0 MB of 100.0 MB", "trace2x: 9 MB", ""} {
		out := redraw(line, &width)
		if strings.Contains(out, "\033") {
			t.Fatalf("%q holds an escape sequence", out)
		}
		// A terminal's cursor: \r to the start, \b one back.
		col := 0
		for _, r := range out {
			switch r {
			case '\r':
				col = 0
			case '\b':
				col--
			default:
				for len(screen) <= col {
					screen = append(screen, ' ')
				}
				screen[col] = r
				col++
			}
		}
		if got := strings.TrimRight(string(screen), " "); got != line {
			t.Errorf("after %q the line shows %q", line, got)
		}
	}
}
