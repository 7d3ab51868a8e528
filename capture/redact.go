package capture

import (
	"net/url"

	"github.com/trace2x/trace2x/internal/redact"
)

// Redact returns u as logs and errors show it: the password of its user,
// and the values of its query parameters that carry a secret (a token, a
// key, a signature, a password), replaced by "xxxxx". url.URL.Redacted
// hides the password only, and a capture's URL often holds a token in
// its query.
func Redact(u *url.URL) string { return redact.URL(u) }

// RedactString returns an endpoint given as text, which may not parse as
// a URL (a password with a '/' or '?' not escaped, a missing scheme), as
// Redact shows it.
func RedactString(s string) string { return redact.String(s) }
