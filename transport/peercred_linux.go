//go:build linux

package transport

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerCred reads SO_PEERCRED of a Unix socket: the uid, gid and pid of the
// process on the other end at connect time.
func peerCred(c net.Conn) (ucred, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return unknownCred, fmt.Errorf("podwire/transport: peer credentials: %T has no file descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return unknownCred, fmt.Errorf("podwire/transport: peer credentials: %w", err)
	}
	var uc *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unknownCred, fmt.Errorf("podwire/transport: peer credentials: %w", err)
	}
	if serr != nil {
		return unknownCred, fmt.Errorf("podwire/transport: getsockopt SO_PEERCRED: %w", serr)
	}
	return ucred{uid: int(uc.Uid), gid: int(uc.Gid), pid: int(uc.Pid)}, nil
}

// abstractAddr returns the Go address of a Linux abstract socket.
func abstractAddr(name string) (string, error) { return "@" + name, nil }
