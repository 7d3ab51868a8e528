// Command latesample records an execution trace that holds a CPU sample
// of a goroutine written after the goroutine ended. The runtime writes CPU
// samples some time after it takes them, so a sample taken as a short
// goroutine ends can come after its end in the trace. That depends on
// timing: the program records short traces of many short goroutines
// spinning under a fast CPU profile until one holds such a sample, and
// writes that one.
//
// Usage (from the conformance directory; -trimpath keeps the machine's
// paths out of the stacks):
//
//	go run -trimpath ./testdata/gen/latesample -o testdata/latesample.go1.26.trace
package main

import (
	"bytes"
	"flag"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	xtrace "golang.org/x/exp/trace"
)

func main() {
	out := flag.String("o", "", "write the execution trace to `file`")
	tries := flag.Int("tries", 50, "give up after `n` recordings")
	flag.Parse()
	if *out == "" {
		log.Fatal("-o is required")
	}
	for i := range *tries {
		data := record()
		if n := lateSamples(data); n > 0 {
			if err := os.WriteFile(*out, data, 0o644); err != nil {
				log.Fatal(err)
			}
			log.Printf("recording %d: %d bytes, %d samples after their goroutine ended", i+1, len(data), n)
			return
		}
	}
	log.Fatalf("no recording of %d held a sample after its goroutine ended", *tries)
}

var sink uint64

// record traces 150 ms of goroutines that each spin for about 50 µs, with
// CPU samples taken at 2 kHz. (The runtime says it cannot set the rate
// when StartCPUProfile sets its own after this: the rate set first stays.)
func record() []byte {
	runtime.SetCPUProfileRate(2000)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	for end := time.Now().Add(150 * time.Millisecond); time.Now().Before(end); {
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := spin(50 * time.Microsecond)
				mu.Lock()
				sink += v
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	trace.Stop()
	pprof.StopCPUProfile()
	return buf.Bytes()
}

func spin(d time.Duration) uint64 {
	var x uint64 = 1
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// lateSamples counts the CPU samples in data of a goroutine that had
// ended.
func lateSamples(data []byte) int {
	r, err := xtrace.NewReader(bytes.NewReader(data))
	if err != nil {
		log.Fatal(err)
	}
	ended := make(map[xtrace.GoID]bool)
	n := 0
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return n
		}
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Kind() {
		case xtrace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != xtrace.ResourceGoroutine {
				continue
			}
			id := st.Resource.Goroutine()
			if _, to := st.Goroutine(); to == xtrace.GoNotExist {
				ended[id] = true
			} else {
				delete(ended, id)
			}
		case xtrace.EventStackSample:
			if ended[ev.Goroutine()] {
				n++
			}
		}
	}
}
