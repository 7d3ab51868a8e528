package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"
)

// TestDeepRegionsNote records, in this process, 600 regions nested in one
// another, and checks that perfetto says it left out those past depth
// 500.
func TestDeepRegionsNote(t *testing.T) {
	if trace.IsEnabled() {
		t.Skip("the test binary is being traced already (go test -trace)")
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	var nest func(ctx context.Context, d int)
	nest = func(ctx context.Context, d int) {
		if d == 0 {
			return
		}
		trace.WithRegion(ctx, "walk", func() { nest(ctx, d-1) })
	}
	nest(context.Background(), 600)
	trace.Stop()
	dir := t.TempDir()
	in := filepath.Join(dir, "deep.trace")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, nil, "perfetto", "-o", filepath.Join(dir, "deep.pftrace"), in)
	if code != 0 || !strings.Contains(errs, "note: 100 regions nested deeper than 500 on their goroutine are left out") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
