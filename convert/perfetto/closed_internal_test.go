package perfetto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

// TestMapAfterCloseHandedOver maps a trace into a closed Writer whose
// packets went to the orderer's goroutine in chunks (small chunks here, as
// a large trace makes at the default size): the second pass must fail
// with ErrClosed, not hand a chunk to the orderer that Close stopped.
func TestMapAfterCloseHandedOver(t *testing.T) {
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 4 << 10
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "allocfree.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if _, err := mapping.Map(bytes.NewReader(data), w); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if _, err := mapping.Map(bytes.NewReader(data), w); !errors.Is(err, ErrClosed) {
		t.Errorf("mapping after Close returned %v, want ErrClosed", err)
	}
	if buf.Len() != n {
		t.Errorf("mapping after Close wrote %d more bytes", buf.Len()-n)
	}
}
