// Package browsertest starts headless Chromium for the tests that load the
// project's output in a real browser: the Chrome JSON in Go's trace viewer,
// and the flight recorder's page handing a trace to the Perfetto UI.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a Chromium or Chrome binary. Without one
// the test is skipped, except in CI (CI set), where the project's script
// installs Debian's chromium and a missing browser is a failure.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		tb.Skip("no chromium binary found: install one (scripts/install-chromium.sh) to run the browser test")
	}
	tb.Fatal("CI is set but no chromium binary is found: scripts/install-chromium.sh installs it")
	return ""
}

// Start starts headless Chromium (skipping tb where there is none, see
// Chromium) with a profile of its own, and returns a context of its first
// tab, valid for timeout. Everything is stopped and removed when tb ends.
func Start(tb testing.TB, timeout time.Duration) context.Context {
	tb.Helper()
	chromium := Chromium(tb)
	// Chromium's helpers can still write to its profile just after it
	// exits, which t.TempDir's cleanup would report.
	profile, err := os.MkdirTemp("", "trace2x-chromium-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		// Without network, Chromium's own background requests hang.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	// Cleanups run last first: the profile is removed after the browser
	// has stopped.
	tb.Cleanup(cancel)
	tb.Cleanup(cancelAlloc)
	tb.Cleanup(cancelBrowser)
	return bctx
}
