package mapping_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/mapping"
)

// TestProgressConverted: the progress of a file's pass says how much of it
// has been converted, which runs behind what the parser has read (it reads
// a generation whole before its first event) and grows with the events.
func TestProgressConverted(t *testing.T) {
	var rec bytes.Buffer
	if err := synth.RecordService(&rec, 2<<20); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service.trace")
	if err := os.WriteFile(path, rec.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reports []mapping.Progress
	if _, err := mapping.MapFile(f, int64(rec.Len()), mapping.NopSink{}, mapping.WithProgress(func(p mapping.Progress) {
		if !p.Done {
			reports = append(reports, p)
		}
	})); err != nil {
		t.Fatal(err)
	}
	if len(reports) < 2 {
		t.Fatalf("%d progress reports for %d bytes", len(reports), rec.Len())
	}
	behind := false
	for i, p := range reports {
		if p.Converted <= 0 || p.Converted > p.BytesRead || i > 0 && p.Converted < reports[i-1].Converted {
			t.Fatalf("report %d: converted %d, read %d (before: %+v)", i, p.Converted, p.BytesRead, reports[max(i-1, 0)])
		}
		// By how much depends on the generations' size, which depends
		// on the machine that recorded the trace.
		behind = behind || p.Converted < p.BytesRead
	}
	if !behind {
		t.Errorf("the bytes converted never ran behind those read: %+v", reports)
	}
}
