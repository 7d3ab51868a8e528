package mapping

// OneAtATime keeps a timeline row of things there is one of at a time (a
// pause of the world, a GC cycle, the P an M holds) drawable: a damaged
// trace can give two at once, and two slices on one row that overlap
// without nesting are misdrawn by the viewers (Perfetto's importer pairs
// each end with the other's begin; its JSON importer drops one). A
// converter places such a slice on a row beside it instead (see Place).
//
// The slices must come in the order of their ends, as the model delivers
// ranges and P runs.
type OneAtATime struct {
	// spans are the outermost slices placed, in time order: a slice
	// that encloses earlier ones takes their place.
	spans []span
	next  *OneAtATime
}

// maxSpans bounds what a OneAtATime keeps: disjoint slices pile up, and
// only a slice that begins before the last of them and encloses it needs
// the ones before, which no undamaged trace gives.
const maxSpans = 32

// Place returns on which row a slice from start to end goes: 0 for this
// one, k for the k-th row beside it, each row's slices nesting or
// following one another.
func (o *OneAtATime) Place(start, end Time) int {
	for k := 0; ; k++ {
		if o.fits(start, end) {
			return k
		}
		if o.next == nil {
			o.next = new(OneAtATime)
		}
		o = o.next
	}
}

// fits places the slice on this row if it overlaps none of its slices
// without nesting.
func (o *OneAtATime) fits(start, end Time) bool {
	n := len(o.spans)
	if n > 0 && start >= o.spans[n-1].start && end <= o.spans[n-1].end {
		return true // nested in the last (out of the order of ends)
	}
	// The slices it encloses.
	i := n
	for i > 0 && o.spans[i-1].start >= start && o.spans[i-1].end <= end {
		i--
	}
	if i > 0 && o.spans[i-1].end > start {
		return false
	}
	o.spans = append(o.spans[:i], span{start, end})
	if len(o.spans) > maxSpans {
		o.spans = append(o.spans[:0], o.spans[len(o.spans)-maxSpans/2:]...)
	}
	return true
}
