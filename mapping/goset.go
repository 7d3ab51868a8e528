package mapping

// goSet is a set of goroutine IDs, for what a pass must remember of every
// goroutine it has met, alive or ended. The runtime numbers goroutines
// from 1 upwards, nearly without gaps, so the set keeps a bit per ID in
// pages of 1024 IDs: a window over millions of goroutines keeps a few
// hundred kilobytes where a map keeps tens of bytes per goroutine.
type goSet struct {
	pages map[GoID]*[goSetPage / 64]uint64
	n     int
	// The page used last: consecutive calls mostly name nearby IDs.
	lastKey  GoID
	lastPage *[goSetPage / 64]uint64
}

const goSetPage = 1024

func (s *goSet) page(id GoID, create bool) (*[goSetPage / 64]uint64, uint) {
	key, bit := id>>10, uint(id&(goSetPage-1))
	if s.lastPage != nil && s.lastKey == key {
		return s.lastPage, bit
	}
	p := s.pages[key]
	if p == nil {
		if !create {
			return nil, bit
		}
		if s.pages == nil {
			s.pages = make(map[GoID]*[goSetPage / 64]uint64)
		}
		p = new([goSetPage / 64]uint64)
		s.pages[key] = p
	}
	s.lastKey, s.lastPage = key, p
	return p, bit
}

// has reports whether id is in the set.
func (s *goSet) has(id GoID) bool {
	p, bit := s.page(id, false)
	return p != nil && p[bit/64]&(1<<(bit%64)) != 0
}

// add puts id in the set.
func (s *goSet) add(id GoID) {
	p, bit := s.page(id, true)
	if w := &p[bit/64]; *w&(1<<(bit%64)) == 0 {
		*w |= 1 << (bit % 64)
		s.n++
	}
}

// len returns the number of IDs in the set.
func (s *goSet) len() int { return s.n }
