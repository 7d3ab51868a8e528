package mapping_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// fileSink collects the files that stacks name.
type fileSink struct {
	mapping.NopSink
	files map[string]bool
}

func (s *fileSink) Stack(st *mapping.Stack) error {
	for _, f := range st.Frames {
		s.files[f.File] = true
	}
	return nil
}

// TestSamplesNameNoMachinePaths checks that the traces the repository
// ships name files in their stacks as -trimpath builds do, by module or
// import path, and not by where they were recorded.
func TestSamplesNameNoMachinePaths(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.trace"))
	more, _ := filepath.Glob(filepath.Join("..", "conformance", "testdata", "*.trace"))
	files = append(files, more...)
	if len(files) < 10 {
		t.Fatalf("only %d sample traces", len(files))
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s := &fileSink{files: map[string]bool{}}
		_, err = mapping.Map(f, s)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(s.files) == 0 {
			t.Errorf("%s: no stack names a file", path)
		}
		for name := range s.files {
			if filepath.IsAbs(name) || strings.Contains(name, `:\`) {
				t.Errorf("%s: a stack names %s", path, name)
			}
		}
	}
}
