package gotracereceiver

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

// load reads a receiver configuration as the Collector does: over the
// factory's default, then validated.
func load(t testing.TB, raw map[string]any) (*Config, error) {
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
	// seconds in the URL, without a duration: the URL as it is, and a
	// timeout that leaves the capture its time.
	sec := TargetConfig{Endpoint: "http://h:6060/debug/pprof/trace?seconds=32"}
	if r, err := sec.resolve(); err != nil || r.url.String() != sec.Endpoint || r.Timeout != 32*time.Second+defaultTimeoutSlack {
		t.Errorf("a URL with seconds=32 resolved to %+v, %v", r, err)
	}
	// service.name in the resource attributes names the target and its
	// spans, as service_name would.
	svc := TargetConfig{Endpoint: "http://h:6060/debug/pprof/trace", ResourceAttributes: map[string]string{"service.name": "checkout"}}
	if r, err := svc.resolve(); err != nil || r.name != "checkout" || r.ServiceName != "checkout" {
		t.Errorf("service.name as a resource attribute resolved to %+v, %v", r, err)
	}
	// Two programs behind one proxy, told apart by the query, are two
	// endpoints.
	if _, err := load(t, map[string]any{"targets": []any{
		map[string]any{"name": "a", "endpoint": "http://proxy:8080/debug/pprof/trace?target=a"},
		map[string]any{"name": "b", "endpoint": "http://proxy:8080/debug/pprof/trace?target=b"},
	}}); err != nil {
		t.Errorf("two programs behind a proxy: %v", err)
	}
	// Port 80 of https is not its default port.
	if _, err := load(t, map[string]any{"targets": []any{
		map[string]any{"name": "a", "endpoint": "https://h:80/debug/pprof/trace"},
		map[string]any{"name": "b", "endpoint": "https://h/debug/pprof/trace"},
	}}); err != nil {
		t.Errorf("two ports of one host: %v", err)
	}
	// A handler that decides its own length, such as a flight-recorder
	// snapshot's, may be polled more often than a second, which would
	// make /debug/pprof/trace's default captures overlap.
	if _, err := load(t, map[string]any{"targets": []any{
		map[string]any{"endpoint": "http://h:6060/debug/flight", "interval": "500ms"},
	}}); err != nil {
		t.Errorf("a flight-recorder snapshot every 500ms: %v", err)
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
			[]string{"targets[0] (a): endpoint: missing"}},
		{"not http", map[string]any{"targets": []any{target("endpoint", "unix:///run/app.sock")}},
			[]string{`targets[0]: endpoint: "unix:///run/app.sock" is not an http(s) URL`}},
		{"no host", map[string]any{"targets": []any{target("endpoint", "http:///debug/pprof/trace")}},
			[]string{"is not an http(s) URL"}},
		{"bad URL", map[string]any{"targets": []any{target("endpoint", "http://[::1/debug/pprof/trace")}},
			[]string{`targets[0]: endpoint: "http://[::1/debug/pprof/trace" is not an http(s) URL such as http://127.0.0.1:6060/debug/pprof/trace (missing ']' in host)`}},
		{"no host name", map[string]any{"targets": []any{target("endpoint", "http://:6060/debug/pprof/trace")}},
			[]string{`targets[0] (:6060): endpoint: "http://:6060/debug/pprof/trace" has no host name (is a variable it is made from unset?)`}},
		{"password", map[string]any{"targets": []any{target("endpoint", "ftp://admin:s3cr3t@h/debug/pprof/trace")}},
			[]string{`"ftp://admin:xxxxx@h/debug/pprof/trace" is not an http(s) URL`}},
		{"password breaking the URL", map[string]any{"targets": []any{target("endpoint", "http://ops:pa/s3cr3t@127.0.0.1:6064/debug/pprof/trace")}},
			[]string{`"http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace" is not an http(s) URL`, "must be percent-encoded",
				// The endpoint is quoted once, not again as the target's name.
				`targets[0]: endpoint: "http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace" is not`}},
		{"password with a space", map[string]any{"targets": []any{target("endpoint", "http://ops:s3cr3t PW@127.0.0.1:6064/debug/pprof/trace")}},
			[]string{`"http://ops:xxxxx@127.0.0.1:6064/debug/pprof/trace" is not an http(s) URL`}},
		{"password without scheme", map[string]any{"targets": []any{target("endpoint", "ops:s3cr3t@127.0.0.1:6064/debug/pprof/trace")}},
			[]string{`"ops:xxxxx@127.0.0.1:6064/debug/pprof/trace" is not an http(s) URL`}},
		{"upload endpoint empty", map[string]any{"upload": map[string]any{"endpoint": ""}},
			[]string{"upload: endpoint: empty (is a variable it is made from unset?)"}},
		{"upload endpoint without port", map[string]any{"upload": map[string]any{"endpoint": "nohostport"}},
			[]string{`upload: endpoint: "nohostport" is not host:port`}},
		{"missing TLS files", map[string]any{
			"targets": []any{target("endpoint", "https://127.0.0.1:6060/debug/pprof/trace", "tls", map[string]any{"ca_file": "/nonexistent/ca.pem", "cert_file": "/nonexistent/c.pem", "key_file": "/nonexistent/k.pem"})},
			"upload":  map[string]any{"tls": map[string]any{"cert_file": "/nonexistent/s.pem", "key_file": "/nonexistent/s.key"}}},
			[]string{"targets[0] (127.0.0.1:6060): tls: ca_file: open /nonexistent/ca.pem: no such file or directory",
				"targets[0] (127.0.0.1:6060): tls: cert_file: open /nonexistent/c.pem", "tls: key_file: open /nonexistent/k.pem",
				"upload: tls: cert_file: open /nonexistent/s.pem: no such file or directory", "upload: tls: key_file: open /nonexistent/s.key"}},
		{"token", map[string]any{"targets": []any{target("endpoint", "http:///debug/pprof/trace?token=s3cr3t")}},
			[]string{`?token=xxxxx" is not an http(s) URL`}},
		{"times without units", map[string]any{"connect_timeout": 10, "targets": []any{target("interval", 60, "duration", 5, "timeout", 30)}},
			[]string{"connect_timeout: 10ns is below the minimum, 1ms: a number without a unit is read as nanoseconds; give its unit, such as 10s",
				"targets[0] (127.0.0.1:6060): interval: 60ns is below the minimum, 1ms: a number without a unit is read as nanoseconds; give its unit, such as 60s",
				"duration: 5ns is below the minimum", "timeout: 30ns is below the minimum"}},
		// A time with its unit, too short, is not told to give its unit.
		{"times too short", map[string]any{"connect_timeout": "0.5ms", "targets": []any{target("interval", "0.5ms", "duration", "0.5ms", "timeout", "900us")}},
			[]string{"connect_timeout: 500µs is below the minimum, 1ms", "interval: 500µs is below the minimum, 1ms", "duration: 500µs is below the minimum, 1ms", "timeout: 900µs is below the minimum, 1ms"}},
		{"capture longer than the default interval", map[string]any{"targets": []any{target("duration", "5m")}},
			[]string{"duration: 5m0s is not shorter than the interval, 1m0s (the default), between the starts of captures"}},
		{"seconds in the URL longer than the interval", map[string]any{"targets": []any{target("endpoint", "http://h:6060/debug/pprof/trace?seconds=20", "interval", "10s")}},
			[]string{"endpoint: seconds: 20s is not shorter than the interval, 10s, between the starts of captures"}},
		// net/http/pprof traces for a second when given no seconds.
		{"default capture of /debug/pprof/trace longer than the interval", map[string]any{"targets": []any{target("interval", "500ms")}},
			[]string{"targets[0] (127.0.0.1:6060): duration: unset, so the endpoint traces for 1s, the default of /debug/pprof/trace, which is not shorter than the interval, 500ms, between the starts of captures"}},
		{"default capture of /debug/pprof/trace as long as the interval", map[string]any{"targets": []any{target("endpoint", "http://h:6060/debug/pprof/trace/", "interval", "1s")}},
			[]string{"duration: unset, so the endpoint traces for 1s, the default of /debug/pprof/trace, which is not shorter than the interval, 1s,"}},
		{"timeout within the default capture of /debug/pprof/trace", map[string]any{"targets": []any{target("timeout", "800ms")}},
			[]string{"timeout: 800ms leaves no time for a capture of 1s"}},
		{"timeout shorter than seconds in the URL", map[string]any{"targets": []any{target("endpoint", "http://h:6060/debug/pprof/trace?seconds=20", "timeout", "15s")}},
			[]string{"timeout: 15s leaves no time for a capture of 20s"}},
		// Each target named, as in the other errors.
		{"same endpoint, no names", map[string]any{"targets": []any{target("endpoint", "http://127.0.0.1:6060/debug/pprof/trace"), target("endpoint", "http://127.0.0.1:6060/debug/pprof/trace?seconds=2")}},
			[]string{"targets[1] (127.0.0.1:6060): the endpoint is that of targets[0] (127.0.0.1:6060) too"}},
		{"same endpoint", map[string]any{"targets": []any{target("name", "a", "endpoint", "http://127.0.0.1:6060/debug/pprof/trace?seconds=1"), target("name", "b", "endpoint", "http://127.0.0.1:6060/debug/pprof/trace?seconds=3")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		// The scheme's port, given or not, is one endpoint.
		{"same endpoint, default port", map[string]any{"targets": []any{target("name", "a", "endpoint", "http://h:80/debug/pprof/trace"), target("name", "b", "endpoint", "http://H/debug/pprof/trace")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		{"same endpoint, default https port", map[string]any{"targets": []any{target("name", "a", "endpoint", "https://[::1]/debug/pprof/trace"), target("name", "b", "endpoint", "https://[::1]:443/debug/pprof/trace")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		// Spellings of one address are one endpoint.
		{"same endpoint, IPv6 spelled otherwise", map[string]any{"targets": []any{target("name", "a", "endpoint", "http://[::1]:6060/debug/pprof/trace"), target("name", "b", "endpoint", "http://[0:0::0001]:6060/debug/pprof/trace")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		{"same endpoint, IPv4 in IPv6", map[string]any{"targets": []any{target("name", "a", "endpoint", "http://10.0.0.1:6060/debug/pprof/trace"), target("name", "b", "endpoint", "http://[::ffff:10.0.0.1]:6060/debug/pprof/trace")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		{"same endpoint, a slash at the end", map[string]any{"targets": []any{target("name", "a", "endpoint", "http://h:6060/debug/pprof/trace"), target("name", "b", "endpoint", "http://h.:6060/debug/pprof/./trace/")}},
			[]string{"targets[1] (b): the endpoint is that of targets[0] (a) too"}},
		{"two service names", map[string]any{"targets": []any{target("service_name", "checkout", "resource_attributes", map[string]any{"service.name": "other"})}},
			[]string{`targets[0] (checkout): resource_attributes: service.name "other" differs from service_name "checkout"`}},
		{"the uploads' name", map[string]any{"targets": []any{target("name", "upload")}},
			[]string{`targets[0] (upload): the name "upload" is the one the metrics give uploads`}},
		{"negative times", map[string]any{"targets": []any{target("interval", "-1s", "duration", "-2s", "timeout", "-3s")}},
			[]string{"interval: must not be negative, not -1s", "duration: must not be negative, not -2s", "timeout: must not be negative, not -3s"}},
		{"capture longer than interval", map[string]any{"targets": []any{target("interval", "5s", "duration", "10s")}},
			[]string{"targets[0] (127.0.0.1:6060): duration: 10s is not shorter than the interval, 5s, between the starts of captures"}},
		{"timeout too short", map[string]any{"targets": []any{target("duration", "5s", "timeout", "5s")}},
			[]string{"timeout: 5s leaves no time for a capture of 5s"}},
		{"same name", map[string]any{"targets": []any{target("service_name", "api"), target("service_name", "api", "endpoint", "http://other:6060/debug/pprof/trace")}},
			[]string{`targets[1] (api): the name "api" is that of targets[0] too`}},
		{"tls on http", map[string]any{"targets": []any{target("endpoint", "http://u:pw@h:6060/debug/pprof/trace", "tls", map[string]any{"ca_file": "ca.pem"})}},
			[]string{`targets[0] (h:6060): tls: set for "http://u:xxxxx@h:6060/debug/pprof/trace", which is plain http and does not use it`}},
		{"insecure on https", map[string]any{"targets": []any{target("endpoint", "https://h:6060/debug/pprof/trace", "tls", map[string]any{"insecure": true})}},
			[]string{"targets[0] (h:6060): tls: insecure is set for \"https://h:6060/debug/pprof/trace\", an https endpoint"}},
		{"bad headers", map[string]any{"targets": []any{target("headers", map[string]any{"Bad Header": "x", "host": "other"})}},
			[]string{`headers: "Bad Header" is not a header name`, "headers: Host is taken from the endpoint"}},
		{"no scheme", map[string]any{"targets": []any{target("endpoint", "127.0.0.1:6060/debug/pprof/trace")}},
			[]string{`targets[0]: endpoint: "127.0.0.1:6060/debug/pprof/trace" is not an http(s) URL such as http://127.0.0.1:6060/debug/pprof/trace (first path segment in URL cannot contain colon)`}},
		{"as long as the interval", map[string]any{"targets": []any{target("interval", "3s", "duration", "3s")}},
			[]string{"duration: 3s is not shorter than the interval, 3s, between the starts of captures: each would overlap the next turn, which would be skipped"}},
		{"bad seconds", map[string]any{"targets": []any{target("endpoint", "http://h:6060/debug/pprof/trace?seconds=abc")}},
			[]string{`targets[0] (h:6060): endpoint: seconds="abc" is not a number of seconds above 0`}},
		{"every error names its target", map[string]any{"targets": []any{target("name", "b", "interval", "-1s", "timeout", 3)}},
			[]string{"targets[0] (b): interval: must not be negative", "targets[0] (b): timeout: 3ns"}},
		{"upload body size", map[string]any{"targets": []any{target()}, "upload": map[string]any{"max_request_body_size": 0}},
			[]string{"upload: max_request_body_size: must be above 0, not 0"}},
		{"no concurrency", map[string]any{"max_concurrent_captures": 0, "targets": []any{target()}},
			[]string{"max_concurrent_captures: must be at least 1, not 0"}},
		{"no capture size", map[string]any{"max_capture_size": 0, "targets": []any{target()}},
			[]string{"max_capture_size: must be at least 1 byte, not 0"}},
		{"several at once", map[string]any{"max_concurrent_captures": -1, "targets": []any{target("interval", "-1s"), map[string]any{}}},
			[]string{"max_concurrent_captures", "targets[0] (127.0.0.1:6060): interval", "targets[1]: endpoint: missing"}},
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
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pa/") {
				t.Errorf("error %q\nshows a secret", err)
			}
			if strings.Contains(tc.name, "too short") && strings.Contains(err.Error(), "unit") {
				t.Errorf("error %q\nasks for a unit that was given", err)
			}
			// Two targets on one endpoint share the name made from it:
			// the endpoint is the mistake to name.
			if strings.Contains(tc.name, "same endpoint") && strings.Contains(err.Error(), "give each a name") {
				t.Errorf("error %q\nasks for names where the endpoint is the same", err)
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

// TestUploadUnknownKey: a misspelt setting of the upload endpoint is
// refused, as a target's is; its HTTP server's own decoding ignores keys
// it does not know. Every real one is taken.
func TestUploadUnknownKey(t *testing.T) {
	_, err := load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "max_request_body_sise": 5}})
	if err == nil || !strings.Contains(err.Error(), "max_request_body_sise") {
		t.Errorf("a misspelt key: %v", err)
	}
	// Every misspelt key is named at once, not one per restart.
	_, err = load(t, map[string]any{"upload": map[string]any{"endpoint": "127.0.0.1:0", "sampled_onyl": true, "max_request_body_sise": 5}})
	if err == nil || !strings.Contains(err.Error(), `"max_request_body_sise" and "sampled_onyl" are not settings`) {
		t.Errorf("two misspelt keys: %v", err)
	}
	// Said as the endpoint's other errors are, and nothing else.
	for _, tc := range []struct {
		keys map[string]any
		want string
	}{
		{map[string]any{"foo": 1}, `upload: "foo" is not a setting of the upload endpoint`},
		{map[string]any{"foo": 1, "sampledonly": true}, `upload: "foo" and "sampledonly" are not settings of the upload endpoint`},
	} {
		tc.keys["endpoint"] = "127.0.0.1:0"
		if _, err := load(t, map[string]any{"upload": tc.keys}); err == nil || err.Error() != tc.want {
			t.Errorf("misspelt keys: %v; want %q", err, tc.want)
		}
	}
	cfg, err := load(t, map[string]any{"upload": map[string]any{
		"endpoint": "127.0.0.1:0", "max_request_body_size": 1 << 20, "sampled_only": true,
		"read_header_timeout": "5s", "include_metadata": true, "cors": map[string]any{"allowed_origins": []any{"https://a.example"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u := cfg.Upload.Get(); !u.SampledOnly || u.MaxRequestBodySize != 1<<20 || u.ReadHeaderTimeout != 5*time.Second || !u.IncludeMetadata {
		t.Errorf("settings not taken: %+v", u)
	}
}
