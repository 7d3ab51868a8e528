package capture

import (
	"net/url"
	"strings"
)

// Redact returns u as logs and errors show it: the password of its user,
// and the values of its query parameters that carry a secret (a token, a
// key, a signature, a password), replaced by "xxxxx". url.URL.Redacted
// hides the password only, and a capture's URL often holds a token in
// its query.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.Opaque != "" {
		// host:port/path with user:password in front, parsed as a
		// scheme and opaque data: nothing of it is shown as given.
		return RedactString(u.String())
	}
	c := *u
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = "xxxxx"
		} else {
			changed := false
			for k, vs := range q {
				if secretParam(k) {
					for i := range vs {
						vs[i] = "xxxxx"
					}
					changed = true
				}
			}
			if changed {
				c.RawQuery = q.Encode()
			}
		}
	}
	return c.Redacted()
}

// RedactString returns an endpoint given as text, which may not parse as
// a URL (a password with a '/' or '?' not escaped, a missing scheme), as
// Redact shows it: parsed when it parses as an http(s) URL, else with
// whatever comes before its last '@' after the user's name taken for a
// password and hidden.
func RedactString(s string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Opaque == "" {
		return Redact(u)
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	user, _, hasPassword := strings.Cut(s[start:at], ":")
	if !hasPassword {
		return s
	}
	return s[:start] + user + ":xxxxx" + s[at:]
}

// secretParam reports whether a query parameter's name says it holds a
// secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "key", "secret", "password", "passwd", "pwd", "sig", "auth", "credential", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
