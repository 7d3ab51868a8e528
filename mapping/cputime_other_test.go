//go:build !unix

package mapping_test

import "time"

// processCPU is the CPU time the process has used, where the system says
// it; elsewhere 0, and the benchmarks report no CPU figures.
func processCPU() time.Duration { return 0 }
