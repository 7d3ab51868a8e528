package flight

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/internal/synth"
)

// TestProcessNamedAsService: with no WithServiceName, the Perfetto files
// name the process as the spans name the service: after
// OTEL_SERVICE_NAME, else the service.name of OTEL_RESOURCE_ATTRIBUTES,
// else the program's file name.
func TestProcessNamedAsService(t *testing.T) {
	data, err := synth.RecordFunc(func() {})
	if err != nil {
		t.Fatal(err)
	}
	program := filepath.Base(os.Args[0])
	for _, tc := range []struct {
		name, env, attrs, want string
	}{
		{"service name", "from-env-name", "service.name=from-attrs", "from-env-name"},
		{"resource attributes", "", "team=x,service.name=from-attrs", "from-attrs"},
		{"neither", "", "", program},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", tc.env)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tc.attrs)
			r := newRecorder(newConfig(nil), &fakeSource{}, newFakeClock(), nil)
			defer r.Stop(context.Background())
			var out bytes.Buffer
			if err := r.writePerfetto(context.Background(), &out, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			rep, err := perfettocheck.Check(&out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tr := range rep.Tracks {
				if tr.Process != nil {
					names = append(names, tr.Process.GetProcessName())
				}
			}
			if len(names) != 1 || names[0] != tc.want {
				t.Errorf("the Perfetto file names the processes %q, want %q", names, tc.want)
			}
		})
	}
}
