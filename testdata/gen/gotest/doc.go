// Package gotest holds a tiny test suite whose execution trace is recorded
// with `go test -trace=FILE`. Its tests run parallel subtests that block on
// each other through the testing package and do a little CPU work inside
// runtime/trace tasks and regions, so the trace shows the test runner's
// goroutines alongside user annotations.
package gotest

// Fib returns the n-th Fibonacci number, computed naively.
func Fib(n int) int {
	if n < 2 {
		return n
	}
	return Fib(n-1) + Fib(n-2)
}
