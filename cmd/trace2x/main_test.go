package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// runCmd runs the command in-process and returns its exit status and
// output.
func runCmd(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// multiGeneration is a trace of two generations: cut in the second, its
// first is still whole.
var multiGeneration = filepath.Join("..", "..", "conformance", "testdata", "generations.go1.26.trace")

// sample returns a committed sample trace with tasks, regions and logs.
func sample(t *testing.T) string {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "annotations.go1.26.trace")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("sample trace missing (make testdata records it): %v", err)
	}
	return path
}

func statsJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stats --json printed invalid JSON: %v\n%s", err, stdout)
	}
	return m
}

func TestVersionAndUsage(t *testing.T) {
	code, out, _ := runCmd(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "trace2x ") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
	if code, _, errs := runCmd(t, nil); code != 2 || !strings.Contains(errs, "usage:") {
		t.Errorf("no arguments: exit %d, stderr %q; want 2 and usage", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runCmd(t, nil, "stats", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _, errs := runCmd(t, nil, "stats", "a", "b"); code != 2 || !strings.Contains(errs, "one input trace") {
		t.Errorf("two inputs: exit %d, stderr %q", code, errs)
	}
	for _, args := range [][]string{{"stats", "-h"}, {"help", "stats"}} {
		code, out, errs := runCmd(t, nil, args...)
		if code != 0 || !strings.Contains(out+errs, "-json") {
			t.Errorf("%v: exit %d, help does not list -json: %q", args, code, out+errs)
		}
	}
}

// TestStatsInputs checks that a file, standard input, gzip-compressed
// standard input and flags after the file all give the same figures.
func TestStatsInputs(t *testing.T) {
	path := sample(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()

	code, out, errs := runCmd(t, nil, "stats", "--json", path)
	if code != 0 {
		t.Fatalf("stats --json %s: exit %d: %s", path, code, errs)
	}
	want := statsJSON(t, out)
	if want["events"].(float64) == 0 || want["tasks"].(map[string]any)["begun"].(float64) == 0 {
		t.Fatalf("the annotations sample shows no events or no tasks: %s", out)
	}
	if int64(want["bytes_read"].(float64)) != int64(len(data)) {
		t.Errorf("bytes_read = %v, want the file size %d", want["bytes_read"], len(data))
	}
	for name, tc := range map[string]struct {
		stdin []byte
		args  []string
	}{
		"stdin":       {data, []string{"stats", "--json"}},
		"dash":        {data, []string{"stats", "--json", "-"}},
		"gzip":        {gz.Bytes(), []string{"stats", "--json"}},
		"flag after":  {nil, []string{"stats", path, "--json"}},
		"output file": {nil, []string{"stats", "--json", "-o", filepath.Join(t.TempDir(), "s.json"), path}},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if name == "output file" {
				if out != "" {
					t.Fatalf("-o FILE also wrote to stdout: %q", out)
				}
				b, err := os.ReadFile(tc.args[3])
				if err != nil {
					t.Fatal(err)
				}
				out = string(b)
			}
			got := statsJSON(t, out)
			for _, k := range []string{"input", "bytes_read"} {
				delete(got, k)
			}
			for k, v := range want {
				// A stream has no batch headers to index beforehand.
				if k == "input" || k == "bytes_read" || (k == "generation_spans" && tc.stdin != nil) {
					continue
				}
				gv, _ := json.Marshal(got[k])
				wv, _ := json.Marshal(v)
				if !bytes.Equal(gv, wv) {
					t.Errorf("%s = %s, want %s", k, gv, wv)
				}
			}
		})
	}
}

func TestStatsText(t *testing.T) {
	code, out, errs := runCmd(t, nil, "stats", sample(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Format:", "go1.26", "Duration:", "Tasks:", "Regions:", "Logs:", "GC cycles:", "Stop-the-world:", "CPU samples:", "Incomplete:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text stats lack %q:\n%s", want, out)
		}
	}
}

// TestBadInput checks that every kind of bad input gets one clear error
// naming the input, exit status 1, and no panic.
func TestBadInput(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(data)
	for i := len(flipped) / 3; i < len(flipped); i += 97 {
		flipped[i] ^= 0xff
	}
	// A trace of two generations, damaged inside its second's events: the
	// error names that generation, not where the parser had read to.
	two, err := os.ReadFile(multiGeneration)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(two), int64(len(two)))
	if err != nil || len(idx.Generations) != 2 {
		t.Fatalf("%s: %v, %d generations", multiGeneration, err, len(idx.Generations))
	}
	gen2 := idx.Generations[1]
	var damaged []byte
	for o := gen2.Offset + 1; o+16 < gen2.Offset+gen2.Size && damaged == nil; o += 37 {
		// Bytes inside a batch, where the file's structure holds and
		// the parser fails.
		d := bytes.Clone(two)
		for i := o; i < o+16; i++ {
			d[i] = 0xff
		}
		if ix, err := tracefile.Read(bytes.NewReader(d), int64(len(d))); err != nil || len(ix.Generations) != 2 {
			continue
		}
		if _, err := mapping.Map(bytes.NewReader(d), mapping.NopSink{}); err != nil {
			damaged = d
		}
	}
	if damaged == nil {
		t.Fatal("no damage inside the second generation's batches breaks the trace")
	}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"empty", write("empty.trace", nil), []string{"empty.trace", "empty input"}},
		{"text", write("notes.txt", []byte("hello, this is not a trace\n")), []string{"notes.txt", "not a Go execution trace"}},
		{"unknown version", write("future.trace", []byte("go 1.99 trace\x00\x00\x00rest")), []string{"future.trace", "unsupported trace format version go 1.99"}},
		{"header only", write("header.trace", data[:16]), []string{"header.trace", "no events"}},
		// The sample is one generation: nothing of it is whole, and the
		// error says so, and where the file is cut.
		{"truncated", write("cut.trace", data[:len(data)*2/3]), []string{"cut.trace", "broken trace in generation 1 (from byte 16), at byte ",
			"runs past the end of the trace, which is cut short", "its first is not whole"}},
		{"concatenated", write("two.trace", append(bytes.Clone(data), data...)), []string{"two.trace",
			fmt.Sprintf("broken trace after generation 1, at byte %d, where another trace's header begins", len(data)), "in 1 complete generation"}},
		{"damaged second generation", write("damaged.trace", damaged), []string{"damaged.trace",
			fmt.Sprintf("broken trace in generation 2 (bytes %d to %d), after ", gen2.Offset, gen2.Offset+gen2.Size)}},
		{"flipped bytes", write("flipped.trace", flipped), []string{"flipped.trace", "broken trace"}},
		{"missing", filepath.Join(dir, "nope.trace"), []string{"nope.trace", "no such file"}},
		{"directory", dir, []string{"is a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCmd(t, nil, "stats", tc.file)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr %q", code, errs)
			}
			if !strings.HasPrefix(errs, "trace2x: ") || strings.Count(errs, "\n") != 1 {
				t.Errorf("want one line prefixed trace2x:, got %q", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q lacks %q", errs, w)
				}
			}
		})
	}
}

// TestEmptyInputName checks that an empty input name (an unset
// variable in a script) is a usage error that says so, not "open : no
// such file or directory".
func TestEmptyInputName(t *testing.T) {
	code, _, errs := runCmd(t, nil, "stats", "")
	if code != 2 || !strings.Contains(errs, "the input's name is empty") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestOldFormatCut checks that a trace of Go 1.21 or before cut short
// says why nothing of it is converted: the parser reads such a trace whole
// before it gives its first event.
func TestOldFormatCut(t *testing.T) {
	old := testtraces.OldFormat(t)[0]
	data, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:len(data)*9/10]
	code, _, errs := runCmd(t, cut, "stats")
	if code != 1 || !strings.Contains(errs, "stdin: broken trace") || !strings.Contains(errs, "read whole before its first event") {
		t.Errorf("exit %d, stderr %q: want an error saying why nothing was converted", code, errs)
	}
	// Where the parser stopped, the end of what it read, is not where
	// the fault is: the error does not pass it off as such.
	if want := fmt.Sprintf("broken trace within its %d bytes", len(cut)); !strings.Contains(errs, want) || strings.Contains(errs, "near byte") {
		t.Errorf("stderr %q: want %q", errs, want)
	}
}

// TestGoBrokenTraces converts the traces that Go's own parser tests expect
// to fail, into every output: each conversion fails with one line that
// names the input and gives the parser's reason, and the Perfetto file
// written is still a valid trace; a trace broken before its first event
// writes no file, and says so, a line for each.
func TestGoBrokenTraces(t *testing.T) {
	_, broken := testtraces.GoTests(t, filepath.Join("..", ".."))
	if len(broken) == 0 {
		t.Fatal("Go's parser tests hold no broken trace")
	}
	for _, b := range broken {
		for _, cmd := range [][]string{
			{"stats"},
			{"perfetto", "-o", "OUT"},
			{"chrome", "-o", "OUT"},
			{"pprof", "--kind=sched", "-o", "OUT"},
			{"convert", "--perfetto", "OUT.pftrace", "--chrome", "OUT.json", "--stats", "OUT.txt"},
		} {
			t.Run(filepath.Base(b.Path)+"/"+cmd[0], func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				var args []string
				for _, a := range cmd {
					args = append(args, strings.Replace(a, "OUT", out, 1))
				}
				args = append(args, b.Path)
				code, _, errs := runCmd(t, nil, args...)
				if code != 1 {
					t.Errorf("exit %d, want 1; stderr %q", code, errs)
				}
				first, rest, _ := strings.Cut(errs, "\n")
				nothing := !strings.Contains(first, ", after ") // not even one event
				if !strings.HasPrefix(first, "trace2x: "+b.Path+": broken trace") {
					t.Errorf("want a line naming the input and a broken trace, got %q", errs)
				}
				for _, line := range strings.Split(strings.TrimSuffix(rest, "\n"), "\n") {
					if line != "" && !(nothing && strings.HasPrefix(line, "trace2x: "+out) && strings.HasSuffix(line, " is not written")) {
						t.Errorf("want one line, and one for each output of a trace broken before its first event, got %q", errs)
						break
					}
				}
				if _, err := os.Stat(out); nothing && err == nil {
					t.Errorf("%s is written for a trace broken before its first event", out)
				}
				if !b.Err.MatchString(errs) {
					t.Errorf("error %q does not match Go's expectation %q", errs, b.Err)
				}
				if cmd[0] == "perfetto" && !nothing {
					f, err := os.Open(out)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if _, err := perfettocheck.Check(f); err != nil {
						t.Errorf("what was written is not a valid Perfetto trace: %v", err)
					}
				}
			})
		}
	}
}

// TestTruncatedStillSummarised checks that a trace broken off mid-way is
// summarised up to the break and the loss is reported.
func TestTruncatedStillSummarised(t *testing.T) {
	data, err := os.ReadFile(multiGeneration)
	if err != nil {
		t.Fatal(err)
	}
	_, full, _ := runCmd(t, data, "stats", "--json")
	whole := statsJSON(t, full)
	code, out, errs := runCmd(t, data[:len(data)*3/4], "stats", "--json")
	if code != 1 || !strings.Contains(errs, "stdin: broken trace") {
		t.Fatalf("exit %d, stderr %q; want 1 and a broken-trace error naming stdin", code, errs)
	}
	part := statsJSON(t, out)
	if part["error"] == nil || part["error"] == "" {
		t.Errorf("the JSON does not report the error: %s", out)
	}
	pe, we := part["events"].(float64), whole["events"].(float64)
	if pe <= 1 || pe >= we || part["generations"].(float64) != 1 {
		t.Errorf("truncated trace gave %v events in %v generations, want its first generation of the whole trace's %v events", pe, part["generations"], we)
	}
}

func TestUnwritableOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "no", "such", "dir", "s.txt")
	code, _, errs := runCmd(t, nil, "stats", "-o", out, sample(t))
	if code != 1 || !strings.Contains(errs, "s.txt") {
		t.Errorf("exit %d, stderr %q; want 1 and the output named", code, errs)
	}
}

// TestPerfetto checks the perfetto command end to end: a file, standard
// output, gzip output, and a broken trace that still leaves a valid file.
func TestPerfetto(t *testing.T) {
	dir := t.TempDir()
	check := func(t *testing.T, pf []byte) *perfettocheck.Report {
		t.Helper()
		rep, err := perfettocheck.Check(bytes.NewReader(pf))
		if err != nil {
			t.Fatalf("invalid Perfetto output: %v", err)
		}
		return rep
	}
	code, out, errs := runCmd(t, nil, "perfetto", sample(t))
	if code != 0 {
		t.Fatalf("perfetto to stdout: exit %d: %s", code, errs)
	}
	whole := check(t, []byte(out))
	if len(whole.Slices) == 0 {
		t.Fatal("no slices in the output")
	}

	gzPath := filepath.Join(dir, "t.pftrace.gz")
	if code, _, errs := runCmd(t, nil, "perfetto", "-o", gzPath, sample(t)); code != 0 {
		t.Fatalf("perfetto -o %s: exit %d: %s", gzPath, code, errs)
	}
	f, err := os.Open(gzPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("-o *.gz did not write gzip: %v", err)
	}
	unz, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unz, []byte(out)) {
		t.Error("the gzip output differs from the plain output")
	}

	// A broken trace: everything before the break is converted, the file is
	// valid, the error names the input, and the exit status is 1.
	big, err := os.ReadFile(multiGeneration)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pftrace")
	code, _, errs = runCmd(t, big[:len(big)*3/4], "perfetto", "-o", cut)
	if code != 1 || !strings.Contains(errs, "stdin: broken trace") {
		t.Fatalf("truncated input: exit %d, stderr %q", code, errs)
	}
	pf, err := os.ReadFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	if rep := check(t, pf); len(rep.Slices) == 0 {
		t.Error("nothing converted from the part before the break")
	}

	// A time the outputs cannot hold (nanoseconds since 1970 wrapped
	// around), or a process ID wider than Perfetto's 32 bits, is refused.
	for _, args := range [][]string{
		{"--start-time", "yesterday"},
		{"--start-time", "1900-01-01T00:00:00Z"},
		{"--start-time", "2300-01-01T00:00:00Z"},
		{"--pid", "99999999999"},
		{"--pid", "-1"},
		{"--pid", "0"},
	} {
		code, _, errs := runCmd(t, nil, append(append([]string{"perfetto", "-o", os.DevNull}, args...), sample(t))...)
		if code != 2 || !strings.Contains(errs, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errs)
		}
	}
}

// TestFullDisk checks that a write error (here /dev/full, a device that is
// always full) is reported once, with the output named, and exit status 1.
func TestFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	code, _, errs := runCmd(t, nil, "perfetto", "-o", "/dev/full", sample(t))
	if code != 1 || !strings.Contains(errs, "/dev/full") || !strings.Contains(errs, "no space left") || strings.Count(errs, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming /dev/full and the cause", code, errs)
	}
}

// TestFullDiskEveryFormat checks that every converter reports a full disk
// once, naming the output, also through gzip and the goroutine that feeds
// it, which both repeat the error they were given.
func TestFullDiskEveryFormat(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	gz := filepath.Join(t.TempDir(), "full.gz")
	if err := os.Symlink("/dev/full", gz); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"chrome", "-o", "/dev/full"},
		{"perfetto", "-o", "/dev/full"},
		{"stats", "-o", "/dev/full"},
		{"chrome", "-o", gz},
		{"perfetto", "-o", gz},
		{"otlp", "--json", "-o", gz},
		{"convert", "--perfetto", gz},
	} {
		code, _, errs := runCmd(t, nil, append(args, sample(t))...)
		out := args[len(args)-1]
		if code != 1 || strings.Count(errs, "no space left") != 1 || !strings.Contains(errs, out) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and the cause once, naming %s", args, code, errs, out)
		}
	}
}

// TestConvertMany checks that convert writes every output from one read
// of standard input, each equal to what its own command writes.
func TestConvertMany(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pf, cj, st, oj := filepath.Join(dir, "t.pftrace"), filepath.Join(dir, "t.json"), filepath.Join(dir, "s.json"), filepath.Join(dir, "spans.json")
	code, _, errs := runCmd(t, data, "convert", "--perfetto", pf, "--chrome", cj, "--stats", st, "--otlp-json", oj)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ojWant := filepath.Join(dir, "want-spans.json")
	if code, _, errs := runCmd(t, data, "otlp", "--json", "-o", ojWant); code != 0 {
		t.Fatalf("otlp --json: exit %d: %s", code, errs)
	}
	gotSpans, err := os.ReadFile(oj)
	if err != nil {
		t.Fatal(err)
	}
	wantSpans, err := os.ReadFile(ojWant)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotSpans) == 0 || !bytes.Equal(gotSpans, wantSpans) {
		t.Errorf("convert's OTLP JSON (%d bytes) differs from otlp --json's (%d bytes)", len(gotSpans), len(wantSpans))
	}
	for _, c := range []struct {
		file string
		args []string
	}{
		{pf, []string{"perfetto"}},
		{cj, []string{"chrome"}},
		{st, []string{"stats", "--json"}},
	} {
		got, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		code, want, errs := runCmd(t, data, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errs)
		}
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("convert's %s differs from what %v writes (%d bytes, want %d)", filepath.Base(c.file), c.args, len(got), len(want))
		}
	}
	if code, _, _ := runCmd(t, data, "convert"); code != 2 {
		t.Errorf("convert with no output: exit %d, want 2", code)
	}
}

// TestURLInput checks that a trace can be fetched over HTTP (as from
// /debug/pprof/trace) and that a failing server gets a clear error.
func TestURLInput(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/trace":
			if s := r.URL.Query().Get("seconds"); s != "1" && s != "2.5" {
				http.Error(w, "unexpected seconds="+s, http.StatusBadRequest)
				return
			}
			w.Write(data)
		case "/debug/pprof/":
			w.Write([]byte("<html>profiles</html>"))
		default:
			http.Error(w, "Could not enable tracing: tracing is already enabled", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	code, out, errs := runCmd(t, nil, "stats", "--json", srv.URL+"/debug/pprof/trace?seconds=1")
	if code != 0 {
		t.Fatalf("stats URL: exit %d: %s", code, errs)
	}
	got := statsJSON(t, out)
	if int64(got["bytes_read"].(float64)) != int64(len(data)) || got["events"].(float64) == 0 {
		t.Errorf("stats of the fetched trace: %s", out)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--seconds", "2.5", srv.URL+"/debug/pprof/trace?seconds=9"); code != 0 {
		t.Errorf("--seconds 2.5 did not replace the URL's seconds: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--seconds", "2", sample(t)); code != 2 || !strings.Contains(errs, "--seconds") {
		t.Errorf("--seconds with a file: exit %d, stderr %q; want a usage error", code, errs)
	}
	code, _, errs = runCmd(t, nil, "stats", srv.URL+"/busy")
	if code != 1 || !strings.Contains(errs, "500 Internal Server Error") || !strings.Contains(errs, "tracing is already enabled") {
		t.Errorf("failing server: exit %d, stderr %q; want 1 with the status and the server's message", code, errs)
	}
	code, _, errs = runCmd(t, nil, "stats", srv.URL+"/debug/pprof/")
	if code != 1 || !strings.Contains(errs, "not a Go execution trace") {
		t.Errorf("a page that is not a trace: exit %d, stderr %q", code, errs)
	}
}

// compressedPackets counts the packets of a Perfetto trace that hold
// others compressed.
func compressedPackets(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	for len(data) > 0 {
		num, typ, size := protowire.ConsumeTag(data)
		if size < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("not a packet at %d bytes from the end", len(data))
		}
		v, m := protowire.ConsumeBytes(data[size:])
		if m < 0 {
			t.Fatalf("a packet cut short")
		}
		var p pb.TracePacket
		if err := proto.Unmarshal(v, &p); err != nil {
			t.Fatal(err)
		}
		if p.GetCompressedPackets() != nil {
			n++
		}
		data = data[size+m:]
	}
	return n
}

// TestView checks that view serves the converted trace once, to
// ui.perfetto.dev, and exits when it has been fetched: plain from a small
// file, deflated from a stream, whose size it cannot know.
func TestView(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		arg   string
		stdin io.Reader
		plain bool
	}{{sample(t), nil, true}, {"-", bytes.NewReader(data), false}} {
		body, _ := viewOnce(t, c.stdin, c.arg)
		if _, err := perfettocheck.Check(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: the served trace is not valid: %v", c.arg, err)
		}
		if n := compressedPackets(t, body); (n == 0) != c.plain {
			t.Errorf("%s: the served trace has %d compressed packets; want it plain %v", c.arg, n, c.plain)
		}
	}
	// --index on what cannot be indexed says so, and serves it whole.
	if _, errs := viewOnce(t, bytes.NewReader(data), "--index", "-"); !strings.Contains(errs, "note: no index page: it needs a trace file") ||
		!strings.Contains(errs, "it is not read from a file") {
		t.Errorf("view --index of a stream: stderr %q does not say why there is no index page", errs)
	}
	if _, errs := viewOnce(t, nil, "--index", "--to", "5ms", sample(t)); !strings.Contains(errs, "what the filters keep is served") {
		t.Errorf("view --index with a window: stderr %q does not say the window is served", errs)
	}
	if code, _, _ := runCmd(t, nil, "view", "--addr", "192.0.2.1:9001", sample(t)); code != 2 {
		t.Errorf("view on a non-loopback address: exit %d, want 2", code)
	}
}

// viewOnce runs view with args, fetches the trace as ui.perfetto.dev
// would and returns it, and what view printed on standard error, once it
// has exited 0.
func viewOnce(t *testing.T, stdin io.Reader, args ...string) ([]byte, string) {
	t.Helper()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(append([]string{"view", "--addr", "127.0.0.1:0"}, args...), stdin, pw, &errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the link: %v (stderr %q)", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	link := strings.TrimSpace(line)
	const prefix = "https://ui.perfetto.dev/#!/?url="
	if !strings.HasPrefix(link, prefix) || !strings.HasSuffix(link, ".pftrace") {
		t.Fatalf("link %q, want %s<local URL>.pftrace", link, prefix)
	}
	// A page of another site is refused, and leaves the trace to the UI.
	req, _ := http.NewRequest(http.MethodGet, strings.TrimPrefix(link, prefix), nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET from another site: %s, want 403", resp.Status)
	}
	// Part of the trace does not use up the serve either.
	req, _ = http.NewRequest(http.MethodGet, strings.TrimPrefix(link, prefix), nil)
	req.Header.Set("Origin", "https://ui.perfetto.dev")
	req.Header.Set("Range", "bytes=0-9")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, strings.TrimPrefix(link, prefix), nil)
	req.Header.Set("Origin", "https://ui.perfetto.dev")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET after a range: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %v %v", resp.Status, err)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://ui.perfetto.dev" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	if c := <-code; c != 0 {
		t.Errorf("view exited %d after the fetch: %s", c, errb.String())
	}
	return body, errb.String()
}

// TestProgressLine checks the progress line's wording, and that nothing
// is shown when standard error is not a terminal.
func TestProgressLine(t *testing.T) {
	p := mapping.Progress{BytesRead: 25e6, Events: 3_500_000}
	if got, want := progressLine(p, 100e6, 2*time.Second), "trace2x: 25.0 MB of 100.0 MB (25%), 12.5 MB/s, 3.50 M events"; got != want {
		t.Errorf("progressLine = %q, want %q", got, want)
	}
	if got, want := progressLine(p, 0, 0), "trace2x: 25.0 MB, 3.50 M events"; got != want {
		t.Errorf("progressLine with unknown size = %q, want %q", got, want)
	}
	// The pass converts a generation it has read whole: the line follows
	// the conversion, not the read.
	p.Converted = 20e6
	if got, want := progressLine(p, 100e6, 2*time.Second), "trace2x: 20.0 MB of 100.0 MB (20%), 10.0 MB/s, 3.50 M events"; got != want {
		t.Errorf("progressLine while a generation read is converted = %q, want %q", got, want)
	}
	code, _, errs := runCmd(t, nil, "perfetto", "-o", filepath.Join(t.TempDir(), "t.pftrace"), sample(t))
	if code != 0 || errs != "" {
		t.Errorf("exit %d, stderr %q; want silence when stderr is not a terminal", code, errs)
	}
}

// TestCPUProfileCapture captures a trace from a real net/http/pprof server
// (this test process's own) with --cpu-profile, and checks that the trace
// has CPU samples, which the trace endpoint alone does not give.
func TestCPUProfileCapture(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	stop := make(chan struct{})
	defer close(stop)
	go func() { // something for the profiler to sample
		for x := 0; ; x++ {
			select {
			case <-stop:
				return
			default:
			}
			for i := range 100_000 {
				x ^= i * i
			}
		}
	}()
	code, out, errs := runCmd(t, nil, "stats", "--json", "--seconds", "1", "--cpu-profile", srv.URL+"/debug/pprof/trace")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := statsJSON(t, out)["cpu_samples"].(float64); n == 0 {
		t.Errorf("no CPU samples in a capture with --cpu-profile (stderr %q)", errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--cpu-profile", srv.URL+"/debug/pprof/heap"); code != 2 || !strings.Contains(errs, "/debug/pprof/trace") {
		t.Errorf("--cpu-profile with another URL: exit %d, stderr %q; want a usage error", code, errs)
	}
}

// TestStatsAnalysis checks the time analysis of the annotations sample
// against what its program does: four http.request tasks, each waiting on
// its three lookups, and main.main as one goroutine.
func TestStatsAnalysis(t *testing.T) {
	code, out, errs := runCmd(t, nil, "stats", "--json", sample(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		DurationNS      int64 `json:"duration_ns"`
		GoroutineGroups map[string]struct {
			Goroutines int   `json:"goroutines"`
			RunningNS  int64 `json:"running_ns"`
		} `json:"goroutine_groups"`
		TaskLatency map[string]struct {
			Count int `json:"count"`
		} `json:"task_latency"`
		RegionLatency map[string]struct {
			Count int   `json:"count"`
			MaxNS int64 `json:"max_ns"`
		} `json:"region_latency"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if g := r.GoroutineGroups["main.main"]; g.Goroutines != 1 || g.RunningNS <= 0 || g.RunningNS > r.DurationNS {
		t.Errorf("main.main group: %+v, want one goroutine that ran for part of %dns", g, r.DurationNS)
	}
	if n := r.TaskLatency["http.request"].Count; n != 4 {
		t.Errorf("%d http.request tasks in the latency table, want 4", n)
	}
	if l := r.RegionLatency["lookup"]; l.Count != 12 || l.MaxNS <= 0 || l.MaxNS > r.DurationNS {
		t.Errorf("lookup regions: %+v, want 12 within the trace", l)
	}
	code, text, _ := runCmd(t, nil, "stats", sample(t))
	for _, want := range []string{"Goroutines by start function", "Task latency", "Region latency", "http.request"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("text stats lack %q", want)
		}
	}
}

// TestLargeOutputNote checks that a file too large for the viewers in a
// browser comes with a note saying what to do instead, and that a small
// one does not.
func TestLargeOutputNote(t *testing.T) {
	dir := t.TempDir()
	pf, cj := filepath.Join(dir, "t.pftrace"), filepath.Join(dir, "t.json")
	for _, args := range [][]string{{"perfetto", "-o", pf}, {"chrome", "-o", cj}, {"convert", "--perfetto", pf, "--chrome", cj}} {
		if code, _, errs := runCmd(t, nil, append(args, sample(t))...); code != 0 || strings.Contains(errs, "note:") {
			t.Errorf("%v: exit %d, stderr %q; want 0 and no note", args, code, errs)
		}
	}
	defer func(p, c int64) { largePerfetto, largeChrome = p, c }(largePerfetto, largeChrome)
	largePerfetto, largeChrome = 10, 1<<10
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"perfetto", "-o", pf}, []string{"the Perfetto trace makes", "trace_processor --httpd", "trace2x view"}},
		{[]string{"chrome", "-o", cj}, []string{"the JSON is", "--split"}},
		{[]string{"convert", "--perfetto", pf, "--chrome", cj}, []string{"the Perfetto trace makes", "the JSON is"}},
	} {
		code, _, errs := runCmd(t, nil, append(c.args, sample(t))...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, code, errs)
		}
		for _, w := range c.want {
			if strings.Count(errs, w) != 1 {
				t.Errorf("%v: stderr %q; want %q once", c.args, errs, w)
			}
		}
	}
	// An output that is not written has nothing to note.
	if _, err := os.Stat("/dev/full"); err == nil {
		code, _, errs := runCmd(t, nil, "convert", "--perfetto", pf, "--chrome", "/dev/full", sample(t))
		if code != 1 || strings.Contains(errs, "the JSON is") {
			t.Errorf("convert to /dev/full: exit %d, stderr %q; want 1 and no note of the JSON's size", code, errs)
		}
	}
}

// TestPrintError checks that each error joined is a line of its own, with
// the prefix, and that an error's own line breaks (an HTTP error page an
// exporter quotes) do not split it, but for an internal error's stack.
func TestPrintError(t *testing.T) {
	page := errors.New("traces export: 401 Unauthorized (body: <html><body><h1>401 Unauthorized</h1>\n  <p>go  away</p>\n\n</body></html>)")
	full := errors.New("writing t.json: no space left on device")
	internal := fmt.Errorf("%w: boom\ngoroutine 1 [running]:", mapping.ErrInternal)
	var b strings.Builder
	printError(&b, errors.Join(page, errors.Join(full, internal)))
	want := "trace2x: traces export: 401 Unauthorized (body: <html><body><h1>401 Unauthorized</h1> <p>go  away</p> </body></html>)\n" +
		"trace2x: writing t.json: no space left on device\n" +
		"trace2x: " + internal.Error() + "\n"
	if b.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", b.String(), want)
	}
}

// TestViewAddressInUse checks that view on a taken address fails at once,
// saying what likely holds it, before converting anything.
func TestViewAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for what, args := range map[string][]string{"the trace": {"view", "-q", "--addr", addr}, "the index": {"view", "-q", "--index", "--addr", addr}} {
		code, _, errs := runCmd(t, nil, append(args, sample(t))...)
		if code != 1 || !strings.HasPrefix(errs, "trace2x: serving "+what+": "+addr+" is in use, perhaps by another trace2x view") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line saying the address is in use", args, code, errs)
		}
	}
}

// TestConvertOneOutputFails checks that an output of convert that fails
// (a full disk, here under the Chrome JSON, which fills its buffer early)
// is left out while the others are written whole: the trace may come from
// a pipe, which cannot be read again.
func TestConvertOneOutputFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	dir := t.TempDir()
	pf, st := filepath.Join(dir, "t.pftrace"), filepath.Join(dir, "t.stats.json")
	trace, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gc.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, trace, "convert", "-q", "--chrome", "/dev/full", "--perfetto", pf, "--stats", st, "-")
	if code != 1 || strings.Count(errs, "no space left") != 1 || !strings.Contains(errs, "/dev/full") {
		t.Errorf("exit %d, stderr %q; want 1 and the failure once, naming /dev/full", code, errs)
	}
	_, want, _ := runCmd(t, trace, "perfetto", "-q", "-o", "-", "-")
	if got, err := os.ReadFile(pf); err != nil || string(got) != want {
		t.Errorf("the Perfetto file beside the failed output is not what perfetto writes (%d bytes against %d; %v)", len(got), len(want), err)
	}
	if _, err := os.Stat(st); err != nil {
		t.Errorf("no stats beside the failed output: %v", err)
	}
}

// TestNoteUIPort checks that view warns of a port ui.perfetto.dev does not
// fetch from, and of no other.
func TestNoteUIPort(t *testing.T) {
	for port, want := range map[int]bool{9001: false, 9002: true, 8080: true} {
		var b strings.Builder
		noteUIPort(&b, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, perfettoUI)
		if got := strings.Contains(b.String(), "fetches local traces from 127.0.0.1:9001 only"); got != want {
			t.Errorf("port %d: note %q, want one: %v", port, b.String(), want)
		}
	}
}

// TestParallelFlag checks that --parallel gives the output of one parser
// and that it cannot be asked for with --sequential.
func TestParallelFlag(t *testing.T) {
	dir := t.TempDir()
	var outs []string
	for i, flag := range []string{"--parallel", "--sequential", "-q"} {
		out := filepath.Join(dir, fmt.Sprint(i))
		if code, _, errs := runCmd(t, nil, "perfetto", "-q", flag, "-o", out, sample(t)); code != 0 {
			t.Fatalf("perfetto %s: exit %d: %s", flag, code, errs)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(data))
	}
	if outs[0] != outs[1] || outs[0] != outs[2] {
		t.Error("--parallel, --sequential and the default gave different files")
	}
	// Said before the input is read: a URL's target is not asked for a
	// trace.
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1) }))
	defer srv.Close()
	code, _, errs := runCmd(t, nil, "stats", "--parallel", "--sequential", srv.URL+"/debug/pprof/trace")
	if code != 2 || !strings.Contains(errs, "--parallel and --sequential exclude each other") || asked.Load() != 0 {
		t.Errorf("--parallel --sequential: exit %d, %q, %d requests to the target; want a usage error and none", code, errs, asked.Load())
	}
}

// endless is a trace followed by zeros, 256 MB of them, counting what is
// read. The command reads standard input on a goroutine of its own, which
// may read on after it returns: the count is atomic.
type endless struct {
	head []byte
	n    atomic.Int64
}

func (r *endless) Read(p []byte) (int, error) {
	if r.n.Load() >= 256<<20 {
		return 0, io.EOF // without end to the test's patience
	}
	n := copy(p, r.head)
	r.head = r.head[n:]
	clear(p[n:])
	r.n.Add(int64(len(p)))
	return len(p), nil
}

// A filter that reads the trace twice copies a stream first; the copy
// stops where the trace breaks, or a stream that never ends (a trace,
// then /dev/zero) would fill the disk.
func TestPrepassStreamBreaks(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{{"--task", "1"}, {"--region", "x"}, {"--goroutine", "1", "--related"}} {
		in := &endless{head: data}
		var out, errb bytes.Buffer
		args := append(append([]string{"stats", "-q"}, flags...), "-")
		code := run(args, in, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "stdin: broken trace") {
			t.Errorf("%v: exit %d, %q; want 1 and the trace said broken", flags, code, errb.String())
		}
		if n := in.n.Load(); n > 64<<20 {
			t.Errorf("%v: %d MB of the stream read, want it stopped near its break", flags, n>>20)
		}
	}
}

// TestFirstGenerationUnindexed checks what a trace broken in its first
// generation is said to be where no index of its batches tells a cut from
// damage (standard input, --sequential): either, not "not whole", which
// reads as a cut.
func TestFirstGenerationUnindexed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "conformance", "testdata", "generations.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	// Damage the parser finds before it hands on an event (an invalid
	// varint in a batch): damage found later comes after events, which
	// are converted, and with no such words (TestFirstGenerationHint).
	damaged := bytes.Clone(data)
	damaged[507] ^= 0xff
	path := filepath.Join(t.TempDir(), "damaged.trace")
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, run := range []func() (int, string, string){
		func() (int, string, string) { return runCmd(t, damaged, "stats", "-") },
		func() (int, string, string) { return runCmd(t, nil, "stats", "--sequential", path) },
	} {
		code, _, errs := run()
		if code != 1 || !strings.Contains(errs, "its first is cut short or damaged") {
			t.Errorf("exit %d, stderr %q; want 1 and the first generation said cut short or damaged", code, errs)
		}
	}
	// With the index, the file's error says which.
	if code, _, errs := runCmd(t, nil, "stats", path); code != 1 || !strings.Contains(errs, "its first is damaged") {
		t.Errorf("exit %d, stderr %q; want 1 and the first generation said damaged", code, errs)
	}
}

// TestPackageDocListsCommands checks that the command's package doc, which
// go doc shows, lists every command with the line trace2x help gives it.
func TestPackageDocListsCommands(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	for _, c := range commands() {
		line := fmt.Sprintf("//\t%-9s %s\n", c.name, c.short)
		if !strings.Contains(doc, line) {
			t.Errorf("the package doc lacks %q", line)
		}
	}
}

// TestTypeText checks how a list of task or region types shows a type: as
// it is, or quoted when a terminal would not show it plainly or it would
// run into the list.
func TestTypeText(t *testing.T) {
	for in, want := range map[string]string{
		"http.request": "http.request",
		"":             "(no type)",
		"a, b":         `"a, b"`,
		"a;b":          `"a;b"`,
		"nul\x00":      `"nul\x00"`,
		"caf\xe9":      `"caf\xe9"`,
		"\u2028":       `"\u2028"`,
		" pad":         `" pad"`,
		"café":         "café",
	} {
		if got := typeText(in); got != want {
			t.Errorf("typeText(%q) = %s, want %s", in, got, want)
		}
	}
}
