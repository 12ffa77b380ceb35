package transport_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/podwire/podwire/transport"
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
