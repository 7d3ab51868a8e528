package chromejson

// SetMaxSamples lowers the bound of a part's samples array for a test and
// returns the function that restores it.
func SetMaxSamples(n int) (restore func()) {
	old := maxSamples
	maxSamples = n
	return func() { maxSamples = old }
}
