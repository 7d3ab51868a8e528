package gotracereceiver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"golang.org/x/net/http/httpguts"

	"github.com/trace2x/trace2x/capture"
)

// Config is the receiver's configuration.
type Config struct {
	// Targets are the programs to capture traces from.
	Targets []TargetConfig `mapstructure:"targets"`
	// MaxConcurrentCaptures bounds the captures under way at once; a
	// target whose turn comes while all are busy waits for one to end.
	// The default is 4.
	MaxConcurrentCaptures int `mapstructure:"max_concurrent_captures"`
	// ConnectTimeout bounds connecting to a target (and its TLS
	// handshake). The default is 10s; 0 sets no bound.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// MaxCaptureSize bounds, in bytes, the trace taken from a target in
	// one capture, which is held in a temporary file while it converts:
	// a target that sends without end (a handler that ignores the
	// seconds parameter), or faster than the capture can convert, would
	// otherwise fill the Collector's disk. Past it, the capture is cut,
	// its spans converted up to the cut handed on. The default is 1 GiB,
	// as the upload endpoint's max_request_body_size.
	MaxCaptureSize int64 `mapstructure:"max_capture_size"`
	// Upload, when present, serves an HTTP endpoint to which programs and
	// CI jobs POST trace files to be converted.
	Upload configoptional.Optional[UploadConfig] `mapstructure:"upload"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// UploadConfig is the HTTP endpoint for trace files: POST a trace
// (plain, gzip or zstd) to /v1/gotrace, with the spans' service.name in
// the service_name query parameter.
type UploadConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`

	// SampledOnly leaves out the tasks that joined a remote trace the
	// application did not sample, as TargetConfig.SampledOnly does.
	SampledOnly bool `mapstructure:"sampled_only"`

	// unknown are the keys given that are no settings of the endpoint,
	// which Config.Validate refuses (see Unmarshal).
	unknown []string

	// prevent unkeyed literal initialization
	_ struct{}
}

// Unmarshal decodes the endpoint's own settings beside its HTTP server's:
// the Unmarshal promoted from the embedded confighttp.ServerConfig would
// decode only the server's, and leave the others unset.
func (u *UploadConfig) Unmarshal(conf *confmap.Conf) error {
	// The server's decoding ignores keys it does not know (it expects to
	// be embedded), so a misspelt setting would be dropped unsaid.
	known := map[string]bool{"sampled_only": true}
	settingNames(reflect.TypeFor[confighttp.ServerConfig](), known)
	// They are kept for Validate to refuse, not refused here: the
	// Collector's decoding would put a stray '' before an error of this
	// one.
	u.unknown = nil
	for _, k := range conf.AllKeys() {
		top, _, _ := strings.Cut(k, confmap.KeyDelimiter)
		if !known[strings.ToLower(top)] && !slices.Contains(u.unknown, top) {
			u.unknown = append(u.unknown, top)
		}
	}
	slices.Sort(u.unknown)
	if err := u.ServerConfig.Unmarshal(conf); err != nil {
		return err
	}
	own := struct {
		SampledOnly bool `mapstructure:"sampled_only"`
	}{u.SampledOnly}
	if err := conf.Unmarshal(&own, confmap.WithIgnoreUnused()); err != nil {
		return err
	}
	u.SampledOnly = own.SampledOnly
	return nil
}

// quoteList quotes each name and joins them: "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// settingNames adds the names of struct type t's settings (its fields'
// mapstructure names, those of squashed fields' too) to names.
func settingNames(t reflect.Type, names map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case strings.Contains(","+opts+",", ",squash,"):
			if f.Type.Kind() == reflect.Struct {
				settingNames(f.Type, names)
			}
		case name == "-" || !f.IsExported():
		case name == "":
			names[strings.ToLower(f.Name)] = true
		default:
			names[name] = true
		}
	}
}

// uploadPath is where the upload endpoint takes trace files.
const uploadPath = "/v1/gotrace"

// TargetConfig is one program to capture traces from.
type TargetConfig struct {
	// Name identifies the target in logs and metrics; the default is the
	// service name, or else the endpoint's host:port.
	Name string `mapstructure:"name"`
	// Endpoint is the URL that serves the trace: a /debug/pprof/trace
	// endpoint, or any handler that writes a Go execution trace.
	Endpoint string `mapstructure:"endpoint"`
	// Headers are sent with every request to the target (an
	// Authorization header, say).
	Headers map[string]configopaque.String `mapstructure:"headers"`
	// TLS configures the connection to an https endpoint (a private CA,
	// a client certificate).
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// Interval is the time from the start of one capture to the start of
	// the next. A capture still running when its next turn comes makes
	// that turn be skipped.
	Interval time.Duration `mapstructure:"interval"`
	// Duration is the length of each capture, sent as the seconds
	// parameter of the endpoint's URL. Zero leaves the URL as it is (for
	// a handler that decides by itself, such as a flight-recorder
	// snapshot, or a URL that has its seconds already).
	Duration time.Duration `mapstructure:"duration"`
	// CPUProfile is accepted for configurations written for earlier
	// versions and has no effect: the spans carry no CPU samples, and a
	// CPU profile requested for nothing would keep the target's own
	// profilers out for the capture's length.
	CPUProfile bool `mapstructure:"cpu_profile"`
	// Timeout bounds a whole capture, its conversion and the hand-over of
	// its spans included; the default is the duration plus 30 seconds.
	// At the timeout, the spans converted by then are still offered to
	// the pipeline for up to 5 seconds more (the flush grace), so a
	// capture whose pipeline pushes back can end that much after it.
	Timeout time.Duration `mapstructure:"timeout"`
	// ServiceName is the spans' service.name; the default is the name.
	ServiceName string `mapstructure:"service_name"`
	// ResourceAttributes are added to the spans' resource.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`
	// RuntimeSpans adds GC cycles and stop-the-world pauses as spans.
	RuntimeSpans bool `mapstructure:"runtime_spans"`
	// NoStacktraces leaves out the spans' whole stacks, keeping the
	// innermost frame of user code of each: up to a third of what spans
	// weigh (see otel.WithoutStacktraces).
	NoStacktraces bool `mapstructure:"no_stacktraces"`
	// SampledOnly leaves out the tasks that joined a remote trace the
	// application did not sample (a traceparent whose flags are 00), with
	// their regions and child tasks: behind a head sampler they are most
	// of the spans, each shown without the application's spans above it
	// (see otel.WithSampledOnly).
	SampledOnly bool `mapstructure:"sampled_only"`

	// prevent unkeyed literal initialization
	_ struct{}
}

const (
	defaultInterval = time.Minute
	// defaultTimeoutSlack is what a capture may take beyond its duration:
	// the conversion's tail and a pipeline that pushes back.
	defaultTimeoutSlack = 30 * time.Second
)

func createDefaultConfig() *Config {
	upload := UploadConfig{ServerConfig: confighttp.NewDefaultServerConfig()}
	upload.NetAddr.Endpoint = "localhost:4319"
	// A trace file streams through the conversion: its size does not
	// bound the memory it takes, as an OTLP request's would.
	upload.MaxRequestBodySize = 1 << 30
	// A large file converts for as long as it takes to read.
	upload.ReadTimeout = 0
	upload.WriteTimeout = 0
	return &Config{
		MaxConcurrentCaptures: 4,
		ConnectTimeout:        10 * time.Second,
		MaxCaptureSize:        1 << 30,
		Upload:                configoptional.Default(upload),
	}
}

// Validate checks the configuration; the Collector calls it before it
// starts any component.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 && !c.Upload.HasValue() {
		errs = append(errs, errors.New("targets: at least one target is needed (or an upload endpoint)"))
	}
	if c.MaxConcurrentCaptures < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent_captures: must be at least 1, not %d", c.MaxConcurrentCaptures))
	}
	if c.MaxCaptureSize <= 0 {
		errs = append(errs, fmt.Errorf("max_capture_size: must be at least 1 byte, not %d (the default is 1 GiB, 1073741824)", c.MaxCaptureSize))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("connect_timeout: must not be negative, not %v", c.ConnectTimeout))
	}
	if c.ConnectTimeout > 0 && c.ConnectTimeout < minTime {
		errs = append(errs, tooShort("connect_timeout", c.ConnectTimeout))
	}
	names := make(map[string]int)
	endpoints := make(map[string]int)
	if c.Upload.HasValue() {
		switch unknown := c.Upload.Get().unknown; len(unknown) {
		case 0:
		case 1:
			errs = append(errs, fmt.Errorf("upload: %q is not a setting of the upload endpoint", unknown[0]))
		default:
			errs = append(errs, fmt.Errorf("upload: %s are not settings of the upload endpoint", quoteList(unknown)))
		}
		// An empty endpoint (an unset variable's) would listen on every
		// interface, at a port of the system's choosing.
		if ep := c.Upload.Get().NetAddr.Endpoint; strings.TrimSpace(ep) == "" {
			errs = append(errs, errors.New("upload: endpoint: empty (is a variable it is made from unset?); give host:port, such as localhost:4319, the default"))
		} else if _, port, err := net.SplitHostPort(ep); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("upload: endpoint: %q is not host:port, such as localhost:4319", ep))
		}
		if tls := c.Upload.Get().TLS; tls.HasValue() {
			for _, err := range checkTLSFiles(tls.Get().CAFile, tls.Get().CertFile, tls.Get().KeyFile) {
				errs = append(errs, fmt.Errorf("upload: %w", err))
			}
		}
		if n := c.Upload.Get().MaxRequestBodySize; n <= 0 {
			// The Collector's HTTP server would take 0 or less for its
			// own default, 20 MiB, not this receiver's.
			errs = append(errs, fmt.Errorf("upload: max_request_body_size: must be above 0, not %d (the default is %d, 1 GiB)", n, int64(1<<30)))
		}
	}
	for i, t := range c.Targets {
		// Each error names its target: a log on one line, or in JSON,
		// splits them.
		where := t.where(i)
		if err := t.validate(); err != nil {
			for _, e := range splitJoined(err) {
				errs = append(errs, fmt.Errorf("%s: %w", where, e))
			}
			continue
		}
		name := t.name()
		if name == uploadTarget {
			errs = append(errs, fmt.Errorf("%s: the name %q is the one the metrics give uploads; choose another", where, name))
		}
		// A program runs one execution trace at a time: a second
		// target on the same endpoint would fail at every turn the
		// first one holds it. That is said first, and alone: the
		// names of two such targets, made from the endpoint, are the
		// same too.
		ep := endpointKey(t.Endpoint)
		j, dupEndpoint := endpoints[ep]
		if dupEndpoint {
			errs = append(errs, fmt.Errorf("%s: the endpoint is that of %s too; a program serves one trace at a time", where, c.Targets[j].where(j)))
		}
		endpoints[ep] = i
		if j, dup := names[name]; dup && !dupEndpoint {
			errs = append(errs, fmt.Errorf("%s: the name %q is that of targets[%d] too; give each a name of its own", where, name, j))
		}
		names[name] = i
	}
	return errors.Join(errs...)
}

// where names target i in errors: its index, and its name unless that is
// the endpoint as written (one that does not parse), which the error
// quotes itself.
func (t *TargetConfig) where(i int) string {
	w := fmt.Sprintf("targets[%d]", i)
	if name := t.name(); name != t.Endpoint && name != capture.RedactString(t.Endpoint) {
		w += " (" + name + ")"
	}
	return w
}

// splitJoined returns the errors that errors.Join joined into err, or
// err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// minTime is the shortest time a setting takes: a number without a unit
// ("duration: 5") is read as nanoseconds, never what was meant.
const minTime = time.Millisecond

// tooShort is the error of a time under minTime. One under a
// microsecond is most likely a number written without its unit, which is
// then said; one with its unit, such as 0.5ms, is only too short.
func tooShort(key string, d time.Duration) error {
	if d < time.Microsecond {
		return fmt.Errorf("%s: %v is below the minimum, %v: a number without a unit is read as nanoseconds; give its unit, such as %ds", key, d, minTime, d.Nanoseconds())
	}
	return fmt.Errorf("%s: %v is below the minimum, %v", key, d, minTime)
}

// uploadTarget is the target attribute of the uploads' metrics.
const uploadTarget = "upload"

// endpointKey is what identifies the program an endpoint reaches: its
// host and port (the scheme's if it gives none), path and query, but for
// the capture's length (seconds), which asks the same program for
// another trace. Spellings of one address are one: an IP address in any
// form, a name in any case or with its root dot, a path with a slash at
// its end or a dot in it.
func endpointKey(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	q.Del("seconds")
	host, port, err := net.SplitHostPort(instanceOf(u))
	if err != nil {
		return endpoint
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	p := strings.TrimSuffix(path.Clean("/"+u.Path), "/")
	return u.Scheme + "://" + net.JoinHostPort(host, port) + p + "?" + q.Encode()
}

func (t *TargetConfig) validate() error {
	if t.Endpoint == "" {
		return errors.New("endpoint: missing; give the URL of the program's /debug/pprof/trace")
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil {
		// host:port/path without its scheme, most often.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		msg := err.Error()
		if strings.Contains(t.Endpoint, "@") {
			// The parser's words quote the part that broke it, which
			// is then most often the password.
			msg = "a password with / ? # % or a space in it must be percent-encoded"
		}
		return fmt.Errorf("endpoint: %q is not an http(s) URL such as http://127.0.0.1:6060/debug/pprof/trace (%s)", capture.RedactString(t.Endpoint), msg)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint: %q is not an http(s) URL such as http://127.0.0.1:6060/debug/pprof/trace", capture.Redact(u))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("endpoint: %q has no host name (is a variable it is made from unset?)", capture.Redact(u))
	}
	var errs []error
	// A TLS setting on a plain-HTTP endpoint would be dropped without a
	// word, and the trace would travel in the clear.
	if u.Scheme != "https" && !reflect.ValueOf(t.TLS).IsZero() {
		errs = append(errs, fmt.Errorf("tls: set for %q, which is plain http and does not use it; make the endpoint https://", capture.Redact(u)))
	}
	// insecure means plain text to the Collector's clients; an https
	// endpoint still checks the certificate, which it would seem not to.
	if u.Scheme == "https" && t.TLS.Insecure {
		errs = append(errs, fmt.Errorf("tls: insecure is set for %q, an https endpoint, whose certificate is checked all the same; use insecure_skip_verify to skip the check, or ca_file to trust its CA", capture.Redact(u)))
	}
	errs = append(errs, checkTLSFiles(t.TLS.CAFile, t.TLS.CertFile, t.TLS.KeyFile)...)
	for k := range t.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			errs = append(errs, fmt.Errorf("headers: %q is not a header name", k))
		} else if http.CanonicalHeaderKey(k) == "Host" {
			errs = append(errs, fmt.Errorf("headers: Host is taken from the endpoint, not set by a header"))
		}
	}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"interval", t.Interval}, {"duration", t.Duration}, {"timeout", t.Timeout}} {
		switch {
		case f.d < 0:
			errs = append(errs, fmt.Errorf("%s: must not be negative, not %v", f.key, f.d))
		case f.d > 0 && f.d < minTime:
			errs = append(errs, tooShort(f.key, f.d))
		}
	}
	if s := u.Query()["seconds"]; len(s) > 0 {
		// The target would take a bad value for its default, 1 s.
		if secs, err := strconv.ParseFloat(s[0], 64); err != nil || secs <= 0 || secs > 1e6 {
			errs = append(errs, fmt.Errorf("endpoint: seconds=%q is not a number of seconds above 0", s[0]))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	interval, by := t.Interval, ""
	if interval == 0 {
		interval, by = defaultInterval, " (the default)"
	}
	d, what := t.length(u)
	if d >= interval {
		// A capture lasts a little longer than its length, so one as
		// long as the interval would overlap every next turn, which
		// would be skipped: one capture every two intervals.
		if what == "" {
			errs = append(errs, fmt.Errorf("duration: unset, so the endpoint traces for %v, the default of %s, which is not shorter than the interval, %v%s, between the starts of captures: each would overlap the next turn, which would be skipped; give a duration shorter than the interval", d, pprofTracePath, interval, by))
		} else {
			errs = append(errs, fmt.Errorf("%s: %v is not shorter than the interval, %v%s, between the starts of captures: each would overlap the next turn, which would be skipped", what, d, interval, by))
		}
	}
	if t.Timeout > 0 && t.Timeout <= d {
		errs = append(errs, fmt.Errorf("timeout: %v leaves no time for a capture of %v", t.Timeout, d))
	}
	if svc, ok := t.ResourceAttributes["service.name"]; ok && t.ServiceName != "" && svc != t.ServiceName {
		errs = append(errs, fmt.Errorf("resource_attributes: service.name %q differs from service_name %q; give one", svc, t.ServiceName))
	}
	return errors.Join(errs...)
}

// length is how long a capture of t lasts, and the setting that says so:
// its duration, or else the seconds its endpoint's URL already asks for,
// or else (no setting, "") for a /debug/pprof/trace endpoint,
// net/http/pprof's default of a second. Another handler, such as a
// flight-recorder snapshot's, decides for itself: 0.
func (t *TargetConfig) length(u *url.URL) (time.Duration, string) {
	if t.Duration > 0 {
		return t.Duration, "duration"
	}
	secs, err := strconv.ParseFloat(u.Query().Get("seconds"), 64)
	if err != nil || secs <= 0 || secs > 1e6 {
		if strings.HasSuffix(path.Clean("/"+u.Path), pprofTracePath) {
			return pprofDefault, ""
		}
		return 0, ""
	}
	return time.Duration(secs * float64(time.Second)), "endpoint: seconds"
}

const (
	// pprofTracePath is the path net/http/pprof serves its trace at.
	pprofTracePath = "/debug/pprof/trace"
	// pprofDefault is how long net/http/pprof traces when given no
	// seconds.
	pprofDefault = time.Second
)

// name is the target's name in logs and metrics.
func (t *TargetConfig) name() string {
	switch {
	case t.Name != "":
		return t.Name
	case t.ServiceName != "":
		return t.ServiceName
	case t.ResourceAttributes["service.name"] != "":
		return t.ResourceAttributes["service.name"]
	}
	if u, err := url.Parse(t.Endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return capture.RedactString(t.Endpoint)
}

// target is a validated target with its defaults filled in.
type target struct {
	TargetConfig
	name   string
	url    *url.URL
	length time.Duration // how long a capture lasts (see TargetConfig.length), 0 if the endpoint decides
	header http.Header
	client *http.Client // made at Start, with the TLS settings

	// lastEnd is the wall-clock end of the last capture that told it (Go
	// 1.25+), and overlapSaid whether a capture overlapping the one before
	// was logged: only the target's loop uses them.
	lastEnd     time.Time
	overlapSaid bool
	// lateSaid is whether a capture that waited long for a slot was
	// logged; only the target's loop uses it.
	lateSaid bool
	// skipSaid is whether a capture that outlasted its interval, so that
	// turns were skipped, was said (once).
	skipSaid bool
	// The target's run of failed captures, for logging each cause once
	// (see logOutcome): how many, since when, their last cause, and when
	// the run was last summed up in the log. noSpansSaid is whether a
	// capture without a span was said (once).
	failures    int
	failedSince time.Time
	failCause   string
	failSaid    time.Time
	noSpansSaid bool
}

func (t *TargetConfig) resolve() (*target, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	r := &target{TargetConfig: *t, name: t.name()}
	if r.Interval == 0 {
		r.Interval = defaultInterval
	}
	u, _ := url.Parse(t.Endpoint)
	r.url = capture.WithSeconds(u, r.Duration.Seconds())
	r.length, _ = t.length(u)
	if r.Timeout == 0 {
		r.Timeout = r.length + defaultTimeoutSlack
	}
	if len(t.Headers) > 0 {
		r.header = make(http.Header, len(t.Headers))
		for k, v := range t.Headers {
			r.header.Set(k, string(v))
		}
	}
	if r.ServiceName == "" {
		r.ServiceName = r.name
		if svc := t.ResourceAttributes["service.name"]; svc != "" {
			r.ServiceName = svc
		}
	}
	return r, nil
}

// checkTLSFiles checks that the TLS files named can be read, so that
// otelcol validate finds what the start would, naming the key: the
// Collector's TLS settings read them only when the client or server is
// made.
func checkTLSFiles(ca, cert, key string) []error {
	var errs []error
	for _, f := range []struct{ key, path string }{{"ca_file", ca}, {"cert_file", cert}, {"key_file", key}} {
		if f.path == "" {
			continue
		}
		if fh, err := os.Open(f.path); err != nil {
			errs = append(errs, fmt.Errorf("tls: %s: %w", f.key, err))
		} else {
			fh.Close()
		}
	}
	return errs
}
