package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The transport package keeps its socket lifecycle unexported, so the
// sidecar carries this small version of the same rules (DESIGN.md, "Unix
// socket lifecycle"): directory 0750, socket 0660, a live socket is never
// stolen, a stale one is removed, and the file goes away on Close.

const (
	socketDirMode  fs.FileMode = 0o750
	socketFileMode fs.FileMode = 0o660
	probeTimeout               = time.Second
)

// listenUnix listens on path following the rules above; group, when not
// empty, is the numeric gid given to the socket.
func listenUnix(ctx context.Context, path, group string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), socketDirMode); err != nil {
		return nil, fmt.Errorf("create socket dir: %w (make it writable by the sidecar's user, or use an emptyDir)", err)
	}
	if err := removeStale(ctx, path); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (the path must fit the platform limit of about 104-108 bytes)", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	if err := os.Chmod(path, socketFileMode); err != nil {
		ul.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	if group != "" {
		gid, _ := strconv.Atoi(group) // Validate checked it is numeric
		if err := os.Chown(path, -1, gid); err != nil {
			ul.Close()
			return nil, fmt.Errorf("chown %s to group %s: %w (the sidecar must be a member of the group)", path, group, err)
		}
	}
	return ul, nil
}

// removeStale removes path if it is a socket nobody accepts on, and fails
// with *SocketInUseError if somebody does.
func removeStale(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; remove it or change socket_dir", path)
	}
	if probeLive(ctx, path) {
		return &SocketInUseError{Path: path}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// probeLive reports whether something accepts connections on path.
func probeLive(ctx context.Context, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
