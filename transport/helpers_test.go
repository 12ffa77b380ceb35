package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/podwire/podwire/transport/certs"
)

// shortTempDir returns a temp dir short enough for Unix socket paths
// (t.TempDir paths can exceed 108 bytes with long test names).
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pw")
	if err != nil {
		tb.Fatalf("MkdirTemp: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testLogger logs through tb at debug level.
func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(b []byte) (int, error) { w.tb.Log(string(b)); return len(b), nil }

// testServer is a gRPC health server on a transport.Listener.
type testServer struct {
	ln     *Listener
	srv    *grpc.Server
	health *health.Server
	peers  chan Peer // server-side PeerFrom of each RPC that reached a handler
}

// startServer listens as cfg says and serves the health service with
// ServerOptions(sopts...); Cleanup stops it.
func startServer(tb testing.TB, cfg ListenConfig, sopts ...ServerOption) *testServer {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	ln, err := Listen(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	opts, err := ServerOptions(append([]ServerOption{WithServerLogger(cfg.Logger)}, sopts...)...)
	if err != nil {
		ln.Close()
		tb.Fatalf("ServerOptions: %v", err)
	}
	s := &testServer{ln: ln, health: health.NewServer(), peers: make(chan Peer, 100)}
	record := func(ctx context.Context) {
		if p, ok := PeerFrom(ctx); ok {
			select {
			case s.peers <- p:
			default:
			}
		}
	}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}))
	s.srv = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s.srv, s.health)
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ln) }()
	tb.Cleanup(func() {
		s.health.Shutdown()
		s.srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ln.Shutdown(ctx); err != nil {
			tb.Errorf("Listener.Shutdown: %v", err)
		}
	})
	return s
}

// dialT dials target and closes the client on Cleanup.
func dialT(tb testing.TB, target string, opts ...DialOption) *grpc.ClientConn {
	tb.Helper()
	cc, err := Dial(context.Background(), target, append([]DialOption{WithLogger(testLogger(tb))}, opts...)...)
	if err != nil {
		tb.Fatalf("Dial(%q): %v", target, err)
	}
	tb.Cleanup(func() { cc.Close() })
	return cc
}

// ctxT returns a context that ends with the test or after 10 s.
func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// testCertDir writes a CA and leaves for services into a fresh dir.
func testCertDir(tb testing.TB, services ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := certs.Write(dir, services); err != nil {
		tb.Fatalf("certs.Write: %v", err)
	}
	return dir
}

// tlsFiles returns WithTLSFiles for NAME in dir.
func tlsFiles(dir, name string) DialOption {
	return WithTLSFiles(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, "ca.crt"))
}

// serverTLS fills the TLS fields of cfg with NAME's files in dir.
func serverTLS(cfg ListenConfig, dir, name string) ListenConfig {
	cfg.TLSAddr = "127.0.0.1:0"
	cfg.CertFile = filepath.Join(dir, name+".crt")
	cfg.KeyFile = filepath.Join(dir, name+".key")
	cfg.CAFile = filepath.Join(dir, "ca.crt")
	return cfg
}

// check makes one health Check and returns the transport it used.
func check(tb testing.TB, cc *grpc.ClientConn) (Peer, error) {
	tb.Helper()
	var p peer.Peer
	_, err := healthpb.NewHealthClient(cc).Check(ctxT(tb), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	got, _ := PeerOf(&p)
	return got, err
}

// wantCode fails unless err has code want.
func wantCode(tb testing.TB, err error, want codes.Code) {
	tb.Helper()
	if got := status.Code(err); got != want {
		tb.Fatalf("status = %v (%v), want %v", got, err, want)
	}
}

// acceptOne accepts one connection on ln in the background; the channel
// yields it, or closes empty if Accept failed.
func acceptOne(ln net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	return accepted
}
