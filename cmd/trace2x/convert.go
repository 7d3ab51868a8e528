package main

import (
	"encoding/json"
	"flag"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
)

var convertCmd = &command{
	name:  "convert",
	args:  "[--perfetto FILE] [--chrome FILE] [--stats FILE] [trace.out | -]",
	short: "convert in one pass to several formats at once",
	long: `Convert reads the trace once and writes every output named, as the
perfetto, chrome and stats commands would each write it: a trace read
from a pipe (curl ... | trace2x convert ...) is read only once. Output
names ending in .gz are written gzip-compressed; "-" is standard output
(for at most one of them).

Example:

	trace2x convert --perfetto t.pftrace --chrome t.json.gz --stats t.stats.json trace.out`,
	setup: func(fs *flag.FlagSet) func(*env, []string) error {
		inOpts := inputFlags(fs)
		pf := fs.String("perfetto", "", "write a Perfetto trace to `FILE`")
		cj := fs.String("chrome", "", "write Chrome trace-event JSON to `FILE`")
		st := fs.String("stats", "", "write the stats of the trace, as JSON, to `FILE`")
		return func(e *env, args []string) error {
			stdout := 0
			for _, name := range []string{*pf, *cj, *st} {
				if name == "-" {
					stdout++
				}
			}
			if *pf == "" && *cj == "" && *st == "" {
				return usageError{"name at least one output: --perfetto, --chrome or --stats"}
			}
			if stdout > 1 {
				return usageError{"only one output can go to standard output"}
			}
			in, err := openTrace(e, args, inOpts)
			if err != nil {
				return err
			}
			defer in.Close()
			var (
				sinks   []mapping.Sink
				closers []func() error
				tally   mapping.Tally
			)
			fail := func(err error) error {
				for _, c := range closers {
					c()
				}
				return err
			}
			if *pf != "" {
				o, err := createOutput(e, *pf, true)
				if err != nil {
					return fail(err)
				}
				w := perfetto.NewWriter(o, perfetto.WithProcessName(in.shortName()), perfetto.WithVersion(trace2xVersion()))
				sinks = append(sinks, w)
				closers = append(closers, w.Close, o.Close)
			}
			if *cj != "" {
				o, err := createOutput(e, *cj, false)
				if err != nil {
					return fail(err)
				}
				w := chromejson.NewWriter(o, chromejson.WithVersion(trace2xVersion()))
				sinks = append(sinks, w)
				closers = append(closers, w.Close, o.Close)
			}
			if *st != "" {
				sinks = append(sinks, &tally)
			}
			opts := []mapping.Option{mapping.WithInputName(in.name), in.progress(e, inOpts)}
			if *st != "" {
				opts = append(opts, mapping.WithExperimentalEvents())
			}
			sum, mapErr := mapping.Map(in, mapping.FanOut(sinks...), opts...)
			errs := []error{mapErr}
			if *st != "" && sum != nil {
				o, err := createOutput(e, *st, false)
				if err == nil {
					enc := json.NewEncoder(o)
					enc.SetIndent("", "  ")
					errs = append(errs, enc.Encode(newStatsReport(sum, &tally)), o.Close())
				} else {
					errs = append(errs, err)
				}
			}
			for _, c := range closers {
				errs = append(errs, c())
			}
			return joinErrors(errs...)
		}
	},
}
