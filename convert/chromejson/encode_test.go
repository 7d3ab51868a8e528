package chromejson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "ctl \x00\x01\x1f\n\r\t\b\f",
		"utf-8 é 世界 🙂", "bad \xff\xfe utf-8 \xe4\xb8", "line\u2028para\u2029", "<html>&",
	} {
		b := appendString(nil, s)
		if !utf8.Valid(b) {
			t.Errorf("%q: invalid UTF-8 out: %q", s, b)
		}
		if strings.ContainsRune(string(b), '\u2028') || strings.ContainsRune(string(b), '\u2029') {
			t.Errorf("%q: U+2028/9 not escaped: %s", s, b)
		}
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", s, b, err)
			continue
		}
		// strings.Map decodes s as appendString does: each byte of
		// invalid UTF-8 becomes U+FFFD.
		if want := strings.Map(func(r rune) rune { return r }, s); got != want {
			t.Errorf("%q: decodes to %q, want %q", s, got, want)
		}
	}
}

func TestAppendMicros(t *testing.T) {
	for ns, want := range map[int64]string{
		0: "0", 1: "0.001", 10: "0.01", 999: "0.999", 1000: "1", 1500: "1.5",
		1234567: "1234.567", 1234500: "1234.5", -1: "-0.001", -1500: "-1.5",
		9223372036854775807: "9223372036854775.807", -9223372036854775808: "-9223372036854775.808",
	} {
		if got := string(appendMicros(nil, ns)); got != want {
			t.Errorf("appendMicros(%d) = %s, want %s", ns, got, want)
		}
	}
}
