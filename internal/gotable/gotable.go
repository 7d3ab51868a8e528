// Package gotable holds what a sink keeps per live goroutine, for sinks
// that look it up for nearly every item of the model.
//
// A Table keeps its values in a small direct-mapped array indexed by the
// low bits of the goroutine ID, and only those whose slot another took in
// a map. The runtime hands out IDs in order, so the live goroutines of a
// program mostly fall in distinct slots: a lookup is then one load from a
// few kilobytes that stay in the CPU's cache, and a goroutine that comes
// and goes costs no hashing at all.
package gotable

import "github.com/trace2x/trace2x/mapping"

const slots = 1 << 10 // a power of two

type slot[T any] struct {
	id mapping.GoID
	v  *T // nil: the slot is empty
}

// Table maps goroutine IDs to values. The zero value is empty and ready
// to use. It is not safe for concurrent use.
type Table[T any] struct {
	slots [slots]slot[T]
	far   map[mapping.GoID]*T // values whose slot holds another's
	n     int                 // values
}

// Get returns the value of id, nil if it has none.
func (t *Table[T]) Get(id mapping.GoID) *T {
	if s := &t.slots[id&(slots-1)]; s.v != nil && s.id == id {
		return s.v
	}
	if len(t.far) == 0 {
		return nil
	}
	return t.far[id]
}

// Set makes v the value of id; v must not be nil.
func (t *Table[T]) Set(id mapping.GoID, v *T) {
	s := &t.slots[id&(slots-1)]
	switch {
	case s.v != nil && s.id == id:
		s.v = v
		return
	case len(t.far) > 0:
		if _, ok := t.far[id]; ok {
			t.far[id] = v
			return
		}
	}
	t.n++
	if s.v != nil {
		// The newer goroutine takes the slot: it is the likelier to be
		// looked up next.
		if t.far == nil {
			t.far = make(map[mapping.GoID]*T)
		}
		t.far[s.id] = s.v
	}
	*s = slot[T]{id, v}
}

// Delete removes the value of id.
func (t *Table[T]) Delete(id mapping.GoID) {
	if s := &t.slots[id&(slots-1)]; s.v != nil && s.id == id {
		*s = slot[T]{}
		t.n--
		return
	}
	if _, ok := t.far[id]; ok {
		delete(t.far, id)
		t.n--
	}
}

// Len returns the number of values.
func (t *Table[T]) Len() int { return t.n }
