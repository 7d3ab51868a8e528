package chromejson

import (
	"strconv"
	"strings"

	"github.com/trace2x/trace2x/internal/jsonstr"
	"github.com/trace2x/trace2x/mapping"
)

// stackTable turns the mapping's stacks into the format's stackFrames
// table: a tree of frames in which each node names its parent, so that
// stacks sharing their outer frames share nodes, and an event refers to
// its stack by the node of its innermost frame ("sf").
//
// The table is written at the end of each part, with only the nodes that
// part's events use: a split part loads alone, and a trace whose stacks
// are never referred to costs nothing in the output. Memory grows with
// the distinct frames and stacks, not with the events.
type stackTable struct {
	frames  []string // the JSON-quoted name of each distinct frame
	frameID map[frameKey]uint32
	nodes   []node // by node ID; 0 is unused
	nodeID  map[node]uint32
	leaf    []uint32 // the innermost node of each mapping.StackID

	part      int32
	nodePart  []int32  // the last part whose table lists the node
	partNodes []uint32 // the nodes listed in the current part's table
}

type frameKey struct {
	fn, file string
	line     uint64
}

// node is a frame called from its parent node (0 for the outermost).
type node struct {
	parent, frame uint32
}

func newStackTable() stackTable {
	return stackTable{
		frameID:  make(map[frameKey]uint32),
		nodes:    make([]node, 1),
		nodeID:   make(map[node]uint32),
		leaf:     make([]uint32, 1),
		nodePart: make([]int32, 1),
	}
}

// add interns a stack, outermost frame first.
func (st *stackTable) add(s *mapping.Stack) {
	parent := uint32(0)
	for i := len(s.Frames) - 1; i >= 0; i-- {
		f := &s.Frames[i]
		k := frameKey{f.Func, f.File, f.Line}
		if k.fn == "" {
			// A frame the runtime could not name (it writes some with
			// no PC): its address is all there is to tell.
			k.fn = "0x" + strconv.FormatUint(f.PC, 16)
		}
		fid, ok := st.frameID[k]
		if !ok {
			// The names belong to the parser's tables of one generation;
			// copies let those be freed.
			k.fn, k.file = strings.Clone(k.fn), strings.Clone(k.file)
			name := k.fn
			if k.file != "" || k.line != 0 {
				name += " " + k.file + ":" + strconv.FormatUint(k.line, 10)
			}
			fid = uint32(len(st.frames))
			st.frames = append(st.frames, string(jsonstr.Append(nil, name)))
			st.frameID[k] = fid
		}
		n := node{parent, fid}
		id, ok := st.nodeID[n]
		if !ok {
			id = uint32(len(st.nodes))
			st.nodes = append(st.nodes, n)
			st.nodePart = append(st.nodePart, 0)
			st.nodeID[n] = id
		}
		parent = id
	}
	for int(s.ID) >= len(st.leaf) {
		st.leaf = append(st.leaf, 0)
	}
	st.leaf[s.ID] = parent
}

// newPart starts the table of a new part.
func (st *stackTable) newPart(part int) {
	st.part = int32(part)
	st.partNodes = st.partNodes[:0]
}

// use returns the node to refer to for stack id, listing it and its
// ancestors in the current part's table, and the bytes that added to the
// table. It returns 0 for no stack.
func (st *stackTable) use(id mapping.StackID) (uint32, int64) {
	if int(id) >= len(st.leaf) {
		return 0, 0
	}
	leaf := st.leaf[id]
	var added int64
	for n := leaf; n != 0 && st.nodePart[n] != st.part; n = st.nodes[n].parent {
		st.nodePart[n] = st.part
		st.partNodes = append(st.partNodes, n)
		added += int64(len(st.frames[st.nodes[n].frame])) + 34
	}
	return leaf, added
}

// appendNode appends one entry of the stackFrames table.
func (st *stackTable) appendNode(b []byte, id uint32, pretty bool) []byte {
	sp := ""
	if pretty {
		sp = " "
	}
	n := st.nodes[id]
	b = append(b, '"')
	b = appendUint(b, uint64(id))
	b = append(b, '"', ':')
	b = append(b, sp...)
	b = append(b, `{"name":`...)
	b = append(b, sp...)
	b = append(b, st.frames[n.frame]...)
	if n.parent != 0 {
		b = append(b, `,`...)
		b = append(b, sp...)
		b = append(b, `"parent":`...)
		b = append(b, sp...)
		b = appendUint(b, uint64(n.parent))
	}
	return append(b, '}')
}
