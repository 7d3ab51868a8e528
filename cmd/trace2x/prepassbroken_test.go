package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// chunkReader gives its bytes n at a time, as a pipe can. The command
// reads standard input on a goroutine of its own, which can still be
// reading when it returns: left says how much is left, under its lock.
type chunkReader struct {
	mu   sync.Mutex
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

func (r *chunkReader) left() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data)
}

// TestFilteredBrokenStream: a damaged stream read with a filter that needs
// a first pass is copied for the main pass as far as its file would be
// read, not cut where the first pass stopped, which depends on how its
// bytes came: it gives what the file gives, however they come (it gave a
// trace "cut short" at a varying byte).
func TestFilteredBrokenStream(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	data[285] ^= 0xff // inside an event of the first generation: its batches stay whole
	file := filepath.Join(t.TempDir(), "damaged.trace")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"stats", "--json", "--task", "request"}
	code, want, errs := runCmd(t, nil, append(args, file)...)
	if code != 1 || !strings.Contains(errs, "broken trace") {
		t.Fatalf("the damaged file: exit %d, stderr %q; want 1 and a broken trace", code, errs)
	}
	want = strings.ReplaceAll(want, file, "stdin")
	for _, n := range []int{1, 200, 4096, len(data)} {
		var out, errb bytes.Buffer
		code := run(append(args, "-"), &chunkReader{data: bytes.Clone(data), n: n}, &out, &errb)
		if code != 1 {
			t.Errorf("%d bytes at a time: exit %d, want 1; stderr %q", n, code, errb.String())
		}
		if got := out.String(); got != want {
			t.Errorf("%d bytes at a time: the report differs from the file's:\n%s\nwant:\n%s", n, got, want)
		}
	}
}

// TestFilteredStreamThenZeros: a stream whose trace is followed by bytes
// that are not batches (a pipe of /dev/zero after it) is copied only a
// little past them, and reported as its file is.
func TestFilteredStreamThenZeros(t *testing.T) {
	trace, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	data := append(bytes.Clone(trace), make([]byte, 1<<20)...)
	file := filepath.Join(t.TempDir(), "zeros.trace")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"stats", "--json", "--task", "request"}
	_, want, _ := runCmd(t, nil, append(args, file)...)
	want = strings.ReplaceAll(want, file, "stdin")
	in := &chunkReader{data: bytes.Clone(data), n: 4096}
	var out, errb bytes.Buffer
	run(append(args, "-"), in, &out, &errb)
	// bytes_read counts what the reader took in, which the copy's end
	// bounds (see the README).
	got, wantJSON := statsJSON(t, out.String()), statsJSON(t, want)
	delete(got, "bytes_read")
	delete(wantJSON, "bytes_read")
	if !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("the report differs from the file's:\n%s\nwant:\n%s", out.String(), want)
	}
	if left := in.left(); left < 1<<19 {
		t.Errorf("%d bytes of zeros left unread of %d: the copy went on past the trace", left, 1<<20)
	}
}
