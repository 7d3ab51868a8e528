//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
)

// trace2xProcess returns a command that runs trace2x as a process of its
// own (the test binary under that name, see TestMain), for what only a
// real process shows: signals and pipes.
func trace2xProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "trace2x")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, args...)
}

// waitExit waits for cmd to end, failing with what if it has not within
// d; it is killed then.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done // before a cleanup's Wait
		t.Fatal(what)
	}
}

// interruptMidInput sends SIGINT to cmd, which has read the first part of
// its input, and gives it the rest once it has ended, or after 20 s: a
// command that heeds the signal needs no more, and one that does not
// reads on to the end, which the test then sees. It waits for cmd.
func interruptMidInput(cmd *exec.Cmd, stdin io.WriteCloser, rest []byte) {
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
	stdin.Write(rest)
	stdin.Close()
	<-done
}

// startSlowInput starts cmd with a pipe for its standard input, writes the
// first half of the trace at path to it, and returns the pipe and the
// rest of the trace.
func startSlowInput(t *testing.T, cmd *exec.Cmd, path string) (io.WriteCloser, []byte, *bytes.Buffer) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	half := len(data) / 2
	if _, err := stdin.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	// The command has read what it was given (and so set up its signal
	// handling) once the pipe is empty; then time to convert it.
	waitPipeDrained(t, stdin.(interface{ Fd() uintptr }).Fd())
	time.Sleep(300 * time.Millisecond)
	return stdin, data[half:], &stderr
}

// TestInterrupt checks that SIGINT stops a conversion at its next read,
// or in a read from a stalled pipe, with what was converted written,
// valid, and exit status 130; and that a second signal, for a command
// stuck in a write, ends it at once without leaving its temporary file.
func TestInterrupt(t *testing.T) {
	// Two generations, the first of them in the half sent before the
	// signal: a generation is converted once it is read whole.
	trace := filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")
	dir := t.TempDir()

	out := filepath.Join(dir, "part.pftrace")
	cmd := trace2xProcess(t, "perfetto", "-q", "--uncompressed", "-o", out, "-")
	stdin, rest, stderr := startSlowInput(t, cmd, trace)
	interruptMidInput(cmd, stdin, rest)
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr.String(), "interrupted by SIGINT") {
		t.Errorf("stderr %q does not say the conversion was interrupted", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no output after an interrupt: %v", err)
	}
	rep, err := perfettocheck.Check(f)
	f.Close()
	if err != nil {
		t.Fatalf("the output of an interrupted conversion is not valid: %v", err)
	}
	if len(rep.Slices) == 0 {
		t.Error("the output of an interrupted conversion holds nothing")
	}

	// Ctrl-C in a shell stops the whole pipeline: the writer (curl) ends
	// too, and the read under way sees the stream end mid-batch. That is
	// the interrupt, not a broken trace.
	out = filepath.Join(dir, "cut.pftrace")
	cmd = trace2xProcess(t, "perfetto", "-q", "-o", out, "-")
	stdin, _, stderr = startSlowInput(t, cmd, trace)
	cmd.Process.Signal(syscall.SIGINT)
	// In a shell the signal reaches trace2x as it reaches the writer;
	// here the input ends a while after it, long enough for a busy
	// machine to deliver the signal first.
	time.Sleep(time.Second)
	stdin.Close()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted by SIGINT") || strings.Contains(stderr.String(), "broken trace") {
		t.Errorf("input ended after SIGINT: exit %d, stderr %q; want %d and the interrupt said, not a broken trace", code, stderr, exitInterrupted)
	}

	// A pipe whose writer stalls (ssh host cat trace | trace2x) holds a
	// read that nothing else ends: the signal ends it, and what was
	// converted is kept.
	out = filepath.Join(dir, "stalled.json")
	cmd = trace2xProcess(t, "chrome", "-q", "-o", out, "-")
	_, _, stderr = startSlowInput(t, cmd, trace)
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, cmd, 10*time.Second, "SIGINT did not end a read from a stalled pipe")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted by SIGINT") {
		t.Errorf("a stalled pipe interrupted: exit %d, stderr %q; want %d and the interrupt said", code, stderr, exitInterrupted)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte(`"ph":"X"`)) {
		t.Errorf("the output of a stalled pipe interrupted: %v, %.80q; want what was converted", err, b)
	}

	// A command stuck in a write (its output a pipe that nobody reads)
	// is ended at once by a second signal, and leaves no file.
	out = filepath.Join(dir, "stuck.json")
	cmd = trace2xProcess(t, "convert", "-q", "--chrome", "-", "--stats", out, filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // never read
	cmd.Stdout = w
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitPipeFull(t, r)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd, 10*time.Second, "a second signal did not end the command")
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d after a second signal, SIGTERM, want %d; stderr:\n%s", code, 128+int(syscall.SIGTERM), stderr)
	}
	if !strings.HasPrefix(stderr.String(), "trace2x: SIGTERM again: stopped at once") {
		t.Errorf("stderr %q does not say the command stopped at once", stderr)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".stuck*"))
	if _, err := os.Stat(out); err == nil || len(left) > 0 {
		t.Errorf("a command stopped at once left %v and its output (%v)", left, err)
	}
}

// TestBrokenPipe checks that a closed pipe on standard output is a failed
// output like any other: convert reports it and still writes its other
// outputs whole, instead of dying of SIGPIPE with nothing said.
func TestBrokenPipe(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "gc.go1.26.trace")
	st := filepath.Join(t.TempDir(), "stats.json")
	cmd := trace2xProcess(t, "convert", "-q", "--chrome", "-", "--stats", st, trace)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before anything is written
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1; stderr:\n%s", code, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "writing standard output: broken pipe\n") {
		t.Errorf("stderr %q does not report the broken pipe", stderr.String())
	}
	if b, err := os.ReadFile(st); err != nil || !bytes.Contains(b, []byte(`"events"`)) {
		t.Errorf("the stats output beside the broken pipe: %v, %.80q", err, b)
	}
}

// TestInterruptPush interrupts a push to an endpoint that takes the
// connection and never answers: the command says that it still sends the
// spans converted, for how long, and how to stop at once, and ends with
// the interrupt as its error and status, not a bare "context canceled".
func TestInterruptPush(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // taken and never answered
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	trace := filepath.Join("..", "..", "testdata", "gc.go1.26.trace")
	cmd := trace2xProcess(t, "otlp", "-q", "--timeout", "3s", "--endpoint", ln.Addr().String(), "-")
	stdin, rest, stderr := startSlowInput(t, cmd, trace)
	interruptMidInput(cmd, stdin, rest)
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	for _, want := range []string{"interrupted by SIGINT: sending the spans converted to", "for up to 3s; interrupt again to stop at once"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr gives a bare context error:\n%s", stderr)
	}
}

// TestInterruptPushNote interrupts a push to an endpoint that takes the
// connection and never answers, while the conversion waits for the
// exporter (more spans than its queue holds): the command says at once
// that it still sends the spans, for how long, and how to stop, not once
// the timeout is over; a second interrupt stops it.
func TestInterruptPushNote(t *testing.T) {
	trace := serviceTrace(t)
	for _, args := range [][]string{
		{"otlp", "-q", "--timeout", "10m", "--endpoint"},
		{"convert", "-q", "--perfetto", filepath.Join(t.TempDir(), "t.pftrace"), "--otlp", "--otlp-endpoint"},
	} {
		t.Run(args[0], func(t *testing.T) { testInterruptPushNote(t, trace, args) })
	}
}

// serviceTrace records a 1 MB trace of a service, more spans than the
// exporter's queue holds, into a file and returns its name.
func serviceTrace(t *testing.T) string {
	t.Helper()
	var rec bytes.Buffer
	if err := synth.RecordService(&rec, 1<<20); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "service.trace")
	if err := os.WriteFile(trace, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return trace
}

// startExporting starts cmd, a push, and returns once the endpoint has
// seen two requests (the check of the endpoint, then the first export),
// as got tells, with cmd's standard error.
func startExporting(t *testing.T, cmd *exec.Cmd, got <-chan struct{}) *syncBuffer {
	t.Helper()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-got:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("the command never exported; stderr:\n%s", stderr.String())
		}
	}
	return stderr
}

// silentEndpoint listens on 127.0.0.1 until the test ends, taking
// connections and never answering; accepted is sent on, if it can be,
// at each.
func silentEndpoint(t *testing.T) (addr string, accepted <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	acc := make(chan struct{}, 16)
	go func() {
		var held []net.Conn // taken and never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			select {
			case acc <- struct{}{}:
			default:
			}
		}
	}()
	return ln.Addr().String(), acc
}

func testInterruptPushNote(t *testing.T, trace string, args []string) {
	addr, accepted := silentEndpoint(t)
	cmd := trace2xProcess(t, append(args, addr, trace)...)
	if args[0] == "convert" {
		cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_TIMEOUT=600000") // 10m
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-accepted: // the exporter is made
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the command never connected; stderr:\n%s", stderr.String())
	}
	// Most often the conversion then waits for the exporter within 2 s;
	// if it has not got that far, the note must come at once all the
	// same, and the test passes without telling much.
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	const want = "for up to 10m0s; interrupt again to stop at once"
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), want) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no note 30 s after the interrupt, with a timeout of 10 minutes; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, cmd, 60*time.Second, "a second interrupt did not stop the command")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
}

// TestInterruptAfterConversion interrupts a push whose conversion is
// over, while the last spans wait for an endpoint that never answers:
// the report says what was sent of the whole trace, not that the
// conversion stopped.
func TestInterruptAfterConversion(t *testing.T) {
	addr, accepted := silentEndpoint(t)
	trace := filepath.Join("..", "..", "testdata", "mixed.go1.26.trace")
	cmd := trace2xProcess(t, "otlp", "-q", "--protocol", "http/protobuf", "--timeout", "2s", "--endpoint", "http://"+addr, trace)
	// The 53 kB trace is converted by the first export.
	stderr := startExporting(t, cmd, accepted)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, cmd, 60*time.Second, "the command did not end after its timeout")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
	errs := stderr.String()
	if !strings.Contains(errs, "exported 0 of 76 spans") || strings.Contains(errs, "stopped") {
		t.Errorf("the report does not say that all 76 spans of the trace were converted, or says the conversion stopped:\n%s", errs)
	}
}

// TestInterruptSlowPush interrupts a push to an endpoint that accepts
// every export, slowly: the spans converted are sent for up to the
// timeout after the interrupt, then the command ends with the interrupt's
// status and counts the spans not sent, in both commands that push. (The
// sink went on sending every span, 26 s after the signal for a trace of
// 6,712 spans, and the command exited 0.)
func TestInterruptSlowPush(t *testing.T) {
	trace := serviceTrace(t)
	for _, args := range [][]string{
		{"otlp", "-q", "--protocol", "http/protobuf", "--timeout", "2s", "--endpoint"},
		{"convert", "-q", "--stats", filepath.Join(t.TempDir(), "t.json"), "--otlp", "--otlp-protocol", "http/protobuf", "--otlp-timeout", "2s", "--otlp-endpoint"},
	} {
		t.Run(args[0], func(t *testing.T) { testInterruptSlowPush(t, trace, args) })
	}
}

func testInterruptSlowPush(t *testing.T, trace string, args []string) {
	answered := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(800 * time.Millisecond) // within the timeout: accepted
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty response: all accepted
		select {
		case answered <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	cmd := trace2xProcess(t, append(args, srv.URL, trace)...)
	stderr := startExporting(t, cmd, answered)
	cmd.Process.Signal(syscall.SIGINT)
	waitExit(t, cmd, 60*time.Second, "the command did not end after its timeout")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "spans were rejected or not sent") {
		t.Errorf("stderr does not count the spans not sent:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr gives a bare context error:\n%s", stderr.String())
	}
}

// TestStreamCopyUnlinked checks that the copy of a stream a two-pass
// filter makes has no name while the command runs: however the process
// ends (killed, out of memory), the copy goes with it.
func TestStreamCopyUnlinked(t *testing.T) {
	tmp := t.TempDir()
	trace := filepath.Join("..", "..", "testdata", "annotations.go1.26.trace")
	cmd := trace2xProcess(t, "stats", "-q", "--task", "1", "-")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdin, rest, stderr := startSlowInput(t, cmd, trace)
	time.Sleep(300 * time.Millisecond)
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("while the stream is copied, %s holds %v", tmp, left)
	}
	stdin.Write(rest)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("after the command, %s holds %v", tmp, left)
	}
}

// TestInterruptFile checks that an interrupt stops the conversion of a
// file where it is: the last generation of a file, read whole, leaves the
// pass no read to fail, and it had gone on to its end, with exit status 0.
// The interrupt comes with the output's first bytes, once the trace's
// only generation is read.
func TestInterruptFile(t *testing.T) {
	// A trace of one generation whose conversion outlasts the output's
	// first bytes by far: the output is buffered 256 KB at a time.
	var rec bytes.Buffer
	if err := synth.RecordService(&rec, 1<<20); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service.trace")
	if err := os.WriteFile(path, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	out := &cancelOnWrite{cancel: func() { cancel(interrupted{syscall.SIGINT}) }}
	var stderr bytes.Buffer
	code := runContext(ctx, []string{"chrome", "-q", "-o", "-", path}, strings.NewReader(""), out, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted by SIGINT") {
		t.Errorf("exit %d, stderr %q; want %d and the interrupt said", code, stderr.String(), exitInterrupted)
	}
}

// cancelOnWrite calls cancel at its first write.
type cancelOnWrite struct {
	cancel func()
	once   sync.Once
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.once.Do(w.cancel)
	return len(p), nil
}

// TestInterruptSpans interrupts otlp --json mid-stream: what is open when
// the pass stops (tasks, regions, the goroutines their spans hang from) is
// written as a trace that breaks off would have it, marked open at the
// end, so that no span written has its parent left out.
func TestInterruptSpans(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")
	out := filepath.Join(t.TempDir(), "spans.json")
	cmd := trace2xProcess(t, "otlp", "-q", "--json", "-o", out, "-")
	stdin, rest, stderr := startSlowInput(t, cmd, trace)
	interruptMidInput(cmd, stdin, rest)
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	type span struct {
		SpanID       string `json:"spanId"`
		ParentSpanID string `json:"parentSpanId"`
		Name         string `json:"name"`
		Attributes   []struct {
			Key string `json:"key"`
		} `json:"attributes"`
	}
	var spans []span
	for line := range bytes.Lines(data) {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []span `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if err := json.Unmarshal(line, &req); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
	}
	ids := map[string]bool{}
	openEnd := 0
	for _, s := range spans {
		ids[s.SpanID] = true
		for _, a := range s.Attributes {
			if a.Key == "go.trace.open_end" {
				openEnd++
			}
		}
	}
	if len(spans) == 0 || openEnd == 0 {
		t.Fatalf("%d spans, %d of them open at the end; want some of each", len(spans), openEnd)
	}
	for _, s := range spans {
		if s.ParentSpanID != "" && !ids[s.ParentSpanID] {
			t.Errorf("span %q has its parent %s left out", s.Name, s.ParentSpanID)
		}
	}
}

// TestInterruptView interrupts view while the trace it serves is still
// being converted: it says so, exits with the signal's status, and
// leaves no temporary file; a closed terminal's SIGHUP too.
func TestInterruptView(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGINT, "SIGINT"}, {syscall.SIGHUP, "SIGHUP"}} {
		t.Run(tc.name, func(t *testing.T) {
			if signal.Ignored(tc.sig) {
				// Started under nohup: the command inherits the signal
				// ignored and keeps it so (TestIgnoredSignal).
				t.Skipf("%s is ignored in this process", tc.name)
			}
			tmp := t.TempDir()
			cmd := trace2xProcess(t, "view", "-q", "--addr", "127.0.0.1:0", "-")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			stdin, _, stderr := startSlowInput(t, cmd, trace)
			defer stdin.Close()
			cmd.Process.Signal(tc.sig)
			waitExit(t, cmd, 10*time.Second, tc.name+" did not end view")
			if code := cmd.ProcessState.ExitCode(); code != 128+int(tc.sig) || !strings.Contains(stderr.String(), "interrupted by "+tc.name+" before its conversion ended") {
				t.Errorf("exit %d, stderr %q; want %d and the interrupt said", code, stderr, 128+int(tc.sig))
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

// TestSecondSignalSplit ends a split conversion stuck opening a part (a
// FIFO nobody reads stands at its name) with two signals: the process
// ends at once, and the parts it had written whole are put in place.
func TestSecondSignalSplit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	if err := syscall.Mkfifo(partName(out, 3), 0o644); err != nil {
		t.Skip("no FIFO here:", err)
	}
	cmd := trace2xProcess(t, "chrome", "-q", "--split", "1M", "-o", out, filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Two parts held under temporary names: the third is being opened.
		// Part 2 is whole once closed: its temporary file holds a
		// complete Chrome JSON trace. Two temporary files alone may be
		// part 1 and part 2 still being written.
		if held, _ := filepath.Glob(filepath.Join(dir, ".t.2.json.*.tmp")); len(held) == 1 {
			if b, err := os.ReadFile(held[0]); err == nil {
				if _, err := chromecheck.Check(b); err == nil {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the conversion did not reach its third part")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	// Signals are not queued: a second that comes before the process
	// has taken the first (a busy machine may not run it for a while)
	// makes one with it. The second is sent until the process ends.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline, ended := time.After(10*time.Second), false; !ended; {
		select {
		case <-exited:
			ended = true
		case <-time.After(200 * time.Millisecond):
			cmd.Process.Signal(syscall.SIGINT)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("a second signal did not end the command")
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, &stderr)
	}
	for n := 1; n <= 2; n++ {
		b, err := os.ReadFile(partName(out, n))
		if err != nil {
			t.Errorf("part %d, written whole before the signals: %v", n, err)
			continue
		}
		if _, err := chromecheck.Check(b); err != nil {
			t.Errorf("part %d: %v", n, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestIgnoredSignal: a signal the command was started ignoring (nohup's
// SIGHUP, a shell's SIGINT for a background job) stays ignored: the
// conversion goes on to the end.
func TestIgnoredSignal(t *testing.T) {
	trace := filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace")
	out := filepath.Join(t.TempDir(), "nohup.json")
	cmd := trace2xProcess(t, "chrome", "-q", "-o", out, "-")
	// As nohup does: the signal ignored, then the command exec'd.
	cmd.Args = append([]string{"sh", "-c", `trap "" HUP; exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	stdin, rest, stderr := startSlowInput(t, cmd, trace)
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	stdin.Write(rest)
	stdin.Close()
	waitExit(t, cmd, 20*time.Second, "the command did not end")
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d after an ignored SIGHUP, want 0; stderr:\n%s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromecheck.Check(data); err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(data, []byte(`"trace2x-end"`))
	if i < 0 || bytes.Contains(data[i:], []byte(`"error"`)) {
		t.Errorf("the output after an ignored SIGHUP does not end whole: %.200q", data[max(i, 0):])
	}
}
