//go:build !unix

package flight

import "os"

// lockTemp does nothing where files have no advisory locks: a temporary
// file is taken as abandoned only by its age (see removeStaleTemps).
func lockTemp(*os.File) {}

// abandoned cannot tell without locks.
func abandoned(string) bool { return false }
