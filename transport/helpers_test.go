package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
	s := &testServer{ln: ln, srv: grpc.NewServer(opts...), health: health.NewServer()}
	healthpb.RegisterHealthServer(s.srv, s.health)
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ln) }()
	tb.Cleanup(func() {
		s.health.Shutdown()
		s.srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
		ln.Close()
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
