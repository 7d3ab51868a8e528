//go:build !unix

package templock

import "os"

// Lock does nothing where files have no advisory locks: a temporary file
// is taken as abandoned only by its age.
func Lock(*os.File) {}

// Abandoned cannot tell without locks: it reports false.
func Abandoned(string) bool { return false }
