package chromejson

import (
	"strconv"

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
	b = strconv.AppendInt(b, ns/1000, 10)
	frac := ns % 1000
	if frac == 0 {
		return b
	}
	d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 4
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// Keys with their separators, so that an event is a few appends of
// constants and numbers.
func appendKeyInt(b []byte, key string, v int64) []byte {
	b = append(b, key...)
	return strconv.AppendInt(b, v, 10)
}

func appendKeyUint(b []byte, key string, v uint64) []byte {
	b = append(b, key...)
	return strconv.AppendUint(b, v, 10)
}

func appendKeyString(b []byte, key, v string) []byte {
	b = append(b, key...)
	return jsonstr.Append(b, v)
}
