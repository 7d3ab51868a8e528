package mapping

// idSet is a set of goroutine or task IDs, for what a pass must remember
// of every goroutine or task it has met, alive or ended. The runtime
// numbers both from 1 upwards, nearly without gaps, so the set keeps a bit
// per ID in pages of 1024 IDs: millions of goroutines or tasks take a few
// hundred kilobytes where a map takes tens of bytes each.
type idSet[K ~int64 | ~uint64] struct {
	pages map[K]*[idSetPage / 64]uint64
	n     int
	// The page used last: consecutive calls mostly name nearby IDs.
	lastKey  K
	lastPage *[idSetPage / 64]uint64
}

const idSetPage = 1024

func (s *idSet[K]) page(id K, create bool) (*[idSetPage / 64]uint64, uint) {
	key, bit := id>>10, uint(id&(idSetPage-1))
	if s.lastPage != nil && s.lastKey == key {
		return s.lastPage, bit
	}
	p := s.pages[key]
	if p == nil {
		if !create {
			return nil, bit
		}
		if s.pages == nil {
			s.pages = make(map[K]*[idSetPage / 64]uint64)
		}
		p = new([idSetPage / 64]uint64)
		s.pages[key] = p
	}
	s.lastKey, s.lastPage = key, p
	return p, bit
}

// has reports whether id is in the set.
func (s *idSet[K]) has(id K) bool {
	p, bit := s.page(id, false)
	return p != nil && p[bit/64]&(1<<(bit%64)) != 0
}

// add puts id in the set.
func (s *idSet[K]) add(id K) {
	p, bit := s.page(id, true)
	if w := &p[bit/64]; *w&(1<<(bit%64)) == 0 {
		*w |= 1 << (bit % 64)
		s.n++
	}
}

// len returns the number of IDs in the set.
func (s *idSet[K]) len() int { return s.n }
