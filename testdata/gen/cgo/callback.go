//go:build cgo

package main

import "C"

import "time"

//export goCallback
func goCallback(i C.int) {
	callbacks.Add(1)
	if i%2 == 0 {
		time.Sleep(100 * time.Microsecond)
	}
}
