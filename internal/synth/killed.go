package synth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trace2x/trace2x/internal/tracefile"
)

// KilledAtLastGeneration returns a Go 1.26+ trace of several generations
// as a process killed just after its tracer began the last generation
// leaves it: the generations before, and of the last one only the batch
// the tracer writes first, its clock (the batch of no thread).
func KilledAtLastGeneration(data []byte) ([]byte, error) {
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	if len(idx.Generations) < 2 {
		return nil, fmt.Errorf("synth: %d generations, not several", len(idx.Generations))
	}
	last := idx.Generations[len(idx.Generations)-1]
	for off := last.Offset; off < int64(len(data)) && data[off] == 1; { // a batch
		p := data[off+1:]
		var v [4]uint64 // generation, thread, time, size
		for k := range v {
			n := 0
			v[k], n = binary.Uvarint(p)
			if n <= 0 {
				return nil, fmt.Errorf("synth: a bad batch header at byte %d", off)
			}
			p = p[n:]
		}
		end := int64(len(data)-len(p)) + int64(v[3])
		if v[1] == ^uint64(0) {
			return append(append([]byte(nil), data[:last.Offset]...), data[off:end]...), nil
		}
		off = end
	}
	return nil, errors.New("synth: no batch of no thread in the last generation")
}
