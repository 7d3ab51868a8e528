// Package doclint holds a test that every exported function, method and
// type of the library's packages has a doc comment, as go doc shows
// them to users.
package doclint
