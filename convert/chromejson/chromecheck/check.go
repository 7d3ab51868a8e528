// Package chromecheck decodes a Chrome trace-event JSON file and checks
// what the viewers do not all report as errors: catapult silently draws
// overlapping slices and drops flows it cannot bind, and Perfetto drops
// slices that do not nest and names threads by tid alone. It checks that
// the file is one JSON object with the keys in an order Perfetto's
// streaming importer accepts; that every row used is named, with a tid no
// other process uses; that complete slices, with thread-scoped instants
// as the zero-length slices catapult makes of them, nest on every row;
// that begin and end events balance; that every flow start has exactly
// one finish, after it, each on a slice; that async slices pair up; that
// every stack reference is in the stackFrames table; and that a counter
// keeps the series of its first event. It also tallies what the file
// holds, so tests can compare it with the timeline it was made from.
package chromecheck

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Event is a decoded trace event. Times are in nanoseconds.
type Event struct {
	Ph       string
	Name     string
	Cat      string
	PID, TID int64
	TS, Dur  int64
	HasTID   bool
	ID       string
	BP       string
	Scope    string
	SF, ESF  string
	Args     map[string]any
	Raw      json.RawMessage // the event as written
	seq      int             // its place in the file
}

// Row identifies a thread row.
type Row struct{ PID, TID int64 }

// Flow is a flow start and its finish.
type Flow struct {
	Start, Finish *Event
	// StartSlice and FinishSlice are the slices catapult binds the ends
	// to.
	StartSlice, FinishSlice *Event
}

// Report is what a file holds.
type Report struct {
	Keys            []string // top-level keys, in order
	DisplayTimeUnit string
	Metadata        map[string]any
	Events          []*Event
	ProcessNames    map[int64]string
	ThreadNames     map[Row]string
	// Slices are the complete events and thread-scoped instants of each
	// row, by start, longer first.
	Slices      map[Row][]*Event
	Flows       []Flow
	AsyncPairs  map[string]int      // by category
	Counters    map[string][]*Event // by "pid/name", in file order
	StackFrames map[string]Frame
	// Samples is the samples array.
	Samples []Sample

	trees map[Row]*tree
}

// Sample is an entry of the samples array. TS is in nanoseconds.
type Sample struct {
	TID    int64
	TS     int64
	SF     string
	Name   string
	Weight int64
}

// Frame is an entry of the stackFrames table.
type Frame struct {
	Name   string `json:"name"`
	Parent any    `json:"parent,omitempty"`
}

// Count returns the number of events of phase ph (and category cat,
// unless it is "").
func (r *Report) Count(ph, cat string) int {
	n := 0
	for _, e := range r.Events {
		if e.Ph == ph && (cat == "" || e.Cat == cat) {
			n++
		}
	}
	return n
}

// Check decodes and checks a file.
func Check(data []byte) (*Report, error) {
	rep := &Report{
		ProcessNames: map[int64]string{},
		ThreadNames:  map[Row]string{},
		Slices:       map[Row][]*Event{},
		AsyncPairs:   map[string]int{},
		Counters:     map[string][]*Event{},
		StackFrames:  map[string]Frame{},
	}
	if err := rep.decode(data); err != nil {
		return nil, err
	}
	var errs []error
	for _, check := range []func() error{rep.checkKeys, rep.checkRows, rep.checkNesting, rep.checkFlows, rep.checkAsync, rep.checkStacks, rep.checkCounters, rep.checkSamples} {
		if err := check(); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// decode reads the top-level object key by key, to see their order.
func (r *Report) decode(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object: %v %v", tok, err)
	}
	var events []json.RawMessage
	var samples []struct {
		TID    int64       `json:"tid"`
		TS     json.Number `json:"ts"`
		SF     json.Number `json:"sf"`
		Name   string      `json:"name"`
		Weight int64       `json:"weight"`
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		r.Keys = append(r.Keys, key)
		var dst any
		switch key {
		case "displayTimeUnit":
			dst = &r.DisplayTimeUnit
		case "metadata":
			dst = &r.Metadata
		case "traceEvents":
			dst = &events
		case "stackFrames":
			dst = &r.StackFrames
		case "samples":
			dst = &samples
		default:
			dst = new(any)
		}
		if err := d.Decode(dst); err != nil {
			return fmt.Errorf("key %q: %v", key, err)
		}
	}
	if _, err := d.Token(); err != nil {
		return err
	}
	if _, err := d.Token(); err == nil {
		return errors.New("data after the top-level object")
	}
	for i, s := range samples {
		ts, err := s.TS.Float64()
		if err != nil || s.SF == "" {
			return fmt.Errorf("sample %d: no ts or sf", i)
		}
		r.Samples = append(r.Samples, Sample{s.TID, int64(math.Round(ts * 1000)), s.SF.String(), s.Name, s.Weight})
	}
	for i, raw := range events {
		e, err := decodeEvent(raw)
		if err != nil {
			return fmt.Errorf("event %d %s: %v", i, raw, err)
		}
		e.seq = i
		r.Events = append(r.Events, e)
	}
	return nil
}

func decodeEvent(raw json.RawMessage) (*Event, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	e := &Event{Raw: raw}
	str := func(k string) (string, error) {
		v, ok := m[k]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%q is not a string", k)
		}
		return s, nil
	}
	num := func(k string) (json.Number, bool, error) {
		v, ok := m[k]
		if !ok {
			return "", false, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return "", false, fmt.Errorf("%q is not a number", k)
		}
		return n, true, nil
	}
	micros := func(k string) (int64, bool, error) {
		n, ok, err := num(k)
		if !ok || err != nil {
			return 0, ok, err
		}
		f, err := n.Float64()
		if err != nil {
			return 0, true, err
		}
		return int64(math.Round(f * 1000)), true, nil
	}
	integer := func(k string) (int64, bool, error) {
		n, ok, err := num(k)
		if !ok || err != nil {
			return 0, ok, err
		}
		i, err := n.Int64()
		return i, true, err
	}
	ref := func(k string) (string, error) {
		v, ok := m[k]
		if !ok {
			return "", nil
		}
		switch v := v.(type) {
		case json.Number:
			return v.String(), nil
		case string:
			return v, nil
		}
		return "", fmt.Errorf("%q is neither a number nor a string", k)
	}
	var err error
	var ok bool
	if e.Ph, err = str("ph"); err != nil || e.Ph == "" {
		return nil, fmt.Errorf("no phase (%v)", err)
	}
	if e.Name, err = str("name"); err != nil {
		return nil, err
	}
	if e.Cat, err = str("cat"); err != nil {
		return nil, err
	}
	if e.BP, err = str("bp"); err != nil {
		return nil, err
	}
	if e.Scope, err = str("s"); err != nil {
		return nil, err
	}
	if e.PID, ok, err = integer("pid"); err != nil || !ok {
		return nil, fmt.Errorf("no integer pid (%v)", err)
	}
	if e.TID, e.HasTID, err = integer("tid"); err != nil {
		return nil, err
	}
	if e.TS, ok, err = micros("ts"); err != nil || (!ok && e.Ph != "M") {
		return nil, fmt.Errorf("no ts (%v)", err)
	}
	if e.Dur, ok, err = micros("dur"); err != nil || (!ok && e.Ph == "X") {
		return nil, fmt.Errorf("no dur (%v)", err)
	}
	if e.ID, err = ref("id"); err != nil {
		return nil, err
	}
	if e.SF, err = ref("sf"); err != nil {
		return nil, err
	}
	if e.ESF, err = ref("esf"); err != nil {
		return nil, err
	}
	if a, ok := m["args"]; ok {
		if e.Args, ok = a.(map[string]any); !ok {
			return nil, errors.New("args is not an object")
		}
	}
	return e, nil
}

// checkKeys checks the top-level keys. The events must come first: some
// past versions of Perfetto's importer stopped at the first key they did
// not know, and took a displayTimeUnit read before the events as the unit
// of the timestamps, which are microseconds whatever it says. It must say
// ns, for catapult.
func (r *Report) checkKeys() error {
	if len(r.Keys) == 0 || r.Keys[0] != "traceEvents" {
		return fmt.Errorf("traceEvents is not the first key: %q", r.Keys)
	}
	if !slices.Contains(r.Keys, "displayTimeUnit") || r.DisplayTimeUnit != "ns" {
		return fmt.Errorf("displayTimeUnit is %q, want ns", r.DisplayTimeUnit)
	}
	return nil
}

// checkRows checks that every row used is named, that no tid is used
// in two processes, and that none is 0.
func (r *Report) checkRows() error {
	used := map[Row]bool{}
	for _, e := range r.Events {
		switch e.Ph {
		case "M":
			switch e.Name {
			case "process_name", "thread_name":
				name, _ := e.Args["name"].(string)
				if name == "" {
					return fmt.Errorf("%s without a name: %s", e.Name, e.Raw)
				}
				if e.Name == "process_name" {
					r.ProcessNames[e.PID] = name
				} else {
					r.ThreadNames[Row{e.PID, e.TID}] = name
				}
			case "process_sort_index", "thread_sort_index":
				if _, ok := e.Args["sort_index"].(json.Number); !ok {
					return fmt.Errorf("%s without a sort index: %s", e.Name, e.Raw)
				}
			default:
				return fmt.Errorf("unknown metadata event %s", e.Raw)
			}
		case "C":
			if len(e.Args) == 0 {
				return fmt.Errorf("counter without values: %s", e.Raw)
			}
		default:
			if !e.HasTID && !(e.Ph == "i" && (e.Scope == "p" || e.Scope == "g")) {
				return fmt.Errorf("event without a tid: %s", e.Raw)
			}
			if e.HasTID {
				// Perfetto's JSON importer takes tid 0 for the
				// process's main thread (tid = pid), where another row
				// may be.
				if e.TID == 0 && e.PID != 0 {
					return fmt.Errorf("tid 0, which Perfetto reads as the process's own (tid %d): %s", e.PID, e.Raw)
				}
				used[Row{e.PID, e.TID}] = true
			}
		}
		if !slices.Contains([]string{"M", "X", "B", "E", "i", "C", "b", "e", "s", "f"}, e.Ph) {
			return fmt.Errorf("unexpected phase: %s", e.Raw)
		}
		if e.Ph != "M" {
			if _, ok := r.ProcessNames[e.PID]; !ok {
				return fmt.Errorf("process %d used before it is named: %s", e.PID, e.Raw)
			}
		}
	}
	pidOf := map[int64]int64{}
	for row := range used {
		if _, ok := r.ThreadNames[row]; !ok {
			return fmt.Errorf("row pid %d tid %d has no name", row.PID, row.TID)
		}
	}
	for row := range r.ThreadNames {
		if pid, ok := pidOf[row.TID]; ok && pid != row.PID {
			return fmt.Errorf("tid %d is in processes %d and %d", row.TID, pid, row.PID)
		}
		pidOf[row.TID] = row.PID
	}
	return nil
}

// checkNesting checks that slices nest on every row. Catapult makes a
// zero-length slice of a thread-scoped instant, so instants count.
func (r *Report) checkNesting() error {
	var open map[Row][]*Event
	for _, e := range r.Events {
		switch e.Ph {
		case "X":
			if e.Dur < 0 {
				return fmt.Errorf("negative duration: %s", e.Raw)
			}
		case "i":
			if e.Scope != "" && e.Scope != "t" {
				continue
			}
		case "B", "E":
			if open == nil {
				open = map[Row][]*Event{}
			}
			row := Row{e.PID, e.TID}
			if e.Ph == "B" {
				open[row] = append(open[row], e)
			} else if n := len(open[row]); n == 0 || open[row][n-1].TS > e.TS {
				return fmt.Errorf("unbalanced end: %s", e.Raw)
			} else {
				open[row] = open[row][:n-1]
			}
			continue
		default:
			continue
		}
		row := Row{e.PID, e.TID}
		r.Slices[row] = append(r.Slices[row], e)
	}
	for row, o := range open {
		if len(o) > 0 {
			return fmt.Errorf("row %v: %d begins without an end", row, len(o))
		}
	}
	for row, ss := range r.Slices {
		slices.SortStableFunc(ss, func(a, b *Event) int {
			return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(b.Dur, a.Dur))
		})
		var stack []*Event
		for _, s := range ss {
			for len(stack) > 0 && stack[len(stack)-1].TS+stack[len(stack)-1].Dur <= s.TS && !(s.Dur == 0 && stack[len(stack)-1].TS+stack[len(stack)-1].Dur == s.TS) {
				stack = stack[:len(stack)-1]
			}
			if n := len(stack); n > 0 && s.TS+s.Dur > stack[n-1].TS+stack[n-1].Dur {
				return fmt.Errorf("row %v (%s): slices overlap without nesting:\n\t%s\n\t%s", row, r.ThreadNames[row], stack[n-1].Raw, s.Raw)
			}
			stack = append(stack, s)
		}
	}
	return nil
}

// tree is a row's slices as catapult nests them.
type tree struct {
	top []*node
}

type node struct {
	e      *Event
	parent *node
	sub    []*node
}

func (n *node) end() int64 { return n.e.TS + n.e.Dur }

// catapultTree nests a row's slices the way catapult does: ordered by
// start and then by their order in the file (not by duration), each is
// put in the innermost slice so far that bounds it.
func (r *Report) catapultTree(row Row) *tree {
	if t, ok := r.trees[row]; ok {
		return t
	}
	ss := slices.Clone(r.Slices[row])
	slices.SortStableFunc(ss, func(a, b *Event) int { return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.seq, b.seq)) })
	t := &tree{}
	var cur *node
	for _, e := range ss {
		n := &node{e: e}
		for cur != nil && !(cur.e.TS <= e.TS && cur.end() >= e.TS+e.Dur) {
			cur = cur.parent
		}
		if cur == nil {
			t.top = append(t.top, n)
		} else {
			n.parent = cur
			cur.sub = append(cur.sub, n)
		}
		cur = n
	}
	if r.trees == nil {
		r.trees = map[Row]*tree{}
	}
	r.trees[row] = t
	return t
}

// findAt is catapult's search of sorted closed intervals: the earlier of
// two that touch at ts wins.
func findAt(ns []*node, ts int64) *node {
	i, _ := slices.BinarySearchFunc(ns, ts, func(n *node, ts int64) int { return cmp.Compare(n.e.TS, ts) })
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(ns) && ns[j].e.TS <= ts && ts <= ns[j].end() {
			return ns[j]
		}
	}
	return nil
}

// SliceAt returns the slice catapult binds a flow end at ts on row to
// (findSliceAtTs): the innermost slice whose closed interval holds ts,
// the earlier one where two touch.
func (r *Report) SliceAt(row Row, ts int64) *Event {
	n := findAt(r.catapultTree(row).top, ts)
	if n == nil {
		return nil
	}
	for {
		sub := findAt(n.sub, ts)
		if sub == nil {
			return n.e
		}
		n = sub
	}
}

// checkFlows pairs flow starts and finishes by category, name and id.
func (r *Report) checkFlows() error {
	type key struct{ cat, name, id string }
	starts := map[key]*Event{}
	finished := map[key]bool{}
	for _, e := range r.Events {
		k := key{e.Cat, e.Name, e.ID}
		switch e.Ph {
		case "s":
			if e.ID == "" {
				return fmt.Errorf("flow start without an id: %s", e.Raw)
			}
			if starts[k] != nil {
				return fmt.Errorf("flow started twice: %s", e.Raw)
			}
			starts[k] = e
		case "t":
			return fmt.Errorf("unexpected flow step: %s", e.Raw)
		}
	}
	for _, e := range r.Events {
		if e.Ph != "f" {
			continue
		}
		k := key{e.Cat, e.Name, e.ID}
		s := starts[k]
		switch {
		case s == nil:
			return fmt.Errorf("flow finish without a start: %s", e.Raw)
		case finished[k]:
			return fmt.Errorf("flow finished twice: %s", e.Raw)
		case e.TS < s.TS:
			return fmt.Errorf("flow finishes before it starts:\n\t%s\n\t%s", s.Raw, e.Raw)
		case e.BP != "e":
			return fmt.Errorf("flow finish not bound to its enclosing slice: %s", e.Raw)
		}
		finished[k] = true
		f := Flow{Start: s, Finish: e,
			StartSlice:  r.SliceAt(Row{s.PID, s.TID}, s.TS),
			FinishSlice: r.SliceAt(Row{e.PID, e.TID}, e.TS)}
		if f.StartSlice == nil || f.FinishSlice == nil {
			return fmt.Errorf("flow end not on a slice:\n\t%s\n\t%s", s.Raw, e.Raw)
		}
		r.Flows = append(r.Flows, f)
	}
	for k, s := range starts {
		if !finished[k] {
			return fmt.Errorf("flow start without a finish: %s", s.Raw)
		}
	}
	return nil
}

// checkAsync pairs async begins and ends by category and id.
func (r *Report) checkAsync() error {
	type key struct{ cat, id string }
	var evs []*Event
	for _, e := range r.Events {
		if e.Ph == "b" || e.Ph == "e" {
			if e.ID == "" {
				return fmt.Errorf("async event without an id: %s", e.Raw)
			}
			evs = append(evs, e)
		}
	}
	slices.SortStableFunc(evs, func(a, b *Event) int { return cmp.Compare(a.TS, b.TS) })
	depth := map[key]int{}
	for _, e := range evs {
		k := key{e.Cat, e.ID}
		if e.Ph == "b" {
			depth[k]++
			continue
		}
		if depth[k] == 0 {
			return fmt.Errorf("async end without a begin: %s", e.Raw)
		}
		depth[k]--
		r.AsyncPairs[e.Cat]++
	}
	for k, d := range depth {
		if d != 0 {
			return fmt.Errorf("async slice %v not ended", k)
		}
	}
	return nil
}

// checkStacks checks that every stack reference and frame parent is in
// the table, and that parents lead to a root.
func (r *Report) checkStacks() error {
	for id, f := range r.StackFrames {
		seen := 0
		for cur := f; cur.Parent != nil; seen++ {
			p := fmt.Sprint(cur.Parent)
			next, ok := r.StackFrames[p]
			if !ok {
				return fmt.Errorf("frame %s: parent %s not in stackFrames", id, p)
			}
			if seen > len(r.StackFrames) {
				return fmt.Errorf("frame %s: parents loop", id)
			}
			cur = next
		}
	}
	for _, e := range r.Events {
		for _, sf := range []string{e.SF, e.ESF} {
			if sf == "" {
				continue
			}
			if _, ok := r.StackFrames[sf]; !ok {
				return fmt.Errorf("stack frame %s not in stackFrames: %s", sf, e.Raw)
			}
		}
	}
	return nil
}

// checkCounters checks that a counter's events carry the series of its
// first one, as numbers.
func (r *Report) checkCounters() error {
	series := map[string][]string{}
	for _, e := range r.Events {
		if e.Ph != "C" {
			continue
		}
		k := strconv.FormatInt(e.PID, 10) + "/" + e.Name
		var names []string
		for name, v := range e.Args {
			if _, ok := v.(json.Number); !ok {
				return fmt.Errorf("counter value not a number: %s", e.Raw)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		if first, ok := series[k]; ok && !slices.Equal(first, names) {
			return fmt.Errorf("counter %s has series %q, then %q", k, first, names)
		}
		series[k] = names
		r.Counters[k] = append(r.Counters[k], e)
	}
	return nil
}

// checkSamples checks that each entry of the samples array names a thread
// row (catapult finds its thread by tid alone, so the tid must be a
// thread's in one process only) and a stack frame, and stands for a CPU
// sample instant of that row, at that time, with that stack.
func (r *Report) checkSamples() error {
	rows := map[int64]Row{}
	for row := range r.ThreadNames {
		rows[row.TID] = row
	}
	type key struct {
		row Row
		ts  int64
		sf  string
	}
	instants := map[key]int{}
	for _, e := range r.Events {
		if e.Ph == "i" && e.Cat == "cpu" && e.HasTID && e.SF != "" {
			instants[key{Row{e.PID, e.TID}, e.TS, e.SF}]++
		}
	}
	for _, s := range r.Samples {
		row, ok := rows[s.TID]
		if !ok {
			return fmt.Errorf("sample at %d ns: tid %d is no named row", s.TS, s.TID)
		}
		if _, ok := r.StackFrames[s.SF]; !ok {
			return fmt.Errorf("sample at %d ns: stack frame %s not in stackFrames", s.TS, s.SF)
		}
		k := key{row, s.TS, s.SF}
		if instants[k] == 0 {
			return fmt.Errorf("sample at %d ns on tid %d (sf %s) has no CPU sample instant", s.TS, s.TID, s.SF)
		}
		instants[k]--
	}
	return nil
}
