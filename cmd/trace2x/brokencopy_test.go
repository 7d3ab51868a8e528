package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
)

// TestFilterCopyBrokenURL checks a task filter, which copies a stream to
// a file for its first pass, on a capture whose target dies after the
// first generation: what came is converted, as without the filter and as
// from the same bytes in a file, and the error says where the capture
// broke off.
func TestFilterCopyBrokenURL(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	const cut = 7000 // inside the second of two generations
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The length promised and not sent: the client reads an
		// unexpected EOF, as from a target that died.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:cut])
	}))
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "t.pftrace")
	url := srv.URL + "/debug/pprof/trace?seconds=1"
	code, _, errs := runCmd(t, nil, "perfetto", "--task", "request", "-o", out, url)
	if code != 1 || !strings.Contains(errs, url) || !strings.Contains(errs, "near byte "+strconv.Itoa(cut)) || !strings.Contains(errs, "1 complete generation") {
		t.Errorf("exit %d, stderr %q; want 1 and the URL, where it broke off, and what was converted", code, errs)
	}
	got := perfettoTasks(t, out, "nothing written of what came")
	// The same bytes from a file keep the same tasks.
	file := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(file, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile := filepath.Join(dir, "file.pftrace")
	if code, _, errs := runCmd(t, nil, "perfetto", "--task", "request", "-o", fromFile, file); code != 1 {
		t.Fatalf("the cut file: exit %d: %s", code, errs)
	}
	want := perfettoTasks(t, fromFile, "the cut file")
	if got == 0 || got != want {
		t.Errorf("%d task slices from the broken capture, %d from the same bytes in a file; want the same, some", got, want)
	}
}

// TestInputForms checks the forms of an input that users type: a URL's
// scheme in capitals, a host and port without a scheme, capture flags on
// standard input, and the file name view gives an IPv6 target.
func TestInputForms(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	upper := "HTTP" + strings.TrimPrefix(srv.URL, "http") + "/debug/pprof/trace"
	if code, _, errs := runCmd(t, nil, "stats", upper); code != 0 {
		t.Errorf("stats %s: exit %d: %s", upper, code, errs)
	}
	bare := strings.TrimPrefix(srv.URL, "http://") + "/debug/pprof/trace"
	if code, _, errs := runCmd(t, nil, "stats", bare); code != 1 || !strings.Contains(errs, "give its scheme: http://"+bare) {
		t.Errorf("stats %s: exit %d, stderr %q; want 1 and the scheme asked for", bare, code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--seconds", "1", bare); code != 2 || !strings.Contains(errs, "give its scheme: http://"+bare) {
		t.Errorf("stats --seconds 1 %s: exit %d, stderr %q; want a usage error that asks for the scheme", bare, code, errs)
	}
	if code, _, errs := runCmd(t, data, "stats", "--seconds", "3", "-"); code != 2 || !strings.Contains(errs, "not standard input") {
		t.Errorf("--seconds on standard input: exit %d, stderr %q; want a usage error", code, errs)
	}
	for url, want := range map[string]string{
		"http://[::1]:6060/debug/pprof/trace":        "__1-6060",
		"http://checkout:6060/debug/pprof/trace":     "checkout-6060",
		"https://checkout.example/debug/pprof/trace": "checkout.example",
	} {
		if got := (&input{name: url}).baseName(); got != want {
			t.Errorf("base name of %s: %q, want %q", url, got, want)
		}
	}
}

// TestBrokenKeptNothing checks filters that keep nothing of a trace that
// breaks off: the output it would have replaced stays as it was, as for a
// trace read whole, and the error says both.
func TestBrokenKeptNothing(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, data[:5000], 0o644); err != nil { // inside the second generation
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"perfetto", "--task", "nosuch"},
		{"chrome", "--from", "43ms"},
		{"stats", "--goroutine", "9999999"},
	} {
		out := filepath.Join(dir, "out")
		if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runCmd(t, nil, append(args, "-o", out, cut)...)
		if b, _ := os.ReadFile(out); code != 1 || string(b) != "precious" || !strings.Contains(errs, "broken trace") || !strings.Contains(errs, "the filters kept nothing") {
			t.Errorf("%v: exit %d, stderr %q, output %.20q; want 1, the break and the filters said, the file as it was", args, code, errs, b)
		}
	}
	// Of an input that is no trace, there was nothing to keep: its error
	// alone is said.
	notTrace := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notTrace, []byte("some notes, not a trace"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, nil, "perfetto", "--task", "x", "-o", filepath.Join(dir, "n.pftrace"), notTrace); code != 1 || strings.Contains(errs, "kept nothing") {
		t.Errorf("a filter on a text file: exit %d, stderr %q; want 1 and no word of the filters", code, errs)
	}
}

// TestSplitToDevice checks that --split refuses an -o that is a device:
// its parts would be regular files beside it, in /dev.
func TestSplitToDevice(t *testing.T) {
	code, _, errs := runCmd(t, nil, "chrome", "--split", "1M", "-o", os.DevNull, sample(t))
	if code != 2 || !strings.Contains(errs, "not a regular file") {
		t.Errorf("exit %d, stderr %q; want a usage error", code, errs)
	}
	if left, _ := filepath.Glob(os.DevNull + ".*"); len(left) > 0 {
		t.Errorf("parts written beside %s: %v", os.DevNull, left)
	}
}

// TestOTLPJSONFullDisk checks otlp --json on a full disk: one line, the
// write's error, and no count of spans "converted before the conversion
// stopped", which would blame the trace.
func TestOTLPJSONFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	code, _, errs := runCmd(t, nil, "otlp", "--json", "-o", "/dev/full", filepath.Join("..", "..", "testdata", "gc.go1.26.trace"))
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 and the write's error alone", code, errs)
	}
}

// TestInputHeader checks --input-header against a target behind a token:
// without it, the 401 is said; with it, in either form, the trace is
// converted; on a file it is a usage error.
func TestInputHeader(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok=1" || r.Header.Get("X-Team") != "perf" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	url := srv.URL + "/debug/pprof/trace"
	if code, _, errs := runCmd(t, nil, "stats", url); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("without the header: exit %d, stderr %q; want 1 and the 401", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--input-header", "Authorization: Bearer tok=1", "--input-header", "X-Team=perf", url); code != 0 {
		t.Errorf("with the headers: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--input-header", "bad name: x", url); code != 2 {
		t.Errorf("a bad header name: exit %d, stderr %q; want a usage error", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--input-header", "X: a\nb", url); code != 2 {
		t.Errorf("a line break in a header's value: exit %d, stderr %q; want a usage error", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--input-header", "A: b", sample(t)); code != 2 || !strings.Contains(errs, "--input-header") {
		t.Errorf("on a file: exit %d, stderr %q; want a usage error", code, errs)
	}
}

// TestConvertPushFails checks convert with a push the endpoint refuses:
// the other outputs are written whole, the push's report does not say
// that the conversion stopped at the trace's end (its spans went only at
// the end, all made), and the error names the endpoint.
func TestConvertPushFails(t *testing.T) {
	srv := refusingOTLP(http.StatusBadRequest)
	defer srv.Close()
	pf := filepath.Join(t.TempDir(), "t.pftrace")
	code, _, errs := runCmd(t, nil, "convert", "-q", "--perfetto", pf, "--otlp", "--otlp-endpoint", srv.URL, "--otlp-protocol", "http/protobuf",
		filepath.Join("..", "..", "testdata", "frsubtasks.go1.26.trace"))
	if code != 1 || !strings.Contains(errs, "exported 0 of 373 spans") || strings.Contains(errs, "stopped") ||
		!strings.Contains(errs, "trace2x: exporting spans to "+srv.URL+"/v1/traces (http/protobuf): ") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and the export's failure said, naming the endpoint", code, errs)
	}
	if _, err := os.Stat(pf); err != nil {
		t.Errorf("the Perfetto output of a conversion whose push failed: %v", err)
	}
}

// perfettoTasks reads the Perfetto file at path, checks it, and returns
// how many task slices it holds; what says which file it is, if missing.
func perfettoTasks(t *testing.T, path, what string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	rep, err := perfettocheck.Check(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range rep.Slices {
		if s.Category == "task" {
			n++
		}
	}
	return n
}

// TestCaptureFlagsNamed: the flags that shape a capture, given with a
// file or standard input, are refused by their names only: otlp has no
// --cpu-profile to name.
func TestCaptureFlagsNamed(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"otlp", "--json", "-o", os.DevNull, "--seconds", "5", sample(t)}, "trace2x otlp: --seconds applies to an http(s) input only\n"},
		{[]string{"stats", "--seconds", "2", "--input-header", "A: b", "-"}, "trace2x stats: --seconds and --input-header apply to an http(s) input only, not standard input: give them to the command that captures\n"},
		{[]string{"stats", "--cpu-profile", "-"}, "trace2x stats: --cpu-profile applies to an http(s) input only, not standard input: give it to the command that captures\n"},
	} {
		code, _, errs := runCmd(t, nil, c.args...)
		if first, _, _ := strings.Cut(errs, "usage:"); code != 2 || first != c.want {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q first", c.args, code, errs, c.want)
		}
	}
}
