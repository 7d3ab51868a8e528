// Package templock tells a temporary file that a program is using from
// one that a program which died (killed, out of memory) left behind:
// nothing else would remove it, and it is hidden and often large.
package templock
