package mapping

import (
	"encoding/binary"

	"golang.org/x/exp/trace"
)

// Stacks are handles into one generation's tables, and the same stack
// comes back in every generation under a new handle; the mapping gives
// each distinct stack one StackID for the whole pass. Finding a handle's
// ID is a map lookup per event with a stack. Where several parsers feed
// the mapping, they do it (see batch.add): each keeps a stackCache of its
// generation's handles, and a batch carries, beside each event, the
// stackRef of its stack. The mapping gives a ref its StackID the first
// time it meets it and finds it there on every later event: one pointer
// instead of a map lookup. Otherwise the mapping looks the handles up in
// a stackCache of its own.

// stackRef is one stack of one generation as one parser read it.
//
// The parsing goroutine sets stk before the first batch that holds the
// ref is handed over, and never touches the ref again; the rest belongs
// to the mapping, which sets it on first use. Many stacks of a
// generation are never used (those of the states every generation
// restates), so the stack's frames are read only then.
type stackRef struct {
	stk      trace.Stack
	id       StackID
	resolved bool // id is set
}

// stackCache finds the stackRef of each stack of a generation.
type stackCache struct {
	refs    map[trace.Stack]*stackRef
	last    trace.Stack // the stack looked up last, and its ref
	lastRef *stackRef
}

func newStackCache() *stackCache {
	return &stackCache{refs: make(map[trace.Stack]*stackRef)}
}

// reset forgets the generation's stacks, at a Sync: the refs stay valid
// for the batches that hold them.
func (c *stackCache) reset() {
	clear(c.refs)
	c.last, c.lastRef = trace.NoStack, nil
}

// ref returns the ref of stk, or nil for NoStack. Consecutive events
// often carry the same stack (a goroutine's state transition and the
// event's own), so the last one is checked first.
func (c *stackCache) ref(stk trace.Stack) *stackRef {
	if stk == trace.NoStack {
		return nil
	}
	if stk == c.last {
		return c.lastRef
	}
	r, ok := c.refs[stk]
	if !ok {
		r = &stackRef{stk: stk}
		c.refs[stk] = r
	}
	c.last, c.lastRef = stk, r
	return r
}

// stackKey returns the key that names stk across generations: its PCs,
// or, for synthetic stacks without PCs, the text of its frames. A stack
// without frames has an empty key. The key is good until the next call.
func (m *mapper) stackKey(stk trace.Stack) []byte {
	// Within one program a PC names one frame, which is what the parser
	// keys frames by too.
	key := m.keyBuf[:0]
	byPC := true
	for f := range stk.Frames() {
		key = binary.LittleEndian.AppendUint64(key, f.PC)
		byPC = byPC && f.PC != 0
	}
	if !byPC {
		key = key[:0]
		for f := range stk.Frames() {
			key = binary.LittleEndian.AppendUint64(key, f.PC)
			key = append(key, f.Func...)
			key = append(key, 0)
			key = append(key, f.File...)
			key = binary.LittleEndian.AppendUint64(key, f.Line)
		}
	}
	m.keyBuf = key
	return key
}

// resolve returns the StackID of r, NoStack for nil.
func (m *mapper) resolve(r *stackRef) (StackID, error) {
	if r == nil {
		return NoStack, nil
	}
	if r.resolved {
		return r.id, nil
	}
	return m.intern(r)
}

// intern gives r the StackID of its stack, delivering the stack on first
// sight in the pass.
func (m *mapper) intern(r *stackRef) (StackID, error) {
	key := m.stackKey(r.stk)
	if len(key) == 0 {
		r.resolved = true
		return NoStack, nil
	}
	id, ok := m.stackIDs[string(key)]
	if !ok {
		m.nextStack++
		id = m.nextStack
		m.stackIDs[string(key)] = id
		frames := m.frameBuf[:0]
		for f := range r.stk.Frames() {
			frames = append(frames, Frame{PC: f.PC, Func: f.Func, File: f.File, Line: f.Line})
		}
		m.frameBuf = frames
		m.stk = Stack{ID: id, Frames: frames}
		if err := m.sink.Stack(&m.stk); err != nil {
			return 0, err
		}
	}
	r.id, r.resolved = id, true
	return id, nil
}

// evStackRef is the ref of the current event's stack: looked up where
// the event was parsed, or here.
func (m *mapper) evStackRef(ev *trace.Event) *stackRef {
	if m.decoded {
		return m.curStk
	}
	return m.ownStacks.ref(ev.Stack())
}

// evStack returns the StackID of the current event's stack.
func (m *mapper) evStack(ev *trace.Event) (StackID, error) {
	return m.resolve(m.evStackRef(ev))
}
