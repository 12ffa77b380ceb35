//go:build !unix

package transport

import (
	"context"
	"fmt"
	"net"
	"os"
)

// checkSocketDir accepts every dir: this platform reports no owner uid or
// Unix mode bits to judge (the directory's ACL is what protects it).
func checkSocketDir(string, int) error { return nil }

// bindSocket binds path directly: without Unix permissions there is no
// mode to set and no link to follow.
func bindSocket(ctx context.Context, path string, _ int) (*net.UnixListener, os.FileInfo, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("podwire/transport: listen on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fi, err := os.Lstat(path)
	if err != nil {
		ul.Close()
		return nil, nil, fmt.Errorf("podwire/transport: stat %s after bind: %w", path, err)
	}
	return ul, fi, nil
}

// socketLock is a no-op here: flock is not available.
type socketLock struct{}

// lockSocket does not serialise listeners on this platform.
func lockSocket(string) (*socketLock, error) { return &socketLock{}, nil }

// unlock does nothing.
func (*socketLock) unlock() error { return nil }
