package utf8fix

import (
	"testing"
	"unicode/utf8"
)

// TestString checks String against Go's own string to []rune conversion,
// which replaces each invalid byte with U+FFFD.
func TestString(t *testing.T) {
	for _, s := range []string{
		"", "plain", "caf\xe9", "\xff\xfe", "\xed\xa0\x80", "a\x00b", "\U0001F600\xf0\x9f\x98",
		"\xc3", "ok\u2028\xc3\xa9\x80", "\xf4\x90\x80\x80",
	} {
		got := String(s)
		if want := string([]rune(s)); got != want {
			t.Errorf("String(%q) = %q, want %q", s, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("String(%q) = %q is not valid UTF-8", s, got)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("caf\xe9 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(s), string([]rune(s)); got != want {
			t.Fatalf("String(%q) = %q, want %q", s, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	s := "runtime.gcBgMarkWorker waiting for GC work (long enough to matter)"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		_ = String(s)
	}
}
