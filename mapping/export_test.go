package mapping

import "golang.org/x/exp/trace"

// WithGroupGenerations makes a pass over a file parse n generations per
// group, so that even a short trace is split at every generation.
func WithGroupGenerations(n int) Option {
	return optionFunc(func(c *config) { c.groupGens = n })
}

// WithFallbacks calls f whenever a parallel pass goes on with one reader.
func WithFallbacks(f func()) Option {
	return optionFunc(func(c *config) { c.fallbacks = f })
}

// WithTap calls f with every event the mapping is given and the task
// details it uses for it.
func WithTap(f func(ev *trace.Event, task trace.Task)) Option {
	return optionFunc(func(c *config) { c.tap = f })
}
