package flight

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/browsertest"
)

// fakeUI stands in for ui.perfetto.dev on another origin: it answers PING
// with PONG, as the UI does, and keeps what it is then sent in
// window.received, the trace as base64.
const fakeUI = `<!DOCTYPE html><html><body><script>
window.addEventListener("message", (e) => {
  if (e.data === "PING") { e.source.postMessage("PONG", "*"); return; }
  const p = e.data && e.data.perfetto;
  if (!p) return;
  const bytes = new Uint8Array(p.buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  window.received = {title: p.title, fileName: p.fileName, origin: e.origin, trace: btoa(bin)};
});
</script></body></html>`

// TestOpenInPerfetto clicks the index page's "Open in ui.perfetto.dev" in
// headless Chromium, with a stand-in for the UI on another origin: the
// page must open the UI, fetch the window from its own address and hand
// it over by postMessage once the UI answers PING, as Perfetto's UI takes
// a trace from a page whose address its Content-Security-Policy does not
// let it fetch from (any http://host:port of a program but two). What
// arrives must be a valid Perfetto trace of the window.
func TestOpenInPerfetto(t *testing.T) {
	rec := startBusy(t, WithServiceName("browser test"))

	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(fakeUI))
	}))
	defer ui.Close()
	rec.ui = ui.URL
	// Mounted under a prefix that the handler does not see.
	mux := http.NewServeMux()
	mux.Handle("/admin/trace/", http.StripPrefix("/admin/trace", rec.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	page := browsertest.Start(t, 2*time.Minute)

	if err := chromedp.Run(page, chromedp.Navigate(srv.URL+"/admin/trace/")); err != nil {
		t.Fatalf("loading the index page: %v", err)
	}
	// The link a browser without scripts, or with pop-ups blocked, follows.
	var href string
	if err := chromedp.Run(page, chromedp.Evaluate(`document.getElementById("open").href`, &href)); err != nil {
		t.Fatal(err)
	}
	if want := ui.URL + "/#!/?url=" + srv.URL + "/admin/trace/window.pftrace"; href != want {
		t.Errorf("the link is %s, want %s", href, want)
	}
	opened := chromedp.WaitNewTarget(page, func(info *target.Info) bool { return strings.HasPrefix(info.URL, ui.URL) })
	if err := chromedp.Run(page, chromedp.Click("#open", chromedp.ByID)); err != nil {
		t.Fatalf("clicking the link: %v", err)
	}
	var id target.ID
	select {
	case id = <-opened:
	case <-page.Done():
		t.Fatal("the UI's window did not open")
	}
	uiTab, cancelTab := chromedp.NewContext(page, chromedp.WithTargetID(id))
	defer cancelTab()
	var got struct {
		Title, FileName, Origin, Trace string
	}
	if err := chromedp.Run(uiTab, chromedp.Poll(`window.received`, &got, chromedp.WithPollingTimeout(time.Minute))); err != nil {
		var status string
		chromedp.Run(page, chromedp.Text("#status", &status, chromedp.ByID))
		t.Fatalf("the UI got no trace (the page says %q): %v", status, err)
	}
	if got.Title != "browser test (window)" || got.FileName != "window.pftrace" || got.Origin != srv.URL {
		t.Errorf("the UI got title %q, file name %q from %s; want %q, window.pftrace from %s", got.Title, got.FileName, got.Origin, "browser test (window)", srv.URL)
	}
	data, err := base64.StdEncoding.DecodeString(got.Trace)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := perfettocheck.Check(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the trace the UI got (%d bytes): %v", len(data), err)
	}
	jobs := 0
	for _, s := range rep.Slices {
		if s.Name == "job" {
			jobs++
		}
	}
	if jobs == 0 {
		t.Errorf("the trace the UI got (%d bytes) holds no job task", len(data))
	}
	var status string
	if err := chromedp.Run(page, chromedp.Text("#status", &status, chromedp.ByID)); err != nil || strings.TrimSpace(status) != "(sent to the UI)" {
		t.Errorf("the page says %q (%v), want (sent to the UI)", status, err)
	}
}
