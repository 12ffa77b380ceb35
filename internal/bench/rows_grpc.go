package bench

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// The bare rows use plain grpc.NewServer and grpc.NewClient and no podwire
// code, so they are the baseline every podwire row is divided by.

func startGRPCUDS(ctx context.Context, e *env) (*instance, error) {
	path := e.socketPath("grpc")
	return startBare(ctx, e, serverSpec{Kind: serverGRPC, Network: "unix", Addr: path}, "unix://"+path, insecure.NewCredentials())
}

func startGRPCTCP(ctx context.Context, e *env) (*instance, error) {
	return startBare(ctx, e, serverSpec{Kind: serverGRPC, Network: "tcp", Addr: "127.0.0.1:0"}, "", insecure.NewCredentials())
}

func startGRPCTLS(ctx context.Context, e *env) (*instance, error) {
	return startBare(ctx, e, serverSpec{Kind: serverGRPC, Network: "tcp", Addr: "127.0.0.1:0", TLS: true}, "",
		credentials.NewTLS(e.pki.clientTLS()))
}

// startBare starts the plain grpc-go echo server of spec and dials it with
// grpc.NewClient. An empty target means "passthrough:///<listener address>".
func startBare(ctx context.Context, e *env, spec serverSpec, target string, clientCreds credentials.TransportCredentials) (*instance, error) {
	in := &instance{}
	addrs, err := e.startServer(ctx, in, spec)
	if err != nil {
		return nil, errors.Join(err, in.close())
	}
	if target == "" {
		target = "passthrough:///" + addrs.Addr
	}
	in.newConn = func(context.Context) (*grpc.ClientConn, error) {
		return grpc.NewClient(target, grpc.WithTransportCredentials(clientCreds), messageSizeDialOption())
	}
	if err := in.connect(ctx); err != nil {
		return nil, errors.Join(err, in.close())
	}
	return in, nil
}

// serveInBackground runs srv.Serve(ln) and returns a closer that stops the
// server and waits for Serve to return.
func serveInBackground(srv *grpc.Server, ln net.Listener) func() error {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return func() error {
		srv.Stop()
		err := <-done
		if err == nil || errors.Is(err, grpc.ErrServerStopped) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("grpc serve: %w", err)
	}
}

// connect makes the row's long-lived channel with newConn and proves it with
// one unary echo.
func (in *instance) connect(ctx context.Context) error {
	cc, err := in.newConn(ctx)
	if err != nil {
		return fmt.Errorf("new client: %w", err)
	}
	in.conn = cc
	in.onClose(cc.Close)
	if err := callUnary(ctx, cc, make([]byte, smallPayload)); err != nil {
		return fmt.Errorf("first call: %w", err)
	}
	return nil
}
