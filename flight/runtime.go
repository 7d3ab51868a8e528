package flight

import (
	"fmt"
	"runtime/trace"
	"time"
)

// startRuntime starts the runtime's flight recorder.
func startRuntime(minAge time.Duration, maxBytes uint64) (source, error) {
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: minAge, MaxBytes: maxBytes})
	if err := fr.Start(); err != nil {
		// Another flight recorder runs in the process.
		return nil, fmt.Errorf("flight: starting the runtime's flight recorder: %w", err)
	}
	return fr, nil
}
