//go:build unix

package transport

import (
	"io/fs"
	"syscall"
)

// fileGID returns the group owning a file.
func fileGID(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Gid), true
}
