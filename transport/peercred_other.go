//go:build !linux

package transport

import (
	"errors"
	"net"
)

// peerCred degrades gracefully where SO_PEERCRED does not exist: identity
// fields stay -1 and the empty allow-list (same uid) denies Unix peers.
func peerCred(net.Conn) (ucred, error) { return unknownCred, nil }

// abstractAddr fails: abstract sockets exist only on Linux.
func abstractAddr(name string) (string, error) {
	return "", errors.New("podwire/transport: unix-abstract:" + name + ": abstract sockets exist only on Linux; use unix:///path.sock")
}
