package perfetto_test

import (
	"slices"
	"testing"

	pb "github.com/trace2x/trace2x/convert/perfetto/perfettopb"
)

// TestTrackOrder checks that every track ordered among its siblings has
// a parent whose explicit ordering the trace processor keeps: not a
// process or thread track, whose children it makes tracks of their own,
// without a parent, that the UI sorts by name. And that the groups of the
// first screen come in go tool trace's order, under one track of the
// process.
func TestTrackOrder(t *testing.T) {
	data, _ := convert(t, "../../testdata/annotations.go1.26.trace")
	descs := map[uint64]*pb.TrackDescriptor{}
	for _, p := range decodeTrace(t, data).GetPacket() {
		if td := p.GetTrackDescriptor(); td != nil {
			descs[td.GetUuid()] = td
		}
	}
	type child struct {
		rank int32
		name string
	}
	children := map[uint64][]child{}
	var process uint64
	for uuid, td := range descs {
		if td.GetProcess() != nil {
			process = uuid
		}
		if td.SiblingOrderRank == nil {
			continue
		}
		parent, ok := descs[td.GetParentUuid()]
		switch {
		case !ok:
			t.Errorf("track %q: its parent %d is not declared", td.GetName(), td.GetParentUuid())
		case parent.GetProcess() != nil || parent.GetThread() != nil:
			t.Errorf("track %q is ordered under a process or thread track, whose children the trace processor does not order", td.GetName())
		case parent.GetChildOrdering() != pb.TrackDescriptor_EXPLICIT:
			t.Errorf("track %q has a rank under %q, whose ordering is %v", td.GetName(), parent.GetName(), parent.GetChildOrdering())
		}
		children[td.GetParentUuid()] = append(children[td.GetParentUuid()], child{td.GetSiblingOrderRank(), td.GetName()})
	}
	var top []uint64
	for uuid, td := range descs {
		if td.GetParentUuid() == process && process != 0 && td.GetThread() == nil {
			top = append(top, uuid)
		}
	}
	if len(top) != 1 {
		t.Fatalf("%d tracks under the process track, want the one that orders the groups", len(top))
	}
	groups := children[top[0]]
	slices.SortFunc(groups, func(a, b child) int { return int(a.rank - b.rank) })
	var names []string
	for _, g := range groups {
		names = append(names, g.name)
	}
	if want := []string{"Procs", "GC", "Counters", "Goroutines", "Tasks"}; !slices.Equal(names, want) {
		t.Errorf("groups %q, want %q", names, want)
	}
}
