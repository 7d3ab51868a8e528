// Package utf8fix makes strings valid UTF-8 the one way every output of
// trace2x does. runtime/trace records task, region and log strings byte
// for byte, but JSON and OTLP's protobuf strings must be UTF-8, and the
// Perfetto UI decodes them as UTF-8: each byte that is not part of a valid
// encoding becomes U+FFFD, as Go's conversion of a string to []rune and
// encoding/json do, so the three formats agree.
package utf8fix

import (
	"unicode/utf8"
)

// String returns s with each byte that is not part of a valid UTF-8
// encoding replaced by U+FFFD. A valid s is returned as it is, without
// allocating.
func String(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}
