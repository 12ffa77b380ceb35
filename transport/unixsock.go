package transport

import (
	"context"
	"errors"
	"fmt"
	"github.com/podwire/podwire/internal/rawio"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ucred is the identity of the process on the other end of a Unix socket.
type ucred struct{ uid, gid, pid int }

// unknownCred is reported where SO_PEERCRED is not available.
var unknownCred = ucred{uid: -1, gid: -1, pid: -1}

// socketPath returns <dir>/<service>.sock.
func socketPath(dir, service string) string {
	return filepath.Join(dir, service+".sock")
}

// checkSocketPath fails when path does not fit in sockaddr_un.
func checkSocketPath(path string) error {
	if len(path) >= sunPathLimit {
		return &PathTooLongError{Path: path, Limit: sunPathLimit}
	}
	return nil
}

// UnixSocketOptions configures ListenUnix. The zero value is valid.
type UnixSocketOptions struct {
	// Group optionally owns the 0660 socket: a group name or a numeric gid.
	// Empty keeps the process's group. A socket dir writable by this group
	// (and no one else) is trusted.
	Group string
	// ProbeTimeout bounds the connect that tells a live socket at the path
	// from a stale one. Zero means 1s.
	ProbeTimeout time.Duration
	// AllowSharedDir accepts a socket dir that other users can write or
	// that another uid owns, for a dir shared on purpose (a Kubernetes
	// emptyDir, created 0777, private to its pod). Default false: such a
	// dir is refused with a *SocketDirError (see sockdir.go for the rules).
	AllowSharedDir bool
	// Logger receives the "removing stale socket" line; nil discards.
	Logger *slog.Logger
}

// UnixListener is a listening Unix socket made by ListenUnix. Close stops
// listening and removes the socket file, but only while the file is still
// the one this listener created (a successor's socket is left alone). It
// is a net.Listener, safe for concurrent use.
type UnixListener struct {
	ln   *net.UnixListener
	path string
	info os.FileInfo // the socket file as created, to avoid removing a successor's
	lock *socketLock // held for the listener's life; serialises Listen on path
	keep atomic.Bool // SetUnlinkOnClose(false): Close leaves the file

	closeOnce sync.Once
	closeErr  error
}

// ListenUnix listens on the Unix socket path following podwire's socket
// lifecycle: the path must fit sockaddr_un (108 bytes on Linux, else a
// *PathTooLongError); the directory is created with mode 0750 if missing
// and, unless opts.AllowSharedDir, refused with a *SocketDirError when
// another user could write it; the lock file .<name>.lock beside the
// socket is taken for the listener's life, so a concurrent ListenUnix on
// the same path fails with a *SocketLockedError; a live socket at path is
// never stolen (*AddrInUseError; both match ErrAddrInUse); a stale one is
// removed; the new socket is 0660 and, with opts.Group, owned by that group
// from the moment its name exists (no link is followed; see sockdir.go).
// ctx bounds the probe and the bind. Listen uses it for
// <socket dir>/<service>.sock; the sidecar for its upstream and admin
// sockets.
func ListenUnix(ctx context.Context, path string, opts UnixSocketOptions) (*UnixListener, error) {
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultConfig().ProbeTimeout
	}
	if err := checkSocketPath(path); err != nil {
		return nil, err
	}
	gid := -1
	if opts.Group != "" {
		var err error
		if gid, err = lookupGroup(opts.Group); err != nil {
			return nil, err
		}
	}
	dir := filepath.Dir(path)
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	if !opts.AllowSharedDir {
		if err := checkSocketDir(dir, gid); err != nil {
			return nil, err
		}
	}
	lock, err := lockSocket(path)
	if err != nil {
		return nil, err
	}
	s, err := listenLocked(ctx, path, gid, opts)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// listenLocked clears a stale socket at path and binds a new one; the
// caller holds path's lock.
func listenLocked(ctx context.Context, path string, gid int, opts UnixSocketOptions) (*UnixListener, error) {
	if err := clearStale(ctx, path, opts.ProbeTimeout, loggerOr(opts.Logger)); err != nil {
		return nil, err
	}
	ul, fi, err := bindSocket(ctx, path, gid)
	if err != nil {
		return nil, err
	}
	return &UnixListener{ln: ul, path: path, info: fi}, nil
}

// Accept waits for the next connection; after Close it returns an error
// wrapping net.ErrClosed.
// The conn reads and writes with raw syscalls (package internal/rawio).
func (s *UnixListener) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return rawio.Wrap(c), nil
}

// Addr returns the socket's address (its path; the socket was bound under
// a private name and linked there).
func (s *UnixListener) Addr() net.Addr { return &net.UnixAddr{Name: s.path, Net: "unix"} }

// Path returns the socket file's path.
func (s *UnixListener) Path() string { return s.path }

// Close stops listening and removes the socket file if it is still the one
// ListenUnix created. Safe to call more than once; later calls return the
// first result.
func (s *UnixListener) Close() error {
	s.closeOnce.Do(func() {
		err := ignoreClosed(s.ln.Close())
		if fi, serr := os.Lstat(s.path); serr == nil && !s.keep.Load() && os.SameFile(fi, s.info) {
			if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
				err = rerr
			}
		}
		if uerr := s.lock.unlock(); uerr != nil && err == nil {
			err = uerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

// SetUnlinkOnClose sets whether Close removes the socket file (default
// true). A process that hands the socket to a successor (the sidecar's
// restart) sets false, so the path keeps working while the successor
// accepts on the same socket.
func (s *UnixListener) SetUnlinkOnClose(unlink bool) { s.keep.Store(!unlink) }

// File returns a duplicate of the listening socket's descriptor, for
// passing to another process; closing it does not affect s.
func (s *UnixListener) File() (*os.File, error) { return s.ln.File() }

// UnixListenerFromFile adopts a listening Unix socket inherited from
// another process (f is duplicated; the caller still closes it) that is
// linked at path. It takes no lock file (the predecessor held it). Close
// removes the file like a ListenUnix listener's unless
// SetUnlinkOnClose(false).
func UnixListenerFromFile(f *os.File, path string) (*UnixListener, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("podwire/transport: adopt inherited socket %s: %w", path, err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("podwire/transport: inherited socket for %s is %s %q, not a Unix socket", path, ln.Addr().Network(), ln.Addr().String())
	}
	ul.SetUnlinkOnClose(false)
	s := &UnixListener{ln: ul, path: path}
	if s.info, err = os.Lstat(path); err != nil {
		ul.Close()
		return nil, fmt.Errorf("podwire/transport: stat inherited socket %s: %w (was it removed?)", path, err)
	}
	return s, nil
}

// ProbeUnix connects to the Unix socket path and closes the connection at
// once: nil means a server accepts there. An error wrapping
// syscall.ECONNREFUSED or fs.ErrNotExist means the socket is stale or
// missing. ctx bounds the connect.
func ProbeUnix(ctx context.Context, path string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return c.Close()
}

// ensureDir creates dir with mode 0750 when it does not exist; an existing
// dir keeps its mode.
func ensureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("podwire/transport: create socket dir %s: %w (create it or set PODWIRE_SOCKET_DIR)", dir, err)
	}
	// MkdirAll applies the umask; make the mode exactly 0750.
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("podwire/transport: chmod socket dir %s: %w", dir, err)
	}
	return nil
}

// clearStale probes an existing file at path: a live socket is an error, a
// stale socket is removed, anything else is refused.
func clearStale(ctx context.Context, path string, probeTimeout time.Duration, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("podwire/transport: stat %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("podwire/transport: %s exists and is not a socket; remove it or pick another socket dir", path)
	}
	switch err := probeUnix(ctx, path, probeTimeout); {
	case err == nil:
		return &AddrInUseError{Path: path}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, fs.ErrNotExist):
		log.Info("podwire: removing stale socket", "path", path)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("podwire/transport: remove stale socket %s: %w", path, err)
		}
		return nil
	default:
		return fmt.Errorf("podwire/transport: probe %s: %w (cannot tell whether a server is running; check permissions)", path, err)
	}
}

// probeUnix is ProbeUnix bounded by timeout.
func probeUnix(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return ProbeUnix(ctx, path)
}

// lookupGroup resolves a group name or numeric gid.
func lookupGroup(group string) (int, error) {
	if gid, err := strconv.Atoi(group); err == nil {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("podwire/transport: SocketGroup %q: %w (use an existing group name or a numeric gid)", group, err)
	}
	return strconv.Atoi(g.Gid)
}
