package main

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
)

// TestOutputIsInput checks that no output may replace the input trace,
// named as it is or through another path, or read from standard input;
// and that two outputs of convert may not be one file, where one would be
// lost. Devices take several.
func TestOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.trace")
	orig, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trace, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.trace")
	if err := os.Symlink(trace, link); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"perfetto", "-o", trace, trace},
		{"chrome", "-o", link, trace},
		{"stats", "-o", filepath.Join(dir, ".", "t.trace"), trace},
		{"pprof", "--kind=wall", "-o", trace, trace},
		{"otlp", "--json", "-o", trace, trace},
		{"convert", "--stats", trace, trace},
	} {
		code, _, errs := runCmd(t, nil, args...)
		if code != 2 || !strings.Contains(errs, "is the input trace, which it would replace") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errs)
		}
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stderr strings.Builder
	if code := run([]string{"chrome", "-o", trace, "-"}, f, new(strings.Builder), &stderr); code != 2 {
		t.Errorf("chrome -o the file on standard input: exit %d, stderr %q; want 2", code, stderr.String())
	}
	// trace2x chrome t.trace >> t.trace: the shell opened the input as
	// standard output.
	app, err := os.OpenFile(trace, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, args := range [][]string{{"chrome", trace}, {"stats", "-"}, {"convert", "--stats", "-", trace}} {
		stderr.Reset()
		if code := run(args, f, app, &stderr); code != 2 || !strings.Contains(stderr.String(), "standard output is the input trace") {
			t.Errorf("%v with standard output the input: exit %d, stderr %q; want a usage error", args, code, stderr.String())
		}
	}
	if got, _ := os.ReadFile(trace); !bytes.Equal(got, orig) {
		t.Fatal("the input trace was changed")
	}

	out := filepath.Join(dir, "out")
	code, _, errs := runCmd(t, nil, "convert", "--perfetto", out, "--chrome", filepath.Join(dir, "x", "..", "out"), sample(t))
	if code != 2 || !strings.Contains(errs, "two outputs are the file") {
		t.Errorf("convert to one file twice: exit %d, stderr %q; want a usage error", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("convert to one file twice wrote it")
	}
	if code, _, errs := runCmd(t, nil, "convert", "-q", "--perfetto", os.DevNull, "--chrome", os.DevNull, sample(t)); code != 0 {
		t.Errorf("convert to %s twice: exit %d: %s", os.DevNull, code, errs)
	}
}

// TestFailedOutputLeftAlone checks that an output whose writing fails
// (a full disk) does not replace the file it was to replace, leaves no
// temporary file, and says so, naming the file the user named.
func TestFailedOutputLeftAlone(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.json")
	if err := os.WriteFile(dest, []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, existed := range []bool{true, false} {
		name := dest
		if !existed {
			name = filepath.Join(dir, "new.json")
		}
		o, err := createOutput(&env{}, name, false)
		if err != nil {
			t.Fatal(err)
		}
		o.Write([]byte("part of a conversion"))
		o.f.Close() // the disk fails under the output
		err = o.Close()
		want := "is not written"
		if existed {
			want = "is left as it was"
		}
		if err == nil || !strings.Contains(err.Error(), "writing "+name+": ") || !strings.Contains(err.Error(), name+" "+want) || strings.Contains(err.Error(), ".tmp") {
			t.Errorf("existed %v: Close error %v; want it to name %s and say it %s", existed, err, name, want)
		}
		if got, err := os.ReadFile(name); existed && string(got) != "before" || !existed && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("existed %v: the destination holds %q (%v) after a failed output", existed, got, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestStalledURL checks that a target that stops sending fails the
// command with what came and how long it waited, instead of holding it
// for ever.
func TestStalledURL(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	code, _, errs := runCmd(t, nil, "stats", "--stall-timeout", "300ms", srv.URL+"/debug/pprof/trace")
	if code != 1 || !strings.Contains(errs, ": nothing received for 300ms after") || strings.Count(errs, srv.URL) != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and the stall, the URL said once", code, errs)
	}
	if code, _, errs := runCmd(t, nil, "stats", "--stall-timeout", "-1s", srv.URL); code != 2 || !strings.Contains(errs, "-1s is negative") {
		t.Errorf("a negative --stall-timeout: exit %d, stderr %q; want a usage error", code, errs)
	}
}

// TestSplitRemovesStaleParts checks that chrome --split removes the
// parts an earlier, longer conversion to the same name left after the
// new last part, and says so.
func TestSplitRemovesStaleParts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	for _, n := range []int{1, 2, 3, 7} {
		if err := os.WriteFile(partName(out, n), []byte(earlierPart), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errs := runCmd(t, nil, "chrome", "-q", "--split", "1M", "-o", out, sample(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if b, err := os.ReadFile(partName(out, 1)); err != nil || bytes.Equal(b, []byte(earlierPart)) {
		t.Fatalf("part 1 not written: %v", err)
	}
	for n, want := range map[int]bool{2: false, 3: false, 7: true} {
		if _, err := os.Stat(partName(out, n)); (err == nil) != want {
			t.Errorf("part %d there: %v, want %v", n, err == nil, want)
		}
	}
	if want := "removed " + partName(out, 2) + " to " + partName(out, 3) + ", parts of an earlier conversion to " + out; !strings.Contains(errs, want) {
		t.Errorf("stderr %q does not say %q", errs, want)
	}
}

// earlierPart stands for a part of an earlier conversion: Chrome trace
// JSON, which a split output takes for a part of its own name.
const earlierPart = `{"traceEvents":[{"ph":"i","name":"earlier","ts":0,"pid":1,"tid":1}]}`

// TestSplitFailedPart fails a part in the middle of a split output (a
// directory stands where its file would go): the parts of an earlier
// conversion are left as they were, as a single output leaves the file it
// was to replace, and the parts written before the failure are dropped.
func TestSplitFailedPart(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	for _, n := range []int{1, 4, 5} {
		if err := os.WriteFile(partName(out, n), []byte(earlierPart), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(partName(out, 3), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, nil, "chrome", "-q", "--split", "1M", "-o", out, filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace"))
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errs)
	}
	for n, want := range map[int]bool{1: true, 2: false, 4: true, 5: true} {
		b, err := os.ReadFile(partName(out, n))
		if (err == nil) != want || want && string(b) != earlierPart {
			t.Errorf("part %d there: %v, want %v, as it was", n, err == nil, want)
		}
	}
	for _, want := range []string{"no part of " + out + " is written; any parts there are left as they were", partName(out, 3) + ": is a directory"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q does not say %q", errs, want)
		}
	}
	if temps, _ := filepath.Glob(filepath.Join(dir, ".*")); len(temps) > 0 {
		t.Errorf("temporary files left: %q", temps)
	}
}

// TestSplitKeptNothing runs a split output through a filter that keeps
// nothing, over an earlier conversion's parts: they are left as they
// were. Through a filter that keeps something, the parts, held until the
// end, are put in place, and the earlier ones past them removed.
func TestSplitKeptNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	for n := 1; n <= 6; n++ {
		if err := os.WriteFile(partName(out, n), []byte(earlierPart), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trace := filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace")
	code, _, errs := runCmd(t, nil, "chrome", "-q", "--split", "1M", "--goroutine", "999999", "-o", out, trace)
	// The cause first, then what became of the parts.
	cause, said := strings.Index(errs, "the filters kept nothing"), strings.Index(errs, "no part of "+out+" is written; the parts there are left as they were")
	if code != 1 || cause < 0 || said < cause {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	for n := 1; n <= 6; n++ {
		if b, err := os.ReadFile(partName(out, n)); err != nil || string(b) != earlierPart {
			t.Errorf("part %d: %q, %v; want the earlier conversion's", n, b, err)
		}
	}
	if temps, _ := filepath.Glob(filepath.Join(dir, ".*")); len(temps) > 0 {
		t.Errorf("temporary files left: %q", temps)
	}
	code, _, errs = runCmd(t, nil, "chrome", "-q", "--split", "1M", "--from", "0s", "-o", out, trace)
	if code != 0 {
		t.Fatalf("a window of the whole trace: exit %d, %s", code, errs)
	}
	parts := 0
	for n := 1; n <= 6; n++ {
		b, err := os.ReadFile(partName(out, n))
		switch {
		case err == nil && string(b) == earlierPart:
			t.Errorf("part %d is still the earlier conversion's", n)
		case err == nil:
			parts++
			if _, err := chromecheck.Check(b); err != nil {
				t.Errorf("part %d: %v", n, err)
			}
		}
	}
	if parts < 2 || parts == 6 {
		t.Errorf("%d parts after a window of the whole trace, want several, and the earlier ones past them removed", parts)
	}
}

// TestSplitToDirectory checks that --split -o naming a directory is the
// error an output to a directory is, and writes no part beside it.
func TestSplitToDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, nil, "chrome", "-q", "--split", "1M", "-o", dir, sample(t))
	if code != 1 || !strings.Contains(errs, "is a directory") {
		t.Errorf("exit %d, stderr %q; want 1 and an error saying %s is a directory", code, errs, dir)
	}
	if left, _ := filepath.Glob(dir + ".*"); len(left) > 0 {
		t.Errorf("parts written beside the directory: %v", left)
	}
}

// TestSplitFirstPartFails fails the first part of a split output: no
// part is written, and an earlier conversion's parts are left as they
// were, as a failed output leaves the file it was to replace.
func TestSplitFirstPartFails(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	if err := os.Mkdir(partName(out, 1), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(partName(out, 2), []byte(earlierPart), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, nil, "chrome", "-q", "--split", "1M", "-o", out, filepath.Join("..", "..", "testdata", "iterpull.go1.26.trace"))
	if code != 1 || !strings.Contains(errs, "no part of "+out+" is written") {
		t.Errorf("exit %d, stderr %q; want 1 and that no part is written", code, errs)
	}
	if b, err := os.ReadFile(partName(out, 2)); err != nil || string(b) != earlierPart {
		t.Errorf("the earlier part 2 is %q (%v), want it left as it was", b, err)
	}
}

// TestBrokenAtStartLeftAlone checks that a trace that breaks off before
// its first event (cut inside its first generation) leaves the files it
// would have replaced as they were, as a filter that keeps nothing does:
// an empty conversion would pass for one of the trace. The error is the
// trace's, and each output says it is left.
func TestBrokenAtStartLeftAlone(t *testing.T) {
	data, err := os.ReadFile(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, data[:200], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		files []string
	}{
		{[]string{"perfetto", "-o", "OUT/t.pftrace"}, []string{"t.pftrace"}},
		{[]string{"chrome", "-o", "OUT/t.json"}, []string{"t.json"}},
		{[]string{"chrome", "--split", "1M", "-o", "OUT/p.json"}, []string{"p.1.json", "p.2.json"}},
		{[]string{"stats", "-o", "OUT/t.txt"}, []string{"t.txt"}},
		{[]string{"pprof", "--kind=sync", "-o", "OUT/t.pb.gz"}, []string{"t.pb.gz"}},
		{[]string{"otlp", "--json", "-o", "OUT/t.otlp.json"}, []string{"t.otlp.json"}},
	} {
		for _, f := range c.files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("before"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var args []string
		for _, a := range c.args {
			args = append(args, strings.Replace(a, "OUT", dir, 1))
		}
		code, _, errs := runCmd(t, nil, append(args, cut)...)
		if code != 1 || !strings.Contains(errs, "trace2x: "+cut+": broken trace") || !strings.Contains(errs, " left as ") {
			t.Errorf("%v: exit %d, stderr %q; want 1, the trace's error and the output left", c.args, code, errs)
		}
		for _, f := range c.files {
			if b, err := os.ReadFile(filepath.Join(dir, f)); string(b) != "before" {
				t.Errorf("%v: %s holds %.20q (%v), want it left as it was", c.args, f, b, err)
			}
		}
	}
}

// TestClosedOutputFreed: a closed output, which a split conversion holds
// until it settles its parts, keeps none of its buffers (a quarter MB
// each, and gzip's), refuses writes, and closes again as a no-op.
func TestClosedOutputFreed(t *testing.T) {
	e := &env{}
	for _, name := range []string{"t.json", "t.json.gz"} {
		o, err := createOutput(e, filepath.Join(t.TempDir(), name), false)
		if err != nil {
			t.Fatal(err)
		}
		o.hold = true
		if _, err := o.Write([]byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		if o.bw != nil || o.gz != nil || o.pipe != nil {
			t.Errorf("%s: closed and held, it keeps its buffers", name)
		}
		if _, err := o.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s: a write after Close: %v, want os.ErrClosed", name, err)
		}
		if err := o.Close(); err != nil {
			t.Errorf("%s: a second Close: %v", name, err)
		}
		o.discard()
	}
}

// TestFailedOutputFreesSpace checks that an output whose write fails
// gives back the space of what it had written at once, not at the end of
// the conversion: on a full disk, the outputs beside it go on.
func TestFailedOutputFreesSpace(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "t.json")
	o, err := createOutput(&env{}, dest, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := o.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(o.tmp); err != nil || st.Size() != 1<<20 {
		t.Fatalf("before the failure: %v, %v", st, err)
	}
	o.bw = bufio.NewWriterSize(errWriter{errors.New("no space left on device")}, 16)
	if _, err := o.Write(make([]byte, 64)); err == nil {
		t.Fatal("the write did not fail")
	}
	if st, err := os.Stat(o.tmp); err != nil || st.Size() != 0 {
		t.Errorf("after the failure the temporary file holds %d bytes (%v), want none", st.Size(), err)
	}
	if err := o.Close(); err == nil {
		t.Error("Close of a failed output: no error")
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed output was written: %v", err)
	}
}

// errWriter fails every write with err.
type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// TestOutputNotPlaced: an output that cannot be put in place at its end
// (a directory made at its name meanwhile) is an error naming the output,
// and leaves no hidden temporary file of its size behind.
func TestOutputNotPlaced(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.json")
	o, err := createOutput(&env{}, dest, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Write([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = o.Close()
	if err == nil || err.Error() != "writing "+dest+": a directory was made at its name meanwhile, so nothing was written" {
		t.Errorf("Close: %v; want an error naming %s alone", err, dest)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries in the directory, want the directory made there alone", len(entries))
	}
}
