// Package grpctest runs a gRPC server for a test over several kinds of
// connection (in-memory and Unix socket) so the same table runs on each.
package grpctest

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// Kind is one kind of connection a test server can listen on.
type Kind struct {
	Name   string
	listen func(tb testing.TB) (net.Listener, func(context.Context, string) (net.Conn, error), string)
}

// Kinds returns the connection kinds: "bufconn" (in memory) and "unix".
func Kinds() []Kind {
	return []Kind{
		{Name: "bufconn", listen: func(testing.TB) (net.Listener, func(context.Context, string) (net.Conn, error), string) {
			l := bufconn.Listen(1 << 20)
			return l, func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }, "passthrough:///bufconn"
		}},
		{Name: "unix", listen: func(tb testing.TB) (net.Listener, func(context.Context, string) (net.Conn, error), string) {
			path := filepath.Join(tb.TempDir(), "s.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				tb.Fatalf("listen unix %s: %v", path, err)
			}
			return l, nil, "unix://" + path
		}},
	}
}

// Serve starts a gRPC server of this kind with the services register adds,
// and returns a client connection to it. Both stop at test cleanup.
func (k Kind) Serve(tb testing.TB, register func(grpc.ServiceRegistrar), opts ...grpc.ServerOption) *grpc.ClientConn {
	tb.Helper()
	l, dial, target := k.listen(tb)
	srv := grpc.NewServer(opts...)
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	dopts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if dial != nil {
		dopts = append(dopts, grpc.WithContextDialer(dial))
	}
	cc, err := grpc.NewClient(target, dopts...)
	if err != nil {
		srv.Stop()
		<-done
		tb.Fatalf("grpc.NewClient(%s): %v", target, err)
	}
	tb.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-done
	})
	return cc
}
