package flight

import (
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/trace2x/trace2x/convert/otel"
)

// Option configures a Recorder.
type Option interface{ apply(*config) }

type config struct {
	minAge      time.Duration
	maxBytes    uint64
	exporter    sdktrace.SpanExporter
	otelOpts    []otel.Option
	serviceName string
	dir         string
	maxFiles    int
	maxDirBytes int64
	interval    time.Duration
	coalesce    time.Duration
	queue       int
	timeout     time.Duration
	maxCapture  time.Duration
	onExport    func(Export)
	// nilExporter says WithExporter was given nil: most likely an
	// exporter whose making failed, its error dropped.
	nilExporter bool
}

// The defaults, documented on the options that change them.
const (
	DefaultMinAge        = 10 * time.Second
	DefaultMaxBytes      = 10 << 20
	DefaultMinInterval   = 5 * time.Second
	DefaultCoalesce      = 200 * time.Millisecond
	DefaultQueueSize     = 2
	DefaultExportTimeout = time.Minute
	DefaultMaxFiles      = 16
	DefaultMaxDirBytes   = 512 << 20
	DefaultMaxCapture    = time.Minute
)

func newConfig(opts []Option) config {
	c := config{
		minAge:      DefaultMinAge,
		maxBytes:    DefaultMaxBytes,
		maxFiles:    DefaultMaxFiles,
		maxDirBytes: DefaultMaxDirBytes,
		interval:    DefaultMinInterval,
		coalesce:    DefaultCoalesce,
		queue:       DefaultQueueSize,
		timeout:     DefaultExportTimeout,
		maxCapture:  DefaultMaxCapture,
	}
	for _, o := range opts {
		if o != nil { // an option a program left unset
			o.apply(&c)
		}
	}
	return c
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMinAge sets how far back the window reaches: the runtime keeps at
// least the last d of execution trace (unless WithMaxBytes is reached
// first). The default is DefaultMinAge, 10 seconds, which a d of 0 or
// less keeps.
func WithMinAge(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.minAge = d
		}
	})
}

// WithMaxBytes sets the size beyond which the runtime drops the oldest
// of the window, before WithMinAge would; it is a hint, not a bound. The
// runtime drops only whole generations of the trace (it starts one every
// second, and at each snapshot), always keeps the latest, and adds older
// ones while the window is under n, so a window exceeds n by up to one
// or two seconds of trace: tens of MB in a busy program (one that traced
// 35 to 45 MB a second had windows of 45 to 85 MB with the default).
// The runtime also holds the generation it is writing, and a snapshot's
// conversions take time and memory in proportion to the window. The
// default is DefaultMaxBytes, 10 MiB, which an n of 0 keeps.
func WithMaxBytes(n uint64) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxBytes = n
		}
	})
}

// WithExporter exports every snapshot's tasks and regions as
// OpenTelemetry spans to exp (an OTLP exporter from the OpenTelemetry Go
// SDK, say; convert/otel/otlpexport makes one for the endpoint that the
// standard variables or trace2x otlp's rules name). A task that logged its request's traceparent, as the
// Middleware does, arrives inside the request's distributed trace; the
// window's other tasks arrive as traces of their own. exp is not shut
// down by the Recorder. A nil exp makes Start fail.
func WithExporter(exp sdktrace.SpanExporter) Option {
	return optionFunc(func(c *config) { c.exporter, c.nilExporter = exp, exp == nil })
}

// WithOTelOptions passes options to the conversion to spans (see package
// github.com/trace2x/trace2x/convert/otel), for instance
// otel.WithRuntimeSpans() or otel.WithResource(res). The Recorder's own
// otel.WithIDSeed (a seed for each snapshot, so that a span cut in one
// and whole in the next gets other IDs) and otel.WithExported come after
// them, and so prevail.
func WithOTelOptions(opts ...otel.Option) Option {
	o := append([]otel.Option(nil), opts...)
	return optionFunc(func(c *config) { c.otelOpts = append(c.otelOpts, o...) })
}

// WithServiceName names the program: the spans' service.name and the
// process in Perfetto files, which otherwise both come from
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES or the program's file name.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithDir writes every snapshot as a Perfetto trace,
// trace2x-<UTC time>-<n>-<reason>.pftrace (n numbers the Recorder's
// files in the order it begins to write them, and a file that could not
// be written leaves its number unused; the order can differ from the
// order their snapshots were taken in: the time says that), into dir, which is created if needed, by Start and again
// by a snapshot that finds it gone. A file appears whole under its name
// or not at all. The files' mode is 0640 before the umask: they hold the
// program's stacks and annotations, which the program's group may read
// (an uploader running as another user of the group), others not. The
// oldest are removed to keep the directory's trace2x files within
// WithDirLimits.
func WithDir(dir string) Option {
	return optionFunc(func(c *config) { c.dir = dir })
}

// WithDirLimits bounds the Perfetto files WithDir keeps: at most maxFiles
// files of at most maxBytes in all (a value <= 0 keeps the default). The
// defaults are DefaultMaxFiles (16) and DefaultMaxDirBytes (512 MiB). A
// snapshot larger than maxBytes alone is not kept.
func WithDirLimits(maxFiles int, maxBytes int64) Option {
	return optionFunc(func(c *config) {
		if maxFiles > 0 {
			c.maxFiles = maxFiles
		}
		if maxBytes > 0 {
			c.maxDirBytes = maxBytes
		}
	})
}

// WithMinInterval rate-limits snapshots: at most one per d. Triggers in
// between wait for the next one, which serves them all. With d no longer
// than the time the window spans, what a trigger wanted is still in the
// window when its snapshot is taken. That is WithMinAge, or less where
// WithMaxBytes cuts the window first: on a service that traces 40 MB a
// second, the default 10 MiB keeps a second or two. A snapshot taken too
// late for its first trigger says so (Export.Late, Stats.Late). The
// default is DefaultMinInterval, 5 seconds: half the default window, so
// that one window overlaps the last by about 5 s and a request under way
// when a snapshot is taken, cut in it, is whole in the next. With d as
// long as the window, a request that began just before a snapshot is cut
// in it and begins before the next one's window: it is never sent
// whole. 0 takes every snapshot as soon as it is due, and a negative d
// keeps the default.
//
// Snapshots taken closer together than the window is long overlap. A
// request that began and ended within the window of another snapshot
// exported whole, taken before or after, is not sent again; one under way
// at either end of that window is sent by both, cut by one, with span IDs
// of each snapshot's own, and whole by the other, with its subtasks and
// regions (see otel.WithExported). The spans of one
// snapshot are exported at a time, so that two taken at once do not each
// send what the other sends.
func WithMinInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d >= 0 {
			c.interval = d
		}
	})
}

// WithCoalesce sets how long a snapshot waits after the first trigger, so
// that a burst of slow requests, which tend to end together, shares one
// snapshot that holds them all. The default is DefaultCoalesce, 200 ms;
// 0 takes the snapshot at once, and a negative d keeps the default.
func WithCoalesce(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d >= 0 {
			c.coalesce = d
		}
	})
}

// WithQueueSize bounds the snapshots waiting for export (each holds a
// copy of the window). While it is full, no snapshot is taken: the
// triggers wait, and the snapshot taken when there is room serves them
// all (marked late if what the first wanted has left the window), rather
// than a copy taken only to be dropped. With both WithDir and WithExporter, a
// snapshot's file is written as it comes, and its spans wait in a queue
// of their own, of the same size, so that an exporter whose endpoint is
// down or hangs does not cost the files too: spans that find that queue
// full are left out and counted in Stats.SpansDropped. The default is
// DefaultQueueSize, 2, which an n of 0 or less keeps.
func WithQueueSize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.queue = n
		}
	})
}

// WithExportTimeout bounds the export of one snapshot, spans and file
// each (those of Snapshot run side by side, those of a trigger apart, see
// WithQueueSize): when d has passed, a conversion stops; what was not
// finished is left out (the Perfetto file is not written, the spans not
// yet sent are not), and the export's error says
// the timeout ran out. The default is DefaultExportTimeout, a minute,
// which a d of 0 or less keeps: an export is always bounded, since
// later snapshots, and Stop, wait for it (unlike otel.WithExportTimeout,
// where 0 sets no bound).
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithMaxCapture bounds the live captures of the Handler
// (?seconds=N). The default is DefaultMaxCapture, a minute, which a d of
// 0 or less keeps.
func WithMaxCapture(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.maxCapture = d
		}
	})
}

// WithOnExport calls f after each snapshot taken on a trigger has been
// exported (or failed to be, or was cut short by Stop), on the
// Recorder's export goroutine: to log where it went. f must not block for
// long; later snapshots, and Stop, wait for it.
func WithOnExport(f func(Export)) Option {
	return optionFunc(func(c *config) { c.onExport = f })
}
