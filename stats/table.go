package stats

import (
	"bytes"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// cellPadding is the least space between two columns of the text form.
const cellPadding = 2

// table lines up the columns of the text form as text/tabwriter does,
// with a minimum width of 0, padding of cellPadding and spaces: a cell
// that a tab ends is padded to the widest of its column in the run of
// lines around it that have that cell too, and the text after a line's
// last tab is left as it is. But a cell's width is the columns it
// takes on a terminal, not its characters: tabwriter counts "注文処理"
// as 4 where a terminal gives it 8, and shifts every column after it.
// It writes nothing until Flush.
type table struct {
	w   io.Writer
	buf bytes.Buffer
}

// Write keeps p for Flush.
func (t *table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes what was written since the last Flush, lined up.
func (t *table) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	cells := make([][]string, len(lines))
	for i, l := range lines {
		cells[i] = strings.Split(l, "\t")
	}
	// A column's block is a run of lines that all have a cell in it:
	// within one, the cell is as wide as the widest.
	widths := make([][]int, len(lines))
	for col := 0; ; col++ {
		found := false
		for i := 0; i < len(lines); {
			if col >= len(cells[i])-1 {
				i++
				continue
			}
			found = true
			end, w := i, 0
			for ; end < len(lines) && col < len(cells[end])-1; end++ {
				w = max(w, displayWidth(cells[end][col]))
			}
			for ; i < end; i++ {
				widths[i] = append(widths[i], w+cellPadding)
			}
		}
		if !found {
			break
		}
	}
	var b bytes.Buffer
	for i, row := range cells {
		for col, c := range row[:len(row)-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i][col]-displayWidth(c)))
		}
		b.WriteString(row[len(row)-1])
	}
	_, err := t.w.Write(b.Bytes())
	return err
}

// displayWidth returns the columns s takes on a terminal: two for a
// character of Unicode's East Asian Wide or Fullwidth classes (CJK
// ideographs, kana, Hangul, fullwidth forms, most emoji), none for a
// combining mark (which goes on the character before it), one for any
// other. An emoji sequence is drawn as one emoji, two columns: a
// character followed by U+FE0F (emoji presentation, as in "❤️"), and an
// emoji followed by a skin tone. It measures what the text form prints,
// which escapes controls, invisible formatting (the joiner of longer
// sequences too) and bytes that are not UTF-8.
func displayWidth(s string) int {
	n := 0
	eachColumn(s, func(_, w int) bool { n += w; return true })
	return n
}

// eachColumn calls f with each character of s, at byte i, and the
// columns it adds on a terminal, as displayWidth counts them (none for
// one drawn with the character before it), until f returns false.
func eachColumn(s string, f func(i, w int) bool) {
	prev := 0
	for i, r := range s {
		w := 0
		switch {
		case r == '\uFE0F':
			if prev == 1 {
				w = 1
			}
			prev = 2
		case r >= 0x1F3FB && r <= 0x1F3FF && prev == 2: // a skin tone
		default:
			w = runeWidth(r)
			prev = w
		}
		if !f(i, w) {
			return
		}
	}
}

// runeWidth returns the columns r takes on a terminal, as displayWidth
// counts them.
func runeWidth(r rune) int {
	if r < 0x300 { // before the first combining mark and wide character
		return 1
	}
	if unicode.In(r, unicode.Mn, unicode.Me) {
		return 0
	}
	if k := width.LookupRune(r).Kind(); k == width.EastAsianWide || k == width.EastAsianFullwidth {
		return 2
	}
	return 1
}
