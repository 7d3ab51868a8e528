package stats

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNameWidth bounds the columns a name takes on a terminal in a table
// of the text form (displayWidth); --json has it whole. The runtime keeps
// names of up to 1 KiB.
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
// quoted with Go's escapes; cut short to maxNameWidth columns with an
// ellipsis, after the closing quote of a quoted one. A name of CJK is cut
// at half the characters of one of Latin letters, so that both take the
// same room; combining marks stay with their letter.
func cell(s, empty string) string {
	if s == "" {
		return empty
	}
	if plain(s) {
		if displayWidth(s) <= maxNameWidth {
			return s
		}
		// Cut before the character that would take the last column,
		// which the ellipsis takes: never before one that adds none, nor
		// between an emoji and the selector that makes it one.
		n, cut, last := 0, 0, 0
		eachColumn(s, func(i, w int) bool {
			if w > 0 && n+w > maxNameWidth-1 {
				cut = i
				if strings.HasPrefix(s[i:], "\uFE0F") {
					cut = last
				}
				return false
			}
			if w > 0 {
				last = i
			}
			n += w
			return true
		})
		return s[:cut] + ellipsis
	}
	q := strconv.Quote(s)
	if displayWidth(q) <= maxNameWidth {
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
		w := displayWidth(e)
		if width+w > maxNameWidth-2 { // room for the quote and the ellipsis
			break
		}
		b.WriteString(e)
		width += w
		i += n
	}
	return b.String() + `"` + ellipsis
}
