package transport

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestUnixListenerHandoff: a successor adopts the listening socket from
// File; the predecessor closes with SetUnlinkOnClose(false), so the path
// keeps its inode and connections reach the successor; the successor's
// Close removes the file.
func TestUnixListenerHandoff(t *testing.T) {
	dir, err := os.MkdirTemp("", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "svc.sock")
	old, err := ListenUnix(context.Background(), path, UnixSocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	f, err := old.File()
	if err != nil {
		t.Fatal(err)
	}
	succ, err := UnixListenerFromFile(f, path)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("socket file after the predecessor closed: %v (same inode %v), want the same file", err, err == nil && os.SameFile(before, after))
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial after handoff: %v", err)
	}
	c.Close()
	a, err := succ.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := UnixListenerFromFile(os.Stdin, path); err == nil {
		t.Error("UnixListenerFromFile(stdin) succeeded, want an error")
	}
	succ.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after the successor closed: %v, want removed", err)
	}
}
