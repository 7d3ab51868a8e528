// Package ctxio stops reads when a context is done.
package ctxio

import (
	"context"
	"io"
)

// Reader fails every read once Ctx is done, with its cause. A read under
// way when it is done goes on.
type Reader struct {
	Ctx context.Context
	R   io.Reader
}

func (c Reader) Read(p []byte) (int, error) {
	if c.Ctx.Err() != nil {
		return 0, context.Cause(c.Ctx)
	}
	return c.R.Read(p)
}

// ReaderAt is Reader for an io.ReaderAt.
type ReaderAt struct {
	Ctx context.Context
	R   io.ReaderAt
}

func (c ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.Ctx.Err() != nil {
		return 0, context.Cause(c.Ctx)
	}
	return c.R.ReadAt(p, off)
}
