package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// meteredConn counts bytes read, as a metrics wrapper would; it exposes
// the conn it wraps with NetConn, like *tls.Conn.
type meteredConn struct {
	net.Conn
	read *atomic.Int64
}

func (c meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c meteredConn) NetConn() net.Conn { return c.Conn }

// embeddingConn wraps by embedding the AuthConn it got.
type embeddingConn struct{ AuthConn }

// wrapListener wraps every accepted conn with wrap.
type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// TestIdentitySurvivesWrappers: a conn wrapped once more between the
// Listener and grpc (a metrics wrapper with NetConn, or one embedding the
// AuthConn) still reports the identity its handshake produced, over a Unix
// socket, TLS (h2) and a mux stream.
func TestIdentitySurvivesWrappers(t *testing.T) {
	var read atomic.Int64
	wrappers := []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"NetConn", func(c net.Conn) net.Conn { return meteredConn{Conn: c, read: &read} }},
		{"embedded", func(c net.Conn) net.Conn { return embeddingConn{c.(AuthConn)} }},
	}
	certDir := testCertDir(t, "inventory", "client")
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			sockDir := shortTempDir(t)
			ln, err := Listen(ctxT(t), serverTLS(ListenConfig{Service: "inventory", SocketDir: sockDir, Logger: testLogger(t)}, certDir, "inventory"))
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			peers := make(chan Peer, 10)
			srv := wrappedHealthServer(t, wrapListener{Listener: ln, wrap: w.wrap}, peers)
			defer func() {
				srv.Stop()
				ctx, cancel := context.WithTimeout(context.Background(), 5e9)
				defer cancel()
				_ = ln.Shutdown(ctx)
			}()
			kinds := []struct {
				kind   Kind
				target string
				opts   []DialOption
			}{
				{KindUnix, "unix://" + ln.SocketPath(), nil},
				{KindTLS, "tls://" + ln.TLSAddr().String(), []DialOption{tlsFiles(certDir, "client"), WithServerName("inventory")}},
				{KindMuxTLS, "inventory", []DialOption{WithSocketDir(shortTempDir(t)), tlsFiles(certDir, "client"),
					WithPeerAddr("inventory", ln.TLSAddr().String())}},
			}
			for _, k := range kinds {
				cc := dialT(t, k.target, k.opts...)
				if _, err := check(t, cc); err != nil {
					t.Fatalf("%v: Check: %v", k.kind, err)
				}
				cc.Close()
				p := <-peers
				if p.Transport != k.kind {
					t.Errorf("%v: server PeerFrom transport = %v, want %v", k.kind, p.Transport, k.kind)
				}
				switch k.kind {
				case KindUnix:
					if p.UID != os.Getuid() {
						t.Errorf("unix: PeerFrom UID = %d, want %d", p.UID, os.Getuid())
					}
				default:
					if len(p.DNSNames) == 0 || p.DNSNames[0] != "client" {
						t.Errorf("%v: PeerFrom DNSNames = %v, want the client certificate's [client]", k.kind, p.DNSNames)
					}
				}
			}
		})
	}
	if read.Load() == 0 {
		t.Error("the NetConn wrapper read no bytes; grpc did not read through it")
	}
}

// wrappedHealthServer serves health with ServerOptions on ln and sends the
// PeerFrom of each call to peers.
func wrappedHealthServer(tb testing.TB, ln net.Listener, peers chan<- Peer) *grpc.Server {
	tb.Helper()
	opts, err := ServerOptions()
	if err != nil {
		tb.Fatal(err)
	}
	opts = append(opts, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		p, _ := PeerFrom(ctx)
		peers <- p
		return h(ctx, req)
	}))
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
	})
	return srv
}
