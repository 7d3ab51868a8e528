package mapping_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// farthestRead records how far into a trace its data reads went: reads
// of more than a batch header's few bytes.
type farthestRead struct {
	r   *bytes.Reader
	mu  sync.Mutex
	end int64
}

func (f *farthestRead) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.r.ReadAt(p, off)
	if n > 64 {
		f.mu.Lock()
		f.end = max(f.end, off+int64(n))
		f.mu.Unlock()
	}
	return n, err
}

// joiner finds the goroutine that joins the long task late.
type joiner struct {
	mapping.NopSink
	g mapping.GoID
}

func (j *joiner) Log(l *mapping.Log) error {
	if l.Category == "join" {
		j.g = l.G
	}
	return nil
}

// TestPrepassFile: a task filter's first pass over a file with a window
// that ends reads up to the window's end and on only until the tasks
// open there have ended, and the pass after it keeps exactly what it
// keeps after a first pass over the whole trace: also a goroutine that
// waits through the window and takes part in the long task after it.
func TestPrepassFile(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.RecordLateJoin(&buf, 6); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	size := int64(len(data))
	idx, err := tracefile.Read(bytes.NewReader(data), size)
	if err != nil || len(idx.Generations) < 6 {
		t.Fatalf("%d generations, error %v", len(idx.Generations), err)
	}
	var j joiner
	if _, err := mapping.Map(bytes.NewReader(data), &j); err != nil || j.g == mapping.NoGoroutine {
		t.Fatalf("the goroutine that joins late: %v", err)
	}
	gens := idx.Generations
	at := func(k int) mapping.Bound {
		return mapping.Bound{Offset: time.Duration(gens[k].Start - gens[0].Start), Set: true}
	}
	window := func(f *mapping.Filter) string { return fmt.Sprintf("%v, to %s", f.Tasks, f.To) }
	for _, k := range []int{1, 2} {
		for _, sel := range []mapping.Filter{
			{Tasks: []string{"long"}},
			{Tasks: []string{"step"}},
			{Tasks: []string{"step"}, Goroutines: []mapping.GoID{j.g}},
		} {
			whole, bounded := sel, sel
			whole.To, bounded.To = at(k), at(k)
			var want, got callLog
			if _, err := mapping.Map(bytes.NewReader(data), whole.Prepass()); err != nil {
				t.Fatal(err)
			}
			if _, err := mapping.MapWindow(bytes.NewReader(data), size, whole.From, whole.To, whole.Sink(&want)); err != nil {
				t.Fatalf("%s: %v", window(&whole), err)
			}
			fr := &farthestRead{r: bytes.NewReader(data)}
			if err := bounded.PrepassFile(fr, size); err != nil {
				t.Fatalf("%s: %v", window(&bounded), err)
			}
			if _, err := mapping.MapWindow(bytes.NewReader(data), size, bounded.From, bounded.To, bounded.Sink(&got)); err != nil {
				t.Fatalf("%s: %v", window(&bounded), err)
			}
			if !slices.Equal(got.lines, want.lines) {
				t.Errorf("%s: %d items after a bounded first pass, %d after one over the whole trace", window(&bounded), len(got.lines), len(want.lines))
				for i := range min(len(got.lines), len(want.lines)) {
					if got.lines[i] != want.lines[i] {
						t.Errorf("first difference, item %d:\n got  %s\n want %s", i, got.lines[i], want.lines[i])
						break
					}
				}
			}
			// The long task is open to the end, so its first pass reads
			// the file to the end, as does one that selects goroutines
			// (a task they take part in is kept); the short ones have
			// ended a generation or so after the window's.
			if sel.Tasks[0] == "long" || len(sel.Goroutines) > 0 {
				if fr.end != size {
					t.Errorf("%s: the first pass read to byte %d of %d", window(&bounded), fr.end, size)
				}
				if sel.Tasks[0] == "long" && !slices.ContainsFunc(got.lines, func(l string) bool {
					return bytes.HasPrefix([]byte(l), []byte("GoroutineState ")) && bytes.Contains([]byte(l), []byte(fmt.Sprintf(`"G":%d,`, j.g)))
				}) {
					t.Errorf("%s: nothing kept of goroutine %d, which joins the task after the window", window(&bounded), j.g)
				}
			} else if lim := gens[k+3].Offset; fr.end > lim {
				t.Errorf("%s: the first pass read to byte %d, past generation %d's start (%d)", window(&bounded), fr.end, k+3, lim)
			}
		}
	}
}
