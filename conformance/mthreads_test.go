package conformance

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestThreadsOneAtATime: an M is in one syscall at a time, so the
// model's syscalls that lost their P never overlap on an M, on every
// trace: the outputs draw them on the M's syscall row, where two at once
// would be drawn wrong (Perfetto pairs a row's ends with the wrong
// begins). A trace
// before Go 1.22 does not say which M a syscall is on (its parser names
// the M that last started the P, which the runtime can hand to another
// M without an event), so its blocked syscalls have none.
func TestThreadsOneAtATime(t *testing.T) {
	for _, file := range append(corpus(t), goTraces(t)...) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rec, sum := mapTrace(t, file, data)
			old := sum != nil && slices.Contains([]string{"go1.11", "go1.19", "go1.21"}, sum.FormatVersion)
			type span struct{ start, end mapping.Time }
			sys := map[mapping.ThreadID][]span{}
			for _, s := range rec.states {
				if s.State != mapping.GoSyscall || !s.Blocked || s.M == mapping.NoThread {
					continue
				}
				if old {
					t.Errorf("G%d's blocked syscall at %d is on M%d; a trace before Go 1.22 does not tell it", s.G, s.Start, s.M)
				}
				sys[s.M] = append(sys[s.M], span{s.Start, s.End})
			}
			for m, l := range sys {
				slices.SortFunc(l, func(a, b span) int { return int(a.start - b.start) })
				for i := 1; i < len(l); i++ {
					if l[i].start < l[i-1].end {
						t.Errorf("M%d is in two syscalls at once: [%d, %d] and [%d, %d]", m, l[i-1].start, l[i-1].end, l[i].start, l[i].end)
						break
					}
				}
			}
		})
	}
}
