// Package gotable holds what the mapping and its sinks keep per live
// goroutine, for code that looks it up for nearly every event or item.
//
// A Table keeps its values in a direct-mapped array indexed by the low
// bits of the goroutine ID, and only those whose slot another took in a
// map. The runtime hands out IDs in order, so the live goroutines of a
// program mostly fall in distinct slots: a lookup is then one load from a
// few kilobytes that stay in the CPU's cache, and a goroutine that comes
// and goes costs no hashing at all.
package gotable

import "iter"

// The slots start few and double, up to a bound, while more than an
// eighth as many values as there are slots had to go to the map.
const (
	minSlots = 1 << 10
	maxSlots = 1 << 18
)

// ID is the type of a goroutine ID, mapping.GoID: the mapping keeps its
// own goroutines in a Table too, and cannot be imported here.
type ID interface{ ~int64 }

type slot[K ID, T any] struct {
	id K
	v  *T // nil: the slot is empty
}

// Table maps goroutine IDs to values. The zero value is empty and ready
// to use. It is not safe for concurrent use.
type Table[K ID, T any] struct {
	slots []slot[K, T] // a power of two of them, or none yet
	far   map[K]*T     // values whose slot holds another's
	n     int          // values
}

// Get returns the value of id, nil if it has none. A value found in the
// map moves to its slot if that is free: a long-lived goroutine whose
// slot a short-lived one took gets it back once that one is gone.
func (t *Table[K, T]) Get(id K) *T {
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
		*s = slot[K, T]{id, v}
	}
	return v
}

// Set makes v the value of id; v must not be nil.
func (t *Table[K, T]) Set(id K, v *T) {
	if len(t.slots) == 0 {
		t.slots = make([]slot[K, T], minSlots)
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
func (t *Table[K, T]) put(s *slot[K, T], id K, v *T) {
	if s.v != nil {
		// The newer goroutine takes the slot: it is the likelier to be
		// looked up next.
		if t.far == nil {
			t.far = make(map[K]*T)
		}
		t.far[s.id] = s.v
	}
	*s = slot[K, T]{id, v}
}

// grow doubles the slots and places every value again.
func (t *Table[K, T]) grow() {
	old, far := t.slots, t.far
	t.slots, t.far = make([]slot[K, T], 2*len(old)), nil
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
func (t *Table[K, T]) Delete(id K) {
	if len(t.slots) > 0 {
		if s := &t.slots[int(id)&(len(t.slots)-1)]; s.v != nil && s.id == id {
			*s = slot[K, T]{}
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
func (t *Table[K, T]) Len() int { return t.n }

// All yields every ID and its value, in no particular order. The table
// must not change during the iteration.
func (t *Table[K, T]) All() iter.Seq2[K, *T] {
	return func(yield func(K, *T) bool) {
		for _, s := range t.slots {
			if s.v != nil && !yield(s.id, s.v) {
				return
			}
		}
		for id, v := range t.far {
			if !yield(id, v) {
				return
			}
		}
	}
}
