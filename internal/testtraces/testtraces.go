// Package testtraces lists the traces that the converters' tests run on:
// the sample corpus, the conformance harness's regression traces, and Go's
// own test traces, read from GOROOT where they are: the old-format traces
// of Go 1.11 to 1.21, and the parser tests of the formats since Go 1.22.
package testtraces

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// goroot asks the go command for GOROOT: go test puts the toolchain
// running the tests first on PATH.
var goroot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	return strings.TrimSpace(string(out)), err
})

// GOROOT returns the GOROOT of the go command running the tests, or
// fails tb.
func GOROOT(tb testing.TB) string {
	tb.Helper()
	dir, err := goroot()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	return dir
}

// All returns every test trace. root is the path from the calling
// package's directory to the repository's root. It fails tb if the corpus
// or Go's traces are missing.
func All(tb testing.TB, root string) []string {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "*.trace"))
	if len(files) == 0 {
		tb.Fatal("no sample traces in testdata (make testdata records them)")
	}
	regress, _ := filepath.Glob(filepath.Join(root, "conformance", "testdata", "*.trace"))
	files = append(files, regress...)
	good, _ := GoTests(tb, root)
	return append(append(files, OldFormat(tb)...), good...)
}

// OldFormat returns Go's own traces in the formats of Go 1.11 to 1.21,
// from GOROOT. It fails tb if there are none.
func OldFormat(tb testing.TB) []string {
	tb.Helper()
	dir, err := goroot()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "src", "internal", "trace", "internal", "tracev1", "testdata", "*_good"))
	if len(old) == 0 {
		tb.Fatalf("no Go test traces in %s", dir)
	}
	return old
}

// goTestsDir names the directory GoTests writes its traces in.
const goTestsDir = "go-parser-tests"

// IsGoTest reports whether path is one of the traces GoTests returns.
// Written by hand, they need not be what the runtime writes: a generation
// may leave out a P that the one before it listed, where the runtime
// restates every P and goroutine in every generation.
func IsGoTest(path string) bool {
	return filepath.Base(filepath.Dir(path)) == goTestsDir
}

// Broken is a trace that Go's parser tests expect to fail, and the error
// they expect.
type Broken struct {
	Path string
	Err  *regexp.Regexp
}

// GoTests returns Go's own trace parser tests in the formats since Go
// 1.22 (GOROOT/src/internal/trace/testdata/tests): small traces, written
// by hand, of the cases the parser's state machine must get right, such
// as a proc stolen from a syscall across a generation boundary. Go keeps
// them as text; GoTests writes them as binary traces in a directory of
// tb's, with x/exp/trace's own text reader and binary writer (see
// testdata/gotext), and returns those that Go expects to parse and those
// it expects to fail. root is the path from the calling package's
// directory to the repository's root.
func GoTests(tb testing.TB, root string) (good []string, broken []Broken) {
	tb.Helper()
	dir, err := goroot()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	tests, _ := filepath.Glob(filepath.Join(dir, "src", "internal", "trace", "testdata", "tests", "*.test"))
	if len(tests) == 0 {
		tb.Fatalf("no Go trace tests in %s", dir)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		tb.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*golang\.org/x/exp (v\S+)`).FindSubmatch(mod)
	if m == nil {
		tb.Fatal("go.mod does not require golang.org/x/exp")
	}
	// The helper's module path puts it under golang.org/x/exp/trace, so
	// that it may import that module's internal packages; it uses the
	// version trace2x is built with, and this module's go.sum.
	src := tb.TempDir()
	gomod := fmt.Sprintf("module golang.org/x/exp/trace/trace2xgotext\n\ngo 1.23\n\nrequire golang.org/x/exp %s\n", m[1])
	for name, from := range map[string]string{"main.go": filepath.Join(root, "internal", "testtraces", "testdata", "gotext", "main.go"), "go.sum": filepath.Join(root, "go.sum")} {
		b, err := os.ReadFile(from)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(tb.TempDir(), goTestsDir)
	if err := os.Mkdir(out, 0o755); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"run", ".", out}, tests...)...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("writing Go's trace tests as binary traces: %v\n%s", err, b)
	}
	for _, test := range tests {
		base := filepath.Join(out, strings.TrimSuffix(filepath.Base(test), ".test"))
		expect, err := os.ReadFile(base + ".expect")
		if err != nil {
			tb.Fatal(err)
		}
		switch e := strings.TrimSpace(string(expect)); {
		case e == "SUCCESS":
			good = append(good, base+".trace")
		case strings.HasPrefix(e, "FAILURE "):
			q, err := strconv.Unquote(strings.TrimPrefix(e, "FAILURE "))
			if err != nil {
				tb.Fatalf("%s: expectation %q: %v", test, e, err)
			}
			re, err := regexp.Compile(q)
			if err != nil {
				tb.Fatalf("%s: expectation %q: %v", test, e, err)
			}
			broken = append(broken, Broken{base + ".trace", re})
		default:
			tb.Fatalf("%s: unknown expectation %q", test, e)
		}
	}
	return good, broken
}

// GoFuzzInputs returns the inputs that Go keeps for its trace reader's
// fuzz test (GOROOT/src/internal/trace/testdata/fuzz/FuzzReader): traces
// that once broke the parser, for fuzz tests to start from.
func GoFuzzInputs(tb testing.TB) [][]byte {
	tb.Helper()
	dir, err := goroot()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "src", "internal", "trace", "testdata", "fuzz", "FuzzReader", "*"))
	if len(files) == 0 {
		tb.Fatalf("no fuzz inputs for Go's trace reader in %s", dir)
	}
	var inputs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		// The file is "go test fuzz v1" and a line []byte("...").
		_, v, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
		lit, ok2 := strings.CutPrefix(strings.TrimSpace(v), "[]byte(")
		lit, ok3 := strings.CutSuffix(lit, ")")
		s, err := strconv.Unquote(lit)
		if !ok || !ok2 || !ok3 || err != nil {
			tb.Fatalf("%s: not a []byte fuzz input", f)
		}
		inputs = append(inputs, []byte(s))
	}
	return inputs
}
