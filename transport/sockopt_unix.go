//go:build unix

package transport

import (
	"syscall"
)

// reuseAddrControl sets SO_REUSEADDR before bind so a restarted server can
// bind its port while old connections sit in TIME_WAIT.
func reuseAddrControl(on bool) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		if network == "unix" || network == "unixgram" || network == "unixpacket" {
			return nil
		}
		v := 0
		if on {
			v = 1
		}
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, v)
		}); err != nil {
			return err
		}
		return serr
	}
}
