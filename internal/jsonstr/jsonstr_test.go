package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\n\r\t\b\f",
		"utf-8 é 世界 🙂", "bad \xff\xfe utf-8 \xe4\xb8", "line\u2028para\u2029", "<html>&",
		"del \x7f", `C:\dir\`, `\`,
	} {
		b := Append(nil, s)
		if !utf8.Valid(b) {
			t.Errorf("%q: invalid UTF-8 out: %q", s, b)
		}
		// No control character as it is (older Perfetto tokenizers
		// refuse DEL), and no escaped backslash just before the
		// closing quote (some 2025 releases take \\" for an escaped
		// quote).
		if strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.HasSuffix(string(b), `\\"`) {
			t.Errorf("%q: %q", s, b)
		}
		if strings.ContainsRune(string(b), '\u2028') || strings.ContainsRune(string(b), '\u2029') {
			t.Errorf("%q: U+2028/9 not escaped: %s", s, b)
		}
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", s, b, err)
			continue
		}
		// strings.Map decodes s as Append does: each byte of
		// invalid UTF-8 becomes U+FFFD.
		if want := strings.Map(func(r rune) rune { return r }, s); got != want {
			t.Errorf("%q: decodes to %q, want %q", s, got, want)
		}
	}
}
