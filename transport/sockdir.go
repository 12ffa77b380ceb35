package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Who may write the socket dir.
//
// A Unix socket is found by its name, so whoever can create or remove names
// in the socket dir can put their own server where clients look for ours:
// remove inventory.sock and bind another, and a caller hands its requests to
// an impostor. ListenUnix therefore trusts a socket dir only if no other
// user can write it. A dir is trusted when
//
//   - it is owned by this process's effective uid or by root (root can do
//     anything to us anyway), and
//   - it is not writable by others, and
//   - it is not writable by its group, unless that group is the socket group
//     the caller configured (UnixSocketOptions.Group): its members are the
//     ones meant to share the dir.
//
// Every ancestor (after resolving symbolic links) must be owned by us or
// root and not writable by others unless it has the sticky bit (/tmp):
// whoever can rename the socket dir can replace it. An untrusted dir is
// refused with a *SocketDirError that names the fix. A dir that is shared on
// purpose (a Kubernetes emptyDir is created 0777 and is private to its pod)
// is accepted with UnixSocketOptions.AllowSharedDir,
// ListenConfig.AllowSharedSocketDir, the sidecar's allow_shared_socket_dir
// or PODWIRE_ALLOW_SHARED_SOCKET_DIR=true.
//
// The socket file's mode is set without following links: the socket is
// bound in a fresh 0700 directory inside the socket dir, which no other
// user can enter, made 0660 (and given its group) there, and then hard-linked
// to its final name with link(2), which never replaces an existing name and
// never follows a link; an lstat of the final name then checks that it is
// that socket with that mode. No process-wide umask is changed.
//
// Listening on one path is serialised by a lock file beside the socket,
// .<name>.sock.lock, held with flock(LOCK_EX|LOCK_NB) for the listener's
// life and released by Close or by the process's death; a second listener
// on the path fails with a *SocketLockedError (matching ErrAddrInUse) naming
// the pid that holds it, and never touches the socket. The lock file itself
// is left in place (removing it would let two processes lock two different
// files of the same name).

// AllowSharedSocketDirEnv, when "true" or "1", accepts a socket dir that
// other users can write (see ListenConfig.AllowSharedSocketDir).
const AllowSharedSocketDirEnv = "PODWIRE_ALLOW_SHARED_SOCKET_DIR"

// envAllowSharedDir reports whether AllowSharedSocketDirEnv is set to true.
func envAllowSharedDir() bool {
	v, _ := strconv.ParseBool(os.Getenv(AllowSharedSocketDirEnv))
	return v
}

// SocketDirError refuses a socket dir that another user could write, or a
// dir the socket cannot safely be created in. It matches ErrUntrustedDir.
type SocketDirError struct {
	Dir    string // the directory at fault (the socket dir or an ancestor)
	Reason string // e.g. "is writable by others (mode 0777)"
	Fix    string // e.g. "chmod 0750 /run/podwire"
}

// Error says what is wrong with the dir and how to fix it.
func (e *SocketDirError) Error() string {
	return fmt.Sprintf("podwire/transport: socket dir %s %s, so another user could replace the socket: %s, "+
		"or, if every user who can write it is trusted, set AllowSharedSocketDir "+
		"(sidecar: allow_shared_socket_dir: true; env %s=true)", e.Dir, e.Reason, e.Fix, AllowSharedSocketDirEnv)
}

// Unwrap returns ErrUntrustedDir.
func (e *SocketDirError) Unwrap() error { return ErrUntrustedDir }

// ErrUntrustedDir means a socket dir other users can write was refused.
var ErrUntrustedDir = errors.New("podwire/transport: untrusted socket dir")

// SocketLockedError means another listener holds the lock of a socket path:
// it is serving there or setting up. It matches ErrAddrInUse.
type SocketLockedError struct {
	Path     string // the socket path
	LockPath string // the lock file beside it
	PID      int    // the pid written by the holder; 0 if unknown
}

// Error names the holder and what to do.
func (e *SocketLockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("podwire/transport: %s: address in use by a running server (%s holds %s); "+
		"stop the other server or pick another service name or socket dir", e.Path, who, e.LockPath)
}

// Unwrap returns ErrAddrInUse.
func (e *SocketLockedError) Unwrap() error { return ErrAddrInUse }

// dirStat is what judgeDir needs to know about one directory.
type dirStat struct {
	path       string
	mode       fs.FileMode
	uid, gid   int
	socketDir  bool // the socket dir itself, not an ancestor
	me, sockGr int  // our effective uid; the configured socket gid or -1
}

// judgeDir applies the trust rules above to one directory; nil means
// trusted.
func judgeDir(d dirStat) error {
	perm := d.mode.Perm()
	if d.uid != d.me && d.uid != 0 {
		return &SocketDirError{Dir: d.path, Reason: fmt.Sprintf("is owned by uid %d, not this process's uid %d or root", d.uid, d.me),
			Fix: fmt.Sprintf("chown %d %s", d.me, d.path)}
	}
	if !d.socketDir {
		if perm&0o002 != 0 && d.mode&fs.ModeSticky == 0 {
			return &SocketDirError{Dir: d.path, Reason: fmt.Sprintf("is under a directory writable by others without the sticky bit (mode %#o)", perm),
				Fix: fmt.Sprintf("chmod o-w %s", d.path)}
		}
		return nil
	}
	var bad []string
	if perm&0o002 != 0 {
		bad = append(bad, "others")
	}
	if perm&0o020 != 0 && d.sockGr != anyGroup && (d.sockGr < 0 || d.gid != d.sockGr) {
		bad = append(bad, fmt.Sprintf("group %d", d.gid))
	}
	if len(bad) == 0 {
		return nil
	}
	fix := fmt.Sprintf("chmod 0750 %s", d.path)
	if d.sockGr >= 0 {
		fix = fmt.Sprintf("chgrp %d %s && chmod 0770 %s", d.sockGr, d.path, d.path)
	}
	return &SocketDirError{Dir: d.path, Reason: fmt.Sprintf("is writable by %s (mode %#o)", strings.Join(bad, " and "), perm), Fix: fix}
}

// anyGroup, as the socket gid of checkSocketDir, accepts a dir writable by
// its group: a dialer does not know the server's socket group, and the
// server already refused a dir writable by a group other than its own.
const anyGroup = -2

// dialNamedUnix dials <socket dir>/<name>.sock, found by a bare service
// name, and checks who serves it. The socket is used when its server
// (SO_PEERCRED, read from the connection itself, so no later swap of the
// file matters) runs as this process's uid or root, or when the socket dir
// is trusted (no user outside the dir's owner, root and its group could
// have put a socket there; see sockdir.go). Otherwise anyone who can write
// the dir could be answering, and the dial fails with an error that names
// the server's uid and how to fix the dir. An explicit unix:///path target
// is not checked: naming the path is the caller's decision. The server's
// allow-list protects servers from callers, not callers from impostors,
// so this check is the caller's side of the same trust.
func (c *dialConfig) dialNamedUnix(ctx context.Context, path string) (net.Conn, error) {
	conn, err := c.dialUnix(ctx, path)
	if err != nil {
		return nil, err
	}
	p := conn.(*clientConn).ai.Peer // SO_PEERCRED, read at dial
	if err := checkServerOwner(path, ucred{uid: p.UID, gid: p.GID, pid: p.PID}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// checkServerOwner applies dialNamedUnix's rule to the server's credentials.
func checkServerOwner(path string, cred ucred) error {
	if me := os.Geteuid(); cred.uid >= 0 && (cred.uid == me || cred.uid == 0) {
		return nil
	}
	err := checkSocketDir(filepath.Dir(path), anyGroup)
	if err == nil {
		return nil
	}
	who := "an unknown uid"
	if cred.uid >= 0 {
		who = "uid " + strconv.Itoa(cred.uid)
	}
	var de *SocketDirError
	if !errors.As(err, &de) {
		return fmt.Errorf("podwire/transport: refusing %s: its server runs as %s and the socket dir cannot be checked: %w", path, who, err)
	}
	return fmt.Errorf("podwire/transport: refusing %s: its server runs as %s, not this process's uid %d or root, "+
		"and socket dir %s %s, so anyone able to write it could have put the socket there "+
		"(%s; or run the server as uid %d; or dial unix://%s to trust that server explicitly): %w",
		path, who, os.Geteuid(), de.Dir, de.Reason, de.Fix, os.Geteuid(), path, ErrUntrustedDir)
}
