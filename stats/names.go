package stats

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNameWidth bounds the characters a name takes in a table of the text
// form; --json has it whole. The runtime keeps names of up to 1 KiB.
const maxNameWidth = 64

// ellipsis marks a name cut short in the text form.
const ellipsis = "…"

// plain reports whether a name from the trace can be printed as it is: it
// is valid UTF-8 of printable characters only (no control, tab, newline,
// escape sequence or invisible formatting), and cannot be taken for a
// quoted name, for one of the report's own placeholders ("(unknown)"),
// for indentation or for a name cut short.
func plain(s string) bool {
	if s == "" || s[0] == '"' || s[0] == '(' || s[0] == ' ' || s[len(s)-1] == ' ' || strings.HasSuffix(s, ellipsis) {
		return false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// escape returns s with every character that is not printable, and every
// byte that is not UTF-8, escaped as strconv.Quote does, without quotes:
// for free text, such as an error, printed to a terminal.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			if b.Len() == 0 {
				b.WriteString(s[:i])
			}
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else if b.Len() > 0 {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}

// cell returns a name from the trace as a table of the text form shows
// it: empty as the placeholder given, plain as it is, anything else
// quoted with Go's escapes; cut short to maxNameWidth characters with an
// ellipsis, after the closing quote of a quoted one.
func cell(s, empty string) string {
	if s == "" {
		return empty
	}
	if plain(s) {
		if utf8.RuneCountInString(s) <= maxNameWidth {
			return s
		}
		n := 0
		for i := range s {
			if n == maxNameWidth-1 {
				return s[:i] + ellipsis
			}
			n++
		}
	}
	q := strconv.Quote(s)
	if utf8.RuneCountInString(q) <= maxNameWidth {
		return q
	}
	// Escape by escape, so that none is cut in two.
	var b strings.Builder
	b.WriteByte('"')
	width := 1
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		e := strconv.Quote(s[i : i+n])
		e = e[1 : len(e)-1]
		w := utf8.RuneCountInString(e)
		if width+w > maxNameWidth-2 { // room for the quote and the ellipsis
			break
		}
		b.WriteString(e)
		width += w
		i += n
	}
	return b.String() + `"` + ellipsis
}
