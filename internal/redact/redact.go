// Package redact hides the secrets of URLs in what logs and errors show.
package redact

import (
	"net/url"
	"strings"
)

// Mask is what stands for a secret.
const Mask = "xxxxx"

// URL returns u as logs and errors show it: the password of its user, and
// the values of its query parameters (and of a fragment's, in the same
// form) that carry a secret (a token, a key, a signature, a password),
// replaced by Mask. url.URL.Redacted hides the password only, and a
// capture's or collector's URL often holds a token in its query.
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.Opaque != "" {
		// host:port/path with user:password in front, parsed as a
		// scheme and opaque data: nothing of it is shown as given.
		return String(u.String())
	}
	c := *u
	c.RawQuery = params(c.RawQuery)
	if c.Fragment != "" && strings.Contains(c.Fragment, "=") {
		c.RawFragment, c.Fragment = "", params(c.Fragment)
	}
	return c.Redacted()
}

// params hides the secret values of a query string.
func params(raw string) string {
	if raw == "" {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Mask
	}
	changed := false
	for k, vs := range q {
		if secretParam(k) {
			for i := range vs {
				vs[i] = Mask
			}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}

// String returns an endpoint given as text, which may not parse as a URL
// (a password with a '/' or '?' not escaped, a missing scheme), as URL
// shows it: parsed when it parses with a host, else with whatever comes
// between the user's name and its last '@' taken for a password and
// hidden, and any query after it shown as URL shows one.
func String(s string) string {
	if u, err := url.Parse(s); err == nil && u.Opaque == "" && (u.Host != "" || u.User == nil) {
		return URL(u)
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
	rest := s[at:]
	if path, query, ok := strings.Cut(rest, "?"); ok {
		rest = path + "?" + params(query)
	}
	return s[:start] + user + ":" + Mask + rest
}

// secretParam reports whether a query parameter's name says it holds a
// secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "key", "secret", "password", "passwd", "pwd", "sig", "auth", "credential", "session", "jwt", "bearer"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
