package stats

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// maxExact is how many durations of one task or region type are kept for
// exact percentiles (32 KiB); past that, a histogram of fixed size
// answers, so that memory does not grow with the number of durations.
const maxExact = 4096

// latency summarises the durations of one task or region type: all of
// them while there are at most maxExact, then a histogram of logarithmic
// buckets, 16 to each power of two.
type latency struct {
	count    int
	min, max time.Duration
	// times sums where the time went, over regions that tell it.
	times   *mapping.StateTimes
	exact   []time.Duration  // every duration, while count <= maxExact; sorted by finish
	buckets *[64 * 16]uint32 // once count > maxExact
	slowest []Instance       // the longest, longest first (see keepSlow)
}

// maxSlowest is how many of the longest tasks or regions of a type the
// report names: the ones to look at first, by the IDs the filters take.
const maxSlowest = 5

// keepSlow keeps x if it is among the maxSlowest longest of its type:
// longest first, then earliest, then by task and goroutine, so that the
// list does not depend on the order the trace delivers them in.
func (l *latency) keepSlow(x Instance) {
	i, _ := slices.BinarySearchFunc(l.slowest, x, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(b.DurNS, a.DurNS), cmp.Compare(a.StartNS, b.StartNS),
			cmp.Compare(a.Task, b.Task), cmp.Compare(a.Goroutine, b.Goroutine))
	})
	if i < maxSlowest {
		l.slowest = slices.Insert(l.slowest, i, x)
		l.slowest = l.slowest[:min(len(l.slowest), maxSlowest)]
	}
}

func bucketOf(d time.Duration) int {
	if d <= 1 {
		return 0
	}
	return min(int(math.Log2(float64(d))*16), 64*16-1)
}

func (l *latency) add(d time.Duration) {
	if l.count == 0 || d < l.min {
		l.min = d
	}
	l.count++
	l.max = max(l.max, d)
	if l.buckets == nil {
		if l.count <= maxExact {
			l.exact = append(l.exact, d)
			return
		}
		l.buckets = new([64 * 16]uint32)
		for _, e := range l.exact {
			l.buckets[bucketOf(e)]++
		}
		l.exact = nil
	}
	l.buckets[bucketOf(d)]++
}

// finish readies the latency for quantile, once every duration is in.
func (l *latency) finish() { slices.Sort(l.exact) }

// quantile returns the q-quantile, and whether it is exact: the nearest
// rank while every duration is kept, else the middle of the histogram's
// bucket holding that rank, rounded to the bucket's resolution and kept
// within the smallest and largest durations seen.
func (l *latency) quantile(q float64) (time.Duration, bool) {
	rank := max(int(math.Ceil(q*float64(l.count))), 1)
	if l.buckets == nil {
		if len(l.exact) == 0 {
			return 0, true
		}
		return l.exact[min(rank, len(l.exact))-1], true
	}
	var seen int
	for i, n := range l.buckets {
		seen += int(n)
		if seen >= rank && n > 0 {
			return min(max(roundToBucket(math.Exp2((float64(i)+0.5)/16)), l.min), l.max), false
		}
	}
	return l.max, false
}

// roundToBucket rounds the middle v of a bucket to the largest power of
// ten no greater than the bucket's half-width: the digits the histogram
// knows, and no more, so that its figures do not read as exact.
func roundToBucket(v float64) time.Duration {
	half := v * (math.Exp2(1.0/32) - 1)
	if half < 1 {
		return time.Duration(math.Round(v))
	}
	step := math.Pow(10, math.Floor(math.Log10(half)))
	return time.Duration(math.Round(v/step) * step)
}
