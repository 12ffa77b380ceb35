package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
)

// Serve a gRPC service on <socket dir>/inventory.sock (and, with TLSAddr
// and certificates, on TCP+TLS too) with one Serve call.
func ExampleListen() {
	dir, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(dir)

	ln, err := transport.Listen(context.Background(), transport.ListenConfig{Service: "inventory", SocketDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts, _ := transport.ServerOptions() // identity + allow-list (default: same uid)
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	fmt.Println(ln.Addr().Network(), ln.SocketPath() == dir+"/inventory.sock")
	// Output: unix true
}

// Call a service by name: podwire picks the Unix socket when the service
// runs on this host, TCP+TLS to its peer address otherwise.
func ExampleDial() {
	dir, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(dir)
	ln, _ := transport.Listen(context.Background(), transport.ListenConfig{Service: "inventory", SocketDir: dir})
	opts, _ := transport.ServerOptions()
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	cc, err := transport.Dial(context.Background(), "inventory", transport.WithSocketDir(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cc.Close()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		fmt.Println(err)
		return
	}
	who, _ := transport.PeerOf(&p)
	fmt.Println(resp.Status, "over", who.Transport)
	// Output: SERVING over unix
}

// Allow callers by Unix uid/gid (co-located) or certificate identity
// (remote); a denied caller gets PermissionDenied and no handler runs.
func ExampleWithAllow() {
	_, err := transport.ServerOptions(transport.WithAllow("uid:1000", "gid:2000",
		"spiffe://podwire.local/purchase", "dns:purchase"))
	fmt.Println(err)

	_, err = transport.ServerOptions(transport.WithAllow("user:alice"))
	fmt.Println(err)
	// Output:
	// <nil>
	// podwire/transport: bad allow-list entry "user:alice": unknown kind "user" (want uid:N, gid:N, spiffe://domain/path, dns:name or dns:*.domain)
}

// An AllowList checks a peer outside gRPC, as the sidecar does for each
// inbound stream; dns:*.domain admits exactly one label under domain.
func ExampleParseAllowList() {
	allow, err := transport.ParseAllowList([]string{"spiffe://podwire.local/purchase", "dns:*.shop.svc"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"purchase.shop.svc", "a.purchase.shop.svc"} {
		peer := transport.Peer{Transport: transport.KindMuxTLS, DNSNames: []string{name},
			Chain: []*x509.Certificate{{DNSNames: []string{name}}}}
		if ok, reason := allow.Allows(peer); ok {
			fmt.Println(name, "allowed")
		} else {
			fmt.Println(name, "denied:", reason)
		}
	}
	// Output:
	// purchase.shop.svc allowed
	// a.purchase.shop.svc denied: certificate SPIFFE ID/DNS names not in allow-list
}

// ListenUnix gives a non-gRPC server (the sidecar, for one) podwire's
// socket rules: a second server on the same path is refused, and the file
// goes away on Close.
func ExampleListenUnix() {
	dir, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sub", "app.sock")
	ctx := context.Background()

	ln, err := transport.ListenUnix(ctx, path, transport.UnixSocketOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fi, _ := os.Stat(path)
	fmt.Println("live:", transport.ProbeUnix(ctx, path) == nil, "mode:", fi.Mode().Perm())

	_, err = transport.ListenUnix(ctx, path, transport.UnixSocketOptions{})
	fmt.Println("second listener refused:", errors.Is(err, transport.ErrAddrInUse))

	ln.Close()
	_, err = os.Stat(path)
	fmt.Println("removed on Close:", errors.Is(err, fs.ErrNotExist))
	// Output:
	// live: true mode: -rw-rw----
	// second listener refused: true
	// removed on Close: true
}

// NewTLSListener gives a non-gRPC server concurrent, deadline-bound and
// capped mTLS handshakes; Accept returns only finished *tls.Conn.
func ExampleNewTLSListener() {
	dir, _ := os.MkdirTemp("", "podwire")
	defer os.RemoveAll(dir)
	if err := certs.Write(dir, []string{"inventory", "purchase"}); err != nil {
		fmt.Println(err)
		return
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	server, err := transport.NewCertSource(file("inventory.crt"), file("inventory.key"), file("ca.crt"), transport.CertSourceOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	raw, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := transport.DefaultConfig()
	cfg.MaxPendingHandshakes = 64
	ln, err := transport.NewTLSListener(raw, server.ServerConfig([]string{transport.ALPNMux}), transport.TLSListenerOptions{Config: cfg})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	client, _ := transport.NewCertSource(file("purchase.crt"), file("purchase.key"), file("ca.crt"), transport.CertSourceOptions{})
	defer client.Close()
	go func() {
		conf := client.ClientConfig("inventory", nil)
		if c, err := transport.DialMuxTLS(context.Background(), ln.Addr().String(), conf, cfg); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1)) // hold the conn until the server closes it
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	peer := transport.PeerOfTLS(transport.KindMuxTLS, &st, c.RemoteAddr())
	fmt.Println(st.NegotiatedProtocol, peer.SPIFFEID)
	// Output: podwire-mux/1 spiffe://podwire.local/purchase
}
