package pprof_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/convert/pprof"
	"github.com/trace2x/trace2x/mapping"
)

// TestDamagedTrace checks what a profile of a damaged trace says: a trace
// that breaks off gives a profile whose comments say where, and names that
// are not valid UTF-8 come out as every output gives them, each bad byte
// U+FFFD.
func TestDamagedTrace(t *testing.T) {
	data, err := os.ReadFile("../../testdata/frsubtasks.go1.26.trace")
	if err != nil {
		t.Fatal(err)
	}
	convert := func(t *testing.T, input []byte) (*profile.Profile, error) {
		t.Helper()
		var out bytes.Buffer
		_, merr := mapping.Map(bytes.NewReader(input), pprof.NewWriter(&out, pprof.Sync))
		p, err := profile.Parse(&out)
		if err != nil {
			t.Fatal(err)
		}
		return p, merr
	}

	t.Run("cut short", func(t *testing.T) {
		whole, err := convert(t, data)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(whole.Comments, func(c string) bool { return strings.HasPrefix(c, "cut short") }) {
			t.Errorf("the whole trace's profile says it is cut short: %q", whole.Comments)
		}
		cut, err := convert(t, data[:len(data)*3/4])
		var me *mapping.Error
		if !errors.As(err, &me) {
			t.Fatalf("Map: %v", err)
		}
		if want := "cut short: " + me.Error(); !slices.Contains(cut.Comments, want) {
			t.Errorf("the comments %q do not hold %q", cut.Comments, want)
		}
	})

	t.Run("names not UTF-8", func(t *testing.T) {
		// A byte of the name of a function on a sync stack, in the
		// string table, which the parser takes as it is.
		damaged := bytes.Clone(data)
		i := bytes.Index(damaged, []byte("sync.(*WaitGroup).Wait"))
		if i < 0 {
			t.Fatal("no sync.(*WaitGroup).Wait in the sample")
		}
		damaged[i+2] = 0xd6 // sy\xd6c.(*WaitGroup).Wait
		p, err := convert(t, damaged)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range p.Function {
			for _, s := range []string{f.Name, f.SystemName, f.Filename} {
				if !utf8.ValidString(s) {
					t.Errorf("function %q: %q is not valid UTF-8", f.Name, s)
				}
			}
			found = found || f.Name == "sy\uFFFDc.(*WaitGroup).Wait"
		}
		if !found {
			t.Error("no function named sy\uFFFDc.(*WaitGroup).Wait")
		}
	})
}
