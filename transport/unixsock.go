package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
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

// unixSocket is a bound, listening service socket that removes its file on
// close only if the file is still the one it created.
type unixSocket struct {
	ln   *net.UnixListener
	path string
	info os.FileInfo // the socket file as created, to avoid removing a successor's
}

// listenUnix runs the socket lifecycle: create the dir 0750, refuse a live
// socket, remove a stale one, bind, chmod 0660 and chgrp.
func listenUnix(ctx context.Context, path, group string, cfg Config, log *slog.Logger) (*unixSocket, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, err
	}
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := clearStale(ctx, path, cfg, log); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &AddrInUseError{Path: path}
		}
		return nil, fmt.Errorf("podwire/transport: listen on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	s := &unixSocket{ln: ul, path: path}
	if err := s.setMode(group); err != nil {
		ul.Close()
		os.Remove(path)
		return nil, err
	}
	if s.info, err = os.Lstat(path); err != nil {
		ul.Close()
		return nil, fmt.Errorf("podwire/transport: stat %s after bind: %w", path, err)
	}
	return s, nil
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
func clearStale(ctx context.Context, path string, cfg Config, log *slog.Logger) error {
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
	switch err := probeUnix(ctx, path, cfg); {
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

// probeUnix connects to path and closes at once; nil means something accepts.
func probeUnix(ctx context.Context, path string, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return c.Close()
}

// setMode makes the socket 0660 and, if group is set, owned by that group.
func (s *unixSocket) setMode(group string) error {
	if err := os.Chmod(s.path, 0o660); err != nil {
		return fmt.Errorf("podwire/transport: chmod 0660 %s: %w", s.path, err)
	}
	if group == "" {
		return nil
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return err
	}
	if err := os.Lchown(s.path, -1, gid); err != nil {
		return fmt.Errorf("podwire/transport: chgrp %s %s: %w (the server must be a member of the group)", group, s.path, err)
	}
	return nil
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

// close stops listening and removes the socket file if it is still ours.
func (s *unixSocket) close() error {
	err := s.ln.Close()
	if fi, serr := os.Lstat(s.path); serr == nil && os.SameFile(fi, s.info) {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}
