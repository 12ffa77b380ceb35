package sidecar

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/podwire/podwire/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestSDKClientToSidecar: a transport (SDK) client that knows only B's
// address reaches the app behind sidecar B over podwire-mux/1.
func TestSDKClientToSidecar(t *testing.T) {
	p := newPair(t, pairOpts{})
	f := p.pki.files("purchase")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := transport.Dial(ctx, "inventory",
		transport.WithSocketDir(shortDir(t)), // no local socket: go remote
		transport.WithPeerAddr("inventory", p.b.InboundAddr()),
		transport.WithServerName("inventory"),
		transport.WithTLSFiles(f.Cert, f.Key, f.CA))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("SDK client through sidecar B: %v", err)
	}
	if got := counterValue(t, p.b, "podwire_sidecar_streams_total", "direction", "inbound"); got < 1 {
		t.Errorf("B inbound streams = %v, want the SDK's stream", got)
	}
}

// TestSidecarToSDKServer: sidecar A reaches an SDK server's TLS port
// (podwire-mux/1) with no sidecar on the far side when the upstream says
// payload grpc; with the default raw the SDK server refuses the stream
// and A counts it.
func TestSidecarToSDKServer(t *testing.T) {
	pki := newTestPKI(t, "inventory", "purchase")
	fb := pki.files("inventory")
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := port.Addr().String()
	port.Close()
	ln, err := transport.Listen(context.Background(), transport.ListenConfig{
		Service: "inventory", SocketDir: shortDir(t), TLSAddr: addr, NoUnix: true,
		CertFile: fb.Cert, KeyFile: fb.Key, CAFile: fb.CA,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := transport.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Stop()
		wg.Wait()
	})

	for _, tt := range []struct {
		payload string
		ok      bool
	}{{"grpc", true}, {"", false}} {
		t.Run("payload="+tt.payload, func(t *testing.T) {
			dirA := shortDir(t)
			cfg := DefaultConfig()
			cfg.SocketDir, cfg.Admin, cfg.TLS = dirA, "127.0.0.1:0", pki.files("purchase")
			cfg.Upstreams = []Upstream{{Name: "inventory", Address: ln.Addr().String(), ServerName: "inventory", Payload: tt.payload}}
			a := startSidecar(t, cfg)
			waitReady(t, a)
			p := &pair{dirA: dirA}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := healthpb.NewHealthClient(p.dialApp(t)).Check(ctx, &healthpb.HealthCheckRequest{})
			if tt.ok && err != nil {
				t.Fatalf("app → sidecar A → SDK server: %v", err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("raw payload to an SDK server succeeded, want refused")
				}
				if got := counterValue(t, a, "podwire_sidecar_refusals_total", "reason", "refused"); got < 1 {
					t.Errorf("A refusals{reason=refused} = %v, want >= 1", got)
				}
			}
		})
	}
}
