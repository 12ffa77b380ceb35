package transport

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestListenLiveSocketNotStolen(t *testing.T) {
	dir := shortTempDir(t)
	s := startServer(t, ListenConfig{Service: "inventory", SocketDir: dir})
	_, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: dir})
	if !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), "address in use by a running server") {
		t.Fatalf("second Listen = %v, want ErrAddrInUse saying \"address in use by a running server\"", err)
	}
	cc := dialT(t, "unix://"+s.ln.SocketPath())
	if _, err := check(t, cc); err != nil {
		t.Fatalf("first server after the refused Listen: %v", err)
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "inventory.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves a socket file nobody accepts on
	s := startServer(t, ListenConfig{Service: "inventory", SocketDir: dir})
	if _, err := check(t, dialT(t, "unix://"+path)); err != nil {
		t.Fatalf("Check after stale removal: %v", err)
	}
	if got := s.ln.SocketPath(); got != path {
		t.Errorf("SocketPath = %q, want %q", got, path)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "inventory.sock")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: dir}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file = %v, want a \"not a socket\" error", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("regular file was removed: %v", err)
	}
}

func TestListenPermissions(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "run", "pw")
	ln, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: dir, SocketGroup: strconv.Itoa(os.Getgid())})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	tests := []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o750},
		{ln.SocketPath(), 0o660},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatalf("stat %s: %v", tt.path, err)
		}
		if got := fi.Mode().Perm(); got != tt.want {
			t.Errorf("mode of %s = %#o, want %#o", tt.path, got, tt.want)
		}
		if gid, ok := fileGID(fi); ok && tt.path == ln.SocketPath() && gid != os.Getgid() {
			t.Errorf("socket gid = %d, want %d", gid, os.Getgid())
		}
	}
}

func TestListenPathTooLong(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), strings.Repeat("d", 120))
	_, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: dir})
	var pe *PathTooLongError
	if !errors.As(err, &pe) {
		t.Fatalf("Listen = %v, want *PathTooLongError", err)
	}
	for _, want := range []string{filepath.Join(dir, "inventory.sock"), strconv.Itoa(sunPathLimit) + "-byte limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket dir was created for a path that cannot work (stat err %v)", err)
	}
}

func TestListenCloseTwiceRemovesSocket(t *testing.T) {
	ln, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: shortTempDir(t)})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	for i := range 2 {
		if err := ln.Close(); err != nil {
			t.Errorf("Close #%d = %v, want nil", i+1, err)
		}
	}
	if _, err := os.Stat(ln.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Close: stat err = %v, want not exist", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func TestListenConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  ListenConfig
		want error
	}{
		{"no service", ListenConfig{}, ErrBadConfig},
		{"TLS without files", ListenConfig{Service: "a", TLSAddr: "127.0.0.1:0"}, ErrTLSConfigMissing},
		{"plaintext off loopback", ListenConfig{Service: "a", PlainAddr: "0.0.0.0:0"}, ErrInsecureNotAllowed},
		{"nothing to listen on", ListenConfig{Service: "a", NoUnix: true}, ErrBadConfig},
		{"bad tuning", ListenConfig{Service: "a", Config: Config{HandshakeTimeout: -1}}, ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := Listen(ctxT(t), tt.cfg)
			if ln != nil {
				ln.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Listen = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSilentClientCutOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstByteTimeout = 200 * time.Millisecond
	cfg.HandshakeTimeout = 200 * time.Millisecond
	certDir := testCertDir(t, "inventory")
	s := startServer(t, serverTLS(ListenConfig{Service: "inventory", SocketDir: shortTempDir(t), Config: cfg}, certDir, "inventory"),
		WithConnectionTimeout(200*time.Millisecond))
	for _, tc := range []struct{ network, addr string }{
		{"unix", s.ln.SocketPath()},
		{"tcp", s.ln.TLSAddr().String()},
	} {
		t.Run(tc.network, func(t *testing.T) {
			c, err := net.Dial(tc.network, tc.addr)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			for {
				if _, err = c.Read(buf); err != nil {
					break
				}
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("server kept a silent client for 5s, want it closed after ~200ms")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("silent client closed after %v, want ~200ms", d)
			}
		})
	}
}

func TestFirstByteDeadlineWithoutGRPC(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstByteTimeout = 100 * time.Millisecond
	ln, err := Listen(ctxT(t), ListenConfig{Service: "inventory", SocketDir: shortTempDir(t), Config: cfg})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", ln.SocketPath())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer sc.Close()
	_, err = sc.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("Read from a silent client = %v, want a timeout", err)
	}
	// Once bytes flow the deadline is gone.
	c2, _ := net.Dial("unix", ln.SocketPath())
	defer c2.Close()
	sc2, _ := ln.Accept()
	defer sc2.Close()
	c2.Write([]byte("x"))
	if _, err := sc2.Read(make([]byte, 1)); err != nil {
		t.Fatalf("first Read: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	go func() { <-ctx.Done(); c2.Write([]byte("y")) }()
	if _, err := sc2.Read(make([]byte, 1)); err != nil {
		t.Fatalf("Read after the first bytes, past FirstByteTimeout = %v, want data", err)
	}
}
