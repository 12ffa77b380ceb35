//go:build !unix

package transport

import "io/fs"

// fileGID is unknown where files have no Unix group.
func fileGID(fs.FileInfo) (int, bool) { return 0, false }
