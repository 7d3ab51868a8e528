package mapping

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/exp/trace"
)

// BenchmarkOpenRegions maps the state changes of a goroutine with many
// regions open (one begun per request and never ended, say) and of one
// with few: a state change should cost the same, however many are open.
// Compare the ns/change of the depths in one run (it counts the regions'
// begins and ends as well, a tenth of the work at the larger depth).
func BenchmarkOpenRegions(b *testing.B) {
	for _, depth := range []int{1, 10000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			var e synth
			on := onG(goMain, procA, thrA)
			evs := []trace.Event{
				e.sync(1000),
				e.procStatus(1001, onM(thrA), procA, trace.ProcRunning),
				e.goStatus(1002, onP(procA, thrA), goMain, trace.GoRunning, trace.NoStack),
			}
			ts := trace.Time(2000)
			for range depth {
				evs = append(evs, e.region(ts, trace.EventRegionBegin, on, stkRegion, trace.NoTask, "open"))
				ts++
			}
			const changes = 100000
			for range changes / 2 {
				evs = append(evs,
					e.goStop(ts, on, "yield", stkHandler),
					e.goStart(ts+1, onP(procA, thrA), goMain))
				ts += 2
			}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := smFeed(NopSink{}, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/changes, "ns/change")
		})
	}
}

// TestTaskInvolvedOnce: a task lists each goroutine that takes part in it
// once, in order of first appearance, however many there are (past a
// few, it keeps a set beside the list).
func TestTaskInvolvedOnce(t *testing.T) {
	var tk Task
	var want []GoID
	for round := range 3 {
		for g := GoID(1); g <= 3*involvedList; g++ {
			if round == 0 {
				want = append(want, g)
			}
			tk.involve(g)
			tk.involve(NoGoroutine)
		}
	}
	if !slices.Equal(tk.Goroutines, want) {
		t.Errorf("goroutines %v, want %v", tk.Goroutines, want)
	}
}
