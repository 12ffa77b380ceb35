package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/podwire/podwire/sidecar"
)

// sidecarRows lists the sidecar-pair row: the app calls plain gRPC on
// <dir A>/echo.sock; sidecar A carries each connection as a mux stream over
// mTLS to sidecar B, which connects it to the echo server on
// <dir B>/echo.sock. Neither app links podwire code.
func sidecarRows() []rowSpec {
	return []rowSpec{
		{Row{ID: "sidecar", Transport: "sidecar", Family: FamilySidecar, Twin: "grpc-tls"}, startSidecarPair},
	}
}

func startSidecarPair(ctx context.Context, e *env) (*instance, error) {
	dirA, dirB := filepath.Join(e.dir, "pod-a"), filepath.Join(e.dir, "pod-b")
	for _, d := range []string{dirA, dirB} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("sidecar socket dir: %w", err)
		}
	}
	in := &instance{}
	fail := func(err error) (*instance, error) {
		return nil, errors.Join(err, in.close())
	}
	// The app behind sidecar B: bare grpc-go on B's socket dir.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", filepath.Join(dirB, podwireService+".sock"))
	if err != nil {
		return fail(fmt.Errorf("listen app socket: %w", err))
	}
	srv := grpc.NewServer(messageSizeServerOptions()...)
	registerEcho(srv)
	in.onClose(serveInBackground(srv, ln))

	cfgB := sidecar.DefaultConfig()
	cfgB.SocketDir, cfgB.Listen, cfgB.Admin = dirB, "127.0.0.1:0", "unix:"+filepath.Join(dirB, "admin.sock")
	cfgB.TLS = sidecar.TLSFiles{Cert: e.pki.serverCert, Key: e.pki.serverKey, CA: e.pki.caFile}
	cfgB.Services = []sidecar.Service{{Name: podwireService}}
	b, err := startSidecar(ctx, e, cfgB)
	if err != nil {
		return fail(fmt.Errorf("sidecar B: %w", err))
	}
	in.onClose(b.Close)

	cfgA := sidecar.DefaultConfig()
	cfgA.SocketDir, cfgA.Admin = dirA, "unix:"+filepath.Join(dirA, "admin.sock")
	cfgA.TLS = sidecar.TLSFiles{Cert: e.pki.clientCert, Key: e.pki.clientKey, CA: e.pki.caFile}
	cfgA.Upstreams = []sidecar.Upstream{{Name: podwireService, Address: b.InboundAddr(), ServerName: "localhost"}}
	a, err := startSidecar(ctx, e, cfgA)
	if err != nil {
		return fail(fmt.Errorf("sidecar A: %w", err))
	}
	in.onClose(a.Close)

	target := "unix://" + filepath.Join(dirA, podwireService+".sock")
	in.newConn = func(context.Context) (*grpc.ClientConn, error) {
		return grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), messageSizeDialOption())
	}
	if err := in.connect(ctx); err != nil {
		return fail(fmt.Errorf("call through the sidecar pair: %w", err))
	}
	return in, nil
}

// startSidecar makes and starts one sidecar with the run's logger.
func startSidecar(ctx context.Context, e *env, cfg sidecar.Config) (*sidecar.Sidecar, error) {
	cfg.DrainTimeout = time.Second
	s, err := sidecar.New(cfg, sidecar.WithLogger(e.logger))
	if err != nil {
		return nil, fmt.Errorf("sidecar.New: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sidecar.Start: %w", err), s.Close())
	}
	return s, nil
}
