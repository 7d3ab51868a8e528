package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/trace2x/trace2x/convert/chromejson/chromecheck"
	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
)

// startPprofServer builds and starts testdata/pprofserver, a separate
// program serving net/http/pprof on 127.0.0.1, and returns its trace URL.
func startPprofServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the live server with")
	}
	bin := filepath.Join(t.TempDir(), "pprofserver")
	if out, err := exec.Command(goBin, "build", "-o", bin, "./testdata/pprofserver").CombinedOutput(); err != nil {
		t.Fatalf("building the live server: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the live server did not say where it listens: %v", err)
	}
	return "http://" + strings.TrimSpace(addr) + "/debug/pprof/trace"
}

// TestLiveServer captures traces from a running program's net/http/pprof
// with every converter, the live-capture flags and a filter, and checks
// each output as its consumer would read it.
func TestLiveServer(t *testing.T) {
	url := startPprofServer(t)
	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, name) }
	capture := []string{"--seconds", "0.5", "--cpu-profile", "-q", url}
	runOK := func(args ...string) string {
		t.Helper()
		flags := capture
		if args[0] == "otlp" {
			flags = slices.DeleteFunc(slices.Clone(capture), func(f string) bool { return f == "--cpu-profile" }) // spans have no use for samples
		}
		code, stdout, stderr := runCmd(t, nil, append(args, flags...)...)
		if code != 0 {
			t.Fatalf("trace2x %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}

	// withSamples runs capture, which returns the CPU samples it got, up
	// to three times until it gets some: a program that the machine's
	// load leaves without a CPU for the half second of a capture has
	// none to give.
	withSamples := func(t *testing.T, capture func() int) {
		t.Helper()
		for range 3 {
			if capture() > 0 {
				return
			}
		}
		t.Error("no CPU samples with --cpu-profile in three captures")
	}

	t.Run("perfetto", func(t *testing.T) {
		var rep *perfettocheck.Report
		withSamples(t, func() int {
			runOK("perfetto", "-o", out("live.pftrace"))
			rep = checkPerfetto(t, out("live.pftrace"))
			return rep.PerfSamples
		})
		if !hasSlice(rep, "request") {
			t.Error("no request task")
		}
	})
	t.Run("chrome", func(t *testing.T) {
		runOK("chrome", "-o", out("live.json.gz"))
		data := gunzipFile(t, out("live.json.gz"))
		if _, err := chromecheck.Check(data); err != nil {
			t.Fatalf("invalid Chrome JSON: %v", err)
		}
	})
	t.Run("otlp json", func(t *testing.T) {
		runOK("otlp", "--json", "-o", out("spans.json"))
		spans := 0
		data, err := os.ReadFile(out("spans.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var req struct {
				ResourceSpans []struct {
					ScopeSpans []struct {
						Spans []json.RawMessage `json:"spans"`
					} `json:"scopeSpans"`
				} `json:"resourceSpans"`
			}
			if err := json.Unmarshal(line, &req); err != nil {
				t.Fatalf("not OTLP JSON: %v", err)
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					spans += len(ss.Spans)
				}
			}
		}
		if spans == 0 {
			t.Error("no spans from a capture full of tasks and regions")
		}
	})
	t.Run("stats", func(t *testing.T) {
		withSamples(t, func() int {
			m := statsJSON(t, runOK("stats", "--json"))
			if m["goroutines"].(float64) == 0 {
				t.Errorf("stats of a live capture: %v goroutines", m["goroutines"])
			}
			return int(m["cpu_samples"].(float64))
		})
	})
	t.Run("pprof", func(t *testing.T) {
		samples := func(kind string) int {
			runOK("pprof", "--kind="+kind, "-o", out(kind+".pb.gz"))
			f, err := os.Open(out(kind + ".pb.gz"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := profile.Parse(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: not a pprof profile: %v", kind, err)
			}
			return len(p.Sample)
		}
		for _, kind := range []string{"sync", "sched"} {
			if samples(kind) == 0 {
				t.Errorf("%s: no samples in a busy program's profile", kind)
			}
		}
		withSamples(t, func() int { return samples("cpu") })
	})
	t.Run("convert with a filter", func(t *testing.T) {
		runOK("convert", "--task", "request", "--perfetto", out("tasks.pftrace"), "--chrome", out("tasks.json"), "--stats", out("tasks.stats.json"))
		rep := checkPerfetto(t, out("tasks.pftrace"))
		if !hasSlice(rep, "request") {
			t.Error("the task filter left out the tasks it selects")
		}
		data, err := os.ReadFile(out("tasks.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromecheck.Check(data); err != nil {
			t.Fatalf("invalid Chrome JSON: %v", err)
		}
	})
}

func checkPerfetto(t *testing.T, path string) *perfettocheck.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := perfettocheck.Check(f)
	if err != nil {
		t.Fatalf("invalid Perfetto trace: %v", err)
	}
	return rep
}

func hasSlice(rep *perfettocheck.Report, name string) bool {
	for _, s := range rep.Slices {
		if s.Name == name {
			return true
		}
	}
	return false
}

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s is not gzip: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
