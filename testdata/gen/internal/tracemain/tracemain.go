// Package tracemain is the main function most generators share: it takes
// -o FILE, traces run into that file, and exits on any error.
package tracemain

import (
	"flag"
	"log"
	"os"
	"runtime/trace"
)

// Run parses the flags (a generator may define more first), traces run
// into the file named by -o, and exits with a message if anything fails.
func Run(run func()) {
	out := flag.String("o", "", "write the execution trace to `file`")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}
	run()
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
