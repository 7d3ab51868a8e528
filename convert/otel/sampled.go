package otel

import (
	"go.opentelemetry.io/otel/trace"

	"github.com/trace2x/trace2x/mapping"
)

// sampling remembers, for WithSampledOnly, which tasks joined a remote
// trace sampled or not, and which remote traces only unsampled tasks
// joined. Both are bounded, the oldest forgotten first; a task still open
// is told by its own state (see traceTable.unsampled), however many came
// since.
type sampling struct {
	tasks  map[mapping.TaskID]bool // joined: sampled or not
	taskQ  []mapping.TaskID
	traces map[trace.TraceID]*traceJoins
	traceQ []trace.TraceID
}

// traceJoins counts the tasks that joined a remote trace, by sampling.
type traceJoins struct{ sampled, unsampled int }

// maxSampling bounds what sampling remembers of each kind.
const maxSampling = 1 << 16

// note records that task id joined remote trace sc.
func (s *sampling) note(id mapping.TaskID, sc trace.SpanContext) {
	if s.tasks == nil {
		s.tasks = make(map[mapping.TaskID]bool)
		s.traces = make(map[trace.TraceID]*traceJoins)
	}
	if _, ok := s.tasks[id]; !ok {
		s.taskQ = append(s.taskQ, id)
		if len(s.taskQ) > maxSampling {
			delete(s.tasks, s.taskQ[0])
			s.taskQ = s.taskQ[1:]
		}
	}
	s.tasks[id] = sc.IsSampled()
	j := s.traces[sc.TraceID()]
	if j == nil {
		j = &traceJoins{}
		s.traces[sc.TraceID()] = j
		s.traceQ = append(s.traceQ, sc.TraceID())
		if len(s.traceQ) > maxSampling {
			delete(s.traces, s.traceQ[0])
			s.traceQ = s.traceQ[1:]
		}
	}
	if sc.IsSampled() {
		j.sampled++
	} else {
		j.unsampled++
	}
}

// unsampled reports whether a span of task id, of root task root, in
// trace tid, belongs to a request the application did not sample: its
// task's own join says so, else its root's, else, for a span of a task
// that follows one into the trace, every join to the trace was
// unsampled. A trace that a task joined sampled is sent whole.
func (tt *traceTable) unsampled(task, root mapping.TaskID, tid trace.TraceID) bool {
	for _, id := range [...]mapping.TaskID{task, root} {
		if id == mapping.NoTask {
			continue
		}
		if st := tt.tasks[id]; st != nil && st.remote.IsValid() {
			return !st.remote.IsSampled()
		}
		if sampled, ok := tt.sampling.tasks[id]; ok {
			return !sampled
		}
	}
	j := tt.sampling.traces[tid]
	return j != nil && j.sampled == 0
}
