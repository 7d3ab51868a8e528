// Command cgoreuse records an execution trace in which two threads
// created in C, one after the other, call into Go. The runtime gives each
// such thread an M from its list of extra Ms together with that M's
// goroutine, and takes both back when the thread exits, so the second
// thread's goroutine has the same ID as the first's: the trace shows one
// goroutine ID created and destroyed twice.
//
// Build with CGO_ENABLED=1. Usage (from the conformance directory;
// -trimpath keeps the machine's paths out of the stacks):
//
//	go run -trimpath ./testdata/gen/cgoreuse -o testdata/cgoreuse.go1.26.trace
package main

/*
#cgo LDFLAGS: -lpthread
#include <pthread.h>

extern void goCallback(void);

static void *threadMain(void *arg) {
	goCallback();
	return NULL;
}

static int callFromNewThread(void) {
	pthread_t t;
	if (pthread_create(&t, NULL, threadMain, NULL) != 0) {
		return -1;
	}
	return pthread_join(t, NULL);
}
*/
import "C"

import (
	"flag"
	"log"
	"os"
	"runtime/trace"
	"sync/atomic"
)

var calls atomic.Int64

//export goCallback
func goCallback() { calls.Add(1) }

func main() {
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
	for range 3 {
		if C.callFromNewThread() != 0 {
			log.Fatal("pthread_create failed")
		}
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	if calls.Load() != 3 {
		log.Fatalf("%d callbacks, want 3", calls.Load())
	}
}
