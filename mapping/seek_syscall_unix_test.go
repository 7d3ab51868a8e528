//go:build unix

package mapping_test

import (
	"bytes"
	"runtime/trace"
	"syscall"
	"testing"
	"time"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestSeekSyscallUnderWay: a goroutine blocked in a read(2) across
// several generations is drawn blocked by a window that begins during
// the syscall, as by the full pass, which saw it enter the syscall and
// lose its P. The window's restated state names no P (the runtime takes
// the P back from a syscall to restate it), or, where the restatement
// came on the P it began on, that one.
func TestSeekSyscallUnderWay(t *testing.T) {
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		t.Skipf("no pipe: %v", err) // only where the system has none
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("tracing this process: %v", err)
	}
	done := make(chan struct{})
	go func() {
		var b [1]byte
		syscall.Read(fds[0], b[:]) // blocks in the kernel until the write below
		close(done)
	}()
	newGenerations := func() {
		for range 3 {
			// Past sysmon's retaking of the P, which waits 10 ms for a
			// P with no other work, then a tick that a busy machine
			// (the other tests) can hold up: retaken later, the P is
			// still the syscall's where a generation restates it.
			time.Sleep(100 * time.Millisecond)
			fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
			if err := fr.Start(); err != nil {
				t.Errorf("starting a flight recorder beside the tracer: %v", err)
				return
			}
			fr.Stop()
		}
	}
	newGenerations()
	syscall.Write(fds[1], []byte{1})
	<-done
	newGenerations()
	trace.Stop()
	data := buf.Bytes()

	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	if len(gens) < 5 {
		t.Fatalf("%d generations, want 5 or more", len(gens))
	}
	// A window inside the third generation, during the read.
	g := gens[2]
	from := mapping.Bound{Offset: time.Duration((g.Start+g.End)/2 - gens[0].Start), Set: true}
	to := mapping.Bound{Offset: from.Offset + time.Duration(g.End-g.Start)/8, Set: true}

	syscalls := func(window bool) []mapping.GoroutineState {
		sink := &syscallsAtStart{}
		f := &mapping.Filter{From: from, To: to}
		if window {
			_, err = mapping.MapWindow(bytes.NewReader(data), int64(len(data)), from, to, f.Sink(sink))
		} else {
			_, err = mapping.Map(bytes.NewReader(data), f.Sink(sink))
		}
		if err != nil {
			t.Fatal(err)
		}
		return sink.states
	}
	full, seek := syscalls(false), syscalls(true)
	if len(full) == 0 {
		t.Fatal("the full pass has no syscall under way at the window's start")
	}
	blocked := map[mapping.GoID]bool{}
	for _, s := range full {
		blocked[s.G] = s.Blocked
	}
	for _, s := range seek {
		want, ok := blocked[s.G]
		if !ok {
			t.Errorf("the seek has G%d in a syscall at the window's start; the full pass does not", s.G)
			continue
		}
		if s.Blocked != want || !s.Blocked {
			t.Errorf("G%d's syscall under way: blocked %v in the seek, %v in the full pass, want both true", s.G, s.Blocked, want)
		}
		// Restated, a syscall that lost its P names none, or where the
		// restatement came on a P (a busy machine), the one the full
		// pass saw it hold as it began: never another.
		if full, ok := syscallAt(data, s.G, s.Start); !ok {
			t.Errorf("G%d's syscall under way at the window's start is not in the full pass without a window", s.G)
		} else if s.P != mapping.NoProc && s.P != full.P {
			t.Errorf("G%d's restated syscall names P%d; the full pass P%d", s.G, s.P, full.P)
		}
		delete(blocked, s.G)
	}
	for g := range blocked {
		t.Errorf("the full pass has G%d in a syscall at the window's start; the seek does not", g)
	}
}

// syscallAt returns g's syscall under way at t, as a full pass without a
// window tells it.
func syscallAt(data []byte, g mapping.GoID, t mapping.Time) (mapping.GoroutineState, bool) {
	sink := &syscallsOf{g: g, at: t}
	if _, err := mapping.Map(bytes.NewReader(data), sink); err != nil {
		return mapping.GoroutineState{}, false
	}
	return sink.st, sink.found
}

// syscallsOf finds goroutine g's syscall under way at time at.
type syscallsOf struct {
	mapping.NopSink
	g     mapping.GoID
	at    mapping.Time
	st    mapping.GoroutineState
	found bool
}

func (s *syscallsOf) GoroutineState(st *mapping.GoroutineState) error {
	if st.G == s.g && st.State == mapping.GoSyscall && st.Start <= s.at && s.at <= st.End {
		s.st, s.found = *st, true
	}
	return nil
}

// syscallsAtStart keeps the syscalls under way at a window's start.
type syscallsAtStart struct {
	mapping.NopSink
	states []mapping.GoroutineState
}

func (s *syscallsAtStart) GoroutineState(st *mapping.GoroutineState) error {
	if st.State == mapping.GoSyscall && st.Flags&mapping.OpenStart != 0 {
		s.states = append(s.states, *st)
	}
	return nil
}
