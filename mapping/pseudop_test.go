package mapping_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/mapping"
)

// procRecorder records the Ps the items of a pass name.
type procRecorder struct {
	mapping.NopSink
	ps map[mapping.ProcID]bool
}

func (r *procRecorder) Proc(p *mapping.Proc) error {
	r.ps[p.ID] = true
	return nil
}

func (r *procRecorder) Flow(f *mapping.Flow) error {
	r.ps[f.From.P] = true
	return nil
}

func (r *procRecorder) Log(l *mapping.Log) error {
	r.ps[l.P] = true
	return nil
}

func (r *procRecorder) CPUSample(s *mapping.CPUSample) error {
	r.ps[s.P] = true
	return nil
}

// TestNoPseudoP checks that the pseudo-Ps of traces before Go 1.22 (the
// network poller's, the timers', numbered from 1000000) are not Ps: no
// P is declared for them and no item names one, as go tool trace draws
// their events on rows of their own, not as a processor's.
func TestNoPseudoP(t *testing.T) {
	named := 0
	for _, path := range testtraces.OldFormat(t) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := &procRecorder{ps: map[mapping.ProcID]bool{}}
		_, err = mapping.Map(f, r)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for p := range r.ps {
			if p != mapping.NoProc && p >= 1000000 {
				t.Errorf("%s: P%d is a pseudo-P of the old format", filepath.Base(path), p)
			}
		}
		named += len(r.ps)
	}
	if named == 0 {
		t.Fatal("no P named in the old traces: the test checks nothing")
	}
}
