package mapping

import (
	"context"
)

// WithContext stops a pass when ctx is done, within a few hundred events:
// the input's next read fails with ctx's cause, and so does the mapping
// of the next batch of events read ahead, or the scan of the first
// generation that comes before the pass (see WithoutBackdatedCounts).
// Map reads its input on a goroutine of its own under this option, so
// that a read blocked on a pipe or connection that sends nothing does not
// hold it either: Map returns at once, and the read is left to end when
// the reader returns (closing the reader ends it). A pass that ends for
// any other reason returns once the read under way has, so that the
// reader is not read after Map returns.
// End is called with the error if Begin was, and Map returns it: ctx's
// cause (context.Cause), which is context.Canceled or
// context.DeadlineExceeded unless ctx was given a cause of its own. What
// was delivered before is kept: a sink behind Async is handed the items
// it had queued, up to a few thousand, before its End.
func WithContext(ctx context.Context) Option {
	return optionFunc(func(c *config) { c.ctx = ctx })
}
