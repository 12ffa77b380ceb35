package sidecar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podwire/podwire/mux"
	"github.com/podwire/podwire/transport/certs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// testPKI is a CA and one leaf per name, as files in a temp dir
// (spiffe://podwire.local/<name>, DNS SAN <name>).
type testPKI struct{ dir string }

func newTestPKI(t testing.TB, names ...string) testPKI {
	t.Helper()
	dir := t.TempDir()
	if err := certs.Write(dir, names); err != nil {
		t.Fatalf("certs.Write: %v", err)
	}
	return testPKI{dir: dir}
}

func (p testPKI) files(name string) TLSFiles {
	return TLSFiles{
		Cert: filepath.Join(p.dir, name+".crt"),
		Key:  filepath.Join(p.dir, name+".key"),
		CA:   filepath.Join(p.dir, "ca.crt"),
	}
}

// clientTLS is a TLS client config presenting name's certificate to a
// sidecar whose certificate is for server.
func (p testPKI) clientTLS(t testing.TB, name, server string) *tls.Config {
	t.Helper()
	f := p.files(name)
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: server, NextProtos: []string{ALPN}}
}

// shortDir returns a temp dir with a short path (Unix socket paths are
// limited to about 104 bytes).
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testMuxConfig is mux.DefaultConfig with a short keepalive for tests.
// The reply wait (HeaderTimeout) stays generous: under -race on a loaded
// machine an acceptor may take a while to answer 40 concurrent opens. The
// sidecar's own inbound header deadline is Config.HeaderTimeout.
func testMuxConfig() mux.Config {
	c := mux.DefaultConfig()
	c.HeaderTimeout = 5 * time.Second
	c.KeepAliveInterval = time.Second
	return c
}

// startSidecar starts a Sidecar from cfg and closes it at cleanup.
func startSidecar(t testing.TB, cfg Config, opts ...Option) *Sidecar {
	t.Helper()
	opts = append([]Option{WithMuxConfig(testMuxConfig())}, opts...)
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func listenCounting(t testing.TB) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: ln}
}

// pair is app A → sidecar A → mux/TLS → sidecar B → app B, where app B
// serves "inventory" on B's socket dir.
type pair struct {
	pki        testPKI
	a, b       *Sidecar
	dirA, dirB string
	bLn        *countingListener
	health     *health.Server
}

// pairOpts tweaks newPair.
type pairOpts struct {
	clientName string   // certificate of sidecar A; default "purchase"
	allow      []string // B's allow list for inventory
	drain      time.Duration
	rawEcho    bool // app B is a raw echo server instead of gRPC
	maxPending int  // B's MaxPendingHandshakes; default the Config default
}

func newPair(t testing.TB, po pairOpts) *pair {
	t.Helper()
	if po.clientName == "" {
		po.clientName = "purchase"
	}
	if po.allow == nil {
		po.allow = []string{"spiffe://podwire.local/purchase"}
	}
	if po.drain == 0 {
		po.drain = 5 * time.Second
	}
	p := &pair{pki: newTestPKI(t, "inventory", "purchase", "intruder"), dirA: shortDir(t), dirB: shortDir(t)}
	if po.rawEcho {
		startEchoApp(t, filepath.Join(p.dirB, "inventory.sock"))
	} else {
		p.health = startGRPCApp(t, filepath.Join(p.dirB, "inventory.sock"))
	}
	p.bLn = listenCounting(t)
	cfgB := DefaultConfig()
	cfgB.SocketDir, cfgB.Admin, cfgB.TLS = p.dirB, "127.0.0.1:0", p.pki.files("inventory")
	cfgB.Services = []Service{{Name: "inventory", Allow: po.allow}}
	cfgB.DrainTimeout = po.drain
	cfgB.HeaderTimeout = 500 * time.Millisecond
	cfgB.HandshakeTimeout = time.Second
	if po.maxPending > 0 {
		cfgB.MaxPendingHandshakes = po.maxPending
	}
	p.b = startSidecar(t, cfgB, WithInboundListener(p.bLn))

	cfgA := DefaultConfig()
	cfgA.SocketDir, cfgA.Admin, cfgA.TLS = p.dirA, "127.0.0.1:0", p.pki.files(po.clientName)
	cfgA.Upstreams = []Upstream{{Name: "inventory", Address: p.b.InboundAddr(), ServerName: "inventory"}}
	cfgA.DrainTimeout = po.drain
	p.a = startSidecar(t, cfgA)
	return p
}

// dialApp is app A's gRPC client to "inventory" through sidecar A.
func (p *pair) dialApp(t testing.TB) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("unix://"+filepath.Join(p.dirA, "inventory.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitReady waits until s reports ready.
func waitReady(t testing.TB, s *Sidecar) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready after 10s: %s", s.notReady())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowService is a handwritten gRPC service: Sleep waits the given
// milliseconds and returns.
var slowService = grpc.ServiceDesc{
	ServiceName: "podwire.test.Slow",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Sleep",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.Int64Value)
			if err := dec(in); err != nil {
				return nil, err
			}
			select {
			case <-time.After(time.Duration(in.GetValue()) * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &emptypb.Empty{}, nil
		},
	}},
}

// callSleep calls Slow/Sleep for ms milliseconds.
func callSleep(ctx context.Context, cc *grpc.ClientConn, ms int64) error {
	return cc.Invoke(ctx, "/podwire.test.Slow/Sleep", wrapperspb.Int64(ms), new(emptypb.Empty))
}

// startGRPCApp serves the health service and Slow on a Unix socket.
func startGRPCApp(t testing.TB, path string) *health.Server {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	srv.RegisterService(&slowService, struct{}{})
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		hs.Shutdown()
		srv.Stop()
		wg.Wait()
	})
	return hs
}

// startEchoApp serves a raw echo on a Unix socket: it copies input back
// and half-closes after the client's EOF.
func startEchoApp(t testing.TB, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				io.Copy(c, c)
				c.(*net.UnixConn).CloseWrite()
				io.Copy(io.Discard, c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// muxPeer dials B's inbound listener with name's certificate and starts
// a mux client session on it.
func (p *pair) muxPeer(t testing.TB, name string) *mux.Session {
	t.Helper()
	c, err := tls.Dial("tcp", p.b.InboundAddr(), p.pki.clientTLS(t, name, "inventory"))
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	s, err := mux.Client(c, testMuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
