package redact

import (
	"net/url"
	"strings"
	"testing"
)

// TestRedact checks that no password or secret query value shows in an
// endpoint as logs give it, whether it parses as a URL or not, and that
// the rest of it does.
func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://ops:s3cr3t@127.0.0.1:6060/debug/pprof/trace", "http://ops:xxxxx@127.0.0.1:6060/debug/pprof/trace"},
		{"http://127.0.0.1:6060/debug/pprof/trace?seconds=5&token=s3cr3t", "http://127.0.0.1:6060/debug/pprof/trace?seconds=5&token=xxxxx"},
		{"http://127.0.0.1:6060/debug/pprof/trace?X-Amz-Signature=s3cr3t&api_key=s3cr3t", "http://127.0.0.1:6060/debug/pprof/trace?X-Amz-Signature=xxxxx&api_key=xxxxx"},
		{"http://127.0.0.1:6060/debug/pprof/trace?seconds=5", "http://127.0.0.1:6060/debug/pprof/trace?seconds=5"},
		// Passwords that break the URL's syntax, and no scheme.
		{"http://ops:pa/s3cr3t@127.0.0.1:6064/debug/pprof/trace", "http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace"},
		{"http://ops:pa?s3cr3t@127.0.0.1:6064/debug/pprof/trace", "http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace"},
		{"http://ops:s3cr3t PW@127.0.0.1:6064/debug/pprof/trace", "http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace"},
		{"http://ops:s3cr3t%zz@127.0.0.1:6064/debug/pprof/trace", "http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace"},
		{"ops:s3cr3t@127.0.0.1:6064/debug/pprof/trace", "ops:xxxxx@127.0.0.1:6064/debug/pprof/trace"},
		{"127.0.0.1:6064/debug/pprof/trace", "127.0.0.1:6064/debug/pprof/trace"},
		// Other schemes, fragments, more names of secrets.
		{"ftp://h/p?token=s3cr3t", "ftp://h/p?token=xxxxx"},
		{"unix:///tmp/sock?token=s3cr3t", "unix:///tmp/sock?token=xxxxx"},
		{"http://h/p#token=s3cr3t", "http://h/p#token=xxxxx"},
		{"http://h/p?jwt=s3cr3t&bearer=s3cr3t", "http://h/p?bearer=xxxxx&jwt=xxxxx"},
		{"http://ops:pa/s3cr3t@h:1/p?token=s3cr3t", "http://ops:xxxxx@h:1/p?token=xxxxx"},
	} {
		got := String(c.in)
		if got != c.want || strings.Contains(got, "s3cr3t") {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
		if u, err := url.Parse(c.in); err == nil {
			if got := URL(u); strings.Contains(got, "s3cr3t") {
				t.Errorf("URL(%q) = %q", c.in, got)
			}
		}
	}
}
