package stats

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// termWidth is the columns a terminal gives the characters this file's
// tests print: two for the kana, kanji, Hangul and emoji, none for the
// combining accent, one for anything else.
func termWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r == '\u2764': // drawn as an emoji with the U+FE0F after it
			n += 2
		case r == '\uFE0F', r >= 0x1F3FB && r <= 0x1F3FF: // part of the emoji before
		case r == '\u0301':
		case r >= 0x3040 && r <= 0x30ff, r >= 0x4e00 && r <= 0x9fff, r >= 0xac00 && r <= 0xd7a3, r >= 0x1f300 && r <= 0x1faff:
			n += 2
		default:
			n++
		}
	}
	return n
}

// TestTextColumnsWide checks that the columns of the text form line up on
// a terminal when names hold characters two columns wide (CJK, emoji) or
// none (a combining accent): in each block of lines, every column after
// the first starts at the same terminal column on every line that has
// it. The columns are where two spaces or more end.
func TestTextColumnsWide(t *testing.T) {
	names := []string{"注文処理", "checkout 🛒", "e\u0301", "http.request", "한국어 요청", "I \u2764\uFE0F Go", "thumbs 👍\U0001F3FD"}
	ms := int64(time.Millisecond)
	r := &Report{
		Input: "注文.trace", FormatVersion: "go1.26", DurationNS: 100 * ms,
		EventsByKind:    map[string]int64{"GoCreate": 3, "注文": 4, "x\u0301": 5},
		Experimental:    map[string]int{"🛒": 1},
		ExpBatches:      map[string]int{"🛒": 1},
		Incomplete:      map[string]int{},
		Anomalies:       map[string]int{},
		GoroutineGroups: map[string]*GroupTimes{},
		TaskLatency:     map[string]Latency{},
		RegionLatency:   map[string]Latency{},
		SlowestTasks:    map[string][]Instance{},
		SlowestRegions:  map[string][]Instance{},
		MMU:             []MMU{{WindowNS: ms, MMU: 0.5, Worst: []MMUWindow{{StartNS: ms, DurNS: ms, Util: 0.5}}}},
	}
	for i, name := range names {
		n := int64(i + 1)
		r.GoroutineGroups["main."+name] = &GroupTimes{Goroutines: i + 1, RunningNS: n * ms, WaitingNS: map[string]int64{"待機 " + name: n * ms}}
		r.TaskLatency[name] = Latency{Count: i + 1, P50NS: n * ms, P90NS: n * ms, P99NS: n * ms, MaxNS: 10 * n * ms}
		r.SlowestTasks[name] = []Instance{{Task: uint64(n), Goroutine: n, StartNS: n * ms, DurNS: n * ms}}
		r.RegionLatency[name] = Latency{Count: 1, P50NS: ms, P90NS: ms, P99NS: ms, MaxNS: n * ms,
			Time: &StateTimes{Running: n * ms, Waiting: ms, Network: ms, STW: n * 1000}}
		r.SlowestRegions[name] = []Instance{{Goroutine: n, StartNS: n * ms, DurNS: ms}}
		r.LongestPauses = append(r.LongestPauses, Pause{Reason: "stop " + name, StartNS: n * ms, DurNS: n * 100})
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	gap := regexp.MustCompile(`  +`)
	wide := 0
	for _, block := range strings.Split(text, "\n\n") {
		starts := map[int]int{} // by column, where it starts
		for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
			if strings.HasPrefix(line, "  ... ") {
				continue
			}
			indent := len(line) - len(strings.TrimLeft(line, " "))
			ends := gap.FindAllStringIndex(line[indent:], -1)
			if strings.IndexFunc(line, func(r rune) bool { return r > 0x7f }) >= 0 {
				wide++
				if len(ends) == 0 {
					t.Errorf("a line with a wide name and no column after it: %q", line)
				}
			}
			for col, e := range ends {
				at := termWidth(line[:indent+e[1]])
				if want, ok := starts[col+1]; ok && at != want {
					t.Errorf("column %d starts at %d, not %d as above it, in %q", col+1, at, want, line)
				} else if !ok {
					starts[col+1] = at
				}
			}
		}
	}
	if wide < 4*len(names) {
		t.Errorf("%d lines hold wide or combining characters, want %d at least:\n%s", wide, 4*len(names), text)
	}
	if t.Failed() {
		t.Logf("text:\n%s", text)
	}
}

// TestTableAsTabwriter checks that of ASCII text, where a character is a
// column, the table prints what text/tabwriter does with the settings
// the text form had, ragged lines, empty cells and lines without a tab
// included.
func TestTableAsTabwriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "bb", "count", "Task latency", "  x", "1.41µs"}
	for i := range 500 {
		var text strings.Builder
		for range rng.IntN(8) {
			for range rng.IntN(5) {
				text.WriteString(words[rng.IntN(len(words))])
				text.WriteByte('\t')
			}
			text.WriteString(words[rng.IntN(len(words))] + "\n")
		}
		var want, got bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 8, cellPadding, ' ', 0)
		tb := &table{w: &got}
		for _, part := range strings.SplitAfter(text.String(), "\n") {
			fmt.Fprint(tw, part)
			fmt.Fprint(tb, part)
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := tb.Flush(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("case %d, %q:\ngot\n%s\nwant\n%s", i, text.String(), got.String(), want.String())
		}
	}
}
