package perfetto_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestCutRunMarked checks that a run cut by the trace's start or end is
// marked so on the P's track too, not only on its goroutine's: there it
// would pass for a short run of its own.
func TestCutRunMarked(t *testing.T) {
	const start = mapping.Time(1000)
	var out bytes.Buffer
	w, must := begun(t, &out, "cut runs", start)
	must(w.Proc(&mapping.Proc{ID: 0}))
	must(w.Thread(&mapping.Thread{ID: 1}))
	must(w.Goroutine(&mapping.Goroutine{ID: 2, StartFunc: "main.worker", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	state := func(st mapping.GoState, from, to mapping.Time, fl mapping.Flags) {
		s := mapping.GoroutineState{G: 2, State: st, Start: from, End: to, P: mapping.NoProc, M: mapping.NoThread, Flags: fl}
		if st == mapping.GoRunning {
			s.P, s.M = 0, 1
		}
		must(w.GoroutineState(&s))
	}
	state(mapping.GoRunning, 1000, 2000, mapping.OpenStart)
	state(mapping.GoRunnable, 2000, 3000, 0)
	state(mapping.GoRunning, 3000, 4000, 0)
	state(mapping.GoRunnable, 4000, 5000, 0)
	state(mapping.GoRunning, 5000, 9000, mapping.OpenEnd)
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 9000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Slices {
		if s.Category == "proc" {
			mark := "-"
			if s.Args["began before the trace"] == true {
				mark = "began before"
			}
			if s.Args["open at the end of the trace"] == true {
				mark = "open at the end"
			}
			got = append(got, mark)
		}
	}
	slices.Sort(got)
	if want := []string{"-", "began before", "open at the end"}; !slices.Equal(got, want) {
		t.Errorf("the P's runs are marked %q, want %q", got, want)
	}
}

// TestBlockedSyscallHoldsP checks that a run followed by a syscall that
// blocks stays on its P's track until the P is taken from the syscall,
// as go tool trace draws it: the P ran nothing else meanwhile, and a P
// track that showed it idle then (a cgo call, a blocking read) misread
// the P's use.
func TestBlockedSyscallHoldsP(t *testing.T) {
	const start = mapping.Time(1000)
	var out bytes.Buffer
	w, must := begun(t, &out, "held P", start)
	must(w.Proc(&mapping.Proc{ID: 0}))
	must(w.Thread(&mapping.Thread{ID: 1}))
	must(w.Goroutine(&mapping.Goroutine{ID: 2, StartFunc: "main.cgo", Creator: mapping.NoGoroutine, Created: start, Flags: mapping.OpenStart}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 2, State: mapping.GoRunning, Start: 1000, End: 2000, P: 0, M: 1, Flags: mapping.OpenStart}))
	must(w.ProcRun(&mapping.ProcRun{P: 0, M: 1, Start: 1000, End: 2500, Flags: mapping.OpenStart, TakenFrom: 2})) // taken at 2500
	must(w.GoroutineState(&mapping.GoroutineState{G: 2, State: mapping.GoSyscall, Start: 2000, End: 6000, P: 0, M: 1, Blocked: true}))
	must(w.GoroutineState(&mapping.GoroutineState{G: 2, State: mapping.GoRunnable, Start: 6000, End: 7000, P: mapping.NoProc, M: mapping.NoThread}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: 9000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]uint64
	for _, s := range rep.Slices {
		if s.Category == "proc" {
			got = append(got, [2]uint64{s.Start, s.End})
		}
	}
	if len(got) != 1 || got[0][1]-got[0][0] != 1500 {
		t.Errorf("the P track holds %v, want one slice of 1500ns, from the run's start to the P's loss", got)
	}
}
