package otel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/trace2x/trace2x/internal/ctxio"
	"github.com/trace2x/trace2x/mapping"
)

// seedBytes is how much of the start of a trace identifies it. It holds
// the header and the first batches, with their timestamps, which differ
// between any two recordings.
const seedBytes = 64 << 10

// Convert reads the Go execution trace from r in one pass and exports its
// spans to exp, through a batch span processor that blocks rather than
// drops when exp falls behind. It returns when every span has been handed
// to exp; exp is not shut down. Input compressed with gzip or zstd is
// recognised.
//
// The IDs of the spans are derived from the first 64 KiB of the
// (decompressed) trace, so converting the same trace twice gives the same
// IDs, and a backend can deduplicate a retried upload.
//
// The Result is returned also with an error, which is the mapping's
// (*mapping.Error for a trace that breaks off: everything before the break
// is exported) or the first error of the export (an *ExporterPanicError
// if exp panicked). Cancelling ctx stops the pass, even in a read of r
// that is blocked then (see mapping.WithContext), and the export: the
// call of exp under way gets a cancelled context, and Convert returns
// without waiting for spans still queued, which count as failed; with
// WithFlushTimeout, they are still exported until that time has passed.
//
// A program can export a snapshot of its own flight recorder:
//
//	var buf bytes.Buffer
//	fr.WriteTo(&buf)
//	res, err := otel.Convert(ctx, &buf, exporter, otel.WithServiceName("myservice"))
func Convert(ctx context.Context, r io.Reader, exp sdktrace.SpanExporter, opts ...Option) (*Result, error) {
	cfg := newConfig(opts)
	if ctx == nil {
		ctx = context.Background()
	}
	name := cfg.inputName
	if name == "" {
		name = "trace"
	}
	if exp == nil {
		return &Result{}, ErrNoExporter
	}
	if r == nil {
		return &Result{}, errors.New("otel: Convert of a nil io.Reader")
	}
	// Read a buffer ahead on a goroutine of its own, so that cancelling
	// ctx ends a read blocked on a stalled pipe or connection too.
	rctx, cancel := context.WithCancel(ctx)
	a := &ctxio.Abandoning{Ctx: rctx, R: r}
	defer func() {
		cancel()
		if ctx.Err() == nil {
			a.Wait() // r is not read after Convert returns
		}
	}()
	br, prefix, err := Seed(a)
	if err != nil {
		return &Result{}, fmt.Errorf("%s: %w", name, err)
	}
	if cfg.seed == nil {
		opts = append(opts[:len(opts):len(opts)], WithIDSeed(prefix))
	}
	s := NewSink(ctx, exp, opts...)
	// ctx reaches the mapping through the reader and the sink: the input
	// fails with ctx's cause where it stopped, after what came before.
	sum, err := mapping.Map(br, s, mapping.WithInputName(name), mapping.WithoutBackdatedCounts())
	res := s.Result()
	res.Summary = sum
	return &res, err
}

// Seed reads ahead the start of the decompressed trace in r, which
// Convert derives the span IDs from (see WithIDSeed), and returns a
// reader that still yields the whole trace, decompressed. It is
// decompressed here rather than by the mapping, so that the IDs do not
// depend on the compression.
//
// A stream that breaks within those first bytes (a capture whose target
// died) is not an error here: the seed is what came, and the reader
// returns the data and then the error, so that the mapping converts what
// it can and reports where the trace broke off.
func Seed(r io.Reader) (io.Reader, []byte, error) {
	dr, err := mapping.Decompress(r)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(dr, seedBytes)
	prefix, err := br.Peek(seedBytes)
	seed := bytes.Clone(prefix)
	if err != nil && err != io.EOF {
		// Peek has taken the error from br: it is handed on after the
		// bytes that came, as r gave it, however r would go on.
		return io.MultiReader(bytes.NewReader(seed), errReader{err}), seed, nil
	}
	return br, seed, nil
}

// errReader returns err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
