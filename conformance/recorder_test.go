package conformance

import (
	"fmt"
	"slices"

	"github.com/trace2x/trace2x/mapping"
)

// recorder is a Sink that keeps a copy of every item it is given and
// checks the delivery protocol as it goes: Begin first and once, End last
// and once, and no stack, goroutine, P or thread named before it was
// delivered.
type recorder struct {
	meta    *mapping.Meta
	summary *mapping.Summary
	begins  int
	ends    int

	stacks     map[mapping.StackID]bool
	goroutines map[mapping.GoID]int // deliveries with Updated unset
	firstG     map[mapping.GoID]mapping.Goroutine
	startFunc  map[mapping.GoID]string // the last start function delivered, by ID
	ended      map[mapping.GoID]bool   // goroutines whose GoEnded came last
	procs      map[mapping.ProcID]bool
	threads    map[mapping.ThreadID]bool

	states   []mapping.GoroutineState
	procRuns []mapping.ProcRun
	ranges   []mapping.Range
	tasks    []mapping.Task
	regions  []mapping.Region
	logs     []mapping.Log
	flows    []mapping.Flow
	samples  []mapping.CPUSample
	counters []mapping.Counter

	// problems are violations of the protocol, in the order found.
	problems []string
}

var _ mapping.Sink = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{
		stacks:     make(map[mapping.StackID]bool),
		goroutines: make(map[mapping.GoID]int),
		firstG:     make(map[mapping.GoID]mapping.Goroutine),
		startFunc:  make(map[mapping.GoID]string),
		ended:      make(map[mapping.GoID]bool),
		procs:      make(map[mapping.ProcID]bool),
		threads:    make(map[mapping.ThreadID]bool),
	}
}

// maxProblems bounds what a recorder keeps: a broken mapping would
// otherwise repeat the same complaint for every event.
const maxProblems = 20

func (r *recorder) problem(format string, args ...any) {
	if len(r.problems) < maxProblems {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	} else if len(r.problems) == maxProblems {
		r.problems = append(r.problems, "... (more problems left out)")
	}
}

// item checks that an item arrives between Begin and End.
func (r *recorder) item(what string) {
	if r.begins == 0 {
		r.problem("%s delivered before Begin", what)
	}
	if r.ends > 0 {
		r.problem("%s delivered after End", what)
	}
}

func (r *recorder) stack(what string, id mapping.StackID) {
	if id != mapping.NoStack && !r.stacks[id] {
		r.problem("%s names stack %d before it was delivered", what, id)
	}
}

func (r *recorder) g(what string, id mapping.GoID) {
	if id != mapping.NoGoroutine && r.goroutines[id] == 0 {
		r.problem("%s names goroutine %d before it was delivered", what, id)
	}
}

// about checks an item about goroutine id, which must be delivered and
// not ended: a GoEnded event is the last item about its goroutine (an
// item may still name it as where something came from, as a Flow does).
func (r *recorder) about(what string, id mapping.GoID) {
	r.g(what, id)
	if r.ended[id] {
		r.problem("%s comes after goroutine %d ended", what, id)
	}
}

func (r *recorder) p(what string, id mapping.ProcID) {
	if id != mapping.NoProc && !r.procs[id] {
		r.problem("%s names P %d before it was delivered", what, id)
	}
}

func (r *recorder) m(what string, id mapping.ThreadID) {
	if id != mapping.NoThread && !r.threads[id] {
		r.problem("%s names M %d before it was delivered", what, id)
	}
}

func (r *recorder) Begin(m *mapping.Meta) error {
	r.begins++
	if r.begins > 1 {
		r.problem("Begin called %d times", r.begins)
	}
	c := *m
	r.meta = &c
	return nil
}

func (r *recorder) Stack(s *mapping.Stack) error {
	r.item("stack")
	switch {
	case s.ID == mapping.NoStack:
		r.problem("stack delivered with the NoStack ID")
	case r.stacks[s.ID]:
		r.problem("stack %d delivered twice", s.ID)
	case len(s.Frames) == 0:
		r.problem("stack %d has no frames", s.ID)
	}
	r.stacks[s.ID] = true
	return nil
}

func (r *recorder) Goroutine(g *mapping.Goroutine) error {
	r.item("goroutine")
	what := fmt.Sprintf("goroutine %d", g.ID)
	if g.Updated {
		if r.goroutines[g.ID] == 0 {
			r.problem("%s delivered as Updated before its first delivery", what)
		}
		if r.ended[g.ID] {
			r.problem("%s updated after it ended", what)
		}
	} else {
		delete(r.ended, g.ID) // a goroutine ID can be reused
		if r.goroutines[g.ID] == 0 {
			r.firstG[g.ID] = *g
		}
		r.goroutines[g.ID]++
	}
	if g.Creator != g.ID {
		r.g(what+" (its creator)", g.Creator)
	}
	r.startFunc[g.ID] = g.StartFunc
	return nil
}

func (r *recorder) Proc(p *mapping.Proc) error {
	r.item("P")
	if r.procs[p.ID] {
		r.problem("P %d delivered twice", p.ID)
	}
	r.procs[p.ID] = true
	return nil
}

func (r *recorder) Thread(m *mapping.Thread) error {
	r.item("M")
	if r.threads[m.ID] {
		r.problem("M %d delivered twice", m.ID)
	}
	r.threads[m.ID] = true
	return nil
}

func (r *recorder) GoroutineState(s *mapping.GoroutineState) error {
	what := fmt.Sprintf("goroutine state %+v", *s)
	r.item(what)
	r.about(what, s.G)
	r.p(what, s.P)
	r.m(what, s.M)
	r.stack(what, s.Stack)
	r.stack(what, s.EndStack)
	r.states = append(r.states, *s)
	return nil
}

func (r *recorder) ProcRun(p *mapping.ProcRun) error {
	what := fmt.Sprintf("proc run %+v", *p)
	r.item(what)
	r.p(what, p.P)
	r.m(what, p.M)
	r.procRuns = append(r.procRuns, *p)
	return nil
}

func (r *recorder) Range(x *mapping.Range) error {
	what := fmt.Sprintf("range %q", x.Name)
	r.item(what)
	switch x.Scope {
	case mapping.ScopeGoroutine:
		r.about(what, x.G)
	case mapping.ScopeProc:
		r.p(what, x.P)
	case mapping.ScopeThread:
		r.m(what, x.M)
	}
	r.stack(what, x.Stack)
	r.stack(what, x.EndStack)
	c := *x
	c.Attrs = slices.Clone(x.Attrs)
	r.ranges = append(r.ranges, c)
	return nil
}

func (r *recorder) Task(k *mapping.Task) error {
	what := fmt.Sprintf("task %d", k.ID)
	r.item(what)
	r.g(what, k.StartG)
	r.g(what, k.EndG)
	for _, g := range k.Goroutines {
		r.g(what, g)
	}
	r.stack(what, k.Stack)
	r.stack(what, k.EndStack)
	c := *k
	c.Goroutines = slices.Clone(k.Goroutines)
	r.tasks = append(r.tasks, c)
	return nil
}

func (r *recorder) Region(x *mapping.Region) error {
	what := fmt.Sprintf("region %d %q", x.ID, x.Type)
	r.item(what)
	r.about(what, x.G)
	r.stack(what, x.Stack)
	r.stack(what, x.EndStack)
	r.regions = append(r.regions, *x)
	return nil
}

func (r *recorder) Log(l *mapping.Log) error {
	what := fmt.Sprintf("log %q", l.Message)
	r.item(what)
	r.about(what, l.G)
	r.p(what, l.P)
	r.m(what, l.M)
	r.stack(what, l.Stack)
	r.logs = append(r.logs, *l)
	return nil
}

func (r *recorder) GoroutineEvent(e *mapping.GoroutineEvent) error {
	what := fmt.Sprintf("goroutine event %+v", *e)
	r.item(what)
	r.about(what, e.G)
	if e.By != e.G {
		r.about(what, e.By)
	}
	if e.Kind == mapping.GoEnded {
		r.ended[e.G] = true
	}
	r.p(what, e.P)
	r.m(what, e.M)
	r.stack(what, e.Stack)
	return nil
}

func (r *recorder) Flow(f *mapping.Flow) error {
	what := fmt.Sprintf("flow %+v", *f)
	r.item(what)
	for _, e := range []mapping.Endpoint{f.From, f.To} {
		r.g(what, e.G)
		r.p(what, e.P)
		r.m(what, e.M)
	}
	r.about(what, f.To.G) // the target is starting to run
	r.stack(what, f.Stack)
	r.flows = append(r.flows, *f)
	return nil
}

func (r *recorder) Counter(c *mapping.Counter) error {
	r.item("counter")
	r.counters = append(r.counters, *c)
	return nil
}

func (r *recorder) CPUSample(s *mapping.CPUSample) error {
	what := fmt.Sprintf("CPU sample %+v", *s)
	r.item(what)
	r.about(what, s.G)
	r.p(what, s.P)
	r.m(what, s.M)
	r.stack(what, s.Stack)
	r.samples = append(r.samples, *s)
	return nil
}

func (r *recorder) Experimental(e *mapping.Experimental) error {
	what := fmt.Sprintf("experimental event %q", e.Name)
	r.item(what)
	r.g(what, e.G)
	r.p(what, e.P)
	r.m(what, e.M)
	return nil
}

func (r *recorder) End(s *mapping.Summary) error {
	r.ends++
	if r.ends > 1 {
		r.problem("End called %d times", r.ends)
	}
	if r.begins == 0 {
		r.problem("End called before Begin")
	}
	c := *s
	r.summary = &c
	return nil
}
