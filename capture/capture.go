// Package capture fetches Go execution traces from running programs over
// HTTP: net/http/pprof's /debug/pprof/trace, or any handler that serves a
// trace (a flight-recorder snapshot, a file server). The trace streams in
// as it is read, so a capture's memory does not grow with its length.
//
// A capture from /debug/pprof/trace can also request /debug/pprof/profile
// for the same window: while a CPU profile runs, the runtime writes CPU
// samples into the execution trace, which the trace endpoint alone does
// not turn on.
//
// Compressed traces (gzip, zstd) need nothing here: mapping.Map and the
// converters recognise them by their first bytes.
//
// A server that answers with an error is reported with its status and the
// start of its message, which is where net/http/pprof says what went wrong
// ("Could not enable tracing: tracing already enabled").
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Client is the default client for captures. It has no overall timeout: a
// capture such as /debug/pprof/trace?seconds=30 streams for as long as it
// was asked to; a context bounds it when needed.
var Client = NewClient(10 * time.Second)

// NewClient returns an HTTP client for captures that gives up connecting
// (and on a TLS handshake) after dial, and otherwise waits as long as the
// request's context allows.
func NewClient(dial time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: dial}).DialContext,
			TLSHandshakeTimeout: dial,
			MaxIdleConnsPerHost: 2, // the trace and the profile
		},
		CheckRedirect: sameHost,
	}
}

// sameHost follows a redirect on the host asked for (a path, or http to
// https) and refuses one to another host, or from https to http: the
// request's headers, which carry credentials, would go with it (Go drops
// only Authorization and Cookie), and its URL's query in Referer.
func sameHost(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) >= 10:
		return errors.New("stopped after 10 redirects")
	case first.Scheme == "https" && req.URL.Scheme != "https":
		return errors.New("a redirect from https to http: not followed, since the request would go in plain text")
	case req.URL.Host != first.Host && !(req.URL.Hostname() == first.Hostname() && first.Scheme == "http" && req.URL.Scheme == "https"):
		// The error names the URL it leads to.
		return errors.New("a redirect to another host or port: not followed, since the request's headers would go with it; give that URL if it is the one meant")
	}
	return nil
}

// WithSeconds returns u with its seconds parameter, the length of the
// capture that /debug/pprof/trace makes, set to secs; secs <= 0 leaves u
// as it is.
func WithSeconds(u *url.URL, secs float64) *url.URL {
	if secs <= 0 {
		return u
	}
	c := *u
	q := c.Query()
	q.Set("seconds", strconv.FormatFloat(secs, 'f', -1, 64))
	c.RawQuery = q.Encode()
	return &c
}

// ErrNotTraceURL is returned by ProfileURL for a URL whose path does not
// end in /trace: the profile's endpoint is found beside the trace's.
var ErrNotTraceURL = errors.New("needs a /debug/pprof/trace URL")

// ProfileURL is the /debug/pprof/profile request for the window of the
// /debug/pprof/trace capture u.
func ProfileURL(u *url.URL) (*url.URL, error) {
	dir, file := path.Split(u.Path)
	if file != "trace" {
		return nil, fmt.Errorf("%w, not %s", ErrNotTraceURL, u.Path)
	}
	p := *u
	p.Path = dir + "profile"
	p.RawPath = ""
	q := p.Query()
	// The profile handler takes whole seconds (and profiles for 30 if it
	// cannot parse them): round up, so that it covers the trace's window.
	// The request is cancelled when the trace is in, which stops it.
	secs := 1.0 // the trace handler's default
	if v, err := strconv.ParseFloat(q.Get("seconds"), 64); err == nil && v > 0 && !math.IsInf(v, 0) {
		secs = v
	}
	q.Set("seconds", strconv.FormatInt(int64(math.Ceil(secs)), 10))
	p.RawQuery = q.Encode()
	return &p, nil
}

// Options configure Open. The zero value fetches the URL as it is, with
// Client.
type Options struct {
	// Client makes the requests; nil means Client.
	Client *http.Client
	// CPUProfile also requests /debug/pprof/profile for the trace's
	// window (u must be a /debug/pprof/trace URL).
	CPUProfile bool
	// ProfileGrace is how long Close waits for the profile request to end
	// by itself before it stops it; zero means half a second. A request
	// stopped with no answer once its seconds and the grace are over is a
	// failure (see Capture.ProfileErr).
	ProfileGrace time.Duration
	// Header is sent with the requests (an Authorization header, say).
	Header http.Header
	// StallTimeout gives up on a server that sends nothing for that long:
	// between reads of the body, and for the response's headers, which
	// a handler may send only when its capture ends, after the seconds
	// the URL asks for and StallTimeout more. Zero waits as long as the
	// context allows.
	StallTimeout time.Duration
}

// StallError is a server that stopped sending (see Options.StallTimeout),
// or a CPU profile request that had no answer once its seconds and the
// ProfileGrace were over (see Capture.ProfileErr).
type StallError struct {
	URL     string
	Waited  time.Duration
	Headers bool  // the response's headers had come
	Bytes   int64 // of the body, read before the stall
}

// Error says which capture stalled, and for how long after how much.
func (e *StallError) Error() string {
	// "GET", as a StatusError says it: the request the server left.
	if !e.Headers {
		return fmt.Sprintf("GET %s: no answer in %v", e.URL, e.Waited)
	}
	if e.Bytes == 0 {
		return fmt.Sprintf("GET %s: nothing received for %v after the response's headers", e.URL, e.Waited)
	}
	return fmt.Sprintf("GET %s: nothing received for %v after %d bytes of the trace", e.URL, e.Waited, e.Bytes)
}

// StatusError is a response other than 200 OK.
type StatusError struct {
	URL     string
	Code    int    // the HTTP status code
	Status  string // "404 Not Found"
	Message string // the start of the body, trimmed
}

// Error gives the status and the start of the target's message.
func (e *StatusError) Error() string {
	msg := ""
	if e.Message != "" {
		msg = ": " + e.Message
	}
	if strings.Contains(e.Message, "Could not enable tracing") && strings.Contains(e.Message, "already enabled") {
		// net/http/pprof's words, which do not say who holds the tracer.
		msg += " (the program is already writing an execution trace, to another capture or to its own runtime/trace.Start, and writes one at a time: two Collectors or tools capturing one program take turns failing)"
	}
	return fmt.Sprintf("GET %s: %s%s", e.URL, e.Status, msg)
}

// messageBytes is how much of an error response's body the message
// keeps; bodyBytes how much is read to find it, more, since an HTML page
// spends most of its bytes on markup.
const (
	messageBytes = 300
	bodyBytes    = 8 << 10
)

func statusError(rawURL string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, bodyBytes))
	return &StatusError{URL: rawURL, Code: resp.StatusCode, Status: resp.Status,
		Message: message(body, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"))}
}

// message makes an error response's body one line of text for the
// error's message: the text of an HTML page (a proxy's or a web server's
// error page) without its markup, and any body's spaces and line breaks
// as single spaces, cut to messageBytes.
func message(body []byte, isHTML bool) string {
	text := string(body)
	if isHTML || strings.HasPrefix(strings.TrimSpace(text), "<") {
		text = htmlText(text)
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > messageBytes {
		cut := messageBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return text
}

// htmlText returns the text of an HTML page: what is outside its tags,
// and outside its head, scripts and styles, with entities decoded.
func htmlText(page string) string {
	var b strings.Builder
	// Lower-cased byte for byte (ASCII only), so that offsets in lower
	// are offsets in page, which strings.ToLower does not keep.
	lower := []byte(page)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	for i := 0; i < len(page); {
		lt := strings.IndexByte(page[i:], '<')
		if lt < 0 {
			b.WriteString(page[i:])
			break
		}
		b.WriteString(page[i : i+lt])
		i += lt
		// Skip what no reader sees: a head's title repeats the page's
		// heading, scripts and styles are code.
		skipped := false
		for _, elem := range []string{"head", "script", "style"} {
			if open := "<" + elem; bytes.HasPrefix(lower[i:], []byte(open)) && len(lower) > i+len(open) && strings.IndexByte("> \t\r\n", lower[i+len(open)]) >= 0 {
				if end := bytes.Index(lower[i:], []byte("</"+elem+">")); end >= 0 {
					i += end + len("</"+elem+">")
					skipped = true
				}
				break
			}
		}
		if skipped {
			continue
		}
		gt := strings.IndexByte(page[i:], '>')
		if gt < 0 {
			break
		}
		i += gt + 1
		b.WriteByte(' ')
	}
	return html.UnescapeString(b.String())
}

// Capture is a trace being fetched. Read it to the end (or as far as
// wanted), then Close it.
type Capture struct {
	body io.ReadCloser
	// URL is the trace's URL, as requested, with any password or secret
	// query value in it replaced by "xxxxx" (see Redact): it is what
	// errors and logs show.
	URL string
	// Size is the body's length, or -1 when the server did not say (a
	// live capture streams).
	Size int64
	// Redirected is the URL the server redirected the request to, with
	// any password replaced, if it did: where a login page or another
	// program answered instead of the target, the errors of what it sent
	// should say so.
	Redirected string

	ctx        context.Context // the requests', ended by Close
	cancel     context.CancelCauseFunc
	profile    <-chan error // the CPU profile request's outcome; nil if none
	stopProf   context.CancelFunc
	grace      time.Duration
	profileErr error

	// With a StallTimeout: the timer that cancels ctx with a
	// *StallError, and what has been read.
	stall time.Duration
	timer *time.Timer
	read  atomic.Int64
}

// Open requests the trace at u and returns it once the server has
// answered 200 OK; the body streams in as it is read. ctx bounds the
// whole capture, the body's reading included.
func Open(ctx context.Context, u *url.URL, opts Options) (*Capture, error) {
	if u == nil {
		return nil, errors.New("capture: Open of a nil URL")
	}
	client := opts.Client
	if client == nil {
		client = Client
	}
	c := &Capture{URL: Redact(u), stopProf: func() {}, grace: opts.ProfileGrace, stall: opts.StallTimeout}
	if c.grace <= 0 {
		c.grace = 500 * time.Millisecond
	}
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	if c.stall > 0 {
		wait := urlSeconds(u) + c.stall
		c.timer = time.AfterFunc(wait, func() { c.cancel(&StallError{URL: c.URL, Waited: wait}) })
	}
	err := c.open(client, u, opts)
	if err == nil {
		return c, nil
	}
	c.stopProf()
	if c.profile != nil {
		<-c.profile
	}
	c.end()
	return nil, err
}

// open makes the requests.
func (c *Capture) open(client *http.Client, u *url.URL, opts Options) error {
	if opts.CPUProfile {
		p, err := ProfileURL(u)
		if err != nil {
			return err
		}
		pctx, stop := context.WithCancel(c.ctx)
		c.stopProf = stop
		var sent <-chan struct{}
		c.profile, sent = startProfile(pctx, client, p, opts.Header, urlSeconds(p)+c.grace)
		// The profile asked for first, so that the trace's window is
		// profiled from its start: a short trace asked for at once could
		// end before a profile request the scheduler put off began, and
		// hold no CPU samples.
		select {
		case <-sent:
		case <-time.After(profileFirst):
		case <-c.ctx.Done():
		}
	}
	req, err := newRequest(c.ctx, u, opts.Header)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		redactError(err)
		// A redirect's error names where it led (a path alone, or
		// another host): the URL asked for comes first.
		if ue := (*url.Error)(nil); errors.As(err, &ue) && (!strings.Contains(ue.URL, "://") || ue.URL != RedactString(req.URL.String())) {
			err = fmt.Errorf("%s: %w", c.URL, err)
		}
		return c.cause(err)
	}
	if resp.StatusCode != http.StatusOK {
		err = statusError(c.URL, resp)
		resp.Body.Close()
		return err
	}
	c.body, c.Size = resp.Body, resp.ContentLength
	if resp.Request != nil && resp.Request.URL != nil && resp.Request.URL.String() != req.URL.String() {
		c.Redirected = Redact(resp.Request.URL)
	}
	if c.timer != nil && c.timer.Stop() {
		// From now on the timer runs while a read waits (see Read).
		c.timer = time.AfterFunc(c.stall, func() {
			c.cancel(&StallError{URL: c.URL, Waited: c.stall, Headers: true, Bytes: c.read.Load()})
		})
		c.timer.Stop()
	}
	if c.Size < 0 {
		// A stream, chunked: see pump. A body of known length gives
		// what has come to any read. Started last: it reads c.timer.
		c.body = newPump(func(p []byte) (int, error) { return c.readBody(resp.Body, p) }, resp.Body)
	}
	return nil
}

// urlSeconds is the capture's length that u asks for, if it does.
func urlSeconds(u *url.URL) time.Duration {
	v, err := strconv.ParseFloat(u.Query().Get("seconds"), 64)
	if err != nil || v <= 0 || v > 1e6 {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

// cause is err, or why the requests' context ended if it did: a
// *StallError, or the cause its parent gave.
func (c *Capture) cause(err error) error {
	if err != nil && c.ctx.Err() != nil {
		if cause := context.Cause(c.ctx); cause != nil {
			return cause
		}
	}
	return err
}

// end stops the timer and the requests.
func (c *Capture) end() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(nil)
}

// Read reads the trace. A stall is a read that waits StallTimeout for
// the target's next bytes: the time between reads is the reader's own
// (a converter busy with a large generation), and the target, held back
// by the connection's flow control meanwhile, is not silent.
func (c *Capture) Read(p []byte) (int, error) {
	if _, ok := c.body.(*pump); ok {
		n, err := c.body.Read(p)
		return n, c.cause(err)
	}
	n, err := c.readBody(c.body, p)
	return n, c.cause(err)
}

// readBody reads body for the pump, with the stall timer running while
// it waits: the pump reads ahead only up to a bound, beyond which the
// time is the reader's own.
func (c *Capture) readBody(body io.Reader, p []byte) (int, error) {
	if c.timer != nil {
		c.timer.Reset(c.stall)
	}
	n, err := body.Read(p)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.read.Add(int64(n))
	return n, err
}

// Close closes the trace's body and ends the CPU profile request: it
// waits a moment for the request to end by itself (the trace is in, the
// profile nearly so), then stops it. It returns the error of closing the
// body: the profile request's failure, which leaves the trace good but
// perhaps without CPU samples, is ProfileErr's.
func (c *Capture) Close() error {
	err := c.body.Close()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.profile != nil {
		select {
		case c.profileErr = <-c.profile:
		case <-time.After(c.grace):
			c.stopProf()
			c.profileErr = <-c.profile
		}
		c.profile = nil
	}
	c.end()
	return err
}

// ProfileErr reports, after Close, how the CPU profile request failed, if
// it did: refused, broken off, or with no answer once its seconds and the
// ProfileGrace were over (a *StallError: it may never have run). The trace
// is good without it, but may hold no CPU samples.
func (c *Capture) ProfileErr() error { return c.profileErr }

// profileFirst bounds the wait for the CPU profile's request to be sent
// before the trace's is made.
const profileFirst = time.Second

// startProfile requests a CPU profile and discards it: while it runs, the
// runtime writes CPU samples into the execution trace, which is what is
// wanted of it. sent is closed once the request is written, or failed.
// Stopped (ctx done) before any answer, the request is a failure if it was
// made due or more ago: a profile that ran would have answered by then.
func startProfile(ctx context.Context, client *http.Client, u *url.URL, header http.Header, due time.Duration) (outcome <-chan error, sent <-chan struct{}) {
	done := make(chan error, 1)
	wrote := make(chan struct{})
	var once sync.Once
	written := func() { once.Do(func() { close(wrote) }) }
	go func() {
		defer written()
		req, err := newRequest(ctx, u, header)
		if err != nil {
			done <- err
			return
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { written() },
		}))
		asked := time.Now()
		resp, err := client.Do(req)
		if ctx.Err() != nil {
			if err == nil {
				resp.Body.Close()
			} else if waited := time.Since(asked); waited >= due {
				done <- &StallError{URL: Redact(u), Waited: waited.Round(100 * time.Millisecond)}
				return
			}
			done <- nil // stopped because the trace is in
			return
		}
		if err != nil {
			redactError(err)
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- statusError(Redact(u), resp)
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		if ctx.Err() != nil {
			// Stopped in the body, even one that stalled: net/http/pprof
			// sends its headers with the profile, once it has run, and
			// its samples are in the trace.
			err = nil
		}
		done <- err
	}()
	return done, wrote
}

// redactError shows the URL in net/http's error as Redact does, as
// every other message does: net/http shows a password as "***", and a
// secret in the query as it is.
func redactError(err error) {
	ue := (*url.Error)(nil)
	if !errors.As(err, &ue) {
		return
	}
	ue.URL = RedactString(ue.URL)
}

// newRequest is a GET of u with header. An error names u without its
// password, as the client's own errors do.
func newRequest(ctx context.Context, u *url.URL, header http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		ue.URL = Redact(u)
	}
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		if http.CanonicalHeaderKey(k) == "Host" && len(vs) > 0 {
			req.Host = vs[0] // net/http sends req.Host, not a Host header
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, nil
}
