// Command blocking records an execution trace in which goroutines block in
// many different ways: unbuffered channel send and receive, sync.Mutex
// contention, sync.WaitGroup, sync.Cond, select over several cases,
// time.Sleep, loopback TCP (network poller), file I/O system calls
// (write, fsync, read) and os/exec running a child process (the program
// itself with -child).
//
// Usage:
//
//	blocking -o FILE
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime/trace"
	"strings"
	"sync"
	"time"
)

func main() {
	out := flag.String("o", "", "write the execution trace to `file`")
	child := flag.Bool("child", false, "act as the child process started by os/exec and exit")
	flag.Parse()
	if *child {
		fmt.Println("child ok")
		return
	}
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
	ctx := context.Background()
	steps := []struct {
		name string
		fn   func()
	}{
		{"channels", channels},
		{"mutex", mutex},
		{"cond", cond},
		{"select", selects},
		{"sleep", sleeps},
		{"tcp", tcp},
		{"file", file},
		{"exec", execChild},
	}
	for _, s := range steps {
		trace.WithRegion(ctx, s.name, s.fn)
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// channels passes values through a pipeline of unbuffered channels.
func channels() {
	src := make(chan int)
	mid := make(chan int)
	done := make(chan int)
	go func() {
		for i := 0; i < 50; i++ {
			src <- i
		}
		close(src)
	}()
	go func() {
		for v := range src {
			mid <- v * v
		}
		close(mid)
	}()
	go func() {
		sum := 0
		for v := range mid {
			sum += v
		}
		done <- sum
	}()
	<-done
}

// mutex makes goroutines contend for a lock held while doing work, and
// waits for them with a sync.WaitGroup.
func mutex() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				mu.Lock()
				counter++
				spin(20 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// cond runs a bounded queue guarded by a sync.Cond.
func cond() {
	var mu sync.Mutex
	c := sync.NewCond(&mu)
	var queue []int
	closed := false
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(queue) == 0 && !closed {
					c.Wait()
				}
				if len(queue) == 0 {
					mu.Unlock()
					return
				}
				queue = queue[1:]
				mu.Unlock()
				spin(10 * time.Microsecond)
			}
		}()
	}
	for i := 0; i < 30; i++ {
		mu.Lock()
		queue = append(queue, i)
		mu.Unlock()
		c.Signal()
		if i%5 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	c.Broadcast()
	wg.Wait()
}

// selects blocks in a select over several channels and a timer.
func selects() {
	a := make(chan int)
	b := make(chan string)
	quit := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			time.Sleep(200 * time.Microsecond)
			if i%2 == 0 {
				a <- i
			} else {
				b <- fmt.Sprint(i)
			}
		}
		close(quit)
	}()
	timer := time.NewTimer(50 * time.Millisecond)
	defer timer.Stop()
	for {
		select {
		case <-a:
		case <-b:
		case <-timer.C:
			return
		case <-quit:
			return
		}
	}
}

// sleeps sleeps in several goroutines at once.
func sleeps() {
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func(d time.Duration) {
			defer wg.Done()
			time.Sleep(d)
		}(time.Duration(i) * time.Millisecond)
	}
	wg.Wait()
}

// tcp exchanges line-oriented messages with an echo server over loopback.
func tcp() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(conn, strings.ToUpper(line)); err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for i := 0; i < 20; i++ {
		if _, err := fmt.Fprintf(conn, "message %d\n", i); err != nil {
			log.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			log.Fatal(err)
		}
	}
}

// file writes, fsyncs and reads back a temporary file.
func file() {
	f, err := os.CreateTemp(os.TempDir(), "trace2x-blocking-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	block := make([]byte, 32<<10)
	for i := range block {
		block[i] = byte(i)
	}
	for i := 0; i < 8; i++ {
		if _, err := f.Write(block); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// execChild runs this program again as a child process.
func execChild() {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Command(self, "-child").Output()
	if err != nil {
		log.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "child ok" {
		log.Fatalf("unexpected child output %q", out)
	}
}

// spin busy-waits for d without blocking.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
