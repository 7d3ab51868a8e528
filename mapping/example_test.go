package mapping_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/trace2x/trace2x/mapping"
)

// Map a trace into the counting sink and print what it holds.
func ExampleMap() {
	f, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var tally mapping.Tally
	sum, err := mapping.Map(f, &tally, mapping.WithInputName("trace.out"))
	if err != nil {
		log.Fatal(err) // sum, if not nil, holds what came before the break
	}
	fmt.Printf("%s: %d events, %d goroutines, %d tasks\n", sum.FormatVersion, sum.Events, tally.Goroutines, tally.Tasks)
}

// A file is read at any offset: MapWindow reads only the generations a
// window needs, and a Filter cuts the model to the window.
func ExampleMapWindow() {
	f, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	from := mapping.Bound{Offset: 2 * time.Second, Set: true}
	to := mapping.Bound{Offset: 3 * time.Second, Set: true}
	filter := &mapping.Filter{From: from, To: to}
	var tally mapping.Tally
	if _, err := mapping.MapWindow(f, st.Size(), from, to, filter.Sink(&tally)); err != nil {
		log.Fatal(err)
	}
	fmt.Println(tally.ProcRuns, "P runs in the window")
}

// A pass stops when its context is done.
func ExampleWithContext() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := os.Open("trace.out")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	_, err = mapping.Map(f, mapping.NopSink{}, mapping.WithContext(ctx))
	if ctx.Err() != nil {
		fmt.Println("gave up:", err) // errors.Is(err, context.DeadlineExceeded)
	}
}
