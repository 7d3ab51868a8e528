//go:build unix && !linux

package main

import (
	"os"
	"testing"
	"time"
)

// waitPipeFull gives the command time to fill the pipe whose read end is
// r: only Linux tells how full a pipe is.
func waitPipeFull(t *testing.T, r *os.File) { time.Sleep(time.Second) }

// waitPipeDrained gives the command time to read what the pipe with end
// fd holds.
func waitPipeDrained(t *testing.T, fd uintptr) { time.Sleep(time.Second) }
