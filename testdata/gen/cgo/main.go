//go:build cgo

// Command cgo records an execution trace containing cgo calls: a plain C
// function, a C function that sleeps in usleep (shown as a blocking
// syscall-like call), calls made from a goroutine locked to its OS thread
// with runtime.LockOSThread, C calling back into Go on the calling thread,
// and C calling into Go from a thread created in C (a goroutine that starts
// life in a syscall).
//
// Build with CGO_ENABLED=1.
//
// Usage:
//
//	cgo -o FILE
package main

/*
#cgo LDFLAGS: -lpthread
#include <pthread.h>
#include <unistd.h>

extern void goCallback(int);

static int add(int a, int b) { return a + b; }

static void sleepMicros(unsigned int us) { usleep(us); }

static void callBack(int n) {
	for (int i = 0; i < n; i++) {
		goCallback(i);
	}
}

static void *threadMain(void *arg) {
	callBack((int)(long)arg);
	return NULL;
}

static int callBackFromNewThread(int n) {
	pthread_t t;
	if (pthread_create(&t, NULL, threadMain, (void *)(long)n) != 0) {
		return -1;
	}
	return pthread_join(t, NULL);
}
*/
import "C"

import (
	"context"
	"log"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"

	"github.com/trace2x/trace2x/testdata/gen/internal/tracemain"
)

var callbacks atomic.Int64

func main() { tracemain.Run(run) }

// run is the traced workload.
func run() {
	ctx, task := trace.NewTask(context.Background(), "cgo")
	trace.WithRegion(ctx, "add", func() {
		sum := C.int(0)
		for i := 0; i < 100; i++ {
			sum = C.add(sum, C.int(i))
		}
		trace.Logf(ctx, "cgo", "sum=%d", int(sum))
	})

	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trace.WithRegion(ctx, "usleep", func() {
				for j := 0; j < 5; j++ {
					C.sleepMicros(2000)
				}
			})
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		trace.WithRegion(ctx, "locked-thread", func() {
			C.sleepMicros(1000)
			C.callBack(10)
			C.sleepMicros(1000)
		})
	}()
	wg.Wait()

	trace.WithRegion(ctx, "callback-from-c-thread", func() {
		if C.callBackFromNewThread(5) != 0 {
			log.Fatal("pthread_create failed")
		}
	})
	trace.Logf(ctx, "cgo", "callbacks=%d", callbacks.Load())
	task.End()
}
