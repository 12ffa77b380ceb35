//go:build !unix

package transport

import "syscall"

// reuseAddrControl does nothing where SO_REUSEADDR means something else
// (on Windows it allows stealing a bound port, so podwire never sets it).
func reuseAddrControl(bool) func(network, address string, c syscall.RawConn) error {
	return nil
}
