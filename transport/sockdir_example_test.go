//go:build unix

package transport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podwire/podwire/transport"
)

// ListenUnix refuses a socket dir that other users can write (another user
// could replace the socket with their own server) unless the dir is shared
// on purpose; a second listener on the same path is refused by the path's
// lock.
func ExampleListenUnix_socketDirTrust() {
	base, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "shared")
	os.Mkdir(dir, 0o700)
	os.Chmod(dir, 0o777)
	path := filepath.Join(dir, "app.sock")
	ctx := context.Background()

	_, err := transport.ListenUnix(ctx, path, transport.UnixSocketOptions{})
	var de *transport.SocketDirError
	fmt.Println("0777 dir refused:", errors.As(err, &de), errors.Is(err, transport.ErrUntrustedDir), de.Dir == dir)

	ln, err := transport.ListenUnix(ctx, path, transport.UnixSocketOptions{AllowSharedDir: true})
	fmt.Println("shared on purpose:", err == nil)
	_, err = transport.ListenUnix(ctx, path, transport.UnixSocketOptions{AllowSharedDir: true})
	var le *transport.SocketLockedError
	fmt.Println("second listener refused:", errors.As(err, &le), errors.Is(err, transport.ErrAddrInUse), le.PID == os.Getpid())
	ln.Close()
	// Output:
	// 0777 dir refused: true true true
	// shared on purpose: true
	// second listener refused: true true true
}
