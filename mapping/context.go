package mapping

import (
	"context"
	"io"
)

// WithContext stops a pass when ctx is done: the input's next read fails
// with ctx's cause, and the pass ends as for an input that failed (End is
// called, and Map returns an *Error that wraps the cause, so that
// errors.Is(err, context.Canceled) holds). What was delivered before is
// kept. The parser reads ahead in blocks, so a pass stops within a block
// of input, not at once.
func WithContext(ctx context.Context) Option {
	return optionFunc(func(c *config) { c.ctx = ctx })
}

// ctxReader stops reading once ctx is done, with its cause.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// ctxReaderAt stops reading once ctx is done, with its cause.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.ReadAt(p, off)
}
