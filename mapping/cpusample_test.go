package mapping_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// sampleThreads records, for each CPU sample, whether it names a thread.
type sampleThreads struct {
	mapping.NopSink
	withP, withM int
	samples      int
}

func (s *sampleThreads) CPUSample(c *mapping.CPUSample) error {
	s.samples++
	if c.P != mapping.NoProc {
		s.withP++
		if c.M != mapping.NoThread {
			s.withM++
		}
	}
	return nil
}

// TestSampleThread checks that a CPU sample taken on a P names the thread
// that ran it, in the formats before Go 1.22 too, whose samples name no
// thread: an output draws a sample on its thread.
func TestSampleThread(t *testing.T) {
	paths := append(testtraces.OldFormat(t), filepath.Join("..", "testdata", "cpuprofile.go1.26.trace"))
	total := 0
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var s sampleThreads
		_, err = mapping.Map(f, &s)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		total += s.samples
		if s.withM != s.withP {
			t.Errorf("%s: %d of %d CPU samples taken on a P name a thread, want all", filepath.Base(path), s.withM, s.withP)
		}
	}
	if total == 0 {
		t.Fatal("no CPU samples in the traces read: the test checks nothing")
	}
}
