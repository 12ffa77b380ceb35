//go:build linux

package transport

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/mem"

	"github.com/podwire/podwire/internal/rawio"
)

// implements reports whether v implements T.
func implements[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// socketOf unwraps c (identity, TLS and first-byte wrappers) down to the
// conn that does the socket I/O.
func socketOf(c net.Conn) net.Conn {
	for {
		switch t := c.(type) {
		case *tls.Conn:
			c = t.NetConn()
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return c
		}
	}
}

// TestSocketsUseRawIO: every socket podwire accepts or dials does its
// reads and writes as raw syscalls (internal/rawio), which is what keeps
// an idle server or sidecar from waking the runtime's monitor thread on
// each request (docs/benchmarks.md). It fails if a code path hands out a
// plain *net.UnixConn or *net.TCPConn.
func TestSocketsUseRawIO(t *testing.T) {
	certs := testCertDir(t, "inventory", "purchase")
	dir := shortTempDir(t)
	cfg := serverTLS(ListenConfig{Service: "inventory", SocketDir: dir, PlainAddr: "127.0.0.1:0",
		TLSAddr: "127.0.0.1:0", Logger: testLogger(t)}, certs, "inventory")
	ln, err := Listen(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()

	tlsConf := func() *tls.Config {
		cert, err := tls.LoadX509KeyPair(filepath.Join(certs, "purchase.crt"), filepath.Join(certs, "purchase.key"))
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	}
	tests := []struct {
		name string
		dial func(ctx context.Context) (net.Conn, error) // podwire's own dialer where it has one
	}{
		{"uds", func(ctx context.Context) (net.Conn, error) {
			return (&dialConfig{}).dialUnix(ctx, filepath.Join(dir, "inventory.sock"))
		}},
		{"tcp", func(ctx context.Context) (net.Conn, error) {
			return Config{}.dialTCP(ctx, ln.PlainAddr().String())
		}},
		{"tls", func(ctx context.Context) (net.Conn, error) {
			raw, err := Config{}.dialTCP(ctx, ln.TLSAddr().String())
			if err != nil {
				return nil, err
			}
			tc := tls.Client(raw, tlsConf())
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return tc, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted := acceptOne(ln)
			c, err := tt.dial(ctxT(t))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			sc := <-accepted
			if sc == nil {
				t.Fatal("Accept failed")
			}
			defer sc.Close()
			if tt.name != "tls" {
				// grpc reads a bare socket with ReadOnReady, holding a read
				// buffer only while bytes wait; without it every idle
				// channel pins 32 KiB (BenchmarkIdleHeap).
				type readyReader interface {
					ReadOnReady(int, mem.BufferPool) (*[]byte, int, error)
				}
				if g := grpcConn(c); !implements[readyReader](g) {
					t.Errorf("%s: grpc gets %T, which has no ReadOnReady", tt.name, g)
				}
			}
			for side, conn := range map[string]net.Conn{"dialed": c, "accepted": sc} {
				sock := socketOf(conn)
				if _, ok := sock.(interface{ Unwrap() net.Conn }); !ok || !rawio.Enabled {
					t.Errorf("%s %s socket is %T, want a rawio conn (raw-syscall I/O)", tt.name, side, sock)
				}
			}
		})
	}
}
