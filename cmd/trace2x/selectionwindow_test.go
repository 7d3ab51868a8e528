package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	rtrace "runtime/trace"
	"strings"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestSelectionWindowOfFile selects a task of a file of several
// generations, which takes the time of that task as its window (see
// mapping.Filter.Window): the command still reads the whole file, so the
// task joins the distributed trace its parent's traceparent, logged
// generations before, names, and a break after the window is reported.
func TestSelectionWindowOfFile(t *testing.T) {
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Skipf("cannot trace: %v", err)
	}
	newGen := func() {
		// A flight recorder's start and stop begin a new generation.
		fr := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{})
		if err := fr.Start(); err != nil {
			t.Fatal(err)
		}
		fr.Stop()
		time.Sleep(time.Millisecond)
	}
	ctx, req := rtrace.NewTask(context.Background(), "request")
	rtrace.Log(ctx, mapping.CategoryTraceparent, "00-"+traceID+"-b7ad6b7169203331-01")
	for range 3 {
		newGen()
	}
	_, db := rtrace.NewTask(ctx, "db")
	time.Sleep(time.Millisecond)
	db.End()
	req.End()
	for range 3 {
		newGen()
	}
	rtrace.Stop()
	data := buf.Bytes()
	dir := t.TempDir()
	path := filepath.Join(dir, "t.trace")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCmd(t, nil, "stats", "--json", "--task", "db", path)
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, stderr)
	}
	if start, _ := statsJSON(t, stdout)["start_ns"].(float64); start == 0 {
		t.Fatalf("stats --task db: start_ns 0, the test needs a window that begins after the traceparent")
	}
	out := filepath.Join(dir, "spans.json")
	if code, _, stderr := runCmd(t, nil, "otlp", "--json", "--task", "db", "-o", out, path); code != 0 {
		t.Fatalf("otlp: exit %d: %s", code, stderr)
	}
	spans, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(spans, []byte(traceID)) {
		t.Errorf("otlp --task db: the spans are not in the distributed trace %s the request's traceparent names", traceID)
	}

	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	last := idx.Generations[len(idx.Generations)-2]
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, data[:last.Offset+last.Size/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, nil, "stats", "--task", "db", cut)
	if code == 0 || !strings.Contains(stderr, "generation") {
		t.Errorf("stats --task db of a trace cut after the task's window: exit %d, %q; want the break reported", code, stderr)
	}
}
