package perfetto_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestRowLimit converts samples with row limits below and above the rows
// their traces make. Below, the pass stops with ErrRowLimit, just past the
// limit, and the file is a valid trace of the first part: every flow has
// both ends (those to runs and regions whose goroutine or task was never
// delivered too), and its slices are the whole trace's, ending no later.
// At or above, the output is the same as without a limit.
func TestRowLimit(t *testing.T) {
	for _, name := range []string{"blocking.go1.26.trace", "annotations.go1.26.trace", "mixed.go1.26.trace", "frsubtasks.go1.26.trace"} {
		t.Run(name, func(t *testing.T) { testRowLimit(t, filepath.Join("..", "..", "testdata", name)) })
	}
}

func testRowLimit(t *testing.T, path string) {
	convert := func(opts ...perfetto.Option) ([]byte, *perfetto.Writer, error) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var buf bytes.Buffer
		w := perfetto.NewWriter(&buf, append(opts, perfetto.WithCompression(false))...)
		_, err = mapping.Map(f, mapping.Async(w))
		return buf.Bytes(), w, err
	}
	whole, ww, err := convert()
	if err != nil {
		t.Fatal(err)
	}
	all, err := perfettocheck.Check(bytes.NewReader(whole))
	if err != nil {
		t.Fatal(err)
	}
	rows := ww.Rows()
	if rows < 500 {
		t.Fatalf("the sample makes only %d rows", rows)
	}
	last := func(r *perfettocheck.Report) uint64 {
		var end uint64
		for _, s := range r.Slices {
			end = max(end, s.End)
		}
		return end
	}
	ends := map[[2]uint64][]uint64{} // the ends of the slices, by track and start
	for _, s := range all.Slices {
		k := [2]uint64{s.Track, s.Start}
		ends[k] = append(ends[k], s.End)
	}

	for _, limit := range []int64{rows / 10, rows / 3, rows / 2, rows * 9 / 10} {
		out, w, err := convert(perfetto.WithRowLimit(limit))
		if !errors.Is(err, perfetto.ErrRowLimit) {
			t.Fatalf("limit %d of %d rows: error %v, want ErrRowLimit", limit, rows, err)
		}
		if got := w.Rows(); got <= limit || got > limit+limit/10+100 {
			t.Errorf("limit %d: %d rows written", limit, got)
		}
		cut, err := perfettocheck.Check(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("limit %d: the file cut at the limit is not valid: %v", limit, err)
		}
		// The cut is marked where it is, after everything else.
		marks := 0
		for _, in := range cut.Instants {
			if in.Name == "cut here: the row limit" && in.Args["row limit"] == limit {
				marks++
				if end := last(cut); in.Time < end-end/100 {
					t.Errorf("limit %d: the cut is marked at %d, slices go on to %d", limit, in.Time, end)
				}
			}
		}
		if marks != 1 {
			t.Errorf("limit %d: %d marks of the cut", limit, marks)
		}
		if len(cut.Slices) == 0 || len(cut.Slices) >= len(all.Slices) || last(cut) > last(all) {
			t.Errorf("limit %d: %d slices ending at %d; the whole trace has %d ending at %d",
				limit, len(cut.Slices), last(cut), len(all.Slices), last(all))
		}
		// The lifetimes of the goroutines alive at the cut end there, and
		// a run that the whole trace goes on after a syscall that kept
		// its P ends before it, on its goroutine's lane and its P's
		// track; every other slice is one of the whole trace's.
		for _, s := range cut.Slices {
			found := false
			for _, end := range ends[[2]uint64{s.Track, s.Start}] {
				found = found || end == s.End || s.End < end && (s.Category == "lifetime" || s.Category == "proc" || s.Name == "running")
			}
			if !found {
				t.Errorf("limit %d: slice %q from %d to %d is not in the whole trace", limit, s.Name, s.Start, s.End)
				break
			}
		}
	}

	for _, limit := range []int64{rows, 2 * rows} {
		out, _, err := convert(perfetto.WithRowLimit(limit))
		if err != nil || !bytes.Equal(out, whole) {
			t.Errorf("limit %d of %d rows: error %v, output the same: %v", limit, rows, err, bytes.Equal(out, whole))
		}
	}
}

// FuzzRowLimit converts arbitrary input, cut and corrupted traces
// included, whole and then with a row limit below what the whole makes:
// the file cut at the limit must be as valid as the whole one.
func FuzzRowLimit(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.trace"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 16<<10)], uint16(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, share uint16) {
		convert := func(opts ...perfetto.Option) ([]byte, *perfetto.Writer, error) {
			var buf bytes.Buffer
			w := perfetto.NewWriter(&buf, opts...)
			_, err := mapping.Map(bytes.NewReader(data), mapping.Async(mapping.ThinCounters(w, mapping.DefaultCounterResolution)))
			if err != nil {
				w.Close() // one never begun is closed here
			}
			return buf.Bytes(), w, err
		}
		whole, w, err := convert()
		if err != nil && len(whole) == 0 {
			return // not a trace
		}
		if _, cerr := perfettocheck.Check(bytes.NewReader(whole)); cerr != nil {
			t.Fatalf("the whole conversion (error %v) is not valid: %v", err, cerr)
		}
		limit := w.Rows() * int64(share%1000) / 1000
		if limit == 0 {
			return
		}
		cut, _, err := convert(perfetto.WithRowLimit(limit))
		if _, cerr := perfettocheck.Check(bytes.NewReader(cut)); cerr != nil {
			t.Errorf("cut at %d of %d rows (error %v): not valid: %v", limit, w.Rows(), err, cerr)
		}
	})
}
