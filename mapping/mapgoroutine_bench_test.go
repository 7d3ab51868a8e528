package mapping

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"golang.org/x/exp/trace"

	synthtrace "github.com/trace2x/trace2x/internal/synth"
)

// BenchmarkMapGoroutine times the mapping's own goroutine alone, the one
// that cannot be split: the 8 MB service trace is parsed into batches
// once, as one parser hands them over while the mapping keeps up
// (one-parser) and as the parsers of MapFile do, with the events' state
// transitions decoded and stacks looked up (parsers), and each pass
// maps them into a sink that ignores everything. Its time per pass beside
// BenchmarkParseOnly/service8MB's is the share of a core the mapping
// needs to keep up with one parser. The collector is off while it maps,
// as the batches of the whole trace are live at once, which a real pass
// never holds.
func BenchmarkMapGoroutine(b *testing.B) {
	path, err := synthtrace.CachedService(8 << 20)
	if err != nil {
		b.Fatal(err)
	}
	for _, parsers := range []bool{false, true} {
		name := "one-parser"
		if parsers {
			name = "parsers"
		}
		b.Run(name, func(b *testing.B) { benchMapGoroutine(b, path, parsers) })
	}
}

func benchMapGoroutine(b *testing.B, path string, parsers bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	stacks := newStackCache()
	var batches []*batch
	for {
		bt := &batch{events: make([]trace.Event, 0, batchSize)}
		err := fill(tr, bt, stacks, parsers)
		batches = append(batches, bt)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		// The StackIDs the last pass gave the batches' stacks.
		for _, bt := range batches {
			for _, r := range bt.stks {
				if r != nil {
					*r = stackRef{stk: r.stk}
				}
			}
			for _, r := range bt.stateStks {
				if r != nil {
					*r = stackRef{stk: r.stk}
				}
			}
		}
		runtime.GC()
		cfg := newConfig(nil)
		m := newMapper(NopSink{}, &cfg)
		m.counter = &countingReader{}
		b.StartTimer()
		for _, bt := range batches {
			if err := m.mapBatch(bt); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.finish(); err != nil {
			b.Fatal(err)
		}
	}
}
