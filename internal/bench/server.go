package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/podwire/podwire/sidecar"
	"github.com/podwire/podwire/transport"
)

// Server kinds: what one server of a row runs.
const (
	serverRaw     = "raw"     // the 64-byte echo floor
	serverGRPC    = "grpc"    // bare grpc-go echo
	serverPodwire = "podwire" // echo behind transport.Listen + transport.ServerOptions
	serverSidecar = "sidecar" // one sidecar from a YAML config file
)

// serverSpec is one server of a row: what it runs and where. It is the whole
// description a child process gets (as JSON), so both placements start the
// very same code.
type serverSpec struct {
	Kind string `json:"kind"`
	// Network and Addr are the listener of raw and grpc servers.
	Network string `json:"network,omitempty"`
	Addr    string `json:"addr,omitempty"`
	// TLS serves raw and grpc with the run's server certificate.
	TLS bool `json:"tls,omitempty"`
	// Podwire is the listener of a podwire server.
	Podwire *podwireListen `json:"podwire,omitempty"`
	// SidecarConfig is the YAML file of a sidecar.
	SidecarConfig string `json:"sidecar_config,omitempty"`
	// PKI names the run's certificate files.
	PKI pkiFiles `json:"pki"`
}

// podwireListen is the part of transport.ListenConfig a row chooses.
type podwireListen struct {
	Service   string `json:"service"`
	SocketDir string `json:"socket_dir"`
	NoUnix    bool   `json:"no_unix,omitempty"`
	PlainAddr string `json:"plain_addr,omitempty"`
	TLSAddr   string `json:"tls_addr,omitempty"`
}

// pkiFiles are the PEM files of the run's CA and leaves.
type pkiFiles struct {
	CA         string `json:"ca"`
	ServerCert string `json:"server_cert"`
	ServerKey  string `json:"server_key"`
}

// serverAddrs is where a started server listens.
type serverAddrs struct {
	// Addr is the raw or grpc listener, the sidecar's inbound TLS address.
	Addr string `json:"addr,omitempty"`
	// TLSAddr and PlainAddr are a podwire listener's TCP addresses;
	// SocketPath its Unix socket.
	TLSAddr    string `json:"tls_addr,omitempty"`
	PlainAddr  string `json:"plain_addr,omitempty"`
	SocketPath string `json:"socket_path,omitempty"`
}

// files returns the PEM file names of p for a serverSpec.
func (p *pki) files() pkiFiles {
	return pkiFiles{CA: p.caFile, ServerCert: p.serverCert, ServerKey: p.serverKey}
}

// serverTLSFromFiles is pki.serverTLS loaded from PEM files (in a child).
func serverTLSFromFiles(f pkiFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("CA file %s holds no certificate", f.CA)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}, nil
}

// serve starts spec in this process and returns where it listens and the
// function that stops it.
func serve(ctx context.Context, spec serverSpec, logger *slog.Logger) (serverAddrs, func() error, error) {
	switch spec.Kind {
	case serverRaw, serverGRPC:
		return serveBare(ctx, spec)
	case serverPodwire:
		return servePodwire(ctx, spec, logger)
	case serverSidecar:
		return serveSidecar(ctx, spec, logger)
	}
	return serverAddrs{}, nil, fmt.Errorf("podwire/bench: unknown server kind %q", spec.Kind)
}

// serveBare serves the raw echo or bare grpc-go, with TLS when asked.
func serveBare(ctx context.Context, spec serverSpec) (serverAddrs, func() error, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, spec.Network, spec.Addr)
	if err != nil {
		return serverAddrs{}, nil, fmt.Errorf("listen %s %s: %w", spec.Network, spec.Addr, err)
	}
	addrs := serverAddrs{Addr: ln.Addr().String()}
	var conf *tls.Config
	if spec.TLS {
		if conf, err = serverTLSFromFiles(spec.PKI); err != nil {
			ln.Close()
			return addrs, nil, err
		}
	}
	if spec.Kind == serverRaw {
		if conf != nil {
			ln = tls.NewListener(ln, conf)
		}
		return addrs, newRawEchoServer(ln).close, nil
	}
	opts := messageSizeServerOptions()
	if conf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(conf)))
	}
	srv := grpc.NewServer(opts...)
	registerEcho(srv)
	return addrs, serveInBackground(srv, ln), nil
}

// servePodwire serves the echo on a transport.Listener with the SDK's
// server options.
func servePodwire(ctx context.Context, spec serverSpec, logger *slog.Logger) (serverAddrs, func() error, error) {
	p := spec.Podwire
	if p == nil {
		return serverAddrs{}, nil, errors.New("podwire/bench: podwire server without a listener")
	}
	lc := transport.ListenConfig{Service: p.Service, SocketDir: p.SocketDir, NoUnix: p.NoUnix,
		PlainAddr: p.PlainAddr, TLSAddr: p.TLSAddr, Logger: logger}
	if p.TLSAddr != "" {
		lc.CertFile, lc.KeyFile, lc.CAFile = spec.PKI.ServerCert, spec.PKI.ServerKey, spec.PKI.CA
	}
	ln, err := transport.Listen(ctx, lc)
	if err != nil {
		return serverAddrs{}, nil, fmt.Errorf("transport.Listen: %w", err)
	}
	sopts, err := transport.ServerOptions(transport.WithServerLogger(logger))
	if err != nil {
		ln.Close()
		return serverAddrs{}, nil, fmt.Errorf("transport.ServerOptions: %w", err)
	}
	var addrs serverAddrs
	if a := ln.TLSAddr(); a != nil {
		addrs.TLSAddr = a.String()
	}
	if a := ln.PlainAddr(); a != nil {
		addrs.PlainAddr = a.String()
	}
	addrs.SocketPath = ln.SocketPath()
	srv := grpc.NewServer(append(sopts, messageSizeServerOptions()...)...)
	registerEcho(srv)
	return addrs, serveInBackground(srv, ln), nil
}

// serveSidecar loads the sidecar's YAML file (no environment overrides:
// the in-process diagnostic must not pick up the bench's own variables)
// and starts it.
func serveSidecar(ctx context.Context, spec serverSpec, logger *slog.Logger) (serverAddrs, func() error, error) {
	cfg, err := sidecar.LoadConfig(spec.SidecarConfig, func(string) (string, bool) { return "", false })
	if err != nil {
		return serverAddrs{}, nil, err
	}
	s, err := sidecar.New(cfg, sidecar.WithLogger(logger))
	if err != nil {
		return serverAddrs{}, nil, fmt.Errorf("sidecar.New: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		return serverAddrs{}, nil, errors.Join(fmt.Errorf("sidecar.Start: %w", err), s.Close())
	}
	return serverAddrs{Addr: s.InboundAddr()}, s.Close, nil
}
