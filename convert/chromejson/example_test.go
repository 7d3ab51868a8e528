package chromejson_test

import (
	"fmt"
	"io"
	"log"
	"os"

	"github.com/trace2x/trace2x/convert/chromejson"
	"github.com/trace2x/trace2x/mapping"
)

// Convert a trace to Chrome JSON in parts of about 100 MB that each load
// alone in the catapult viewer.
func ExampleNewSplitWriter() {
	in, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	w := chromejson.NewSplitWriter(100<<20, func(part int) (io.WriteCloser, error) {
		return os.Create(fmt.Sprintf("trace.%d.json", part))
	})
	_, err = mapping.Map(in, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Parts(), "parts")
}
