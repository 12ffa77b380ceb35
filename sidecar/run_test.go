//go:build unix

package sidecar

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// runSidecar starts Run with an upstream to p's B and waits until its
// admin socket answers /readyz; it returns Run's error channel.
func runSidecar(t *testing.T, ctx context.Context, p *pair) (dir string, done chan error) {
	t.Helper()
	dir = shortDir(t)
	cfg := DefaultConfig()
	cfg.SocketDir, cfg.TLS = dir, p.pki.files("purchase")
	cfg.Admin = "unix:" + filepath.Join(dir, adminSocketName)
	cfg.Upstreams = []Upstream{{Name: "inventory", Address: p.b.InboundAddr(), ServerName: "inventory"}}
	cfg.DrainTimeout = 10 * time.Second
	done = make(chan error, 1)
	go func() { done <- Run(ctx, cfg, WithMuxConfig(testMuxConfig())) }()
	deadline := time.Now().Add(10 * time.Second)
	for Check(context.Background(), cfg.Admin, "readyz", time.Second) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Run's sidecar never became ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return dir, done
}

// holdStream opens an app connection through the sidecar in dir and
// checks one echo, leaving the stream open.
func holdStream(t *testing.T, dir string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(dir, "inventory.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := []byte("x")
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRunContextDrain: cancelling Run's context drains: an idle stream
// that ends lets Run return nil well before drain_timeout, and the
// sockets are gone.
func TestRunContextDrain(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, done := runSidecar(t, ctx, p)
	c := holdStream(t, dir)
	cancel()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a stream still open; want it draining", err)
	default:
	}
	c.Close() // the app finishes its call: the stream ends
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the stream ending (drain_timeout is 10s)")
	}
	for _, name := range []string{"inventory.sock", adminSocketName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Run returned (stat: %v)", name, err)
		}
	}
}

// TestRunSecondSignal: SIGTERM starts the drain; a second SIGTERM ends it
// at once although a stream is still open.
func TestRunSecondSignal(t *testing.T) {
	p := newPair(t, pairOpts{rawEcho: true})
	dir, done := runSidecar(t, context.Background(), p)
	holdStream(t, dir)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned %v after one signal with a stream open; want it draining", err)
	default:
	}
	start := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %v after the second signal", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still draining 5s after the second signal")
	}
}
