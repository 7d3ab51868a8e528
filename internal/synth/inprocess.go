package synth

import (
	"bytes"
	"fmt"
	"runtime/trace"
)

// RecordFunc traces do in this process and returns the trace: for a test
// that needs what a program does, such as a misuse of the API, rather than
// a committed sample. It fails if tracing is already on (go test -trace),
// and calls from several goroutines are serialised.
func RecordFunc(do func()) ([]byte, error) {
	recordMu.Lock()
	defer recordMu.Unlock()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	do()
	trace.Stop()
	return buf.Bytes(), nil
}
