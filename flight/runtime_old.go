//go:build !go1.25

package flight

import "time"

// startRuntime fails: the runtime before Go 1.25 has no flight recorder.
func startRuntime(time.Duration, uint64) (source, error) {
	return nil, unsupported()
}
