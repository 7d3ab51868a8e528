package mapping_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// failFlow is a sink that fails at its first flow, as an output on a full
// disk does.
type failFlow struct{ mapping.NopSink }

var errDiskFull = errors.New("no space left on device")

func (failFlow) Flow(*mapping.Flow) error { return errDiskFull }

// TestBrokenTraceBesideFailedSink checks that a trace that breaks off is
// reported as broken even when a sink of FanOutIndependent failed before
// the break: the output that failed does not hide that the others were
// cut short.
func TestBrokenTraceBesideFailedSink(t *testing.T) {
	data, err := os.ReadFile("../testdata/frsubtasks.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:len(data)*3/4]
	var tally mapping.Tally
	sum, err := mapping.Map(bytes.NewReader(cut), mapping.FanOutIndependent(failFlow{}, &tally))
	var me *mapping.Error
	if !errors.As(err, &me) {
		t.Fatalf("Map of a trace cut short, beside a failed sink: %v; want a *mapping.Error", err)
	}
	if !errors.Is(err, errDiskFull) || strings.Count(err.Error(), errDiskFull.Error()) != 1 {
		t.Errorf("Map's error %q does not say once what the sink failed with", err)
	}
	if sum == nil || sum.Err == nil || len(tally.Flows) == 0 {
		t.Errorf("the pass's summary %+v, flows the other sink saw %v; want what came before the break", sum, tally.Flows)
	}
}
