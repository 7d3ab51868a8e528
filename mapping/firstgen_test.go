package mapping

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
)

// TestScanLateAgreesWithParser checks that the goroutines a generation
// states late, read from its bytes, are those the parser reports, for
// every generation of every Go 1.22+ trace at hand: the samples, the
// conformance traces and Go's own parser tests.
func TestScanLateAgreesWithParser(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*.trace")
	more, _ := filepath.Glob("../conformance/testdata/*.trace")
	files = append(files, more...)
	good, _ := testtraces.GoTests(t, "..")
	files = append(files, good...)
	var gens, withLate, parsed int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			continue // an older format, or a broken trace
		}
		for i, g := range idx.Generations {
			open := func() io.Reader {
				return io.MultiReader(bytes.NewReader(data[:headerSize]), bytes.NewReader(data[g.Offset:g.Offset+g.Size]))
			}
			want, err := prescanTrace(context.Background(), open())
			if err != nil {
				t.Fatal(err)
			}
			st, err := tracefile.FirstStatuses(context.Background(), open())
			if err != nil {
				t.Errorf("%s, generation %d: %v", f, i+1, err)
				continue
			}
			got, err := scanLate(context.Background(), open)
			if err != nil {
				t.Fatal(err)
			}
			gens++
			if len(want) > 0 {
				withLate++
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s, generation %d: the bytes say %d goroutines are stated late (%v), the parser %d (%v)", f, i+1, len(got), got, len(want), want)
			}
			if len(st) != len(got) {
				parsed++ // statuses of goroutines not live (none expected)
			}
		}
	}
	t.Logf("%d generations, %d with goroutines stated late", gens, withLate)
	if gens < 50 || withLate < 20 {
		t.Fatalf("only %d generations read, %d with goroutines stated late", gens, withLate)
	}
	if parsed > 0 {
		t.Errorf("%d generations state a goroutine in a status that is not live", parsed)
	}
}

// TestScanLateBrokenBytes checks that a generation whose bytes are not as
// the format says is read by the parser instead, and that the bytes'
// reader says where they went wrong rather than guess.
func TestScanLateBrokenBytes(t *testing.T) {
	data, err := os.ReadFile("../testdata/mixed.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	g := idx.Generations[0]
	gen := append([]byte(nil), data[:g.Offset+g.Size]...)
	want, err := prescanTrace(context.Background(), bytes.NewReader(gen))
	if err != nil {
		t.Fatal(err)
	}
	// An event type no batch may hold, at the start of the last batch
	// of events: its header is the 0x01 byte after which gen, M, time
	// and length follow.
	broken := append([]byte(nil), gen...)
	at := lastEventBatch(t, broken)
	broken[at] = 0x07 // a CPU sample, which only a batch of samples holds
	var e *tracefile.Error
	if _, err := tracefile.FirstStatuses(context.Background(), bytes.NewReader(broken)); !errors.As(err, &e) || e.Offset == 0 {
		t.Fatalf("FirstStatuses of a broken batch: %v, want an error at the batch", err)
	}
	got, err := scanLate(context.Background(), func() io.Reader { return bytes.NewReader(broken) })
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := prescanTrace(context.Background(), bytes.NewReader(broken))
	if !maps.Equal(got, parsed) {
		t.Errorf("a broken generation: %v, the parser finds %v", got, parsed)
	}
	if len(want) == 0 {
		t.Fatal("the sample's first generation states no goroutine late")
	}
	// Cut short: the reader says so.
	if _, err := tracefile.FirstStatuses(context.Background(), bytes.NewReader(gen[:len(gen)-3])); err == nil {
		t.Error("FirstStatuses of a generation cut short: no error")
	}
}

// lastEventBatch returns the offset of the first event of the last batch
// of events (not of strings, stacks, samples or the sync) in trace.
func lastEventBatch(t *testing.T, trace []byte) int {
	t.Helper()
	last := -1
	for off := headerSize; off < len(trace); {
		if trace[off] == 52 { // end of generation
			off++
			continue
		}
		p := off + 1
		if trace[off] == 49 { // experimental: its experiment
			p++
		}
		var vals [4]uint64
		for k := range vals {
			x, n := uvarint(trace[p:])
			vals[k], p = x, p+n
		}
		if trace[off] == 1 && vals[3] > 0 {
			switch trace[p] {
			case 2, 4, 6, 8, 50:
			default:
				last = p
			}
		}
		off = p + int(vals[3])
	}
	if last < 0 {
		t.Fatal("no batch of events")
	}
	return last
}

func uvarint(p []byte) (uint64, int) {
	var x uint64
	for i, c := range p {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}
