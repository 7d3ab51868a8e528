package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
)

// TestDeepRegionsNote records, in this process, 600 regions nested in one
// another, and checks that perfetto says it left out those past depth
// 500.
func TestDeepRegionsNote(t *testing.T) {
	var nest func(ctx context.Context, d int)
	nest = func(ctx context.Context, d int) {
		if d > 0 {
			trace.WithRegion(ctx, "walk", func() { nest(ctx, d-1) })
		}
	}
	in := recordFile(t, func() { nest(context.Background(), 600) })
	code, _, errs := runCmd(t, nil, "perfetto", "-o", filepath.Join(filepath.Dir(in), "deep.pftrace"), in)
	if code != 0 || !strings.Contains(errs, "note: 100 regions nested deeper than 500 on their goroutine are left out") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// recordFile traces fn in this process into a file of the test's own
// and returns its path; the test is skipped if the process is traced
// already (go test -trace).
func recordFile(t *testing.T, fn func()) string {
	t.Helper()
	data, err := synth.RecordFunc(fn)
	if err != nil {
		t.Skip(err)
	}
	in := filepath.Join(t.TempDir(), "recorded.trace")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}
