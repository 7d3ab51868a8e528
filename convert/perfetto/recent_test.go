package perfetto

import "testing"

// TestRecent checks that recent remembers the latest IDs, forgets an ID
// only for one maxRecent or more IDs later that takes its slot, and keeps
// what it holds as it grows.
func TestRecent(t *testing.T) {
	var r recent[int64]
	if _, ok := r.get(1); ok {
		t.Fatal("an empty table remembers 1")
	}
	// IDs in order, as the runtime hands them out, well past the bound.
	const n = 3 * maxRecent
	for id := int64(1); id <= n; id++ {
		r.put(id, uint64(id)*10)
	}
	if len(r.slots) != maxRecent {
		t.Errorf("%d slots, want the bound %d", len(r.slots), maxRecent)
	}
	for id := int64(n - maxRecent + 1); id <= n; id++ {
		if v, ok := r.get(id); !ok || v != uint64(id)*10 {
			t.Fatalf("get(%d) = %d, %v; want %d: one of the last %d IDs", id, v, ok, id*10, maxRecent)
		}
	}
	if _, ok := r.get(n - maxRecent); ok {
		t.Errorf("get(%d) found a value that a later ID replaced", n-maxRecent)
	}

	// A few IDs far apart grow the table rather than forget each other.
	var s recent[uint64]
	ids := []uint64{5, 5 + minRecent, 5 + 2*minRecent, 5 + 3*minRecent}
	for i, id := range ids {
		s.put(id, uint64(i+1))
	}
	for i, id := range ids {
		if v, ok := s.get(id); !ok || v != uint64(i+1) {
			t.Errorf("get(%d) = %d, %v; want %d", id, v, ok, i+1)
		}
	}
	if len(s.slots) <= minRecent {
		t.Errorf("%d slots after IDs met in one, want more than %d", len(s.slots), minRecent)
	}
}
