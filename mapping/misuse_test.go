package mapping_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestRegionMisuseHint records, in this process, a trace of a program that
// ends a region twice while another is open, which Go's parser refuses:
// the error must blame the program, not a cut or damaged file.
func TestRegionMisuseHint(t *testing.T) {
	data, err := synth.RecordFunc(func() {
		ctx, task := trace.NewTask(context.Background(), "job")
		trace.WithRegion(ctx, "before", func() {})
		outer := trace.StartRegion(ctx, "outer")
		r := trace.StartRegion(ctx, "twice")
		r.End()
		r.End()
		outer.End()
		task.End()
	})
	if err != nil {
		t.Skip(err) // the test binary is traced already (go test -trace)
	}
	buf := bytes.NewBuffer(data)
	dir := t.TempDir()
	path := filepath.Join(dir, "misuse.trace")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = mapping.MapFile(f, int64(buf.Len()), mapping.NopSink{}, mapping.WithInputName("misuse.trace"))
	var me *mapping.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want a *mapping.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{"misuse of region", "the program ended a region that was not its goroutine's innermost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "not whole") || strings.Contains(msg, "damaged") {
		t.Errorf("error %q blames the file", msg)
	}
	if _, err := tracefile.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		t.Errorf("the file is whole, but its index fails: %v", err)
	}
}
