package mapping

// Lanes lays goroutines out on timeline rows for a viewer. A service
// starts a goroutine or several per request: a row for each would give a
// trace of a few seconds tens of thousands of rows, more than a person
// can scroll and more than a viewer can hold. So goroutines that start
// during the trace share rows, by start function: a goroutine takes a row
// of its function's that is free, one whose last goroutine ended before it
// was created, and the number of rows follows the peak number of such
// goroutines alive at once, not their total. Goroutines that were alive
// when the trace began (the program's long-lived workers, the runtime's
// own) and those whose start function is unknown keep a row each.
//
// Lanes is used by one converter from one goroutine. It takes the
// goroutines in the order the model delivers them; a goroutine must be
// ended (Release) before its lane can be taken again.
type Lanes struct {
	pools map[string]*lanePool
	n     int
}

// Lane is a row of a timeline.
type Lane struct {
	ID int // from 0, dense: lanes are numbered in the order they are first taken
	// Shared is set for a lane that goroutines of one start function take
	// in turn; unset, the lane is the goroutine's own.
	Shared bool
	Func   string // the start function of a shared lane's goroutines
	Index  int    // a shared lane's number among its function's, from 1
}

// lanePool holds the shared lanes of one start function.
type lanePool struct {
	n    int
	free []freeLane // in the order they were freed: the oldest first
	head int
}

type freeLane struct {
	lane  Lane
	since Time // when its last goroutine ended
}

// NewLanes returns a lane allocator with no lanes.
func NewLanes() *Lanes { return &Lanes{pools: map[string]*lanePool{}} }

// Take returns the lane of a goroutine that is first drawn, and whether the
// lane is new, for the caller to declare it.
func (l *Lanes) Take(g *Goroutine) (lane Lane, fresh bool) {
	if g.Flags.Has(OpenStart) || g.StartFunc == "" {
		l.n++
		return Lane{ID: l.n - 1}, true
	}
	p := l.pools[g.StartFunc]
	if p == nil {
		p = &lanePool{}
		l.pools[g.StartFunc] = p
	}
	// Lanes are freed roughly in time order, so the oldest free one is the
	// one most likely to have been free since before the goroutine was
	// created. Strictly before: a goroutine that begins where the last one
	// ended would meet its end on the same row at the same instant.
	if p.head < len(p.free) && p.free[p.head].since < g.Created {
		lane = p.free[p.head].lane
		p.head++
		if p.head == len(p.free) {
			p.free, p.head = p.free[:0], 0
		} else if p.head > 64 && p.head*2 > len(p.free) {
			p.free = append(p.free[:0], p.free[p.head:]...)
			p.head = 0
		}
		return lane, false
	}
	p.n++
	l.n++
	return Lane{ID: l.n - 1, Shared: true, Func: g.StartFunc, Index: p.n}, true
}

// Release frees a shared lane whose goroutine ended at t. Own lanes are
// never taken again.
func (l *Lanes) Release(lane Lane, t Time) {
	if !lane.Shared {
		return
	}
	p := l.pools[lane.Func]
	p.free = append(p.free, freeLane{lane, t})
}

// Count returns the number of lanes taken so far.
func (l *Lanes) Count() int { return l.n }

// SpanLanes lays out intervals that are delivered when they end, such as
// user tasks, on rows shared by key (a task's type): an interval takes the
// row of its key that has been free the longest, if that row's last
// interval ended before this one began, and a new row otherwise. A
// service's thousands of requests then take as many rows as were ever in
// flight at once.
type SpanLanes struct {
	pools map[string]*spanPool
	n     int
}

type spanPool struct {
	n     int
	lanes []spanLane // a min-heap by end
}

type spanLane struct {
	lane Lane
	end  Time
}

// NewSpanLanes returns a SpanLanes with no rows.
func NewSpanLanes() *SpanLanes { return &SpanLanes{pools: map[string]*spanPool{}} }

// Take returns the row of an interval [start, end] of key, and whether the
// row is new. The intervals of a key must come in the order of their ends.
func (l *SpanLanes) Take(key string, start, end Time) (lane Lane, fresh bool) {
	p := l.pools[key]
	if p == nil {
		if l.pools == nil {
			l.pools = map[string]*spanPool{} // the zero SpanLanes, as the zero Lanes, is ready
		}
		p = &spanPool{}
		l.pools[key] = p
	}
	if len(p.lanes) > 0 && p.lanes[0].end < start {
		p.lanes[0].end = end
		lane = p.lanes[0].lane
		p.down(0)
		return lane, false
	}
	p.n++
	l.n++
	lane = Lane{ID: l.n - 1, Shared: true, Func: key, Index: p.n}
	p.lanes = append(p.lanes, spanLane{lane, end})
	p.up(len(p.lanes) - 1)
	return lane, true
}

func (p *spanPool) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if p.lanes[parent].end <= p.lanes[i].end {
			return
		}
		p.lanes[parent], p.lanes[i] = p.lanes[i], p.lanes[parent]
		i = parent
	}
}

func (p *spanPool) down(i int) {
	for {
		least := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(p.lanes) && p.lanes[c].end < p.lanes[least].end {
				least = c
			}
		}
		if least == i {
			return
		}
		p.lanes[least], p.lanes[i] = p.lanes[i], p.lanes[least]
		i = least
	}
}
