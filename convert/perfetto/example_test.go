package perfetto_test

import (
	"log"
	"os"

	"github.com/trace2x/trace2x/convert/perfetto"
	"github.com/trace2x/trace2x/mapping"
)

// Convert a trace to a Perfetto file, encoding beside the mapping, with
// counters thinned as the command thins them.
func ExampleNewWriter() {
	in, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create("trace.pftrace")
	if err != nil {
		log.Fatal(err)
	}
	w := perfetto.NewWriter(out)
	_, err = mapping.Map(in, mapping.Async(mapping.ThinCounters(w, mapping.DefaultCounterResolution)))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Fatal(err) // a trace that broke off is still a valid file, up to the break
	}
}
