//go:build !linux

package rawio

import "net"

// Enabled reports whether Wrap changes conns on this platform.
const Enabled = false

// Wrap returns c: raw socket I/O is only built for Linux.
func Wrap(c net.Conn) net.Conn { return c }
