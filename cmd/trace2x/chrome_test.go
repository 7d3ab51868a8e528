package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
)

// runChrome runs the chrome command the way run does, without needing it
// in the command list.
func runChrome(t *testing.T, stdin []byte, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	fs := newFlagSet(chromeCmd, &errb)
	do := chromeCmd.setup(fs)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	err = do(&env{stdin: bytes.NewReader(stdin), stdout: &out, stderr: &errb}, rest)
	return out.String(), err
}

func TestChrome(t *testing.T) {
	path := sample(t)
	out, err := runChrome(t, nil, path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := chromecheck.Check([]byte(out))
	if err != nil {
		t.Fatalf("invalid output: %v", err)
	}
	if rep.Count("X", "region") == 0 || rep.Count("b", "task") == 0 {
		t.Error("no regions or tasks in the output of a trace with both")
	}

	// Standard input, and flags after the file, give the same.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if stdin, err := runChrome(t, data, "-"); err != nil || stdin != strings.Replace(out, `"input":"`+path+`"`, `"input":"stdin"`, 1) {
		t.Errorf("from stdin: %v, output differs", err)
	}

	dir := t.TempDir()
	gz := filepath.Join(dir, "t.json.gz")
	if _, err := runChrome(t, nil, path, "-o", gz, "--pretty"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	pretty, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := chromecheck.Check(pretty)
	if err != nil || len(prep.Events) != len(rep.Events) || !bytes.Contains(pretty, []byte("\n    \"ph\"")) {
		t.Errorf("--pretty .gz: %v, %d events, want %d, indented", err, len(prep.Events), len(rep.Events))
	}
}

func TestChromeSplit(t *testing.T) {
	dir := t.TempDir()
	// Indented, with every counter change, the largest sample needs a few
	// parts of the smallest size.
	path := filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace")
	if _, err := runChrome(t, nil, "--split", "1M", "--pretty", "--counter-resolution", "0", "-o", filepath.Join(dir, "t.json"), path); err != nil {
		t.Fatal(err)
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(parts) < 2 {
		t.Fatalf("parts %q, want several", parts)
	}
	for i := range parts {
		name := filepath.Join(dir, "t."+string(rune('1'+i))+".json")
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromecheck.Check(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(data) > 1<<20+64<<10 {
			t.Errorf("%s has %d bytes", name, len(data))
		}
	}
}

func TestChromeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--split", "1M", "x.trace"},
		{"--split", "100", "-o", "t.json", "x.trace"},
		{"--split", "lots", "-o", "t.json", "x.trace"},
		{"a", "b"},
	} {
		_, err := runChrome(t, nil, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, err := runChrome(t, []byte("not a trace"), "-"); err == nil {
		t.Error("no error for input that is not a trace")
	}
}

func TestSizeAndPartName(t *testing.T) {
	for in, want := range map[string]int64{"1M": 1 << 20, "200MB": 200 << 20, "2GiB": 2 << 30, "1048576": 1 << 20, "4096k": 4 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"t.json": "t.3.json", "out/t.json.gz": "out/t.3.json.gz", "t": "t.3"} {
		if got := partName(in, 3); got != want {
			t.Errorf("partName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestChromeSplitFailed: a split conversion that cannot write one of its
// parts (a full disk) leaves an earlier conversion's parts as they were,
// all of them, as a single output leaves the file it was to replace.
func TestChromeSplitFailed(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "t.json")
	earlier := map[string]string{}
	for _, n := range []string{"1", "3", "4"} {
		p := filepath.Join(dir, "t."+n+".json")
		earlier[p] = `{"traceEvents":[{"ph":"i","name":"earlier part ` + n + `","ts":0,"pid":1,"tid":1}]}`
		if err := os.WriteFile(p, []byte(earlier[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The second part cannot be written.
	if err := os.Symlink("/dev/full", filepath.Join(dir, "t.2.json")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace")
	code, _, errs := runCmd(t, nil, "chrome", "--split", "1M", "--pretty", "--counter-resolution", "0", "-o", out, path)
	if code != 1 || !strings.Contains(errs, "no space left") {
		t.Errorf("exit %d, stderr %q; want 1 and the failed write", code, errs)
	}
	for p, want := range earlier {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s: %v, %.60q; want the earlier conversion's part as it was", p, err, got)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestChromeSplitKeepsOthers: the parts of a split output never replace
// the input trace, and a file of a part's name that is not Chrome trace
// JSON is not taken for an earlier conversion's part and removed.
func TestChromeSplitKeepsOthers(t *testing.T) {
	dir := t.TempDir()
	sampleData, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mixed.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "run.2.json")
	if err := os.WriteFile(in, sampleData, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, nil, "chrome", "--split", "1M", "-o", filepath.Join(dir, "run.json"), in)
	if got, _ := os.ReadFile(in); code != 2 || !bytes.Equal(got, sampleData) || !strings.Contains(errs, "input trace") {
		t.Errorf("a part named as the input: exit %d, stderr %q, input kept: %v; want 2, said, and the input as it was", code, errs, bytes.Equal(got, sampleData))
	}
	// The sample makes one part; an earlier conversion made four, and the
	// user keeps notes under the third's name.
	out := filepath.Join(dir, "t.json")
	for _, n := range []int{2, 4} {
		if err := os.WriteFile(partName(out, n), []byte(earlierPart), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	notes := partName(out, 3)
	if err := os.WriteFile(notes, []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCmd(t, nil, "chrome", "--split", "1M", "-o", out, in)
	if got, err := os.ReadFile(notes); code != 0 || err != nil || string(got) != "notes\n" || !strings.Contains(errs, "not Chrome trace JSON") {
		t.Errorf("exit %d, stderr %q, %s: %v %q; want 0, the file kept, and said", code, errs, notes, err, got)
	}
	if want := "removed " + partName(out, 2) + ", " + partName(out, 4) + ", parts of an earlier conversion"; !strings.Contains(errs, want) {
		t.Errorf("stderr %q does not say %q", errs, want)
	}
}
