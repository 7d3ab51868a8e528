// Package gotable holds what a sink keeps per live goroutine, for sinks
// that look it up for nearly every item of the model.
//
// A Table keeps its values in a direct-mapped array indexed by the low
// bits of the goroutine ID, and only those whose slot another took in a
// map. The runtime hands out IDs in order, so the live goroutines of a
// program mostly fall in distinct slots: a lookup is then one load from a
// few kilobytes that stay in the CPU's cache, and a goroutine that comes
// and goes costs no hashing at all.
package gotable

import "github.com/trace2x/trace2x/mapping"

// The slots start few and double, up to a bound, while more than an
// eighth as many values as there are slots had to go to the map.
const (
	minSlots = 1 << 10
	maxSlots = 1 << 18
)

type slot[T any] struct {
	id mapping.GoID
	v  *T // nil: the slot is empty
}

// Table maps goroutine IDs to values. The zero value is empty and ready
// to use. It is not safe for concurrent use.
type Table[T any] struct {
	slots []slot[T]           // a power of two of them, or none yet
	far   map[mapping.GoID]*T // values whose slot holds another's
	n     int                 // values
}

// Get returns the value of id, nil if it has none. A value found in the
// map moves to its slot if that is free: a long-lived goroutine whose
// slot a short-lived one took gets it back once that one is gone.
func (t *Table[T]) Get(id mapping.GoID) *T {
	if len(t.far) == 0 {
		if len(t.slots) > 0 {
			if s := &t.slots[int(id)&(len(t.slots)-1)]; s.v != nil && s.id == id {
				return s.v
			}
		}
		return nil
	}
	s := &t.slots[int(id)&(len(t.slots)-1)]
	if s.v != nil && s.id == id {
		return s.v
	}
	v := t.far[id]
	if v != nil && s.v == nil {
		delete(t.far, id)
		*s = slot[T]{id, v}
	}
	return v
}

// Set makes v the value of id; v must not be nil.
func (t *Table[T]) Set(id mapping.GoID, v *T) {
	if len(t.slots) == 0 {
		t.slots = make([]slot[T], minSlots)
	}
	s := &t.slots[int(id)&(len(t.slots)-1)]
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
	t.put(s, id, v)
	if len(t.far) > len(t.slots)/8 && len(t.slots) < maxSlots {
		t.grow()
	}
}

// put places a new value in its slot s; the value there moves to the map.
func (t *Table[T]) put(s *slot[T], id mapping.GoID, v *T) {
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

// grow doubles the slots and places every value again.
func (t *Table[T]) grow() {
	old, far := t.slots, t.far
	t.slots, t.far = make([]slot[T], 2*len(old)), nil
	for _, s := range old {
		if s.v != nil {
			t.put(&t.slots[int(s.id)&(len(t.slots)-1)], s.id, s.v)
		}
	}
	for id, v := range far {
		t.put(&t.slots[int(id)&(len(t.slots)-1)], id, v)
	}
}

// Delete removes the value of id.
func (t *Table[T]) Delete(id mapping.GoID) {
	if len(t.slots) > 0 {
		if s := &t.slots[int(id)&(len(t.slots)-1)]; s.v != nil && s.id == id {
			*s = slot[T]{}
			t.n--
			return
		}
	}
	if _, ok := t.far[id]; ok {
		delete(t.far, id)
		t.n--
	}
}

// Len returns the number of values.
func (t *Table[T]) Len() int { return t.n }
