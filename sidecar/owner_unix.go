//go:build unix

package sidecar

import (
	"io/fs"
	"strconv"
	"syscall"
)

// fileOwner returns "uid:gid" of a file, or "" if unknown.
func fileOwner(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(st.Uid), 10) + ":" + strconv.FormatUint(uint64(st.Gid), 10)
}
