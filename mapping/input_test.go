package mapping_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"

	"github.com/trace2x/trace2x/internal/synth"
	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestCompressedInput reads a trace compressed with gzip and with zstd
// and expects the same summary as for the plain trace.
func TestCompressedInput(t *testing.T) {
	data := readTrace(t, "annotations.go1.26.trace")
	plain, err := mapping.Map(bytes.NewReader(data), mapping.NopSink{})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zst := enc.EncodeAll(data, nil)
	for name, in := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zst} {
		t.Run(name, func(t *testing.T) {
			sum, err := mapping.Map(bytes.NewReader(in), mapping.NopSink{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Events != plain.Events || sum.End != plain.End || sum.FormatVersion != plain.FormatVersion {
				t.Errorf("read %d events to %d (%s), the plain trace %d to %d (%s)",
					sum.Events, sum.End, sum.FormatVersion, plain.Events, plain.End, plain.FormatVersion)
			}
			// Decompress gives the plain bytes, for callers that hash them.
			r, err := mapping.Decompress(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := out.ReadFrom(r); err != nil || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("Decompress: %d bytes (%v), want the %d of the trace", out.Len(), err, len(data))
			}
		})
	}
	// A compressed stream cut short is the input's fault, and the error
	// names the format: the parser's own complaint about the bytes it
	// lacks would say nothing of it.
	for name, in := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zst} {
		t.Run("truncated "+name, func(t *testing.T) {
			_, err := mapping.Map(bytes.NewReader(in[:len(in)/2]), mapping.NopSink{})
			var me *mapping.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v, want a *mapping.Error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "reading failed near byte") || !strings.Contains(msg, name+"-compressed input: ") {
				t.Errorf("error %q does not say the %s input failed", msg, name)
			}
		})
	}
	// Bytes after the gzip stream that are no gzip member: the trace is
	// read whole, and the error says what follows it.
	junk := append(slices.Clip(gz.Bytes()), "not gzip"...)
	sum, err := mapping.Map(bytes.NewReader(junk), mapping.NopSink{})
	if msg := fmt.Sprint(err); !strings.Contains(msg, "gzip-compressed input: bytes after the end of the compressed data are not another gzip member") {
		t.Errorf("gzip followed by other bytes: error %q does not say so", msg)
	}
	if sum == nil || sum.Events != plain.Events {
		t.Errorf("gzip followed by other bytes: %+v, want the trace's %d events read", sum, plain.Events)
	}
	// A whole compressed stream of a trace cut short: the place of the
	// break is in the trace the stream decompresses to, and the error
	// says so, lest it be read as an offset in the compressed bytes.
	start, size := batchAround(t, data, len(data)/2)
	var cut bytes.Buffer
	zw = gzip.NewWriter(&cut)
	zw.Write(data[:len(data)/2])
	zw.Close()
	_, err = mapping.Map(bytes.NewReader(cut.Bytes()), mapping.NopSink{})
	want := fmt.Sprintf("broken trace in generation 1 (from byte 16 of the decompressed trace), at byte %d, where a batch of %d bytes runs past the end of the trace, which is cut short at byte %d", start, size, len(data)/2)
	if msg := fmt.Sprint(err); !strings.Contains(msg, want) {
		t.Errorf("a compressed trace cut short: error %q does not say %q", msg, want)
	}
}

// TestPprofProfileInput gives a CPU profile where a trace belongs, a
// common mistake with the neighbouring /debug/pprof endpoints.
func TestPprofProfileInput(t *testing.T) {
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skipf("a CPU profile is already running: %v", err)
	}
	pprof.StopCPUProfile()
	_, err := mapping.Map(bytes.NewReader(prof.Bytes()), mapping.NopSink{}, mapping.WithInputName("profile.pb.gz"))
	if !errors.Is(err, mapping.ErrNotTrace) || !strings.Contains(err.Error(), "pprof profile") || !strings.HasPrefix(err.Error(), "profile.pb.gz: ") {
		t.Fatalf("error %v, want one naming the input and saying it is a pprof profile", err)
	}
}

// TestInputFails checks that an input that fails (a connection reset
// mid-batch) is reported as such, with its error, not as a trace the
// parser found short: what is wrong is the input, not the trace.
func TestInputFails(t *testing.T) {
	data := readTrace(t, "mixed.go1.26.trace")
	reset := errors.New("connection reset by peer")
	for _, cut := range []int{len(data) / 2, len(data) - 1, len(data)} {
		_, err := mapping.Map(io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(reset)), mapping.NopSink{}, mapping.WithInputName("http://host/debug/pprof/trace"))
		var me *mapping.Error
		if !errors.As(err, &me) || !errors.Is(err, reset) {
			t.Fatalf("cut at %d: error %v, want a *mapping.Error wrapping %v", cut, err, reset)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "http://host/debug/pprof/trace: reading failed near byte ") || !strings.Contains(msg, ": connection reset by peer") {
			t.Errorf("cut at %d: %q, want it to say reading failed, with the input's error", cut, msg)
		}
		// Nothing of a first generation cut short is converted, and
		// the error says why.
		if hint := "the input failed inside its first)"; (me.Generation == 0) != strings.HasSuffix(err.Error(), hint) {
			t.Errorf("cut at %d, after %d generations: %q", cut, me.Generation, err)
		}
	}
	// An input that fails before its first byte (a target that sent its
	// headers and then nothing) is not said to fail "near byte 0".
	_, err := mapping.Map(iotest.ErrReader(reset), mapping.NopSink{}, mapping.WithInputName("http://host/debug/pprof/trace"))
	if want := "http://host/debug/pprof/trace: reading failed before its first byte: connection reset by peer"; fmt.Sprint(err) != want {
		t.Errorf("an input that fails at once: %q, want %q", err, want)
	}
	// The same bytes ending cleanly are a trace cut short, and the error
	// says where: the generation it breaks off in, and the end of the
	// input, inside a batch.
	_, err = mapping.Map(bytes.NewReader(data[:len(data)/2]), mapping.NopSink{})
	start, size := batchAround(t, data, len(data)/2)
	if want := fmt.Sprintf("broken trace in generation 1 (from byte 16), at byte %d, where a batch of %d bytes runs past the end of the trace, which is cut short at byte %d", start, size, len(data)/2); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a trace cut short: %v, want it to say %q", err, want)
	}
}

// TestHeaderErrors checks what is said of a header that is not a trace's,
// or of a version that is not read: never that a version in the range
// read is out of it, and never an empty quote.
func TestHeaderErrors(t *testing.T) {
	body := bytes.Repeat([]byte{1}, 64)
	for _, tc := range []struct {
		in   []byte
		is   error
		want string
	}{
		{append([]byte("go 1.20 trace\x00\x00\x00"), body...), mapping.ErrVersion, "go 1.20: no Go release writes that header"},
		{append([]byte("go 1.10 trace\x00\x00\x00"), body...), mapping.ErrVersion, "go 1.10: the format of Go 1.10 and earlier"},
		{append([]byte("go 1.30 trace\x00\x00\x00"), body...), mapping.ErrVersion, "go 1.30: trace2x reads the formats of Go 1.11 to 1.26"},
		{make([]byte, 64), mapping.ErrNotTrace, `starts with "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"`},
		{[]byte("<html><body>a page</body></html>"), mapping.ErrNotTrace, `starts with "<html><body>a pa"`},
		{[]byte("<!DOCTYPE html>\n<html><head><TITLE> Please log in </TITLE></head></html>"), mapping.ErrNotTrace, `it is an HTML page titled "Please log in"`},
		{[]byte(`{"traceEvents":[{"ph":"X"}]}`), mapping.ErrNotTrace, "it looks like Chrome trace JSON"},
		{[]byte(`{"input": "x"}`), mapping.ErrNotTrace, "it looks like JSON"},
		{[]byte(`[{"ph":"X","ts":1,"pid":1}]`), mapping.ErrNotTrace, "it looks like Chrome trace JSON"},
		{[]byte(`{"resourceSpans":[{"resource":{}}]}`), mapping.ErrNotTrace, "it looks like OTLP JSON"},
		// A packet with a sequence ID and flags, then compressed packets
		// longer than what is read ahead.
		{append([]byte("\x0a\x04\x50\x01\x68\x01\x0a\xe0\x10\x92\x03\xdc\x10\x1f\x8b"), body...), mapping.ErrNotTrace, "it looks like a Perfetto trace"},
		{append([]byte("\x0a\xe0\x10\x92\x03\xdc\x10\x1f\x8b\x08\x00\x00\x09\x6e\x88\x04"), body...), mapping.ErrNotTrace, "it looks like a Perfetto trace"},
	} {
		_, err := mapping.Map(bytes.NewReader(tc.in), mapping.NopSink{})
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %v saying %s", tc.in[:16], err, tc.is, tc.want)
		}
	}
	// A header cut short says how much of it there is.
	for in, want := range map[string]string{"g": "ends after 1 byte,", "go 1.2": "ends after 6 bytes,"} {
		if _, err := mapping.Map(strings.NewReader(in), mapping.NopSink{}); !errors.Is(err, mapping.ErrNotTrace) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want not a trace, saying it %s", in, err, want)
		}
	}
	// Text that starts with newlines is not taken for protobuf.
	for _, in := range []string{"\n\nhello world, not a trace", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"} {
		if _, err := mapping.Map(strings.NewReader(in), mapping.NopSink{}); !errors.Is(err, mapping.ErrNotTrace) || strings.Contains(err.Error(), "looks like") {
			t.Errorf("%q: %v; want not a trace, and no guess", in, err)
		}
	}
}

// failAfter reads its bytes, then fails with err, then with other, as a
// request's body does whose read failed and ended its context.
type failAfter struct {
	data       []byte
	err, other error
	failed     bool
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) > 0 {
		n := copy(p, f.data)
		f.data = f.data[n:]
		return n, nil
	}
	if f.failed {
		return 0, f.other
	}
	f.failed = true
	return 0, f.err
}

// TestFirstReadError checks that an input that fails within its first
// bytes is reported with its own error, not with what a read after it
// says.
func TestFirstReadError(t *testing.T) {
	first, later := errors.New("the client sent nothing for 30s"), errors.New("context canceled")
	for _, data := range [][]byte{nil, []byte("go")} {
		_, err := mapping.Map(&failAfter{data: data, err: first, other: later}, mapping.NopSink{})
		if !errors.Is(err, first) {
			t.Errorf("%q then a failure: %v; want the first failure", data, err)
		}
		r, err := mapping.Decompress(&failAfter{data: data, err: first, other: later})
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, first) {
			t.Errorf("Decompress of %q then a failure: %v; want the first failure", data, err)
		}
	}
}

// TestBrokenWords checks that the error of a Go 1.22 trace cut in its
// first generation says "broken trace" once, and not in the parser's
// words for a batch it lacks.
func TestBrokenWords(t *testing.T) {
	data, err := os.ReadFile("../testdata/mixed.go1.22.trace")
	if err != nil {
		t.Fatal(err)
	}
	_, err = mapping.Map(bytes.NewReader(data[:2192]), mapping.NopSink{}, mapping.WithInputName("cut.trace"))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Count(msg, "broken trace") != 1 || strings.Contains(msg, "frontier") || !strings.Contains(msg, "a batch it needs is missing") {
		t.Errorf("error %q, want \"broken trace\" once and the missing batch said", msg)
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("reader bug") }

// TestReaderPanics checks that a panic of the input's reader reaches the
// caller of Map, where it can be recovered, also with WithContext, whose
// reads happen on a goroutine of their own.
func TestReaderPanics(t *testing.T) {
	for _, opts := range [][]mapping.Option{nil, {mapping.WithContext(context.Background())}} {
		got := func() (p any) {
			defer func() { p = recover() }()
			mapping.Map(panicReader{}, mapping.NopSink{}, opts...)
			return nil
		}()
		if got != "reader bug" {
			t.Errorf("with %d options: the caller recovered %v, want the reader's panic", len(opts), got)
		}
	}
}

// TestCallbackPanics checks that a panic of a callback the program gave
// the pass, not of its sink, comes back as a *SinkPanicError that does
// not blame the sink.
func TestCallbackPanics(t *testing.T) {
	var rec bytes.Buffer
	if err := synth.Record(&rec, 2<<20); err != nil { // progress is told every 65536 events
		t.Fatal(err)
	}
	_, err := mapping.Map(&rec, mapping.NopSink{}, mapping.WithProgress(func(p mapping.Progress) {
		if !p.Done {
			panic("progress bug")
		}
	}))
	var pe *mapping.SinkPanicError
	if !errors.As(err, &pe) || pe.Method != "" || strings.Contains(err.Error(), "sink") || !strings.Contains(err.Error(), "progress bug") {
		t.Errorf("error %v, want a *SinkPanicError of no sink's method, saying the panic and not blaming the sink", err)
	}
}

// TestBatchBomb gives, gzip-compressed, a generation of a million empty
// batches (5 MB that compress to a few kilobytes), which the parser would
// hold at about 700 bytes each: the pass refuses it where it passes the
// limit, from a stream and from a file alike, and says why.
func TestBatchBomb(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("go 1.26 trace\x00\x00\x00"))
	empty := bytes.Repeat([]byte{1, 1, 0, 0, 0}, 1<<20)
	zw.Write(empty)
	zw.Close()
	plain := append([]byte("go 1.26 trace\x00\x00\x00"), empty...)
	for name, pass := range map[string]func() (*mapping.Summary, error){
		"gzip stream": func() (*mapping.Summary, error) { return mapping.Map(bytes.NewReader(gz.Bytes()), mapping.NopSink{}) },
		"file": func() (*mapping.Summary, error) {
			return mapping.MapFile(bytes.NewReader(plain), int64(len(plain)), mapping.NopSink{})
		},
		"stream": func() (*mapping.Summary, error) { return mapping.Map(bytes.NewReader(plain), mapping.NopSink{}) },
	} {
		_, err := pass()
		if !errors.Is(err, tracefile.ErrTooManyBatches) || !strings.Contains(err.Error(), "in generation 1 (from byte 16") {
			t.Errorf("%s: %v, want the generation refused for its batches", name, err)
		}
	}
}

// TestErrorWording checks what is said of a trace compressed twice, and
// of one whose writer stopped inside its first generation: that nothing
// of it is converted, and no "event" read, where the parser read only its
// own opening Sync.
func TestErrorWording(t *testing.T) {
	data := readTrace(t, "mixed.go1.26.trace")
	var once, twice bytes.Buffer
	zw := gzip.NewWriter(&once)
	zw.Write(data)
	zw.Close()
	zw = gzip.NewWriter(&twice)
	zw.Write(once.Bytes())
	zw.Close()
	_, err := mapping.Map(bytes.NewReader(twice.Bytes()), mapping.NopSink{})
	if !errors.Is(err, mapping.ErrNotTrace) || !strings.Contains(err.Error(), "it is compressed again") {
		t.Errorf("a trace compressed twice: %v", err)
	}

	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	g := idx.Generations[0]
	cut := data[:g.Offset+g.Size-1] // without its end mark: its writer stopped in it
	_, err = mapping.MapFile(bytes.NewReader(cut), int64(len(cut)), mapping.NopSink{})
	if msg := fmt.Sprint(err); !strings.Contains(msg, "stopped inside its first generation") || !strings.Contains(msg, "nothing is converted") || strings.Contains(msg, " after ") {
		t.Errorf("a trace whose writer stopped in its first generation: %v", err)
	}

	// A stream cut inside the header of a generation's first batch.
	gens, err := os.ReadFile("../conformance/testdata/generations.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	if idx, err = tracefile.Read(bytes.NewReader(gens), int64(len(gens))); err != nil || len(idx.Generations) < 2 {
		t.Fatalf("%v, %d generations", err, len(idx.Generations))
	}
	at := idx.Generations[1].Offset
	_, err = mapping.Map(bytes.NewReader(gens[:at+3]), mapping.NopSink{})
	want := fmt.Sprintf("after generation 1, at byte %d, where the batch header is cut short at byte %d", at, at+3)
	if !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("a stream cut inside a batch header: %v, want it to say %q", err, want)
	}
	// A file cut there names the generation before it as the stream
	// does, and where the batch begins.
	_, err = mapping.MapFile(bytes.NewReader(gens[:at+3]), at+3, mapping.NopSink{})
	if want := fmt.Sprintf("after generation 1, at byte %d, where the batch header is cut short,", at); !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("a file cut inside a batch header: %v, want it to say %q", err, want)
	}
	// Cut inside the first batch's header, there is no generation before.
	_, err = mapping.Map(bytes.NewReader(gens[:tracefile.HeaderSize+3]), mapping.NopSink{})
	if want := fmt.Sprintf("broken trace at byte %d, where the batch header is cut short at byte %d", tracefile.HeaderSize, tracefile.HeaderSize+3); !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("a stream cut inside its first batch's header: %v, want it to say %q", err, want)
	}
}

// batchAround returns where the batch that data[:n] ends inside begins,
// and its size, as the error of a file of those bytes gives them: what a
// stream cut there must say too.
func batchAround(t *testing.T, data []byte, n int) (start, size int64) {
	t.Helper()
	_, err := mapping.MapFile(bytes.NewReader(data[:n]), int64(n), mapping.NopSink{})
	m := regexp.MustCompile(`at byte (\d+), where a batch of (\d+) bytes runs past the end of the trace, which is cut short:`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("a file cut at %d: %v, want it to say where the batch cut short begins", n, err)
	}
	start, _ = strconv.ParseInt(m[1], 10, 64)
	size, _ = strconv.ParseInt(m[2], 10, 64)
	return start, size
}

// bytesReaderAt counts the bytes read through it.
type bytesReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestBombAfterGenerations: a file whose index finds a generation the
// parser would hold too much of, after good ones, is mapped up to it, and
// the pass stops where it begins, without reading it: at least what a
// stream of the same bytes converts (a stream's parser of a format before
// Go 1.26 reads the next generation before it hands on one), in a
// fraction of the reading.
func TestBombAfterGenerations(t *testing.T) {
	defer tracefile.LowerGenerationLimit(1 << 20)()
	hdr := binary.AppendUvarint([]byte{1, 0xc8, 0x01, 0, 0}, 64<<10) // generation 200, M 0, time 0
	var bomb []byte
	for range 40 {
		bomb = append(append(bomb, hdr...), make([]byte, 64<<10)...)
	}
	for _, name := range []string{"mixed.go1.26.trace", "mixed.go1.25.trace"} {
		good := readTrace(t, name)
		data := append(slices.Clip(good), bomb...)
		var tally mapping.Tally
		_, serr := mapping.Map(bytes.NewReader(data), &tally)
		stream := tally
		cr := &bytesReaderAt{r: bytes.NewReader(data)}
		tally = mapping.Tally{}
		_, ferr := mapping.MapFile(cr, int64(len(data)), &tally)
		var se, fe *mapping.Error
		if !errors.As(serr, &se) || !errors.As(ferr, &fe) {
			t.Fatalf("%s: errors %v and %v, want *mapping.Error", name, serr, ferr)
		}
		at := fmt.Sprintf("in generation %d (from byte %d)", fe.Generation+1, len(good))
		if !errors.Is(ferr, tracefile.ErrGenerationTooLarge) || !strings.Contains(ferr.Error(), at) {
			t.Errorf("%s: file: %v; want the generation refused %s", name, ferr, at)
		}
		if fe.Generation < se.Generation || fe.Events < se.Events || fe.Generation == 0 {
			t.Errorf("%s: file: %d generations, %d events; the stream: %d, %d", name, fe.Generation, fe.Events, se.Generation, se.Events)
		}
		if strings.HasSuffix(name, "1.26.trace") && (fe.Generation != se.Generation || fe.Events != se.Events || tally.GoStates != stream.GoStates || tally.Tasks != stream.Tasks) {
			t.Errorf("%s: file: %+v; the stream: %+v", name, tally, stream)
		}
		if n := cr.n.Load(); n > int64(len(good))+int64(len(bomb))/4 {
			t.Errorf("%s: %d bytes read of %d, of which %d the refused generation's", name, n, len(data), len(bomb))
		}
	}
}

// TestOldFormatJoined: two traces of a format before Go 1.22 joined end
// to end (cat of two captures) are said to be so, at the byte where the
// second begins, as in the later formats, not in the words of what the
// parser made of the second trace's bytes; read in pieces of every size,
// so that the header is found across reads too.
func TestOldFormatJoined(t *testing.T) {
	for _, file := range testtraces.OldFormat(t) {
		first, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		joined := append(slices.Clip(first), first...)
		for _, r := range []io.Reader{bytes.NewReader(joined), iotest.OneByteReader(bytes.NewReader(joined)), iotest.HalfReader(bytes.NewReader(joined))} {
			_, err := mapping.Map(r, mapping.NopSink{})
			want := fmt.Sprintf("broken trace at byte %d: ", len(first))
			if !errors.Is(err, tracefile.ErrSecondTrace) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s twice: %v; want %q and that a second trace begins", filepath.Base(file), err, want)
			}
		}
		// One trace alone is not taken for two.
		if _, err := mapping.Map(bytes.NewReader(first), mapping.NopSink{}); err != nil {
			t.Errorf("%s: %v", filepath.Base(file), err)
		}
	}
}

// TestStoppedAfterFirstEvents: a pass whose context ends inside the
// first generation, after some of its events were converted, is not
// said to have stopped inside its first generation, which is the reason
// given for a pass that converted nothing (an interrupt 2 s into a
// trace of 26 MB generations said so of 1.35 M events written).
func TestStoppedAfterFirstEvents(t *testing.T) {
	data := readTrace(t, "mixed.go1.26.trace")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sink := &cancelAfter{n: 50, cancel: func() { cancel(errors.New("interrupted")) }}
	_, err := mapping.Map(bytes.NewReader(data), sink, mapping.WithContext(ctx))
	var me *mapping.Error
	if !errors.As(err, &me) || me.Events <= 50 || me.Generation != 0 {
		t.Fatalf("%v: want a pass stopped inside the first generation, after its first events", err)
	}
	if strings.Contains(err.Error(), "inside its first") {
		t.Errorf("%q says the pass stopped inside its first generation as if nothing were converted, after %d events", err, me.Events)
	}
}

// cancelAfter calls cancel at its nth goroutine state.
type cancelAfter struct {
	mapping.NopSink
	n      int
	cancel func()
}

func (c *cancelAfter) GoroutineState(*mapping.GoroutineState) error {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return nil
}
