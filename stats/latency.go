package stats

import (
	"math"
	"time"
)

// latency summarises durations in a histogram of logarithmic buckets, 16
// to each power of two, so that percentiles are within about 4% and
// memory does not grow with the number of durations.
type latency struct {
	count   int
	max     time.Duration
	buckets [64 * 16]uint32
}

func bucketOf(d time.Duration) int {
	if d <= 1 {
		return 0
	}
	return min(int(math.Log2(float64(d))*16), 64*16-1)
}

func (l *latency) add(d time.Duration) {
	l.count++
	l.max = max(l.max, d)
	l.buckets[bucketOf(d)]++
}

// quantile returns the upper bound of the bucket holding the q-quantile,
// capped by the largest duration seen.
func (l *latency) quantile(q float64) time.Duration {
	rank := uint32(math.Ceil(q * float64(l.count)))
	var seen uint32
	for i, n := range l.buckets {
		seen += n
		if seen >= rank && n > 0 {
			return min(time.Duration(math.Exp2(float64(i+1)/16)), l.max)
		}
	}
	return l.max
}
