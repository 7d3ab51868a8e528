// Package conformance checks package mapping against an oracle.
//
// The oracle (Read) is a second, deliberately simple reading of a Go
// execution trace, straight from golang.org/x/exp/trace events and sharing
// no code or state machine with package mapping: it pairs beginnings with
// ends and writes down what it paired. The tests in this package run
// mapping.Map over every trace in the project's corpus, over corner cases
// kept in this package's testdata, and over Go's own test traces (the
// old-format ones and the parser tests of the new formats), and require the timeline model to agree with the oracle item for
// item and to keep the invariants of the model whatever the trace. They
// also check that `trace2x stats --json` counts what the oracle counts.
// The package has no API beyond the oracle; it exists for its tests.
package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"golang.org/x/exp/trace"
)

// Span is when an item began and ended, as far as the trace tells.
// An item whose beginning is not in the trace began before the trace did;
// one whose end is not in the trace was still going on when it ended.
type Span struct {
	Begin, End       trace.Time
	HasBegin, HasEnd bool
}

// Task is one user task as the trace shows it.
type Task struct {
	ID     trace.TaskID
	Parent trace.TaskID // 0 if none or unknown
	Type   string
	// TypeKnown says that Type is what the program passed to NewTask: it
	// came from the begin event, or an end event that repeats it.
	TypeKnown bool
	BeginG    trace.GoID // the goroutine that began it, if HasBegin
	Span
}

// Region is one user region as the trace shows it.
type Region struct {
	G    trace.GoID
	Task trace.TaskID // 0 for the background task
	Type string
	Span
	// Encloses is, for a region whose begin is not in the trace, how many
	// such regions of its goroutine ended before it. They were all open
	// when the trace began and regions nest, so it encloses them all.
	Encloses int
	// GoExit is when G exited while the region was still open, if it did
	// (HasGoExit). The region then has no end in the trace, but it
	// cannot have gone on after its goroutine did.
	GoExit    trace.Time
	HasGoExit bool
	// Times is how long G spent in each state while the region was open,
	// for one whose begin is in the trace, as G's state transitions tell.
	Times StateTimes
}

// StateTimes is time in nanoseconds by goroutine state: running,
// runnable, in a syscall, and waiting, of which on the network poller
// and on channels, select or package sync.
type StateTimes struct {
	Running, Runnable, Syscall, Waiting, Network, Sync int64
	STW, MarkAssist                                    int64 // ranges on the goroutine that ended in the region
	// Sweep is the P's sweeps begun and ended on the goroutine, as go
	// tool trace's goroutine summary counts them.
	Sweep int64
}

// Log is one user log message.
type Log struct {
	Time     trace.Time
	G        trace.GoID
	Task     trace.TaskID // 0 for the background task
	Category string
	Message  string
}

// Attr is a numeric attribute the trace attaches to a range's end.
type Attr struct {
	Name  string
	Value uint64
}

// Range is one span of runtime activity: a GC mark phase, a
// stop-the-world pause, a sweep, a mark assist, or whatever else the
// parser reports as a range.
type Range struct {
	Name  string             // as the parser names it, e.g. "GC incremental sweep"
	Scope trace.ResourceKind // ResourceNone for a global range
	ID    int64              // the goroutine, P or thread it is scoped to; 0 if global
	Attrs []Attr             // numeric attributes of its end
	Span
	BeginG trace.GoID // the goroutine of its begin
}

// Goroutine is what the trace tells of when a goroutine began.
type Goroutine struct {
	// Created is when the goroutine was created (HasCreated), if the
	// first the trace says of it is its creation; otherwise it existed
	// before the trace began. Go reuses the goroutine ID of a thread
	// created in C that calls into Go, so one ID can be created again
	// later: Created is the first time.
	Created    trace.Time
	HasCreated bool
	// Lives counts the goroutines that had this ID: 1, plus one for each
	// creation after the ID stopped existing.
	Lives int
	dead  bool
}

// Sample is one CPU profile sample.
type Sample struct {
	Time trace.Time
	G    trace.GoID
	P    trace.ProcID
	M    trace.ThreadID
}

// Oracle is what one independent pass over a trace found.
type Oracle struct {
	Format  int        // minor version in the trace header: 21 for "go 1.21 trace"
	Start   trace.Time // time of the first event, which the parser makes a Sync
	End     trace.Time // time of the last event, the parser's final Sync
	Events  int64      // events read, Syncs included
	Syncs   int        // Sync events read
	EndSync bool       // the last event is a Sync, as the parser promises

	Tasks      []Task
	Regions    []Region
	Logs       []Log
	Ranges     []Range
	Samples    []Sample
	Goroutines map[trace.GoID]*Goroutine // every goroutine the trace names

	// Ties maps the time of every event in a run of events one
	// nanosecond apart to the time of the run's first event. The parser
	// makes times strictly increasing by moving an event that is not
	// later than the one before it to 1ns after it, so such a run is
	// often a set of events recorded with one timestamp.
	Ties map[trace.Time]trace.Time
}

// OldFormat reports whether the trace is in the format of Go 1.21 and
// earlier, which the parser converts to the new event model.
//
// The old format has no total order of events: the parser merges the
// per-P event streams in an order that depends on map iteration when
// timestamps tie, and then moves tied events 1ns apart. Two reads of the
// same old trace can therefore give tied events different times (each
// within its run in Ties), and nothing in the trace says which is right.
func (o *Oracle) OldFormat() bool { return o.Format < 22 }

// rangeID names an open range. The parser allows one range of a name on
// a resource at a time, so the name and the resource identify it.
type rangeID struct {
	name  string
	scope trace.ResourceKind
	id    int64
}

// oracleState is what the oracle keeps during its pass: the items open
// so far, by how their ends will name them.
type oracleState struct {
	o       *Oracle
	tasks   map[trace.TaskID]int            // open task -> index in o.Tasks
	regions map[trace.GoID][]int            // per goroutine, open regions innermost last
	ranges  map[rangeID]int                 // open range -> index in o.Ranges
	named   map[trace.TaskID]bool           // tasks named by a region or log
	earlier map[trace.GoID]int              // per goroutine, regions ended without a begin
	procM   map[trace.ProcID]trace.ThreadID // per P, the thread of its last event
	ended   map[trace.TaskID]bool           // tasks that ended
	lastT   trace.Time                      // time of the last event
	lastK   trace.EventKind                 // kind of the last event
	gstates map[trace.GoID]gState           // per goroutine, its state since its last transition
}

// gState is a goroutine's state, since when, and why.
type gState struct {
	state  trace.GoState
	since  trace.Time
	reason string
}

// timeRegions adds to g's open regions the time of its state up to t.
func (s *oracleState) timeRegions(g trace.GoID, t trace.Time) {
	st, ok := s.gstates[g]
	if !ok {
		return
	}
	for _, i := range s.regions[g] {
		r := &s.o.Regions[i]
		d := int64(t - max(st.since, r.Begin))
		if d <= 0 {
			continue
		}
		switch st.state {
		case trace.GoRunning:
			r.Times.Running += d
		case trace.GoRunnable:
			r.Times.Runnable += d
		case trace.GoSyscall:
			r.Times.Syscall += d
		case trace.GoWaiting:
			r.Times.Waiting += d
			if st.reason == "network" {
				r.Times.Network += d
			} else if strings.Contains(st.reason, "chan") || strings.Contains(st.reason, "sync") || strings.Contains(st.reason, "select") {
				r.Times.Sync += d
			}
		}
	}
}

// seenG records that the trace names goroutine g, which existed before
// the trace began if this is the first the trace says of it.
func (s *oracleState) seenG(g trace.GoID) {
	if _, ok := s.o.Goroutines[g]; !ok && g != trace.NoGoroutine {
		s.o.Goroutines[g] = &Goroutine{Lives: 1}
	}
}

// Read reads the trace in r to its end and returns what it holds. If the
// parser fails, Read returns what it found up to that point and the error.
func Read(r io.Reader) (*Oracle, error) {
	br := bufio.NewReader(r)
	format, err := readFormat(br)
	if err != nil {
		return nil, err
	}
	tr, err := trace.NewReader(br)
	if err != nil {
		return nil, err
	}
	o := &Oracle{Format: format, Goroutines: make(map[trace.GoID]*Goroutine), Ties: make(map[trace.Time]trace.Time)}
	s := &oracleState{
		o:       o,
		tasks:   make(map[trace.TaskID]int),
		regions: make(map[trace.GoID][]int),
		ranges:  make(map[rangeID]int),
		named:   make(map[trace.TaskID]bool),
		earlier: make(map[trace.GoID]int),
		procM:   make(map[trace.ProcID]trace.ThreadID),
		ended:   make(map[trace.TaskID]bool),
		gstates: make(map[trace.GoID]gState),
	}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return o, err
		}
		if err := s.event(&ev); err != nil {
			return o, err
		}
	}
	if o.Events == 0 {
		return o, errors.New("the trace holds no events")
	}
	o.End = s.lastT
	o.EndSync = s.lastK == trace.EventSync
	for g := range s.regions {
		s.timeRegions(g, o.End) // open at the end
	}
	s.spanningTasks()
	return o, nil
}

// readFormat reads the minor version from the trace header ("go 1.22
// trace") without consuming it.
func readFormat(br *bufio.Reader) (int, error) {
	hdr, _ := br.Peek(16)
	var minor int
	if _, err := fmt.Sscanf(string(hdr), "go 1.%d trace", &minor); err != nil {
		return 0, fmt.Errorf("oracle: not a trace header: %q", hdr)
	}
	return minor, nil
}

// task normalises a task ID. The parser says "no task" in two ways, the
// background task (0) and NoTask; the model has one, 0.
func task(id trace.TaskID) trace.TaskID {
	if id == trace.NoTask {
		return trace.BackgroundTask
	}
	return id
}

func (s *oracleState) event(ev *trace.Event) error {
	o := s.o
	kind, t := ev.Kind(), ev.Time()
	if o.Events == 0 {
		if kind != trace.EventSync {
			return fmt.Errorf("oracle: the first event is %v, not a Sync", kind)
		}
		o.Start = t
	}
	if o.Events > 0 && t == s.lastT+1 {
		start, ok := o.Ties[s.lastT]
		if !ok {
			start = s.lastT
			o.Ties[start] = start
		}
		o.Ties[t] = start
	}
	o.Events++
	s.lastT, s.lastK = t, kind
	// Every event names the goroutine it ran on, if any: that goroutine
	// existed, whatever the event says about others. But for a CPU
	// sample, which the runtime writes some time after it is taken: its
	// goroutine may have ended by then (see sampleG).
	if kind != trace.EventStackSample {
		s.seenG(ev.Goroutine())
	}

	switch kind {
	case trace.EventSync:
		o.Syncs++
	case trace.EventStateTransition:
		st := ev.StateTransition()
		if st.Resource.Kind == trace.ResourceGoroutine {
			g := st.Resource.Goroutine()
			from, to := st.Goroutine()
			if og, ok := o.Goroutines[g]; !ok && from == trace.GoNotExist {
				o.Goroutines[g] = &Goroutine{Created: t, HasCreated: true, Lives: 1}
			} else if ok && og.dead && from == trace.GoNotExist {
				og.Lives++
				og.dead = false
			}
			s.seenG(g)
			s.timeRegions(g, t)
			s.gstates[g] = gState{to, t, st.Reason}
			if to == trace.GoNotExist {
				o.Goroutines[g].dead = true
				delete(s.gstates, g)
			}
			// A goroutine that stops existing takes its open regions with
			// it: they end there, though the trace never says they did.
			if to == trace.GoNotExist {
				for _, i := range s.regions[g] {
					o.Regions[i].GoExit, o.Regions[i].HasGoExit = t, true
				}
				delete(s.regions, g)
			}
		}
	case trace.EventLabel:
		// A label names the goroutine it is put on.
		if l := ev.Label(); l.Resource.Kind == trace.ResourceGoroutine {
			s.seenG(l.Resource.Goroutine())
		}
	case trace.EventTaskBegin:
		s.taskBegin(ev, t)
	case trace.EventTaskEnd:
		s.taskEnd(ev, t)
	case trace.EventRegionBegin:
		r := ev.Region()
		g := ev.Goroutine()
		o.Regions = append(o.Regions, Region{G: g, Task: task(r.Task), Type: r.Type,
			Span: Span{Begin: t, HasBegin: true}})
		s.regions[g] = append(s.regions[g], len(o.Regions)-1)
		s.nameTask(task(r.Task))
	case trace.EventRegionEnd:
		s.regionEnd(ev, t)
	case trace.EventLog:
		l := ev.Log()
		o.Logs = append(o.Logs, Log{Time: t, G: ev.Goroutine(), Task: task(l.Task), Category: l.Category, Message: l.Message})
		s.nameTask(task(l.Task))
	case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
		s.rangeEvent(ev, kind, t)
	case trace.EventStackSample:
		m := ev.Thread()
		if m == trace.NoThread && ev.Proc() != trace.NoProc {
			// Samples before Go 1.22 name no thread: the thread is the
			// one the P's events came from last.
			if pm, ok := s.procM[ev.Proc()]; ok {
				m = pm
			}
		}
		o.Samples = append(o.Samples, Sample{Time: t, G: s.sampleG(ev.Goroutine()), P: ev.Proc(), M: m})
	}
	if p, m := ev.Proc(), ev.Thread(); p != trace.NoProc && m != trace.NoThread {
		s.procM[p] = m
	}
	return nil
}

// sampleG is the goroutine of a CPU sample of goroutine g as the model
// has it: none if g had ended, or if the trace has not named g by its
// second generation, which restates every goroutine alive (a sample
// written after its goroutine ended in the generation before). A
// goroutine first named by a sample in the first generation existed
// before the trace began.
func (s *oracleState) sampleG(g trace.GoID) trace.GoID {
	if g == trace.NoGoroutine {
		return g
	}
	og, ok := s.o.Goroutines[g]
	switch {
	case ok && og.dead, !ok && s.o.Syncs > 1:
		return trace.NoGoroutine
	}
	s.seenG(g)
	return g
}

// spanningTasks adds the tasks that regions or logs name but that neither
// begin nor end in the trace: they began before it and ended after it,
// and so were in progress for all of it. Only a task with no begin and
// no end at all qualifies; naming a task after its end does not make a
// second one.
func (s *oracleState) spanningTasks() {
	for _, k := range s.o.Tasks {
		delete(s.named, k.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(s.named)) {
		s.o.Tasks = append(s.o.Tasks, Task{ID: id})
	}
}

// nameTask records that a region or log names task id.
func (s *oracleState) nameTask(id trace.TaskID) {
	if id != trace.BackgroundTask {
		s.named[id] = true
	}
}

func (s *oracleState) taskBegin(ev *trace.Event, t trace.Time) {
	k := ev.Task()
	id := task(k.ID)
	if id == trace.BackgroundTask {
		// The background task is not a user task and the model has no
		// place for it; the runtime never begins it anyway.
		return
	}
	// The parser rejects a second begin of an open task ID, so a begin
	// always starts a new task.
	s.o.Tasks = append(s.o.Tasks, Task{ID: id, Parent: task(k.Parent), Type: k.Type, TypeKnown: true,
		BeginG: ev.Goroutine(), Span: Span{Begin: t, HasBegin: true}})
	s.tasks[id] = len(s.o.Tasks) - 1
}

func (s *oracleState) taskEnd(ev *trace.Event, t trace.Time) {
	k := ev.Task()
	id := task(k.ID)
	if id == trace.BackgroundTask {
		return
	}
	if i, ok := s.tasks[id]; ok {
		delete(s.tasks, id)
		s.ended[id] = true
		s.o.Tasks[i].End, s.o.Tasks[i].HasEnd = t, true
		return
	}
	if s.ended[id] {
		// Ended twice, a misuse the parser lets pass: the task is the
		// one that ended first.
		return
	}
	s.ended[id] = true
	// An end without a begin: the task began before the trace did. Go
	// 1.22+ repeats nothing about it, but the parser fills in the type
	// and parent when it knows them; an empty type means it does not.
	s.o.Tasks = append(s.o.Tasks, Task{ID: id, Parent: task(k.Parent), Type: k.Type, TypeKnown: k.Type != "",
		Span: Span{End: t, HasEnd: true}})
}

func (s *oracleState) regionEnd(ev *trace.Event, t trace.Time) {
	r := ev.Region()
	g := ev.Goroutine()
	s.nameTask(task(r.Task))
	open := s.regions[g]
	// The end closes the innermost open region of the same type and task
	// on the goroutine. The parser insists that regions nest, so this is
	// the innermost of all for Go 1.22+ traces; searching keeps the rule
	// well defined for old traces, which it does not check as strictly.
	for j := len(open) - 1; j >= 0; j-- {
		i := open[j]
		if reg := &s.o.Regions[i]; reg.Type == r.Type && reg.Task == task(r.Task) {
			s.timeRegions(g, t) // before the region leaves those open
			if st, ok := s.gstates[g]; ok {
				// Its state goes on: what follows is not the region's.
				st.since = t
				s.gstates[g] = st
			}
			reg.End, reg.HasEnd = t, true
			s.regions[g] = append(open[:j:j], open[j+1:]...)
			return
		}
	}
	// No open region matches: it began before the trace did (or while
	// tracing was off, which records nothing).
	s.o.Regions = append(s.o.Regions, Region{G: g, Task: task(r.Task), Type: r.Type,
		Encloses: s.earlier[g], Span: Span{End: t, HasEnd: true}})
	s.earlier[g]++
}

func (s *oracleState) rangeEvent(ev *trace.Event, kind trace.EventKind, t trace.Time) {
	r := ev.Range()
	k := rangeID{name: r.Name, scope: r.Scope.Kind}
	// A begin or end happens in the execution context of the resource it
	// is scoped to, so the ID is read from the context; an Active is
	// reported by whoever starts the generation, so only Scope has it.
	switch r.Scope.Kind {
	case trace.ResourceGoroutine:
		k.id = int64(r.Scope.Goroutine())
		if kind != trace.EventRangeActive {
			k.id = int64(ev.Goroutine())
		}
		s.seenG(trace.GoID(k.id))
	case trace.ResourceProc:
		k.id = int64(r.Scope.Proc())
		if kind != trace.EventRangeActive {
			k.id = int64(ev.Proc())
		}
	case trace.ResourceThread:
		k.id = int64(r.Scope.Thread())
		if kind != trace.EventRangeActive {
			k.id = int64(ev.Thread())
		}
	}
	i, open := s.ranges[k]
	switch kind {
	case trace.EventRangeBegin:
		// The parser rejects a range begun twice on one resource.
		s.o.Ranges = append(s.o.Ranges, Range{Name: k.name, Scope: k.scope, ID: k.id,
			Span: Span{Begin: t, HasBegin: true}, BeginG: ev.Goroutine()})
		s.ranges[k] = len(s.o.Ranges) - 1
	case trace.EventRangeActive:
		// Active means in progress when the generation started. Every
		// generation restates the ranges in progress, so for a range
		// already open it says nothing new; otherwise the range began
		// before the trace did and its begin is not in the trace.
		if !open {
			s.o.Ranges = append(s.o.Ranges, Range{Name: k.name, Scope: k.scope, ID: k.id})
			s.ranges[k] = len(s.o.Ranges) - 1
		}
	case trace.EventRangeEnd:
		if !open {
			// An end with neither a begin nor an Active before it: the
			// range, too, was in progress when the trace began.
			s.o.Ranges = append(s.o.Ranges, Range{Name: k.name, Scope: k.scope, ID: k.id})
			i = len(s.o.Ranges) - 1
		}
		delete(s.ranges, k)
		rg := &s.o.Ranges[i]
		rg.End, rg.HasEnd = t, true
		stw := strings.HasPrefix(k.name, "stop-the-world (") && strings.HasSuffix(k.name, ")")
		if k.scope == trace.ResourceGoroutine && (stw || k.name == "GC mark assist") {
			// The GC's work on the goroutine, in its regions open. One
			// begun before the trace began before any of them.
			for _, j := range s.regions[trace.GoID(k.id)] {
				reg := &s.o.Regions[j]
				begin := reg.Begin
				if rg.HasBegin {
					begin = max(begin, rg.Begin)
				}
				if d := int64(t - begin); d > 0 && stw {
					reg.Times.STW += d
				} else if d > 0 {
					reg.Times.MarkAssist += d
				}
			}
		}
		if k.scope == trace.ResourceProc && k.name == "GC incremental sweep" && rg.HasBegin &&
			rg.BeginG != trace.NoGoroutine && rg.BeginG == ev.Goroutine() {
			// A P's sweep begun and ended on one goroutine is its work.
			for _, j := range s.regions[rg.BeginG] {
				reg := &s.o.Regions[j]
				if d := int64(t - max(reg.Begin, rg.Begin)); d > 0 {
					reg.Times.Sweep += d
				}
			}
		}
		for _, a := range ev.RangeAttributes() {
			// Attributes are numbers in every trace format so far; a
			// string one would have no place in the model.
			if a.Value.Kind() == trace.ValueUint64 {
				rg.Attrs = append(rg.Attrs, Attr{Name: a.Name, Value: a.Value.Uint64()})
			}
		}
	}
}
