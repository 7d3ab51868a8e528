package main

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/templock"
)

// TestRemoveAbandoned: the converted traces that a killed view left in the
// temporary directory are removed at the next view's start once they are
// old enough, but not one that another view holds, a recent one, or
// another program's file.
func TestRemoveAbandoned(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no advisory file locks on windows")
	}
	dir := t.TempDir()
	mk := func(name string, age time.Duration) *os.File {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(f.Name(), at, at); err != nil {
			t.Fatal(err)
		}
		return f
	}
	mk("trace2x-left.pftrace", 2*abandonedAge).Close()
	held := mk("trace2x-held.pftrace", 2*abandonedAge)
	templock.Lock(held)
	defer held.Close()
	mk("trace2x-recent.pftrace", time.Minute).Close()
	mk("other.pftrace", 2*abandonedAge).Close()
	removeAbandoned(dir, time.Now().Add(-abandonedAge))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"other.pftrace", "trace2x-held.pftrace", "trace2x-recent.pftrace"}; !slices.Equal(names, want) {
		t.Errorf("left %q, want %q", names, want)
	}
}
