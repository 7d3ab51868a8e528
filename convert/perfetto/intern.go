package perfetto

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/trace2x/trace2x/mapping"
)

// interner assigns interning IDs on the writer's one packet sequence. New
// entries are queued and written in the InternedData of the packet that
// first uses them, as the protocol requires.
type interner struct {
	names, cats, anns, funcs, files map[string]uint64
	frames                          map[frameKey]uint64

	newNames, newCats, newAnns []entry
}

type entry struct {
	iid  uint64
	name string
}

type frameKey struct {
	fn, file string
	line     uint64
}

func newInterner() interner {
	in := interner{
		names:  make(map[string]uint64),
		cats:   make(map[string]uint64),
		anns:   make(map[string]uint64),
		funcs:  make(map[string]uint64),
		files:  make(map[string]uint64),
		frames: make(map[frameKey]uint64),
	}
	for _, n := range categoryNames {
		id(in.cats, &in.newCats, n)
	}
	for _, n := range fixedAnnNames {
		id(in.anns, &in.newAnns, n)
	}
	return in
}

// id returns s's ID in table, queueing it on pending if it is new.
func id(table map[string]uint64, pending *[]entry, s string) uint64 {
	if iid, ok := table[s]; ok {
		return iid
	}
	iid := uint64(len(table) + 1)
	table[s] = iid
	*pending = append(*pending, entry{iid, s})
	return iid
}

// name interns an event name from the shared table, which holds the few
// names that recur (states, ranges, region types); goroutine and log names
// are interned apart (see goName, logNameIID) and take odd IDs, shared
// names even ones.
func (w *Writer) name(ev msg, s string) msg {
	iid, ok := w.intern.names[s]
	if !ok {
		iid = uint64(2 * (len(w.intern.names) + 1))
		w.intern.names[s] = iid
		w.intern.newNames = append(w.intern.newNames, entry{iid, s})
	}
	return ev.uint(fEvNameIID, iid)
}

// Categories, interned first thing with these IDs.
const (
	catGoroutine = iota + 1
	catProc
	catThread
	catGC
	catTask
	catRegion
	catLog
	catCPU
	catLifetime
)

var categoryNames = []string{"goroutine", "proc", "thread", "gc", "task", "region", "log", "cpu", "lifetime"}

func (w *Writer) category(ev msg, cat uint64) msg {
	return ev.uint(fEvCategoryIIDs, cat)
}

// annOpen starts a debug annotation. The names on the hot path were
// interned first thing, in the order of fixedAnnNames, so their IDs are
// known without a lookup.
func (w *Writer) annOpen(ev msg, name string) (msg, int) {
	ev, off := ev.open(fEvDebugAnnotations)
	if iid := fixedAnnIID(name); iid != 0 {
		return ev.uint(fDaNameIID, iid), off
	}
	return ev.uint(fDaNameIID, id(w.intern.anns, &w.intern.newAnns, name)), off
}

// fixedAnnNames are the annotation names on the hot path.
var fixedAnnNames = []string{"P", "M", "goroutine", "blocked", "reason", "task", "category", "message"}

// The IDs of the first fixed names, for the writers of goroutine states,
// which pass them to annFixed themselves.
const (
	annP = iota + 1
	annM
	annGoroutine
	annBlocked
)

// fixedAnnIID returns the interned ID of a name in fixedAnnNames, or 0. A
// switch on constants is several times faster than a scan or a map.
func fixedAnnIID(name string) uint64 {
	switch name {
	case "P":
		return 1
	case "M":
		return 2
	case "goroutine":
		return 3
	case "blocked":
		return 4
	case "reason":
		return 5
	case "task":
		return 6
	case "category":
		return 7
	case "message":
		return 8
	}
	return 0
}

func (w *Writer) annStr(ev msg, name, v string) msg {
	ev, off := w.annOpen(ev, name)
	return ev.str(fDaStringValue, v).close(off)
}

func (w *Writer) annUint(ev msg, name string, v uint64) msg {
	if iid := fixedAnnIID(name); iid != 0 {
		return annFixed(ev, iid, fDaUintValue, v)
	}
	ev, off := w.annOpen(ev, name)
	return ev.uint(fDaUintValue, v).close(off)
}

func (w *Writer) annInt(ev msg, name string, v int64) msg {
	if iid := fixedAnnIID(name); iid != 0 {
		return annFixed(ev, iid, fDaIntValue, uint64(v))
	}
	ev, off := w.annOpen(ev, name)
	return ev.int(fDaIntValue, v).close(off)
}

func (w *Writer) annBool(ev msg, name string, v bool) msg {
	if iid := fixedAnnIID(name); iid != 0 {
		return annFixed(ev, iid, fDaBoolValue, protowire.EncodeBool(v))
	}
	ev, off := w.annOpen(ev, name)
	return ev.bool(fDaBoolValue, v).close(off)
}

// annFixed writes a debug annotation with a name of fixedAnnNames and a
// varint value. Its length is known before it is written, so it takes a
// few appends: most slices carry two or three of these.
func annFixed(ev msg, iid uint64, f protowire.Number, v uint64) msg {
	n := protowire.SizeVarint(v)
	ev = append(ev, fEvDebugAnnotations<<3|byte(protowire.BytesType), byte(3+n), fDaNameIID<<3, byte(iid), byte(f)<<3)
	return appendVarint(ev, v)
}

// flushInterned ends the event packet being encoded and writes the
// entries it interned.
func (w *Writer) flushInterned() {
	w.endPacket()
	in := &w.intern
	if len(in.newNames)+len(in.newCats)+len(in.newAnns) > 0 {
		// In a packet of its own, written at once: the event waits in
		// the stage, and what it refers to must be earlier in the file.
		w.begin(untimed, 0)
		d, off := w.pkt.open(fPktInternedData)
		d = appendEntries(d, fIntEventNames, in.newNames)
		d = appendEntries(d, fIntEventCategories, in.newCats)
		d = appendEntries(d, fIntDebugAnnotationNames, in.newAnns)
		w.pkt = d.close(off)
		in.newNames, in.newCats, in.newAnns = in.newNames[:0], in.newCats[:0], in.newAnns[:0]
		w.endPacket()
	}
}

func appendEntries(d msg, f protowire.Number, es []entry) msg {
	for _, e := range es {
		var off int
		d, off = d.open(f)
		d = d.uint(fIIDIID, e.iid)
		d = d.str(fIIDName, e.name)
		d = d.close(off)
	}
	return d
}

// mappingIID is the one mapping every frame belongs to: the traced Go
// program. The trace processor wants a mapping for each frame.
const mappingIID = 1

// Stack interns a stack as a callstack whose ID is the stack's own, with
// its frames and their function and file names.
func (w *Writer) Stack(s *mapping.Stack) error {
	if w.closed {
		return errClosed
	}
	in := &w.intern
	w.begin(untimed, 0)
	d, off := w.pkt.open(fPktInternedData)
	if len(in.frames) == 0 {
		var moff int
		d, moff = d.open(fIntMappingPaths)
		d = d.uint(fIIDIID, 1)
		d = d.str(fIIDName, w.cfg.processName)
		d = d.close(moff)
		d, moff = d.open(fIntMappings)
		d = d.uint(fMappingIID, mappingIID)
		d = d.uint(fMappingPathStringIDs, 1)
		d = d.close(moff)
	}
	frameIDs := make([]uint64, 0, len(s.Frames))
	// Perfetto callstacks list frames from the root to the leaf.
	for i := len(s.Frames) - 1; i >= 0; i-- {
		f := s.Frames[i]
		k := frameKey{f.Func, f.File, f.Line}
		fid, ok := in.frames[k]
		if !ok {
			fn, ok := in.funcs[f.Func]
			if !ok {
				fn = uint64(len(in.funcs) + 1)
				in.funcs[f.Func] = fn
				var foff int
				d, foff = d.open(fIntFunctionNames)
				d = d.uint(fIIDIID, fn)
				d = d.str(fIIDName, f.Func)
				d = d.close(foff)
			}
			file, ok := in.files[f.File]
			if !ok {
				file = uint64(len(in.files) + 1)
				in.files[f.File] = file
				var foff int
				d, foff = d.open(fIntSourcePaths)
				d = d.uint(fIIDIID, file)
				d = d.str(fIIDName, f.File)
				d = d.close(foff)
			}
			fid = uint64(len(in.frames) + 1)
			in.frames[k] = fid
			var foff int
			d, foff = d.open(fIntFrames)
			d = d.uint(fFrameIID, fid)
			d = d.uint(fFrameFunctionNameID, fn)
			d = d.uint(fFrameMappingID, mappingIID)
			d = d.uint(fFrameRelPC, f.PC)
			d = d.uint(fFrameSourcePathIID, file)
			d = d.uint(fFrameLineNumber, f.Line)
			d = d.close(foff)
		}
		frameIDs = append(frameIDs, fid)
	}
	var coff int
	d, coff = d.open(fIntCallstacks)
	d = d.uint(fCallstackIID, uint64(s.ID))
	for _, fid := range frameIDs {
		d = d.uint(fCallstackFrameIDs, fid)
	}
	d = d.close(coff)
	w.pkt = d.close(off)
	w.endPacket()
	w.stacks[s.ID] = true
	return w.err
}
