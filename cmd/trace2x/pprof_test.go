package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/internal/testtraces"
	"github.com/trace2x/trace2x/internal/tracefile"
)

func parseProfile(t *testing.T, b []byte) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a pprof profile: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid profile: %v", err)
	}
	return p
}

func profileTypes(p *profile.Profile) string {
	var s []string
	for _, st := range p.SampleType {
		s = append(s, st.Type+"/"+st.Unit)
	}
	return strings.Join(s, " ")
}

// profileTotals sums each sample type over the profile.
func profileTotals(p *profile.Profile) []int64 {
	tot := make([]int64, len(p.SampleType))
	for _, s := range p.Sample {
		for i, v := range s.Value {
			tot[i] += v
		}
	}
	return tot
}

// TestPprofKinds checks every kind, written to standard output, to a file,
// and to a file whose name ends in .gz, which is compressed once only.
func TestPprofKinds(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "cpuprofile.go1.26.trace")
	dir := t.TempDir()
	for kind, types := range map[string]string{
		"net":     "contentions/count delay/nanoseconds",
		"sync":    "contentions/count delay/nanoseconds",
		"syscall": "contentions/count delay/nanoseconds",
		"sched":   "contentions/count delay/nanoseconds",
		"cpu":     "samples/count cpu/nanoseconds",
		"wall":    "intervals/count wall/nanoseconds",
	} {
		t.Run(kind, func(t *testing.T) {
			code, out, errs := runCmd(t, nil, "pprof", "--kind="+kind, path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			p := parseProfile(t, []byte(out))
			if got := profileTypes(p); got != types {
				t.Errorf("sample types %q, want %q", got, types)
			}
			want := profileTotals(p)
			if kind == "cpu" || kind == "wall" || kind == "sched" {
				if want[0] == 0 {
					t.Errorf("an empty %s profile", kind)
				}
			}
			for _, name := range []string{kind + ".pb", kind + ".pb.gz"} {
				file := filepath.Join(dir, name)
				code, out, errs := runCmd(t, nil, "pprof", "-q", "-o", file, path, "--kind", kind)
				if code != 0 || out != "" {
					t.Fatalf("-o %s: exit %d, stdout %d bytes: %s", name, code, len(out), errs)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if got := profileTotals(parseProfile(t, b)); !slices.Equal(got, want) {
					t.Errorf("-o %s: totals %v, standard output's %v", name, got, want)
				}
			}
		})
	}
}

// TestPprofCPURate checks that the CPU profile has CPU time at the rate
// given, 100 Hz by default, and counts only at rate 0.
func TestPprofCPURate(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "cpuprofile.go1.26.trace")
	for _, tc := range []struct {
		args   []string
		types  string
		period int64
	}{
		{nil, "samples/count cpu/nanoseconds", 10_000_000},
		{[]string{"--cpu-rate", "1000"}, "samples/count cpu/nanoseconds", 1_000_000},
		{[]string{"--cpu-rate=0"}, "samples/count", 1},
	} {
		code, out, errs := runCmd(t, nil, append([]string{"pprof", "--kind=cpu", path}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errs)
		}
		p := parseProfile(t, []byte(out))
		if got := profileTypes(p); got != tc.types || p.Period != tc.period {
			t.Errorf("%v: sample types %q, period %d; want %q, %d", tc.args, got, p.Period, tc.types, tc.period)
		}
		if tot := profileTotals(p); len(tot) == 2 && tot[1] != tot[0]*tc.period {
			t.Errorf("%v: %d ns for %d samples at a period of %d ns", tc.args, tot[1], tot[0], tc.period)
		}
	}
}

// TestPprofComments checks that a profile says what it was read
// through: a window or filter the profile itself cannot show.
func TestPprofComments(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "annotations.go1.26.trace")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"sched profile of the Go execution trace " + path}},
		{[]string{"--from", "1ms", "--to=5ms", "--region", "lookup", "--task", "1"},
			[]string{"sched profile of the Go execution trace " + path, `read through --from=1ms --to=5ms --task="1" --region="lookup"`}},
	} {
		code, out, errs := runCmd(t, nil, append([]string{"pprof", "--kind=sched", path}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errs)
		}
		if got := parseProfile(t, []byte(out)).Comments; !slices.Equal(got, tc.want) {
			t.Errorf("%v: comments %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPprofUsage(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "blocking.go1.26.trace")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pprof", path}, "--kind is required"},
		{[]string{"pprof", "--kind=heap", path}, `unknown profile kind "heap"`},
		{[]string{"pprof", "--kind=cpu", "--cpu-rate=-1", path}, "--cpu-rate"},
		{[]string{"pprof", "--kind=sync", path, path}, "one input trace"},
	} {
		code, out, errs := runCmd(t, nil, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "usage: trace2x pprof") {
			t.Errorf("%v: exit %d, %d bytes out, stderr %q; want 2 and %q", tc.args, code, len(out), errs, tc.want)
		}
	}
	code, out, _ := runCmd(t, nil, "help", "pprof")
	if code != 0 || !strings.Contains(out, "-kind") || !strings.Contains(out, "go tool trace -pprof") {
		t.Errorf("help pprof: exit %d, %q", code, out)
	}
	if _, out, _ := runCmd(t, nil, "help"); !strings.Contains(out, "pprof") {
		t.Errorf("the command list lacks pprof: %q", out)
	}
}

// TestPprofBrokenTrace checks that a trace cut short is profiled up to the
// break, with the error and exit status 1.
func TestPprofBrokenTrace(t *testing.T) {
	data, err := os.ReadFile(multiGeneration)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, data[:len(data)*3/4], "pprof", "--kind=wall")
	if code != 1 || !strings.Contains(errs, "broken trace") {
		t.Fatalf("exit %d, stderr %q; want 1 and a broken trace", code, errs)
	}
	if tot := profileTotals(parseProfile(t, []byte(out))); tot[1] == 0 {
		t.Error("nothing profiled before the break")
	}
}

// TestEmptyProfileWarning checks that a profile without samples is still
// written, with exit status 0, and a warning that says why it is empty;
// a profile with samples gets none.
func TestEmptyProfileWarning(t *testing.T) {
	dir := t.TempDir()
	trace := func(name string) string { return filepath.Join("..", "..", "testdata", name) }
	var go111 string // a Go 1.11 trace, whose format has no CPU samples
	for _, p := range testtraces.OldFormat(t) {
		if strings.Contains(filepath.Base(p), "_1_11_") {
			go111 = p
		}
	}
	if go111 == "" {
		t.Fatal("no Go 1.11 trace among Go's test traces")
	}
	for _, c := range []struct {
		args []string
		want string // the warning's end; "" for none
	}{
		{[]string{"--kind=cpu", go111}, "the profile is empty: traces of Go 1.18 and before hold no CPU samples (Go 1.19 added them)\n"},
		{[]string{"--kind=cpu", trace("gc.go1.26.trace")}, "the profile is empty: the trace has no CPU samples: profile the CPU while tracing (pprof.StartCPUProfile), or give --cpu-profile with a /debug/pprof/trace URL\n"},
		{[]string{"--kind=cpu", trace("cpuprofile.go1.26.trace")}, ""},
		// Samples the filters leave out are no reason to record some.
		{[]string{"--kind=cpu", "--goroutine", "1", trace("cpuprofile.go1.26.trace")}, "the profile is empty: none of the 60 CPU samples read is in what the filters keep\n"},
		{[]string{"--kind=cpu", "--goroutine", "1", trace("gc.go1.26.trace")}, "the profile is empty: after the filters, the trace has no CPU samples: profile the CPU while tracing (pprof.StartCPUProfile), or give --cpu-profile with a /debug/pprof/trace URL\n"},
		{[]string{"--kind=sync", trace("blocking.go1.26.trace")}, ""},
		{[]string{"--kind=sync", "--to", "1us", trace("blocking.go1.26.trace")}, "the profile is empty: after the filters, no goroutine blocked on a channel, select or sync primitive in the trace\n"},
	} {
		out := filepath.Join(dir, "p.pb.gz")
		code, _, errs := runCmd(t, nil, append([]string{"pprof", "-o", out}, c.args...)...)
		if _, err := os.Stat(out); code != 0 || err != nil {
			t.Errorf("%v: exit %d (%v), want 0 and a profile", c.args, code, err)
		}
		if c.want == "" && strings.Contains(errs, "empty") || c.want != "" && !strings.HasSuffix(errs, c.want) {
			t.Errorf("%v: stderr %q, want the warning %q", c.args, errs, c.want)
		}
		os.Remove(out)
	}
}

// TestPprofReasonlessWaits: a sync profile of a window of a file, read
// from the generation before the window's, says how long the waits under
// way at its start whose reason those generations do not tell lasted,
// since they count in no profile; read from the trace's start, those
// that began in the trace have their reason, and nothing is said.
func TestPprofReasonlessWaits(t *testing.T) {
	path := recordGenerations(t, 5)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	gens := idx.Generations
	if len(gens) < 4 {
		t.Fatalf("%d generations: a window of the last would read them all", len(gens))
	}
	from := (time.Duration(gens[len(gens)-1].Start-gens[0].Start) + time.Microsecond).String()
	out := filepath.Join(t.TempDir(), "sync.pb")
	code, _, errs := runCmd(t, nil, "pprof", "--kind=sync", "-q", "--from", from, "-o", out, path)
	if code != 0 || !strings.Contains(errs, "of waits under way at the window's start have no reason") || !strings.Contains(errs, "--sequential") {
		t.Errorf("--from %s: exit %d, stderr %q; want 0 and the reasonless waits said", from, code, errs)
	}
	code, _, errs = runCmd(t, nil, "pprof", "--kind=sync", "-q", "--sequential", "--from", from, "-o", out, path)
	if code != 0 || strings.Contains(errs, "no reason") {
		t.Errorf("--sequential --from %s: exit %d, stderr %q; want 0 and nothing said", from, code, errs)
	}
}
