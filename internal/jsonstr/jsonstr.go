// Package jsonstr appends strings to JSON text being built in a []byte,
// for the converters that write JSON by hand: encoding/json would reflect
// and allocate for every one of millions of events.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// safe[c] is true for the ASCII bytes that appear in a JSON string as
// they are. DEL is escaped too: JSON allows it as it is, but older
// Perfetto JSON tokenizers refuse any control character in a string
// (C's iscntrl, which counts DEL) and fail the whole import.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf-1; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Append appends s as a quoted JSON string. Control characters are
// escaped, invalid UTF-8 becomes U+FFFD (a JSON text must be valid
// UTF-8, and trace strings such as log messages are arbitrary bytes), and
// U+2028 and U+2029 are escaped so the output is also valid JavaScript.
func Append(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendEscaped appends s escaped as the inside of a JSON string.
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '\\' && i == len(s)-1:
				// Some Perfetto releases of 2025 end a string at a
				// quote after any backslash, so an escaped backslash
				// just before the closing quote hid the string's end.
				b = append(b, `\u005c`...)
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
