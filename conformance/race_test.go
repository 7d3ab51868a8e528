//go:build race

package conformance

// raceEnabled is set when the tests run under the race detector, which
// makes the largest of Go's own old traces too slow to convert for every
// filter: the filter tests then keep to the sample and regression traces.
const raceEnabled = true
