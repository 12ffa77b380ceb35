package transport

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenUnix covers the socket lifecycle ListenUnix gives the SDK and
// the sidecar: what is at the path before, and what ListenUnix must do.
func TestListenUnix(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(tb testing.TB, path string) // puts something at path
		wantErr error                            // nil: ListenUnix must succeed
		wantMsg string
	}{
		{"nothing there", func(testing.TB, string) {}, nil, ""},
		{"stale socket", func(tb testing.TB, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				tb.Fatal(err)
			}
			ln.(*net.UnixListener).SetUnlinkOnClose(false)
			ln.Close()
		}, nil, ""},
		{"live socket", func(tb testing.TB, path string) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { ln.Close() })
		}, ErrAddrInUse, "address in use by a running server"},
		{"regular file", func(tb testing.TB, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				tb.Fatal(err)
			}
		}, nil, "not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortTempDir(t), "svc.sock")
			tt.prepare(t, path)
			ln, err := ListenUnix(ctxT(t), path, UnixSocketOptions{Logger: testLogger(t)})
			switch {
			case tt.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("ListenUnix = %v, want an error saying %q", err, tt.wantMsg)
				}
				return
			case err != nil:
				t.Fatalf("ListenUnix = %v, want success", err)
			}
			if got := ln.Path(); got != path {
				t.Errorf("Path = %q, want %q", got, path)
			}
			if err := ProbeUnix(ctxT(t), path); err != nil {
				t.Errorf("ProbeUnix on the new socket = %v, want nil", err)
			}
			for i := range 2 {
				if err := ln.Close(); err != nil {
					t.Errorf("Close #%d = %v, want nil", i+1, err)
				}
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket file after Close: stat err = %v, want not exist", err)
			}
			if err := ProbeUnix(ctxT(t), path); err == nil {
				t.Error("ProbeUnix after Close = nil, want an error")
			}
		})
	}
}

// TestListenUnixCloseKeepsSuccessor: a listener whose file was replaced by
// another server's socket leaves that socket alone on Close. (A second
// ListenUnix on the path is refused while the first holds the path's lock,
// so the successor here binds directly, as a server outside podwire.)
func TestListenUnixCloseKeepsSuccessor(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "svc.sock")
	old, err := ListenUnix(ctxT(t), path, UnixSocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(ctxT(t), path, UnixSocketOptions{}); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second ListenUnix while the first listens = %v, want ErrAddrInUse (the path is locked)", err)
	}
	next, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := old.Close(); err != nil {
		t.Errorf("Close of the replaced listener = %v, want nil", err)
	}
	if err := ProbeUnix(ctxT(t), path); err != nil {
		t.Errorf("successor's socket after the old Close: %v, want live", err)
	}
}

// TestListenUnixBadGroup: an unknown group fails and leaves no socket.
func TestListenUnixBadGroup(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "svc.sock")
	_, err := ListenUnix(ctxT(t), path, UnixSocketOptions{Group: "no-such-group-podwire"})
	if err == nil || !strings.Contains(err.Error(), "no-such-group-podwire") {
		t.Fatalf("ListenUnix with an unknown group = %v, want an error naming it", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after a failed ListenUnix: stat err = %v", err)
	}
}
