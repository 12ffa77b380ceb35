//go:build unix

package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSocketDir refuses dir when another user could write it or any of
// its ancestors (see sockdir.go); gid is the configured socket group or -1.
func checkSocketDir(dir string, gid int) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("podwire/transport: resolve socket dir %s: %w", dir, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return fmt.Errorf("podwire/transport: resolve socket dir %s: %w", dir, err)
	}
	me := os.Geteuid()
	for d, leaf := real, true; ; d, leaf = filepath.Dir(d), false {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("podwire/transport: stat socket dir %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil // no owner information on this platform
		}
		shown := d
		if leaf {
			shown = dir
		}
		if err := judgeDir(dirStat{path: shown, mode: fi.Mode(), uid: int(st.Uid), gid: int(st.Gid),
			socketDir: leaf, me: me, sockGr: gid}); err != nil {
			return err
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// tmpDirPrefix starts the name of the private directory a socket is bound
// in before it is linked to its final name.
const tmpDirPrefix = ".pw"

// bindSocket binds a Unix socket at path whose mode is 0660 (and whose group
// is gid, unless -1) from the moment the name exists, without following a
// link planted at any step: it binds in a fresh 0700 directory inside the
// socket dir, sets the mode there, links the socket to path (link(2) fails
// if path exists) and checks the result with lstat. On error nothing is
// left at path.
func bindSocket(ctx context.Context, path string, gid int) (*net.UnixListener, os.FileInfo, error) {
	priv, err := mkPrivateDir(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(priv)
	tmp := filepath.Join(priv, "s")
	if len(tmp) >= sunPathLimit {
		// The bind name is up to 4 bytes longer than path for service names
		// of one to four letters; report the limit that applies to path.
		return nil, nil, &PathTooLongError{Path: path, Limit: sunPathLimit - (len(tmp) - len(path))}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/transport: listen on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fi, err := placeSocket(tmp, path, gid)
	if err != nil {
		ul.Close()
		return nil, nil, err
	}
	return ul, fi, nil
}

// placeSocket sets the mode and group of the socket at tmp (in our private
// directory, so chmod cannot be redirected), links it to path and verifies
// path with lstat.
func placeSocket(tmp, path string, gid int) (os.FileInfo, error) {
	if err := os.Chmod(tmp, 0o660); err != nil {
		return nil, fmt.Errorf("podwire/transport: chmod 0660 %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Lchown(tmp, -1, gid); err != nil {
			return nil, fmt.Errorf("podwire/transport: chgrp %d %s: %w (the server must be a member of the group)", gid, path, err)
		}
	}
	want, err := os.Lstat(tmp)
	if err != nil {
		return nil, fmt.Errorf("podwire/transport: stat new socket for %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, &AddrInUseError{Path: path}
		}
		return nil, fmt.Errorf("podwire/transport: link the new socket to %s: %w", path, err)
	}
	got, err := os.Lstat(path)
	if err != nil || !os.SameFile(got, want) || got.Mode().Type() != fs.ModeSocket || got.Mode().Perm() != 0o660 {
		// Not ours (someone replaced it at once): leave it alone.
		return nil, fmt.Errorf("podwire/transport: %s changed right after it was created (lstat: %v, %v); "+
			"another process is writing the socket dir", path, got, err)
	}
	return got, nil
}

// mkPrivateDir creates a fresh directory only this uid can enter inside
// dir, under a random name.
func mkPrivateDir(dir string) (string, error) {
	var b [3]byte
	for range 10 {
		rand.Read(b[:])
		p := filepath.Join(dir, tmpDirPrefix+strconv.FormatUint(uint64(b[0])<<16|uint64(b[1])<<8|uint64(b[2]), 36))
		err := os.Mkdir(p, 0o700)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("podwire/transport: create a private dir in socket dir %s: %w", dir, err)
		}
	}
	return "", fmt.Errorf("podwire/transport: create a private dir in socket dir %s: 10 random names taken; remove stale %s* entries", dir, tmpDirPrefix)
}

// socketLock is the lock file that serialises Listen on one socket path.
type socketLock struct{ f *os.File }

// lockPath is the lock file of a socket path: .<name>.lock beside it.
func lockPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".lock")
}

// lockSocket takes the lock of path without waiting: a *SocketLockedError
// if another listener holds it. The holder's pid is written into the file
// for the error others get.
func lockSocket(path string) (*socketLock, error) {
	lp := lockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("podwire/transport: open lock file %s: %w (remove it if it is not a regular file)", lp, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("podwire/transport: lock file %s is not a regular file; remove it", lp)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &SocketLockedError{Path: path, LockPath: lp, PID: readPID(f)}
		}
		return nil, fmt.Errorf("podwire/transport: lock %s: %w", lp, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &socketLock{f: f}, nil
}

// flock applies how to f, retrying on EINTR.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = unix.Flock(int(fd), how); ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// readPID reads the pid the lock's holder wrote; 0 if there is none.
func readPID(f *os.File) int {
	b := make([]byte, 16)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// unlock releases the lock (closing the file releases the flock).
func (l *socketLock) unlock() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
