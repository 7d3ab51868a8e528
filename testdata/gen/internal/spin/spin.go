// Package spin burns CPU for the generators that need goroutines busy for
// a while, without allocating or blocking.
package spin

var sink uint64

// Busy burns a little CPU, proportional to n.
func Busy(n int) {
	x := sink
	for i := 0; i < n*1000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink = x
}
