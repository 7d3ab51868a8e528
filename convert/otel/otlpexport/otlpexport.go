// Package otlpexport finds where OTLP spans go and makes the exporter
// that sends them there, as `trace2x otlp` does: from the settings given,
// then the standard OTEL_EXPORTER_OTLP_* variables, then the defaults
// (127.0.0.1:4317 over gRPC, 127.0.0.1:4318 over HTTP). A program that
// pushes its own flight-recorder snapshots (flight.WithExporter,
// otel.Convert) gets the same endpoint rules, TLS choice and retries as
// the command:
//
//	ep, err := otlpexport.Resolve(otlpexport.Config{})
//	if err != nil {
//		return err
//	}
//	if err := ep.Check(); err != nil {
//		return err // nothing listens there, or it speaks the other protocol: said at once, not after the retries
//	}
//	exp, err := ep.NewExporter(ctx)
package otlpexport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/trace2x/trace2x/internal/oserr"
	"github.com/trace2x/trace2x/internal/redact"
)

// DefaultTimeout bounds an export, retries included, when neither Config
// nor OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT sets it.
const DefaultTimeout = 10 * time.Second

// Config says where spans go. Each field left zero is read from the
// environment, as the OpenTelemetry SDKs read it, or else defaults.
type Config struct {
	// Protocol is "grpc", "http/protobuf" or "http/json". Empty reads
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else gRPC.
	Protocol string
	// Endpoint is host:port or an http:// or https:// URL. Empty reads
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT
	// (a base URL, to which HTTP adds /v1/traces), else 127.0.0.1:4317
	// for gRPC or 127.0.0.1:4318 for HTTP. An HTTP URL without a path
	// gets /v1/traces.
	Endpoint string
	// Headers are sent with every request, over those of
	// OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS.
	Headers map[string]string
	// Insecure, if set, chooses plain text (true) or TLS (false).
	// Unset, OTEL_EXPORTER_OTLP_[TRACES_]INSECURE or an endpoint URL's
	// scheme decides; a host:port endpoint is plain text on loopback
	// and TLS elsewhere.
	Insecure *bool
	// Timeout bounds an export, retries included. Zero reads
	// OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT
	// (milliseconds), else DefaultTimeout.
	Timeout time.Duration
}

// A SettingError is a protocol or endpoint that cannot be used, given in
// Config or read from an environment variable.
type SettingError struct {
	Setting string // "protocol", "endpoint", "certificate", "timeout", "insecure", "headers", ...
	Env     string // the variable it came from; empty if from Config
	Value   string // as given, but a URL's secrets masked; empty for a header
	Reason  string
}

// Error names the setting and what is wrong with it.
func (e *SettingError) Error() string {
	if e.Value == "" && e.Env != "" {
		return fmt.Sprintf("%s: %s", e.Env, e.Reason)
	}
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Setting, e.Reason)
	}
	if e.Env != "" {
		return fmt.Sprintf("%s=%q: %s", e.Env, e.Value, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s", e.Setting, e.Value, e.Reason)
}

// A ProtocolError is Check's error when the endpoint speaks another
// protocol than the one spans are to be sent with: most often the
// Collector's OTLP/HTTP port (4318) given for gRPC, or its gRPC port
// (4317) for OTLP/HTTP.
type ProtocolError struct {
	Endpoint string // as Endpoint.String gives it
	Protocol string // the protocol spans were to be sent with
	// Answer is what the endpoint answered in: "HTTP/1.1" (or "HTTP/1.0"),
	// or "HTTP/2"; for an answer to gRPC that is neither HTTP/1 nor
	// HTTP/2, its start, quoted, with "..." after it if more followed:
	// "<!DOCTYPE HTML>"... from a server that sends an error page without
	// a status line, as Python's http.server does.
	Answer    string
	Suggested string // the protocol the endpoint takes: "http/protobuf" or "grpc"
}

// Error says which protocol the endpoint speaks, and what to set.
func (e *ProtocolError) Error() string {
	if e.Protocol == "grpc" {
		return fmt.Sprintf("the OTLP endpoint %s answers %s, not gRPC: use protocol %s, or the gRPC port (4317 by default)",
			e.Endpoint, e.Answer, e.Suggested)
	}
	return fmt.Sprintf("the OTLP endpoint %s answers %s only, as a gRPC port does: use protocol %s, or the OTLP/HTTP port (4318 by default)",
		e.Endpoint, e.Answer, e.Suggested)
}

// A TLSError is Check's error when an endpoint that spans were to reach
// in plain text speaks TLS: a loopback host:port, an http:// URL, or
// plain text asked for. The exporter would retry until its timeout and
// then fail with an error that does not say so.
type TLSError struct {
	Endpoint string // as Endpoint.String gives it
	HostPort string
}

// Error says that the endpoint answered in TLS, and what to set.
func (e *TLSError) Error() string {
	return fmt.Sprintf("the OTLP endpoint %s speaks TLS, and spans were to go in plain text: give it as https://%s (and its CA in OTEL_EXPORTER_OTLP_CERTIFICATE if its certificate is your own)",
		e.Endpoint, e.HostPort)
}

// A PlainTextError is Check's error when an endpoint that spans were to
// reach over TLS answers its handshake in plain text: an https:// URL for
// a plain port, or OTEL_EXPORTER_OTLP_INSECURE=false, which asks for TLS
// even on a loopback address. The exporter would retry until its timeout.
type PlainTextError struct {
	Endpoint string // as Endpoint.String gives it
}

// Error says that the endpoint answered in plain text, and what to set.
func (e *PlainTextError) Error() string {
	if strings.HasPrefix(e.Endpoint, "https://") {
		return fmt.Sprintf("the OTLP endpoint %s answers in plain text, and spans were to go over TLS: give it as http://", e.Endpoint)
	}
	return fmt.Sprintf("the OTLP endpoint %s answers in plain text, and spans were to go over TLS: give it as http://, or ask for plain text (--insecure, OTEL_EXPORTER_OTLP_INSECURE=true)", e.Endpoint)
}

// A CertificateError is Check's error when an endpoint reached over TLS
// presents a certificate that this machine does not trust, one for
// another name or one out of date, or when it refuses this client's
// (mutual TLS): the exporter would retry until its timeout an error that
// cannot heal.
type CertificateError struct {
	Endpoint string // as Endpoint.String gives it
	// CAFile is the file of CAs the exporter trusts, and CAEnv the
	// variable that names it; empty when the system's CAs are trusted.
	CAFile, CAEnv string
	// Client says the endpoint refused the client's certificate, or
	// wants one and was given none (ClientGiven false).
	Client, ClientGiven bool
	Err                 error
}

// Error says why the endpoint's certificate was not trusted.
func (e *CertificateError) Error() string {
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case e.Client && e.ClientGiven:
		return fmt.Sprintf("the OTLP endpoint %s refuses this client's certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE): %v (it wants one signed by a CA it trusts)", e.Endpoint, e.Err)
	case e.Client:
		return fmt.Sprintf("the OTLP endpoint %s refuses this client without a certificate it accepts: %v (give one in OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, with its key in OTEL_EXPORTER_OTLP_CLIENT_KEY)", e.Endpoint, e.Err)
	case errors.As(e.Err, &name):
		return fmt.Sprintf("the OTLP endpoint %s presents a certificate for another name: %v (give the endpoint by a name its certificate holds)", e.Endpoint, e.Err)
	case errors.As(e.Err, &invalid):
		return fmt.Sprintf("the OTLP endpoint %s presents a certificate that is not valid: %v", e.Endpoint, e.Err)
	case e.CAFile != "":
		return fmt.Sprintf("the OTLP endpoint %s presents a certificate that the CAs in %s (%s) do not vouch for: %v", e.Endpoint, e.CAFile, e.CAEnv, e.Err)
	case errors.As(e.Err, &unknown):
		return fmt.Sprintf("the OTLP endpoint %s presents a certificate that this machine does not trust: %v (if it is signed by a CA of your own, give that CA's PEM file in OTEL_EXPORTER_OTLP_CERTIFICATE)", e.Endpoint, e.Err)
	}
	return fmt.Sprintf("the OTLP endpoint %s presents a certificate that this machine does not trust: %v", e.Endpoint, e.Err)
}

// Unwrap returns the verification's error.
func (e *CertificateError) Unwrap() error { return e.Err }

// Endpoint is a resolved destination for spans.
type Endpoint struct {
	protocol string
	display  string        // as given, with the path HTTP adds, for messages
	hostPort string        // for Check
	userinfo *url.Userinfo // of the endpoint's URL, sent as basic authentication
	scheme   string        // "http", "https", or "" for host:port
	fromEnv  bool          // read from the environment: no /v1/traces added to a URL that has a path
	insecure bool          // pass WithInsecure
	plain    bool          // the exporter speaks plain text, so Check can see what answers
	headers  map[string]string
	timeout  time.Duration
}

// Resolve resolves c against the environment and the defaults. A
// setting that cannot be used is a *SettingError, including the values
// of the OTEL_EXPORTER_OTLP_* variables that the exporter would log and
// ignore (a timeout not in milliseconds, an insecure flag that is not
// true or false, a compression other than gzip or none, a header that is
// not name=value).
func Resolve(c Config) (*Endpoint, error) {
	ep := &Endpoint{protocol: c.Protocol, timeout: c.Timeout}
	// A variable whose value the exporter cannot read is an error here:
	// the exporter would log it, and go on without it.
	if err := checkEnv(); err != nil {
		return nil, err
	}
	if ep.timeout <= 0 {
		ep.timeout = envTimeout()
	}
	protoEnv := ""
	if ep.protocol == "" {
		ep.protocol, protoEnv = envFirst("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if ep.protocol == "" {
		ep.protocol = "grpc"
	}
	switch ep.protocol {
	case "grpc", "http/protobuf", "http/json":
	default:
		return nil, &SettingError{Setting: "protocol", Env: protoEnv, Value: ep.protocol, Reason: "want grpc, http/protobuf or http/json"}
	}
	grpc := ep.protocol == "grpc"

	// Blank is unset, as the specification has it for empty.
	raw, envName := strings.TrimSpace(c.Endpoint), ""
	if raw == "" {
		if raw, envName = envFirst("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); raw == "" {
			raw, envName = envFirst("OTEL_EXPORTER_OTLP_ENDPOINT")
			if strings.Contains(raw, "://") && !grpc {
				// The general variable names a base URL; the signal's path
				// goes after it.
				raw = withTracesPath(raw)
			}
		}
		ep.fromEnv = raw != ""
	}
	if raw == "" {
		raw = "127.0.0.1:4317"
		if !grpc {
			raw = "127.0.0.1:4318"
		}
	}
	ep.display = raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: "neither host:port nor an http:// or https:// URL"}
		}
		if u.RawQuery != "" || u.ForceQuery {
			// The exporter sends the URL's host and path alone: spans
			// would go without what the query carries (an API key).
			return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: "the exporter sends no query string; give what it carries as a header"}
		}
		if u.User != nil {
			// Nor does it send the URL's user and password: they go as
			// a header, unless one is given.
			ep.userinfo = u.User
		}
		ep.scheme = u.Scheme
		ep.hostPort = u.Host
		if u.Port() == "" {
			ep.hostPort = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		if !grpc && !ep.fromEnv && (u.Path == "" || u.Path == "/") {
			ep.display = withTracesPath(raw)
		}
	} else {
		_, port, err := net.SplitHostPort(raw)
		if err != nil {
			return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: strings.ReplaceAll(err.Error(), raw, redact.String(raw))}
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: fmt.Sprintf("port %q is not a port number (a path needs an http:// or https:// URL)", port)}
		}
		ep.hostPort = raw
	}

	// Whether spans go in plain text is decided here, always, and given
	// to the exporter with the endpoint: left to it, it would take the
	// scheme and path of a variable's URL for a host:port given in
	// Config. The variable applies only to an endpoint without a scheme.
	envInsecure, _ := envFirst("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE")
	switch {
	case c.Insecure != nil && *c.Insecure && ep.scheme == "https":
		return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: "an https:// endpoint, with plain text asked for"}
	case c.Insecure != nil && !*c.Insecure && ep.scheme == "http":
		return nil, &SettingError{Setting: "endpoint", Env: envName, Value: redact.String(raw), Reason: "an http:// endpoint, with TLS asked for"}
	case c.Insecure != nil:
		ep.insecure = *c.Insecure
	case ep.scheme != "":
		ep.insecure = ep.scheme == "http"
	case envInsecure != "":
		ep.insecure = strings.EqualFold(envInsecure, "true")
	default:
		host, _, _ := net.SplitHostPort(ep.hostPort)
		ip := net.ParseIP(host)
		ep.insecure = host == "localhost" || (ip != nil && ip.IsLoopback())
	}
	// Check probes only what the exporter reaches in plain text: over
	// TLS a probe would need a handshake of its own, and a plain-text
	// probe of a TLS endpoint would judge the wrong thing.
	ep.plain = ep.insecure
	if ep.plain {
		// The exporter given a certificate fails at its first export
		// over HTTP ("insecure HTTP endpoint cannot use TLS client
		// configuration"), and over gRPC speaks TLS to an endpoint
		// Check probed in plain text.
		for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"} {
			if v := os.Getenv(name); v != "" {
				return nil, &SettingError{Setting: "certificate", Env: name, Value: v, Reason: fmt.Sprintf("a certificate for TLS, but spans go to %s in plain text (%s); give an https:// endpoint, ask for TLS, or unset the variable", redact.String(ep.display), plainWhy(c.Insecure, ep.scheme, envInsecure))}
			}
		}
	}

	for k := range c.Headers {
		if !validHeaderName(k) {
			return nil, &SettingError{Setting: "headers", Reason: fmt.Sprintf("%q is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", k)}
		}
	}
	if len(c.Headers) > 0 || ep.userinfo != nil {
		// Headers given as options replace the environment's in the
		// exporter: merge them here.
		ep.headers = envHeaders()
		for k, v := range c.Headers {
			setHeader(ep.headers, k, v)
		}
		if ep.userinfo != nil && !hasHeader(ep.headers, "Authorization") {
			pw, _ := ep.userinfo.Password()
			setHeader(ep.headers, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ep.userinfo.Username()+":"+pw)))
		}
	}
	if grpc {
		// gRPC refuses such metadata only when the export is sent, after
		// the whole conversion. The value is not shown: a credential.
		headers := ep.headers
		if headers == nil {
			headers = envHeaders()
		}
		for k, v := range headers {
			if !strings.HasSuffix(strings.ToLower(k), "-bin") && strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
				se := &SettingError{Setting: "headers", Reason: fmt.Sprintf("the value of %s is not printable ASCII, which gRPC metadata needs (or send it over OTLP/HTTP)", k)}
				if _, given := c.Headers[k]; !given {
					se.Env = "OTEL_EXPORTER_OTLP_HEADERS"
					if v, _ := envFirst("OTEL_EXPORTER_OTLP_TRACES_HEADERS"); v != "" {
						se.Env = "OTEL_EXPORTER_OTLP_TRACES_HEADERS or OTEL_EXPORTER_OTLP_HEADERS"
					}
				}
				return nil, se
			}
		}
	}
	return ep, nil
}

// String names the endpoint and its protocol, for messages:
// "127.0.0.1:4317 (grpc)".
func (ep *Endpoint) String() string {
	return fmt.Sprintf("%s (%s)", redact.String(ep.display), ep.protocol)
}

// Protocol is the protocol spans are sent with.
func (ep *Endpoint) Protocol() string { return ep.protocol }

// Timeout is the time an export may take, retries included.
func (ep *Endpoint) Timeout() time.Duration { return ep.timeout }

// Check fails at once, with a clear error, when nothing listens at the
// endpoint, rather than after the exporter's retries. At a plain-text
// endpoint it also fails, with a *ProtocolError, when the endpoint
// speaks another protocol: gRPC sent to an OTLP/HTTP port retries until
// the timeout, then fails cryptically, and OTLP/HTTP sent to a gRPC port
// fails cryptically. For gRPC, any answer that cannot begin HTTP/2 is
// such a sign. An OTLP/HTTP endpoint in plain text is sent an export of
// no spans, and fails with a *ReceiverError when it answers with a web
// page, 404 or 405. An endpoint that gives no clear answer within a second
// passes. A plain-text endpoint that speaks TLS fails with a *TLSError.
// An endpoint reached over TLS fails with a *CertificateError when its
// certificate is not trusted, or with a *SettingError when the file of
// CAs named by OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE cannot be read.
// Through a proxy the endpoint is not dialled directly, so it is not
// checked.
func (ep *Endpoint) Check() error {
	scheme := ep.scheme
	if scheme == "" {
		scheme = "https"
	}
	var tlsCfg *tlsSettings
	if !ep.plain {
		// The files are the same whatever the route.
		var err error
		if tlsCfg, err = loadTLS(ep.hostPort); err != nil {
			return err
		}
	}
	req := &http.Request{URL: &url.URL{Scheme: scheme, Host: ep.hostPort}}
	if p, err := http.ProxyFromEnvironment(req); err == nil && p != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", ep.hostPort, min(ep.timeout, 5*time.Second))
	if err != nil {
		return fmt.Errorf("cannot reach the OTLP endpoint %s: %w", ep, err)
	}
	defer conn.Close()
	if !ep.plain {
		return ep.checkCertificate(conn, tlsCfg)
	}
	http1, err := ep.probe(conn)
	if err != nil || !http1 {
		return err
	}
	return ep.probeExport()
}

// A ReceiverError is Check's error when a plain-text OTLP/HTTP endpoint
// answers an export of no spans as no OTLP receiver does: with a web
// page (a UI's port), or with 404, 405 or 501 (no receiver at that path,
// or a server that takes no POST). The
// exporter takes any 2xx answer as delivered, so spans sent to a web UI
// would be lost without a word.
type ReceiverError struct {
	Endpoint string // as Endpoint.String gives it
	Status   string // the answer's status line: "200 OK"
	Type     string // its Content-Type
	Location string // where a redirect leads
}

// Error says what the endpoint answered.
func (e *ReceiverError) Error() string {
	if e.Location != "" {
		return fmt.Sprintf("the OTLP endpoint %s redirects to %s (%s): spans are not sent through a redirect, since the headers would go with them; give the endpoint it redirects to", e.Endpoint, e.Location, e.Status)
	}
	if strings.HasPrefix(e.Status, "2") {
		return fmt.Sprintf("the OTLP endpoint %s answers an export with a web page (%s, %s), not as an OTLP receiver: it would take spans and keep none; is it a UI's port? The OTLP/HTTP port is 4318 by default",
			e.Endpoint, e.Status, e.Type)
	}
	return fmt.Sprintf("the OTLP endpoint %s answers an export with %s: no OTLP receiver takes spans at that URL (its path is /v1/traces by default)", e.Endpoint, e.Status)
}

// probeExport sends an export of no spans, which an OTLP/HTTP receiver
// takes and answers in OTLP, and returns a *ReceiverError when the answer
// is a web page, 404, 405 or 501 (a server that takes no POST); anything
// else passes, as in probe.
func (ep *Endpoint) probeExport() error {
	target := ep.display
	if ep.scheme == "" {
		target = "http://" + ep.hostPort + "/v1/traces"
	}
	body, ctype := "", "application/x-protobuf"
	if ep.protocol == "http/json" {
		body, ctype = "{}", "application/json"
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", ctype)
	headers := ep.headers
	if headers == nil {
		headers = envHeaders()
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   min(ep.timeout, 2*probeTimeout),
		// A redirect is the exporter's to follow or not.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	media, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	media = strings.ToLower(strings.TrimSpace(media))
	switch {
	case resp.StatusCode/100 == 3 && resp.Header.Get("Location") != "":
		loc := resp.Header.Get("Location")
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			loc = redact.URL(u)
		} else {
			loc = redact.String(loc)
		}
		return &ReceiverError{Endpoint: ep.String(), Status: resp.Status, Type: resp.Header.Get("Content-Type"), Location: loc}
	case resp.StatusCode/100 == 2 && (media == "text/html" || media == "application/xhtml+xml"),
		resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusMethodNotAllowed,
		resp.StatusCode == http.StatusNotImplemented:
		return &ReceiverError{Endpoint: ep.String(), Status: resp.Status, Type: resp.Header.Get("Content-Type")}
	}
	return nil
}

// envHeaders returns the headers of OTEL_EXPORTER_OTLP_HEADERS and, over
// them, of OTEL_EXPORTER_OTLP_TRACES_HEADERS, as the exporter reads them.
func envHeaders() map[string]string {
	headers := map[string]string{}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		for _, kv := range strings.Split(os.Getenv(name), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.TrimSpace(k) != "" {
				// Resolve's checkEnv refused a value that does not
				// unescape, which the exporter drops.
				if uv, err := url.PathUnescape(v); err == nil {
					setHeader(headers, strings.TrimSpace(k), strings.TrimSpace(uv))
				}
			}
		}
	}
	return headers
}

// hasHeader reports whether m has header k, in any case.
func hasHeader(m map[string]string, k string) bool {
	for old := range m {
		if strings.EqualFold(old, k) {
			return true
		}
	}
	return false
}

// validHeaderName reports whether k is an HTTP header name (a token), as
// the exporter checks the names of its variable's headers, dropping
// the others.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// plainWhy says why an endpoint is reached in plain text, for messages.
func plainWhy(insecure *bool, scheme, envInsecure string) string {
	switch {
	case insecure != nil:
		return "plain text asked for"
	case scheme == "http":
		return "an http:// URL"
	case envInsecure != "":
		return "OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=" + envInsecure
	}
	return "a loopback host:port"
}

// setHeader sets header k of m to v, in place of one whose name differs
// only in case: HTTP and gRPC take names in any case, and both would be
// sent, the server taking either.
func setHeader(m map[string]string, k, v string) {
	for old := range m {
		if old != k && strings.EqualFold(old, k) {
			delete(m, old)
		}
	}
	m[k] = v
}

// tlsSettings is the TLS configuration the exporter will use, as read
// from the environment, and where its CAs came from.
type tlsSettings struct {
	cfg       *tls.Config
	file, env string // the CA file and its variable, if any
	client    bool   // a client certificate is given
}

// loadTLS reads the CA and client certificate files the exporter will
// read from the environment, failing with a *SettingError where it would
// only log and go on without them.
func loadTLS(hostPort string) (*tlsSettings, error) {
	host, _, _ := net.SplitHostPort(hostPort)
	s := &tlsSettings{cfg: &tls.Config{ServerName: host}}
	s.file, s.env = envFirst("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE")
	if s.file != "" {
		// The exporter trusts the file's CAs alone, as here.
		pem, err := os.ReadFile(s.file)
		if err != nil {
			return nil, &SettingError{Setting: "certificate", Env: s.env, Value: s.file, Reason: err.Error()}
		}
		s.cfg.RootCAs = x509.NewCertPool()
		if !s.cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &SettingError{Setting: "certificate", Env: s.env, Value: s.file, Reason: "no PEM certificate in it"}
		}
	}
	cert, certEnv := envFirst("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
	key, keyEnv := envFirst("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY")
	switch {
	case cert != "" && key == "":
		return nil, &SettingError{Setting: "client certificate", Env: certEnv, Value: cert, Reason: "its key is not given (OTEL_EXPORTER_OTLP_CLIENT_KEY)"}
	case key != "" && cert == "":
		return nil, &SettingError{Setting: "client key", Env: keyEnv, Value: key, Reason: "its certificate is not given (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)"}
	case cert != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, &SettingError{Setting: "client certificate", Env: certEnv, Value: cert, Reason: fmt.Sprintf("with %s=%q: %v", keyEnv, key, err)}
		}
		s.cfg.Certificates, s.client = []tls.Certificate{pair}, true
	}
	return s, nil
}

// clientAlertWait bounds the wait, after a handshake in which the
// endpoint asked for a client certificate, for the alert with which a
// TLS 1.3 server refuses it: it comes at once, or not at all.
const clientAlertWait = 300 * time.Millisecond

// checkCertificate shakes hands on conn as the exporter will, with the
// CAs and client certificate it will use, and fails only when the
// endpoint's certificate is not trusted or the endpoint refuses the
// client's: any other failure (an endpoint that says nothing, a TLS
// version or cipher it does not share) passes, for the exporter to
// report.
func (ep *Endpoint) checkCertificate(conn net.Conn, s *tlsSettings) error {
	cfg := s.cfg.Clone()
	asked := false
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		if len(s.cfg.Certificates) > 0 {
			return &s.cfg.Certificates[0], nil
		}
		return &tls.Certificate{}, nil
	}
	cfg.Certificates = nil
	tc := tls.Client(conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(min(ep.timeout, 5*time.Second)))
	err := tc.Handshake()
	if err == nil && asked {
		// TLS 1.3 ends the client's handshake before the server has
		// judged its certificate: a refusal comes as the first record.
		_ = tc.SetReadDeadline(time.Now().Add(clientAlertWait))
		_, err = tc.Read(make([]byte, 1))
	}
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, new(tls.RecordHeaderError)):
		// What came back is not a TLS record: an HTTP server's 400, or
		// an HTTP/2 frame.
		return &PlainTextError{Endpoint: ep.String()}
	case errors.As(err, &ve):
		return &CertificateError{Endpoint: ep.String(), CAFile: s.file, CAEnv: s.env, Err: ve.Err}
	case asked && err != nil && (refusedClient(err) || !s.client && strings.HasSuffix(err.Error(), "remote error: tls: handshake failure")):
		// A TLS 1.2 server that wants a certificate and gets none may say
		// only that the handshake failed.
		return &CertificateError{Endpoint: ep.String(), Client: true, ClientGiven: s.client, Err: err}
	}
	return nil
}

// refusedClient reports whether err is a TLS alert with which a server
// refuses a client's certificate, or the lack of one.
func refusedClient(err error) bool {
	msg := err.Error()
	if !strings.Contains(msg, "remote error: tls: ") {
		return false
	}
	for _, a := range []string{"certificate required", "bad certificate", "unknown certificate authority", "certificate expired", "certificate revoked", "unsupported certificate"} {
		if strings.HasSuffix(msg, a) {
			return true
		}
	}
	return false
}

// probeTimeout bounds the wait for the endpoint's first bytes, which a
// server sends without doing any work. An endpoint that says nothing by
// then passes: the exporter will tell what is wrong, if anything. A
// variable for tests.
var probeTimeout = time.Second

// http2Preface opens every HTTP/2 connection, as gRPC's in plain text.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// probe says hello on conn as the exporter would, and returns a
// *ProtocolError only when the answer is clearly in the other protocol,
// or, for gRPC, clearly not HTTP/2; anything else, silence included,
// passes, so that no endpoint that works is failed.
//
// For OTLP/HTTP it also reports whether the endpoint answered in HTTP/1,
// so that an export probe (probeExport) will be answered at once.
func (ep *Endpoint) probe(conn net.Conn) (http1 bool, err error) {
	var hello string
	if ep.protocol == "grpc" {
		// The preface and an empty SETTINGS frame: an HTTP/2 server
		// answers with its SETTINGS, an HTTP/1 one with 400 Bad Request.
		hello = http2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	} else {
		// OPTIONS * touches no resource (net/http answers it itself); a
		// server that speaks only HTTP/2, as gRPC's do, answers with its
		// SETTINGS frame or closes.
		hello = "OPTIONS * HTTP/1.1\r\nHost: " + ep.hostPort + "\r\nConnection: close\r\n\r\n"
	}
	if err := conn.SetDeadline(time.Now().Add(min(ep.timeout, probeTimeout))); err != nil {
		return false, nil
	}
	if _, err := io.WriteString(conn, hello); err != nil {
		return false, nil
	}
	// A frame header is 9 bytes; "HTTP/1.1" 8. What else came with them
	// starts the message of an answer in neither.
	buf := make([]byte, 64)
	n, rerr := io.ReadAtLeast(conn, buf, 9)
	answer := buf[:n]
	if n == 0 && (errors.Is(rerr, io.EOF) || oserr.ConnReset(rerr)) || tlsAnswer(answer) {
		// Closed or reset at once, or what a TLS server says to plain
		// text: if the endpoint takes a TLS handshake, that is what it
		// wants.
		if ep.speaksTLS() {
			return false, &TLSError{Endpoint: ep.String(), HostPort: ep.hostPort}
		}
	}
	if ep.protocol == "grpc" {
		if n >= 8 && bytes.HasPrefix(answer, []byte("HTTP/1.")) && '0' <= answer[7] && answer[7] <= '9' {
			return false, &ProtocolError{Endpoint: ep.String(), Protocol: ep.protocol, Answer: string(answer[:8]), Suggested: "http/protobuf"}
		}
		if notFrame(answer) {
			return false, &ProtocolError{Endpoint: ep.String(), Protocol: ep.protocol, Answer: quoteStart(answer), Suggested: "http/protobuf"}
		}
		return false, nil
	}
	if n >= 9 && isSettingsFrame(answer[:9]) {
		return false, &ProtocolError{Endpoint: ep.String(), Protocol: ep.protocol, Answer: "HTTP/2", Suggested: "grpc"}
	}
	return bytes.HasPrefix(answer, []byte("HTTP/1.")), nil
}

// tlsAnswer reports whether an answer to plain text may be a TLS
// server's: an alert record, or the 400 with which Go's net/http answers
// HTTP sent to its TLS port.
func tlsAnswer(a []byte) bool {
	return len(a) >= 2 && a[0] == 0x15 && a[1] == 0x03 || bytes.HasPrefix(a, []byte("HTTP/1.0 400 "))
}

// speaksTLS reports whether the endpoint completes a TLS handshake, its
// certificate unchecked: that it speaks TLS is all this asks.
func (ep *Endpoint) speaksTLS() bool {
	d := &net.Dialer{Timeout: min(ep.timeout, probeTimeout)}
	host, _, _ := net.SplitHostPort(ep.hostPort)
	conn, err := tls.DialWithDialer(d, "tcp", ep.hostPort, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// maxFrame is the longest frame an HTTP/2 server may send before the
// client's SETTINGS raise it, which the probe's never do.
const maxFrame = 16384

// notFrame reports whether an answer, however short, cannot begin an
// HTTP/2 frame: a frame opens with its length in 3 bytes, at most
// maxFrame, so text (an HTTP/1 server's error page without a status line,
// a banner) is ruled out by its first byte.
func notFrame(a []byte) bool {
	if len(a) == 0 || len(a) >= 2 && a[0] == 0x15 && a[1] == 0x03 {
		// Silence, or a TLS alert: a TLS port is not the other
		// protocol, and the exporter's own error says more of it.
		return false
	}
	var l [3]byte // bytes not come yet count as 0: the shortest length
	copy(l[:], a)
	return int(l[0])<<16|int(l[1])<<8|int(l[2]) > maxFrame
}

// quoteStart quotes the start of an answer for a message: its first line,
// or as much as came, escaped so that no byte of it can act on a
// terminal, with "..." after it if it goes on.
func quoteStart(a []byte) string {
	const most = 40
	line, _, _ := bytes.Cut(a, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		line = a
	}
	if len(line) > most {
		line = line[:most]
	}
	q := strconv.QuoteToASCII(string(line))
	if len(line) < len(a) {
		q += "..."
	}
	return q
}

// isSettingsFrame reports whether h, 9 bytes, is the header of the
// SETTINGS frame an HTTP/2 server opens with: type 4, no ACK, stream 0,
// a payload of 6-byte settings.
func isSettingsFrame(h []byte) bool {
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	stream := (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) &^ (1 << 31)
	return h[3] == 0x4 && h[4]&0x1 == 0 && stream == 0 && length%6 == 0 && length <= maxFrame
}

// reconnectMax is the longest a gRPC exporter waits between its tries to
// connect to a collector that is down.
const reconnectMax = 5 * time.Second

// NewExporter makes the OTLP exporter. The endpoint is the one Resolve
// found, also when it came from the environment: the exporter's own
// reading of the variables refuses a host:port and falls back to the
// next variable or the default, which is not the endpoint Check checked
// and messages name. What Resolve took from Config overrides what the
// exporter reads from the environment; the rest (TLS certificates,
// compression) it reads itself.
func (ep *Endpoint) NewExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	// The exporter retries some failures within its timeout; a caller
	// that must not lose spans retries a batch again while the
	// collector is unreachable (otel.WithRetry).
	const initial, maxInterval = 200 * time.Millisecond, 2 * time.Second
	if ep.protocol == "grpc" {
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithTimeout(ep.timeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
				Enabled: true, InitialInterval: initial, MaxInterval: maxInterval, MaxElapsedTime: ep.timeout,
			}),
			// gRPC waits up to two minutes between its tries to connect
			// again: a collector back after an outage would refuse the
			// exports of a long-lived program (the flight recorder's)
			// that long. A try every few seconds costs nothing.
			otlptracegrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: reconnectMax},
				MinConnectTimeout: 20 * time.Second,
			})),
		}
		// The URL sets host, port and TLS over what the variables say.
		opts = append(opts, otlptracegrpc.WithEndpointURL(ep.exporterURL("")))
		if ep.headers != nil {
			opts = append(opts, otlptracegrpc.WithHeaders(ep.headers))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithTimeout(ep.timeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: initial, MaxInterval: maxInterval, MaxElapsedTime: ep.timeout,
		}),
	}
	// The URL sets host, port, path and TLS over what the variables say.
	opts = append(opts, otlptracehttp.WithEndpointURL(ep.exporterURL("/v1/traces")))
	client, err := ep.httpClient()
	if err != nil {
		return nil, err
	}
	opts = append(opts, otlptracehttp.WithHTTPClient(client))
	if ep.headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(ep.headers))
	}
	if ep.protocol == "http/json" {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	return otlptracehttp.New(ctx, opts...)
}

// httpClient is the OTLP/HTTP exporter's client: the exporter's own, with
// the TLS settings of the variables, except that it follows no redirect.
// The exporter's client would follow one to another host with the
// headers, which carry the credentials (Go drops only Authorization and
// Cookie there), and the URL's query in Referer.
func (ep *Endpoint) httpClient() (*http.Client, error) {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	if !ep.insecure {
		s, err := loadTLS(ep.hostPort)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = s.cfg
	}
	return &http.Client{
		Transport: tr,
		Timeout:   ep.timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("the OTLP endpoint %s redirects to %s: not followed, since the headers would go with it; give the endpoint it redirects to", ep, redact.String(req.URL.String()))
		},
	}, nil
}

// exporterURL is the URL the exporter is given: the endpoint's, or for a
// host:port, one with the scheme Resolve chose and the path given.
func (ep *Endpoint) exporterURL(path string) string {
	scheme := "https"
	if ep.insecure {
		scheme = "http"
	}
	if ep.scheme != "" {
		u, _ := url.Parse(ep.display)
		u.Scheme, u.User = scheme, nil
		return u.String()
	}
	return scheme + "://" + ep.hostPort + path
}

// checkEnv refuses the values of the exporter's variables that it would
// ignore, with a log line, as if unset: a timeout that is not a whole
// number of milliseconds, a boolean that is neither true nor false (it
// would read "1" as false, and send TLS to a plain-text endpoint), a
// compression other than gzip or none, a header that is not name=value.
func checkEnv() error {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"} {
		if v := os.Getenv(name); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err != nil || ms <= 0 {
				return &SettingError{Setting: "timeout", Env: name, Value: v, Reason: "want a whole number of milliseconds above 0, such as 10000"}
			}
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"} {
		if v := os.Getenv(name); v != "" && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return &SettingError{Setting: "insecure", Env: name, Value: v, Reason: "want true or false"}
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		if v := os.Getenv(name); v != "" && v != "gzip" && v != "none" {
			return &SettingError{Setting: "compression", Env: name, Value: v, Reason: "want gzip or none"}
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		v := os.Getenv(name)
		if strings.TrimSpace(v) == "" {
			continue
		}
		for i, kv := range strings.Split(v, ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				// Neither the value nor the pair is shown: headers
				// carry the credentials.
				return &SettingError{Setting: "headers", Env: name, Reason: fmt.Sprintf("its pair %d is not name=value; want name=value pairs separated by commas", i+1)}
			}
			if k = strings.TrimSpace(k); !validHeaderName(k) {
				return &SettingError{Setting: "headers", Env: name, Reason: fmt.Sprintf("the name of its pair %d is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", i+1)}
			}
			if _, err := url.PathUnescape(v); err != nil {
				// The exporter would drop the header: a request
				// without its credentials.
				return &SettingError{Setting: "headers", Env: name, Reason: fmt.Sprintf("the value of %s is not percent-encoded (a %% begins %%XX; write a %% as %%25)", k)}
			}
		}
	}
	return nil
}

// envTimeout reads OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT (milliseconds).
func envTimeout() time.Duration {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"} {
		if v := os.Getenv(name); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return DefaultTimeout
}

// envFirst returns the first of the variables that is set, and its name;
// a blank value is unset.
func envFirst(names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// withTracesPath appends the traces signal's path, /v1/traces, to the
// path of the base URL raw, before its query or fragment.
func withTracesPath(raw string) string {
	base, rest := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.IndexAny(raw[i+3:], "?#"); j >= 0 {
			base, rest = raw[:i+3+j], raw[i+3+j:]
		}
	}
	return strings.TrimSuffix(base, "/") + "/v1/traces" + rest
}
