//go:build !unix

package sidecar

import "io/fs"

// fileOwner returns "": this platform has no uid/gid on files.
func fileOwner(fs.FileInfo) string { return "" }
