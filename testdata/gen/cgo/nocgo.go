//go:build !cgo

// Command cgo needs cgo; this build without cgo only reports that.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cgo: this program must be built with CGO_ENABLED=1")
	os.Exit(1)
}
