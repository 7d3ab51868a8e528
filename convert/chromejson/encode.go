package chromejson

import (
	"math/bits"
	"slices"

	"github.com/trace2x/trace2x/internal/jsonstr"
)

// The appenders below build JSON into a reused []byte, so that writing an
// event does not allocate: encoding/json would reflect and allocate for
// every one of millions of events.

// appendMicros appends a duration in nanoseconds as microseconds, the
// unit of the format, keeping every nanosecond in up to three decimals
// ("1234.567", "12.5", "3"). Formatting the integer in two parts avoids
// the rounding of a float.
func appendMicros(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		if ns == -ns { // math.MinInt64
			return append(b, "9223372036854775.808"...)
		}
		ns = -ns
	}
	b = appendUint(b, uint64(ns/1000))
	frac := ns % 1000
	if frac == 0 {
		return b
	}
	d1, d2, d3 := byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10)
	switch {
	case d3 != '0':
		return append(b, '.', d1, d2, d3)
	case d2 != '0':
		return append(b, '.', d1, d2)
	}
	return append(b, '.', d1)
}

// appendUint appends v in decimal, as strconv.AppendUint does, but
// straight into b's spare room: strconv formats into a buffer of its own
// and copies, and numbers are most of what the writer writes.
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	n := decimalLen(v)
	b = slices.Grow(b, n)
	l := len(b)
	b = b[:l+n]
	d := b[l:]
	i := n
	for v >= 100 {
		q := v / 100
		r := 2 * (v - 100*q)
		i -= 2
		d[i], d[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		d[0], d[1] = digits2[2*v], digits2[2*v+1]
	} else {
		d[0] = byte('0' + v)
	}
	return b
}

// appendInt appends v in decimal, as strconv.AppendInt does.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	return appendUint(append(b, '-'), uint64(-v)) // -MinInt64 wraps to its magnitude
}

const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// decimalLen returns the number of decimal digits of v > 0: the bit
// length times log10(2) (1233/4096) is the digit count or one more.
func decimalLen(v uint64) int {
	t := bits.Len64(v) * 1233 >> 12
	if v < pow10[t] {
		return t
	}
	return t + 1
}

// Keys with their separators, so that an event is a few appends of
// constants and numbers.
func appendKeyInt(b []byte, key string, v int64) []byte {
	b = append(b, key...)
	return appendInt(b, v)
}

func appendKeyUint(b []byte, key string, v uint64) []byte {
	b = append(b, key...)
	return appendUint(b, v)
}

func appendKeyString(b []byte, key, v string) []byte {
	b = append(b, key...)
	return jsonstr.Append(b, v)
}
