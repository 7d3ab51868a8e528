// Package testtraces lists the traces that the converters' tests run on:
// the sample corpus, the conformance harness's regression traces, and Go's
// own published old-format test traces, read from GOROOT where they are.
package testtraces

import (
	"os/exec"
	"path/filepath"
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
	dir, err := goroot()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "src", "internal", "trace", "internal", "tracev1", "testdata", "*_good"))
	if len(old) == 0 {
		tb.Fatalf("no Go test traces in %s", dir)
	}
	return append(files, old...)
}
