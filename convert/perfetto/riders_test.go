package perfetto_test

import (
	"bytes"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestZeroRidesLast moves several counters at one instant, a zero among
// them: the trace processor reads every extra value after a zero on one
// event as zero, so each counter must keep its own value in what
// perfettocheck (which refuses a value after a zero) decodes.
func TestZeroRidesLast(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "riders", start)
	kinds := []mapping.CounterKind{mapping.CounterGoroutinesRunning, mapping.CounterGoroutinesRunnable, mapping.CounterGoroutinesWaiting, mapping.CounterGoroutinesSyscall}
	names := []string{"running", "runnable", "waiting", "syscall"}
	values := [][]uint64{{3, 0, 7, 2}, {0, 5, 0, 9}, {1, 1, 0, 0}}
	for i, vs := range values {
		at := start + mapping.Time(10*(i+1))
		for k, v := range vs {
			must(w.Counter(&mapping.Counter{Kind: kinds[k], Name: names[k], Unit: "count", Time: at, Value: v}))
		}
	}
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 100}))
	must(w.Close())
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]int64{}
	for uuid, vs := range rep.Counters {
		byName[rep.Tracks[uuid].Name] = vs
	}
	for k, name := range names {
		got := byName[name]
		if len(got) != len(values) {
			t.Errorf("%s: values %v, want %d", name, got, len(values))
			continue
		}
		for i, vs := range values {
			if got[i] != int64(vs[k]) {
				t.Errorf("%s: value %d is %d, want %d", name, i, got[i], vs[k])
			}
		}
	}
}
