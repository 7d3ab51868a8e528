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
