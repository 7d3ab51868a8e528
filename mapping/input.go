package mapping

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync/atomic"
)

// countingReader counts the bytes read through it, so that an error can say
// how far into the input it happened.
// It is read from the mapping goroutine while the parsing goroutine reads
// through it, hence the atomic.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// headerRE matches the 16-byte header every Go execution trace starts with,
// "go 1.22 trace" padded with NULs.
var headerRE = regexp.MustCompile(`^go 1\.([0-9]+) trace\x00*$`)

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
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	hdr, err := br.Peek(16)
	if len(hdr) == 0 && (err == io.EOF || err == nil) {
		return nil, "", ErrEmpty
	}
	if err != nil && err != io.EOF {
		return nil, "", err
	}
	m := headerRE.FindSubmatch(hdr)
	if m == nil || len(hdr) < 16 {
		return nil, "", fmt.Errorf("%w: the input starts with %q, not a trace header like \"go 1.26 trace\"", ErrNotTrace, printable(hdr))
	}
	if !knownVersions[string(m[1])] {
		return nil, "", fmt.Errorf("%w go 1.%s: trace2x reads the formats of Go 1.11 to 1.26", ErrVersion, m[1])
	}
	return br, "go1." + string(m[1]), nil
}

// printable shortens b for an error message.
func printable(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(bytes.TrimRight(b, "\x00"))
}
