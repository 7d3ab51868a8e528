package gotracereceiver

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/trace2x/trace2x/capture"
)

// Config is the receiver's configuration.
type Config struct {
	// Targets are the programs to capture traces from.
	Targets []TargetConfig `mapstructure:"targets"`
	// MaxConcurrentCaptures bounds the captures under way at once; a
	// target whose turn comes while all are busy waits for one to end.
	MaxConcurrentCaptures int `mapstructure:"max_concurrent_captures"`
	// ConnectTimeout bounds connecting to a target (and its TLS handshake).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
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

	// prevent unkeyed literal initialization
	_ struct{}
}

// uploadPath is where the upload endpoint takes trace files.
const uploadPath = "/v1/gotrace"

// TargetConfig is one program to capture traces from.
type TargetConfig struct {
	// Name identifies the target in logs and metrics; the default is the
	// service name, or else the endpoint's host.
	Name string `mapstructure:"name"`
	// Endpoint is the URL that serves the trace: a /debug/pprof/trace
	// endpoint, or any handler that writes a Go execution trace.
	Endpoint string `mapstructure:"endpoint"`
	// Interval is the time from the start of one capture to the start of
	// the next. A capture still running when its next turn comes makes
	// that turn be skipped.
	Interval time.Duration `mapstructure:"interval"`
	// Duration is the length of each capture, sent as the seconds
	// parameter of the endpoint's URL. Zero leaves the URL as it is (for
	// a handler that decides by itself, such as a flight-recorder
	// snapshot).
	Duration time.Duration `mapstructure:"duration"`
	// CPUProfile also requests /debug/pprof/profile for each capture's
	// window, so that the trace holds CPU samples.
	CPUProfile bool `mapstructure:"cpu_profile"`
	// Timeout bounds a whole capture, its conversion and the hand-over of
	// its spans included; the default is the duration plus 30 seconds.
	Timeout time.Duration `mapstructure:"timeout"`
	// ServiceName is the spans' service.name; the default is the name.
	ServiceName string `mapstructure:"service_name"`
	// ResourceAttributes are added to the spans' resource.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`
	// RuntimeSpans adds GC cycles and stop-the-world pauses as spans.
	RuntimeSpans bool `mapstructure:"runtime_spans"`

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
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("connect_timeout: must not be negative, not %v", c.ConnectTimeout))
	}
	names := make(map[string]int)
	for i, t := range c.Targets {
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("targets[%d]: %w", i, err))
			continue
		}
		name := t.name()
		if j, dup := names[name]; dup {
			errs = append(errs, fmt.Errorf("targets[%d]: the name %q is that of targets[%d] too; give each a name of its own", i, name, j))
		}
		names[name] = i
	}
	return errors.Join(errs...)
}

func (t *TargetConfig) validate() error {
	if t.Endpoint == "" {
		return errors.New("endpoint: missing; give the URL of the program's /debug/pprof/trace")
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint: %q is not an http(s) URL such as http://127.0.0.1:6060/debug/pprof/trace", t.Endpoint)
	}
	if t.CPUProfile {
		if _, err := capture.ProfileURL(u); err != nil {
			return fmt.Errorf("cpu_profile %w", err)
		}
	}
	var errs []error
	if t.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval: must not be negative, not %v", t.Interval))
	}
	if t.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration: must not be negative, not %v", t.Duration))
	}
	if t.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, not %v", t.Timeout))
	}
	if t.Interval > 0 && t.Duration > t.Interval {
		errs = append(errs, fmt.Errorf("duration: %v is longer than the interval, %v, between captures", t.Duration, t.Interval))
	}
	if t.Timeout > 0 && t.Timeout <= t.Duration {
		errs = append(errs, fmt.Errorf("timeout: %v leaves no time for a capture of %v", t.Timeout, t.Duration))
	}
	return errors.Join(errs...)
}

// name is the target's name in logs and metrics.
func (t *TargetConfig) name() string {
	switch {
	case t.Name != "":
		return t.Name
	case t.ServiceName != "":
		return t.ServiceName
	}
	if u, err := url.Parse(t.Endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return t.Endpoint
}

// target is a validated target with its defaults filled in.
type target struct {
	TargetConfig
	name string
	url  *url.URL
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
	if r.Timeout == 0 {
		r.Timeout = r.Duration + defaultTimeoutSlack
	}
	if r.ServiceName == "" {
		r.ServiceName = r.name
	}
	return r, nil
}
