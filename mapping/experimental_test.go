package mapping_test

import (
	"os"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestExperimentalEvents checks that the events of a runtime experiment
// are counted always and delivered, with their arguments, only on request.
func TestExperimentalEvents(t *testing.T) {
	run := func(opts ...mapping.Option) (*mapping.Summary, *mapping.Tally, int) {
		f, err := os.Open("../testdata/allocfree.go1.26.trace")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tally := &mapping.Tally{}
		args := &argCounter{}
		sum, err := mapping.Map(f, mapping.FanOut(tally, args), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return sum, tally, args.n
	}
	sum, tally, _ := run()
	n := sum.EventsByKind["Experimental"]
	if n == 0 {
		t.Fatal("the allocfree sample has no experimental events")
	}
	if len(tally.Experiments) != 0 {
		t.Errorf("experimental events delivered without WithExperimentalEvents: %v", tally.Experiments)
	}
	if got := sum.ExpEvents; len(got) != 1 || got["AllocFree"] != n {
		t.Errorf("ExpEvents = %v without WithExperimentalEvents, want all %d events as AllocFree", got, n)
	}
	sum, tally, args := run(mapping.WithExperimentalEvents())
	if got := tally.Experiments["AllocFree"]; int64(got) != n {
		t.Errorf("%d AllocFree events delivered, want all %d", got, n)
	}
	if got := sum.ExpEvents; len(got) != 1 || got["AllocFree"] != n {
		t.Errorf("ExpEvents = %v with WithExperimentalEvents, want all %d events as AllocFree", got, n)
	}
	if args == 0 {
		t.Error("no experimental event carried an argument")
	}
}

type argCounter struct {
	mapping.NopSink
	n int
}

func (a *argCounter) Experimental(e *mapping.Experimental) error {
	a.n += len(e.Args)
	return nil
}
