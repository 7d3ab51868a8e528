package perfetto

// recent remembers a value per ID for a while: the tracks of goroutines
// that ended, the tasks whose slices were written. It is a table indexed
// by the ID's low bits, in which an ID takes the slot of an older one;
// the runtime hands out IDs in order, so an ID is forgotten once about
// maxRecent IDs have come after it, and memory stays bounded. The table
// starts small and doubles, up to maxRecent slots, while IDs meet in a
// slot. Unlike a map, it costs no hashing, and the IDs looked up, the
// latest, share a few cache lines.
type recent[K ~int64 | ~uint64] struct {
	slots []recentSlot[K]
}

type recentSlot[K ~int64 | ~uint64] struct {
	id  K
	v   uint64
	set bool
}

const (
	minRecent = 1 << 10
	maxRecent = 1 << 16
)

// put remembers v for id.
func (r *recent[K]) put(id K, v uint64) {
	if r.slots == nil {
		r.slots = make([]recentSlot[K], minRecent)
	}
	s := &r.slots[uint64(id)&uint64(len(r.slots)-1)]
	if s.set && s.id != id && len(r.slots) < maxRecent {
		r.grow()
		s = &r.slots[uint64(id)&uint64(len(r.slots)-1)]
	}
	*s = recentSlot[K]{id, v, true}
}

// get returns the value remembered for id.
func (r *recent[K]) get(id K) (uint64, bool) {
	if r.slots == nil {
		return 0, false
	}
	s := &r.slots[uint64(id)&uint64(len(r.slots)-1)]
	return s.v, s.set && s.id == id
}

// grow doubles the slots; of two IDs that meet again, the newer stays.
func (r *recent[K]) grow() {
	old := r.slots
	r.slots = make([]recentSlot[K], 2*len(old))
	for _, s := range old {
		if !s.set {
			continue
		}
		d := &r.slots[uint64(s.id)&uint64(len(r.slots)-1)]
		if !d.set || d.id < s.id {
			*d = s
		}
	}
}
