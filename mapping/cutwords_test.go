package mapping_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestCutWordsFileAndStream cuts traces short at many places and checks
// that a stream's error places the cut in the words a file's does (the
// file's batches are indexed before the pass, a stream's followed as they
// pass): the same generation, batch and reason, and the stream adds the
// byte it ended at, which a file's size tells.
func TestCutWordsFileAndStream(t *testing.T) {
	for _, name := range []string{"../conformance/testdata/generations.go1.26.trace", "../testdata/mixed.go1.22.trace", "../testdata/mixed.go1.25.trace"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		// Every byte of the first batches, around each generation's
		// start, and a stride through the rest.
		cuts := map[int]bool{}
		for n := tracefile.HeaderSize + 1; n < tracefile.HeaderSize+120; n++ {
			cuts[n] = true
		}
		for _, g := range idx.Generations {
			for d := -3; d < 40; d++ {
				cuts[int(g.Offset)+d] = true
			}
		}
		for n := tracefile.HeaderSize; n < len(data); n += 97 {
			cuts[n] = true
		}
		checked := 0
		for n := range cuts {
			if n <= tracefile.HeaderSize || n >= len(data) {
				continue
			}
			_, ferr := mapping.MapFile(bytes.NewReader(data[:n]), int64(n), mapping.NopSink{})
			_, serr := mapping.Map(bytes.NewReader(data[:n]), mapping.NopSink{})
			if ferr == nil {
				if serr != nil {
					t.Errorf("%s cut at %d: a file is read whole, a stream fails: %v", name, n, serr)
				}
				continue
			}
			if strings.Contains(ferr.Error(), "its first is damaged") {
				// Before Go 1.26 a cut at a batch's end leaves a
				// generation that looks whole.
				t.Errorf("%s cut at %d: %v; the trace is only cut short", name, n, ferr)
			}
			fl, sl := place(ferr), place(serr)
			want := fl
			if strings.HasSuffix(fl, "cut short") {
				want = fmt.Sprintf("%s at byte %d", fl, n)
			}
			if sl != want {
				t.Errorf("%s cut at %d:\n  file:   %s\n  stream: %s\n  want the stream to say %q", name, n, ferr, serr, want)
			}
			checked++
		}
		if checked < 100 {
			t.Errorf("%s: %d cuts failed, want at least 100 checked", name, checked)
		}
	}
}

// place returns where an error of a broken trace says the trace broke:
// what follows "broken trace ", up to the events read or the parser's
// words.
func place(err error) string {
	msg := fmt.Sprint(err)
	i := strings.Index(msg, "broken trace ")
	if i < 0 {
		return "(not a broken trace: " + msg + ")"
	}
	s := msg[i+len("broken trace "):]
	j := len(s)
	for _, sep := range []string{", after ", ": "} {
		if k := strings.Index(s, sep); k >= 0 && k < j {
			j = k
		}
	}
	return s[:j]
}

// TestJoinedWordsFileAndStream checks that two traces joined end to end,
// and a trace of nothing but its header, are placed alike in a file and
// a stream, in every format: before Go 1.26 a generation has no end mark,
// and a stream said that the fault was inside the generation it had also
// counted complete.
func TestJoinedWordsFileAndStream(t *testing.T) {
	for _, name := range []string{"mixed.go1.22.trace", "mixed.go1.25.trace", "mixed.go1.26.trace"} {
		data, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for what, in := range map[string][]byte{
			"joined":      append(bytes.Clone(data), data...),
			"header only": data[:tracefile.HeaderSize],
			// Damage that begins with the letter another trace's
			// header begins with is no header.
			"a g":       append(bytes.Clone(data), "gxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...),
			"a g first": append(bytes.Clone(data[:tracefile.HeaderSize]), "gxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...),
		} {
			_, ferr := mapping.MapFile(bytes.NewReader(in), int64(len(in)), mapping.NopSink{})
			_, serr := mapping.Map(bytes.NewReader(in), mapping.NopSink{})
			if ferr == nil || serr == nil {
				t.Errorf("%s %s: file %v, stream %v; want both to fail", name, what, ferr, serr)
				continue
			}
			if place(ferr) != place(serr) || strings.HasPrefix(place(serr), "near ") {
				t.Errorf("%s %s:\n  file:   %s\n  stream: %s", name, what, ferr, serr)
			}
			if second := strings.Contains(serr.Error(), tracefile.ErrSecondTrace.Error()); second != (what == "joined") {
				t.Errorf("%s %s: the stream's error %q; want it to say another trace begins: %v", name, what, serr, what == "joined")
			}
		}
	}
}

// TestFirstGenerationHint damages a trace of one generation at many
// places: the hint that a trace is converted a generation at a time, and
// so nothing of it was, comes only with an error after which nothing was
// read; damage the parser finds as it hands on the generation's events
// comes after those before it, which were converted.
func TestFirstGenerationHint(t *testing.T) {
	data, err := os.ReadFile("../testdata/mixed.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	const hint = "a second of it, at a time"
	var with, without int
	for off := tracefile.HeaderSize + 1; off < len(data); off += 97 {
		bad := bytes.Clone(data)
		bad[off] ^= 0xff
		for _, err := range []error{
			second(mapping.MapFile(bytes.NewReader(bad), int64(len(bad)), mapping.NopSink{})),
			second(mapping.Map(bytes.NewReader(bad), mapping.NopSink{})),
		} {
			var me *mapping.Error
			if !errors.As(err, &me) || me.Generation != 0 {
				continue
			}
			read := strings.Contains(err.Error(), ", after ")
			switch has := strings.Contains(err.Error(), hint); {
			case has && read:
				t.Errorf("byte %d flipped: %v; events were read, and converted", off, err)
			case has:
				with++
			case read:
				without++
			}
		}
	}
	if with == 0 || without == 0 {
		t.Errorf("%d errors with the hint, %d after events of the first generation; want some of each", with, without)
	}
}

func second[T any](_ T, err error) error { return err }
