package gotracereceiver

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

// load reads a receiver configuration as the Collector does: over the
// factory's default, then validated.
func load(t *testing.T, raw map[string]any) (*Config, error) {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestConfigValid(t *testing.T) {
	cfg, err := load(t, map[string]any{
		"max_concurrent_captures": 2,
		"targets": []any{
			map[string]any{
				"endpoint":     "http://127.0.0.1:6060/debug/pprof/trace",
				"service_name": "checkout",
				"interval":     "30s",
				"duration":     "2500ms",
				"cpu_profile":  true,
				"resource_attributes": map[string]any{
					"deployment.environment.name": "prod",
				},
			},
			map[string]any{
				"name":     "flight",
				"endpoint": "https://payments.internal/debug/flight",
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentCaptures != 2 || cfg.ConnectTimeout != 10*time.Second {
		t.Errorf("max_concurrent_captures %d, connect_timeout %v", cfg.MaxConcurrentCaptures, cfg.ConnectTimeout)
	}
	a, err := cfg.Targets[0].resolve()
	if err != nil {
		t.Fatal(err)
	}
	if a.name != "checkout" || a.ServiceName != "checkout" || a.Interval != 30*time.Second ||
		a.url.String() != "http://127.0.0.1:6060/debug/pprof/trace?seconds=2.5" ||
		a.Timeout != 2500*time.Millisecond+defaultTimeoutSlack ||
		a.ResourceAttributes["deployment.environment.name"] != "prod" {
		t.Errorf("first target resolved to %+v, URL %s", a, a.url)
	}
	b, err := cfg.Targets[1].resolve()
	if err != nil {
		t.Fatal(err)
	}
	// No duration: the URL as given, for a handler that decides itself.
	if b.name != "flight" || b.ServiceName != "flight" || b.Interval != defaultInterval ||
		b.url.String() != "https://payments.internal/debug/flight" || b.Timeout != defaultTimeoutSlack {
		t.Errorf("second target resolved to %+v, URL %s", b, b.url)
	}
	// A target's default name is its endpoint's host.
	c := TargetConfig{Endpoint: "http://10.0.0.7:6060/debug/pprof/trace"}
	if c.name() != "10.0.0.7:6060" {
		t.Errorf("default name %q", c.name())
	}
}

func TestConfigInvalid(t *testing.T) {
	target := func(kv ...any) map[string]any {
		m := map[string]any{"endpoint": "http://127.0.0.1:6060/debug/pprof/trace"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want []string // each must be in the error
	}{
		{"no targets", map[string]any{}, []string{"targets: at least one target is needed"}},
		{"no endpoint", map[string]any{"targets": []any{map[string]any{"service_name": "a"}}},
			[]string{"targets[0]: endpoint: missing"}},
		{"not http", map[string]any{"targets": []any{target("endpoint", "unix:///run/app.sock")}},
			[]string{`targets[0]: endpoint: "unix:///run/app.sock" is not an http(s) URL`}},
		{"no host", map[string]any{"targets": []any{target("endpoint", "http:///debug/pprof/trace")}},
			[]string{"is not an http(s) URL"}},
		{"bad URL", map[string]any{"targets": []any{target("endpoint", "http://[::1/debug/pprof/trace")}},
			[]string{"targets[0]: endpoint: parse", "missing ']' in host"}},
		{"cpu profile of another endpoint", map[string]any{"targets": []any{target("endpoint", "http://h:6060/debug/pprof/heap", "cpu_profile", true)}},
			[]string{"targets[0]: cpu_profile needs a /debug/pprof/trace URL, not /debug/pprof/heap"}},
		{"negative times", map[string]any{"targets": []any{target("interval", "-1s", "duration", "-2s", "timeout", "-3s")}},
			[]string{"interval: must not be negative, not -1s", "duration: must not be negative, not -2s", "timeout: must not be negative, not -3s"}},
		{"capture longer than interval", map[string]any{"targets": []any{target("interval", "5s", "duration", "10s")}},
			[]string{"duration: 10s is longer than the interval, 5s, between captures"}},
		{"timeout too short", map[string]any{"targets": []any{target("duration", "5s", "timeout", "5s")}},
			[]string{"timeout: 5s leaves no time for a capture of 5s"}},
		{"same name", map[string]any{"targets": []any{target("service_name", "api"), target("service_name", "api", "endpoint", "http://other:6060/debug/pprof/trace")}},
			[]string{`targets[1]: the name "api" is that of targets[0] too`}},
		{"no concurrency", map[string]any{"max_concurrent_captures": 0, "targets": []any{target()}},
			[]string{"max_concurrent_captures: must be at least 1, not 0"}},
		{"several at once", map[string]any{"max_concurrent_captures": -1, "targets": []any{target("interval", "-1s"), map[string]any{}}},
			[]string{"max_concurrent_captures", "targets[0]: interval", "targets[1]: endpoint: missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.raw)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestConfigUnknownKey(t *testing.T) {
	_, err := load(t, map[string]any{"targets": []any{map[string]any{"endpoint": "http://h/debug/pprof/trace", "secods": 5}}})
	if err == nil || !strings.Contains(err.Error(), "secods") {
		t.Errorf("a misspelt key: %v", err)
	}
}
