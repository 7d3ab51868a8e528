// Package collectortest gives tests the OpenTelemetry Collector that
// scripts/otelcol/build.sh builds from a manifest with the Collector's own
// builder, cached between runs.
package collectortest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Binary returns the path of the Collector built from manifest (a path
// under scripts/otelcol, relative to root, the repository's directory),
// building it if needed: a few minutes, once per change of the manifest.
// Under -short, outside CI, it only uses a binary built before.
//
// Where the Collector cannot be built (no network, no module proxy), the
// test is skipped, unless the environment variable CI is set: in CI it
// fails.
func Binary(t testing.TB, root, manifest string) string {
	t.Helper()
	_, ci := os.LookupEnv("CI")
	args := []string{filepath.Join(root, "scripts", "otelcol", "build.sh")}
	if testing.Short() && !ci {
		args = append(args, "--cached")
	}
	args = append(args, filepath.Join(root, manifest))
	var stderr bytes.Buffer
	cmd := exec.Command("bash", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("cannot build the OpenTelemetry Collector with scripts/otelcol/build.sh: %v\n%s", err, LastLines(stderr.String(), 15))
		if !ci {
			t.Skip(msg + "\n(with CI set in the environment, this is a failure)")
		}
		t.Fatal(msg)
	}
	return strings.TrimSpace(string(out))
}

// LastLines returns the last n lines of s, for a log in a failure message.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// FreeAddr returns a 127.0.0.1 address with a port free a moment ago, for
// a Collector's receiver or a program it scrapes.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
