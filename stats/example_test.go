package stats_test

import (
	"log"
	"os"

	"github.com/trace2x/trace2x/mapping"
	"github.com/trace2x/trace2x/stats"
)

// Print the analysis trace2x stats prints.
func ExampleNewSink() {
	f, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s := stats.NewSink()
	_, err = mapping.Map(f, s)
	if r := s.Report(); r != nil { // nil if f is not a trace
		if werr := r.WriteText(os.Stdout); werr != nil {
			log.Fatal(werr)
		}
	}
	if err != nil {
		log.Fatal(err)
	}
}
