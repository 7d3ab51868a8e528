package mapping

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"
)

// countingReader counts the bytes read through it, so that an error can say
// how far into the input it happened.
// It is read from the mapping goroutine while the parsing goroutine reads
// through it, hence the atomic.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64
	err atomic.Pointer[error] // the first error of r other than io.EOF
	// compressed is set when r is compressed: n counts its bytes, not
	// the trace's.
	compressed bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		c.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// failed returns the first error the input returned other than io.EOF,
// or nil.
func (c *countingReader) failed() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// inputError is a pass's error when the input itself failed (a
// connection reset, a disk error): the parser's complaint about the
// missing bytes that followed is only its consequence.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

// headerRE matches the 16-byte header every Go execution trace starts with,
// "go 1.22 trace" padded with NULs.
var headerRE = regexp.MustCompile(`^go 1\.([0-9]+) trace\x00*$`)

// headerScan passes a trace through, noting where another trace's header
// begins after its own: traces joined end to end (cat of two captures)
// are not one trace.
type headerScan struct {
	r     io.Reader
	off   int64    // bytes read
	tail  []byte   // the last bytes read, up to 15, in which a header may begin
	edge  [30]byte // tail and the next read's first bytes
	tailA [15]byte
	at    int64 // where another header begins; 0 if none has
}

func (h *headerScan) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 && h.at == 0 {
		// A header across the last read's end, then one within this.
		edge := append(h.edge[:0], h.tail...)
		edge = append(edge, p[:min(n, 15)]...)
		if !h.find(edge, h.off-int64(len(h.tail))) {
			h.find(p[:n], h.off)
		}
		h.off += int64(n)
		h.tail = append(h.tailA[:0], edge[max(len(edge)-15, 0):]...)
		if n > 15 {
			h.tail = append(h.tailA[:0], p[n-15:n]...)
		}
	}
	return n, err
}

// find notes the first header in b, which begins at byte base, if any
// but the trace's own, and reports whether there is one.
func (h *headerScan) find(b []byte, base int64) bool {
	for i := 0; ; i++ {
		j := bytes.Index(b[i:], []byte("go 1."))
		if j < 0 {
			return false
		}
		i += j
		if base+int64(i) > 0 && i+16 <= len(b) && headerRE.Match(b[i:i+16]) {
			h.at = base + int64(i)
			return true
		}
	}
}

// ErrNotTrace is wrapped by the error for input that is not a Go execution
// trace at all.
var ErrNotTrace = errors.New("not a Go execution trace")

// ErrVersion is wrapped by the error for a trace of a format version that
// the parser does not read.
var ErrVersion = errors.New("unsupported trace format version")

// knownVersions are the format versions the parser reads. Go 1.24 writes
// 1.23's format, and Go 1.12 to 1.18 wrote 1.11's or 1.19's.
var knownVersions = map[string]bool{"11": true, "19": true, "21": true, "22": true, "23": true, "25": true, "26": true}

// ErrEmpty is wrapped by the error for empty input.
var ErrEmpty = errors.New("empty input")

// openInput wraps r so that gzip-compressed input is decompressed, and
// reads the trace header without consuming it. It returns the stream to
// hand to the parser and the format version ("go1.22").
func openInput(r io.Reader) (*bufio.Reader, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if len(magic) == 0 {
		if err == nil || err == io.EOF {
			return nil, "", ErrEmpty
		}
		return nil, "", err
	}
	compressed, err := decompress(br)
	if err != nil {
		return nil, "", err
	}
	if compressed != nil {
		if cr, ok := r.(*countingReader); ok {
			// A compressed stream cut short or damaged is the input's
			// fault, whatever the parser makes of the bytes it lacks.
			compressed.(*zReader).note = cr
			cr.compressed = true
		}
		br = bufio.NewReaderSize(compressed, 64<<10)
	}
	hdr, err := br.Peek(16)
	if len(hdr) == 0 && (err == io.EOF || err == nil) {
		return nil, "", ErrEmpty
	}
	if err != nil && err != io.EOF {
		return nil, "", err
	}
	m := headerRE.FindSubmatch(hdr)
	if m == nil && compressed != nil && looksLikePprof(br) {
		return nil, "", fmt.Errorf("%w: this looks like a pprof profile (compressed protobuf), not an execution trace; record one with /debug/pprof/trace, runtime/trace or go test -trace", ErrNotTrace)
	}
	if len(hdr) < 16 && (bytes.HasPrefix(hdr, []byte("go 1.")) || bytes.HasPrefix([]byte("go 1."), hdr)) {
		bytesWord := "bytes"
		if len(hdr) == 1 {
			bytesWord = "byte"
		}
		return nil, "", fmt.Errorf("%w: the input ends after %d %s, inside the 16-byte trace header %q", ErrNotTrace, len(hdr), bytesWord, printable(hdr))
	}
	if m == nil || len(hdr) < 16 {
		what := "the input"
		if z, ok := compressed.(*zReader); ok {
			// The bytes shown are not those sent.
			what = "the " + z.format + "-compressed input, decompressed,"
		}
		return nil, "", fmt.Errorf("%w: %s starts with %q, not a trace header like \"go 1.26 trace\"%s", ErrNotTrace, what, printable(hdr), lookalike(br))
	}
	if !knownVersions[string(m[1])] {
		return nil, "", versionError(string(m[1]))
	}
	return br, "go1." + string(m[1]), nil
}

// versionError says why a header's format version, minor, is not read:
// a version between two that are read is one no Go release writes.
func versionError(minor string) error {
	const reads = "trace2x reads the formats of Go 1.11 to 1.26 (Go 1.27 writes the 1.26 format)"
	n, _ := strconv.Atoi(minor)
	switch {
	case n < 11:
		return fmt.Errorf("%w go 1.%s: the format of Go 1.10 and earlier, which x/exp/trace does not read; %s", ErrVersion, minor, reads)
	case n < 26:
		return fmt.Errorf("%w go 1.%s: no Go release writes that header (Go 1.12 to 1.18 write the 1.11 format, Go 1.20 the 1.19, Go 1.24 the 1.23): the input is damaged or not from Go; %s", ErrVersion, minor, reads)
	}
	return fmt.Errorf("%w go 1.%s: %s", ErrVersion, minor, reads)
}

// printable shortens b for an error message: a header's padding is
// left out, unless nothing else is there to show.
func printable(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	if t := bytes.TrimRight(b, "\x00"); len(t) > 0 {
		return string(t)
	}
	return string(b)
}

// Decompress returns a reader of r's content, decompressed if r starts
// with the magic bytes of gzip or zstd, which is how traces are often
// stored and served. It reads ahead through a buffer, so r must not be
// read after.
func Decompress(r io.Reader) (io.Reader, error) {
	if r == nil {
		return nil, errors.New("mapping: Decompress of a nil io.Reader")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	zr, err := decompress(br)
	if zr == nil || err != nil {
		return br, err
	}
	return zr, nil
}

// zReader reads a decompressed stream, and names the format in its
// errors ("gzip-compressed input: unexpected EOF" where the compressed stream is cut
// short).
type zReader struct {
	r      io.Reader
	format string
	note   *countingReader // the input's, which keeps the first error
	// For gzip, the reader and its input, which it reads member by
	// member (see nextMember).
	gz *gzip.Reader
	br *bufio.Reader
}

func (z *zReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if err == io.EOF && z.gz != nil {
		err = z.nextMember()
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s-compressed input: %w", z.format, err)
		if z.note != nil {
			z.note.err.CompareAndSwap(nil, &err)
		}
	}
	return n, err
}

// nextMember goes on to the next member of a gzip stream, as gzip and Go's
// gzip.Reader do, at the end of one: io.EOF if none follows.
// It reads members one by one so that bytes after the last that are not
// one are named as such: the reader's own error for them is "invalid
// header", or "unexpected EOF" when they are short.
func (z *zReader) nextMember() error {
	b, err := z.br.Peek(len(gzipMagic))
	switch {
	case len(b) == 0 && err == io.EOF:
		return io.EOF
	case len(b) == 0:
		return err
	case !bytes.HasPrefix(b, gzipMagic):
		return errors.New("bytes after the end of the compressed data are not another gzip member")
	}
	if err := z.gz.Reset(z.br); err != nil {
		return err
	}
	z.gz.Multistream(false)
	return nil
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress returns a decompressing reader of br, or nil if br does not
// start with a compression format's magic bytes.
func decompress(br *bufio.Reader) (io.Reader, error) {
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		// Peek hands the input's error over once, and it would be lost
		// here: the next read would fail otherwise (a request's body
		// whose context the failure ended says only "context canceled").
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip-compressed input: %w", err)
		}
		zr.Multistream(false)
		return &zReader{r: zr, format: "gzip", gz: zr, br: br}, nil
	case bytes.HasPrefix(magic, zstdMagic):
		// One decoding goroutine: the parser already keeps a core busy, and
		// a trace streams in order. The window is bounded so that a
		// corrupted frame header cannot ask for gigabytes.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return nil, fmt.Errorf("zstd-compressed input: %w", err)
		}
		return &zReader{r: zr.IOReadCloser(), format: "zstd"}, nil
	}
	return nil, nil
}

// lookalike names what an input that is not a trace looks like, for the
// files that are found where traces are: trace2x's own outputs, and the
// page a server answered instead. It returns "" for anything else.
func lookalike(br *bufio.Reader) string {
	b, _ := br.Peek(512)
	t := bytes.TrimLeft(b, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "; it is compressed again (gzip or zstd inside): decompress it once first, then give trace2x what that gives"
	case looksLikePerfetto(b):
		return "; it looks like a Perfetto trace (an output, which ui.perfetto.dev opens as it is)"
	case len(t) > 0 && (t[0] == '{' && bytes.Contains(b, []byte(`"traceEvents"`)) || t[0] == '[' && bytes.Contains(b, []byte(`"ph"`))):
		return "; it looks like Chrome trace JSON (an output, which Perfetto and chrome://tracing open as it is)"
	case len(t) > 0 && t[0] == '{' && bytes.Contains(b, []byte(`"resourceSpans"`)):
		return "; it looks like OTLP JSON (an output: spans, which an OpenTelemetry backend takes)"
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		return "; it looks like JSON"
	case len(t) > 0 && t[0] == '<':
		lower := bytes.ToLower(t)
		if i := bytes.Index(lower, []byte("<title>")); i >= 0 {
			title := t[i+len("<title>"):]
			if j := bytes.Index(bytes.ToLower(title), []byte("</title>")); j >= 0 {
				return fmt.Sprintf("; it is an HTML page titled %q", bytes.TrimSpace(title[:j]))
			}
		}
		if bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")) {
			return "; it is an HTML page"
		}
	}
	return ""
}

// looksLikePerfetto reports whether b starts like a Perfetto trace: a
// TracePacket (field 1 of Trace, length-delimited) whose own fields all
// parse as far as b goes, two or more of them, or a run of compressed
// packets (field 50) that b cuts.
func looksLikePerfetto(b []byte) bool {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	size, m := protowire.ConsumeVarint(b[n:])
	if m < 0 || size == 0 || size > 1<<28 {
		return false
	}
	p := b[n+m:]
	if uint64(len(p)) > size {
		p = p[:size]
	}
	fields := 0
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 || num > 1000 || typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, p[n:])
		if m < 0 {
			// Only the peek may cut a field, a long one.
			return typ == protowire.BytesType && (fields >= 1 || num == 50)
		}
		p = p[n+m:]
		fields++
	}
	return fields >= 2
}

// looksLikePprof reports whether a decompressed input starts like a pprof
// profile, which is what the neighbours of /debug/pprof/trace serve: a
// protobuf whose first fields are all fields of pprof's Profile message.
func looksLikePprof(br *bufio.Reader) bool {
	b, _ := br.Peek(512)
	fields := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 14 {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			break // cut by the peek
		}
		b = b[n+m:]
		fields++
	}
	return fields >= 2
}
