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
	return startBare(ctx, "unix", path, "unix://"+path, insecure.NewCredentials(), nil)
}

func startGRPCTCP(ctx context.Context, _ *env) (*instance, error) {
	return startBare(ctx, "tcp", "127.0.0.1:0", "", insecure.NewCredentials(), nil)
}

func startGRPCTLS(ctx context.Context, e *env) (*instance, error) {
	return startBare(ctx, "tcp", "127.0.0.1:0", "",
		credentials.NewTLS(e.pki.clientTLS()), credentials.NewTLS(e.pki.serverTLS()))
}

// startBare listens on network/addr, serves the echo service with plain
// grpc-go and dials it with grpc.NewClient. An empty target means
// "passthrough:///<listener address>". serverCreds nil means plaintext.
func startBare(ctx context.Context, network, addr, target string, clientCreds, serverCreds credentials.TransportCredentials) (*instance, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", network, addr, err)
	}
	opts := messageSizeServerOptions()
	if serverCreds != nil {
		opts = append(opts, grpc.Creds(serverCreds))
	}
	srv := grpc.NewServer(opts...)
	registerEcho(srv)
	in := &instance{}
	in.onClose(serveInBackground(srv, ln))
	if target == "" {
		target = "passthrough:///" + ln.Addr().String()
	}
	in.newConn = func(context.Context) (*grpc.ClientConn, error) {
		return grpc.NewClient(target, grpc.WithTransportCredentials(clientCreds), messageSizeDialOption())
	}
	if err := in.connect(ctx); err != nil {
		in.close()
		return nil, err
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
