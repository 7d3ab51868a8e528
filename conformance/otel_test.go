package conformance

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trace2x/trace2x/convert/otel"
)

// TestOTel converts every trace to OpenTelemetry spans into an in-memory
// exporter and compares them with the oracle: one span per task and per
// region, by name and exact duration, one span event per log, by name
// and message, and the cut into traces (see checkTraceCuts). Span times
// are wall-clock times, so durations are compared; convert/otel's own
// tests check parents and attributes.
func TestOTel(t *testing.T) {
	files := append(append(corpus(t), regressionTraces(t)...), goTraces(t)...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			o, data := readOracle(t, file)
			exp := tracetest.NewInMemoryExporter()
			res, err := otel.Convert(context.Background(), bytes.NewReader(data), exp, otel.WithInputName(filepath.Base(file)))
			if err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if int64(len(spans)) != res.Exported || res.Failed != 0 {
				t.Fatalf("%d spans in the exporter, %d exported, %d failed", len(spans), res.Exported, res.Failed)
			}
			type span struct {
				name  string
				dur   int64
				times string // where a region's goroutine spent it, for one begun in the trace
			}
			c := &checker{t: t, o: o}
			var want, got []span
			for _, k := range o.Tasks {
				start, end, _ := c.span(k.Span)
				name := k.Type
				if !k.TypeKnown || name == "" {
					name = "" // a task whose type the trace never tells: any name
				}
				want = append(want, span{asUTF8(name), end - start, ""})
			}
			for _, r := range o.Regions {
				// As in checker.regions: regions open at the start keep
				// their nesting a nanosecond apart, and end with their
				// goroutine.
				start, end, _ := c.span(r.Span)
				if !r.HasBegin {
					start = c.tm(int64(o.Start) - int64(r.Encloses))
				}
				if r.HasGoExit {
					end = c.tm(int64(r.GoExit))
				}
				times := ""
				if r.HasBegin {
					t := r.Times
					times = stateTimes(t.Running, t.Runnable, t.Syscall, t.Waiting, t.Network, t.Sync, t.STW, t.MarkAssist, t.Sweep)
				}
				want = append(want, span{asUTF8(r.Type), end - start, times})
			}
			var logs, events []string
			dropped := 0 // logs over a span's event limit
			for _, l := range o.Logs {
				name := l.Category
				if name == "" {
					name = "log"
				}
				logs = append(logs, asUTF8(name)+": "+asUTF8(l.Message))
			}
			for _, s := range spans {
				if !isGoroutineSpan(s) && !isPlaceholder(s) {
					got = append(got, span{s.Name, s.EndTime.Sub(s.StartTime).Nanoseconds(), spanTimes(s)})
				}
				dropped += s.DroppedEvents
				for _, e := range s.Events {
					msg := ""
					for _, a := range e.Attributes {
						if a.Key == "message" {
							msg = a.Value.AsString()
						}
					}
					events = append(events, e.Name+": "+msg)
				}
			}
			// Tasks without a known type are matched by duration alone.
			for i, w := range want {
				if w.name != "" {
					continue
				}
				for _, g := range got {
					if g.dur == w.dur {
						want[i].name = g.name
						break
					}
				}
			}
			if o.Format < 22 {
				// Old-format traces are parsed with ties broken at random
				// (see Oracle.Ties), so two reads can disagree by a few
				// nanoseconds: pair the durations of each name in order,
				// and take one near enough to its pair as the pair's.
				cmpSpan := func(a, b span) int {
					return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.dur, b.dur))
				}
				slices.SortFunc(want, cmpSpan)
				slices.SortFunc(got, cmpSpan)
				for i, j := 0, 0; i < len(got) && j < len(want); {
					g, w := got[i], want[j]
					switch {
					case g.name == w.name && abs(w.dur-g.dur) <= 4:
						got[i].dur = w.dur
						i++
						j++
					case cmpSpan(g, w) < 0:
						i++
					default:
						j++
					}
				}
			}
			diffMultiset(t, "task and region spans", want, got, func(s span) string {
				return fmt.Sprintf("%q lasting %dns %s", s.name, s.dur, s.times)
			})
			if dropped == 0 {
				diffMultiset(t, "span events", logs, events, func(s string) string { return s })
			} else {
				// A span keeps its first events up to the SDK's limit and
				// counts the others: each log is an event or counted.
				left := make(map[string]int)
				for _, l := range logs {
					left[l]++
				}
				for _, e := range events {
					if left[e]--; left[e] < 0 {
						t.Errorf("span event %q: not a log of the trace, or more often than logged", e)
					}
				}
				if len(logs) != len(events)+dropped {
					t.Errorf("%d logs in the oracle, %d span events and %d dropped", len(logs), len(events), dropped)
				}
				if dropped != int(res.DroppedLogs) {
					t.Errorf("%d events dropped by the spans, %d by the result", dropped, res.DroppedLogs)
				}
			}
			checkTraceCuts(t, o, spans, res)
		})
	}
}

// isPlaceholder reports whether s stands for a task or region that the
// model names and never delivers.
func isPlaceholder(s tracetest.SpanStub) bool {
	for _, a := range s.Attributes {
		if a.Key == "go.trace.placeholder" {
			return a.Value.AsBool()
		}
	}
	return false
}

// isGoroutineSpan reports whether s is the span of a goroutine, made to
// hold regions and logs outside any task.
func isGoroutineSpan(s tracetest.SpanStub) bool {
	for _, a := range s.Attributes {
		if a.Key == "go.task.id" || a.Key == "go.region" {
			return false
		}
	}
	return len(s.Name) > len("goroutine ") && s.Name[:len("goroutine ")] == "goroutine "
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// stateTimes words a region's times by state, as spanTimes reads them.
func stateTimes(running, runnable, syscall, waiting, network, sync, stw, assist, sweep int64) string {
	return fmt.Sprintf("running %d runnable %d syscall %d waiting %d (network %d, sync %d) gc (stw %d, assist %d, sweep %d)",
		running, runnable, syscall, waiting, network, sync, stw, assist, sweep)
}

// spanTimes reads the times by state of a region's span, "" if it has
// none.
func spanTimes(s tracetest.SpanStub) string {
	v := map[string]int64{}
	for _, a := range s.Attributes {
		if k := string(a.Key); strings.HasPrefix(k, "go.goroutine.") && strings.HasSuffix(k, "_ns") {
			v[strings.TrimSuffix(strings.TrimPrefix(k, "go.goroutine."), "_ns")] = a.Value.AsInt64()
		}
	}
	if len(v) == 0 {
		return ""
	}
	return stateTimes(v["running"], v["runnable"], v["syscall"], v["waiting"], v["waiting.network"], v["waiting.sync"],
		v["gc.stw"], v["gc.mark_assist"], v["gc.sweep"])
}
