package transport

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// waitTransport polls Check until it travels over want.
func waitTransport(tb testing.TB, cc *grpc.ClientConn, want Kind) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last Peer
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = check(tb, cc)
		if lastErr == nil && last.Transport == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("transport = %v (err %v), want %v within 10s", last.Transport, lastErr, want)
}

func TestSelectionFollowsSocket(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	remote := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"))
	remote.health.SetServingStatus("inv", healthpb.HealthCheckResponse_SERVING)
	sockDir := shortTempDir(t)
	before := selectionCount(t, "inventory", KindUnix, "socket_live")
	cc := dialT(t, "inventory", WithSocketDir(sockDir), tlsFiles(certDir, "client"),
		WithPeerAddr("inventory", remote.ln.TLSAddr().String()))

	// Socket absent: remote.
	if p, err := check(t, cc); err != nil || p.Transport != remoteKind {
		t.Fatalf("no socket: Check = %v, %v; want %v", p.Transport, err, remoteKind)
	}
	// An in-flight stream on the remote path.
	ctx := ctxT(t)
	stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "inv"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if r, err := stream.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Recv = %v, %v; want SERVING", r, err)
	}

	// Socket appears: new RPCs use it.
	local := startServer(t, ListenConfig{Service: "inventory", SocketDir: sockDir})
	waitTransport(t, cc, KindUnix)
	if got := selectionCount(t, "inventory", KindUnix, "socket_live") - before; got < 1 {
		t.Errorf("selections{unix,socket_live} grew by %v, want >= 1", got)
	}

	// The stream that started on the remote path still works.
	remote.health.SetServingStatus("inv", healthpb.HealthCheckResponse_NOT_SERVING)
	if r, err := stream.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("in-flight stream after switch: Recv = %v, %v; want NOT_SERVING", r, err)
	}

	// Socket removed: back to the remote path.
	local.srv.Stop()
	if err := local.ln.Close(); err != nil {
		t.Fatalf("local Close: %v", err)
	}
	waitTransport(t, cc, remoteKind)
}

func TestSelectionEnvPeer(t *testing.T) {
	certDir := testCertDir(t, "order-db", "client")
	remote := startServer(t, serverTLS(ListenConfig{Service: "order-db", NoUnix: true}, certDir, "order-db"))
	t.Setenv("PODWIRE_PEER_ORDER_DB", remote.ln.TLSAddr().String())
	cc := dialT(t, "order-db", WithSocketDir(shortTempDir(t)), tlsFiles(certDir, "client"))
	p, err := check(t, cc)
	if err != nil || p.Transport != remoteKind {
		t.Fatalf("Check = %v, %v; want %v via PODWIRE_PEER_ORDER_DB", p.Transport, err, remoteKind)
	}
}

func TestDialErrors(t *testing.T) {
	dir := shortTempDir(t)
	tests := []struct {
		name    string
		target  string
		opts    []DialOption
		want    error
		mention []string
	}{
		{"unknown service", "ghost", []DialOption{WithSocketDir(dir)}, ErrUnknownService,
			[]string{dir + "/ghost.sock", "PODWIRE_PEER_GHOST"}},
		{"peer without TLS", "ghost", []DialOption{WithSocketDir(dir), WithPeerAddr("ghost", "127.0.0.1:1")}, ErrTLSConfigMissing,
			[]string{"ghost"}},
		{"tls without certs", "tls://127.0.0.1:1", nil, ErrTLSConfigMissing, []string{"tls://127.0.0.1:1"}},
		{"plaintext off loopback", "tcp://10.0.0.1:80", []DialOption{WithInsecureLoopback()}, ErrInsecureNotAllowed,
			[]string{"not loopback"}},
		{"plaintext not asked", "tcp://127.0.0.1:80", nil, ErrInsecureNotAllowed, []string{"WithInsecureLoopback"}},
		{"bad target", "Inventory!", nil, ErrBadTarget, []string{"Inventory!"}},
		{"socket path too long", "unix:///" + strings.Repeat("p", 120) + ".sock", nil, ErrPathTooLong, []string{strconv.Itoa(sunPathLimit) + "-byte limit"}},
		{"conflicting TLS options", "inventory", []DialOption{WithTLSFiles("a", "b", "c"), WithTLSConfig(nil)}, ErrBadConfig,
			[]string{"WithTLSConfig"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := Dial(ctxT(t), tt.target, tt.opts...)
			if cc != nil {
				cc.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Dial(%q) = %v, want %v", tt.target, err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestGlobalResolver(t *testing.T) {
	dir := shortTempDir(t)
	t.Setenv("PODWIRE_SOCKET_DIR", dir)
	startServer(t, ListenConfig{Service: "inventory"})
	opts, err := DialOptions()
	if err != nil {
		t.Fatalf("DialOptions: %v", err)
	}
	// The globally registered scheme, without podwire's resolver option.
	cc, err := grpc.NewClient("podwire:///inventory", opts[:2]...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cc.Close()
	if p, err := check(t, cc); err != nil || p.Transport != KindUnix {
		t.Fatalf("Check = %v, %v; want unix", p.Transport, err)
	}
}

// selectionCount reads podwire_transport_selections_total for the labels.
func selectionCount(tb testing.TB, service string, kind Kind, reason string) float64 {
	tb.Helper()
	var m dto.Metric
	if err := DefaultClient.ready().m.selections.WithLabelValues(service, kind.String(), reason).Write(&m); err != nil {
		tb.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

func TestRemoteSharesOnePool(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	remote := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"))
	opts := []DialOption{WithSocketDir(shortTempDir(t)), tlsFiles(certDir, "client"),
		WithPeerAddr("inventory", remote.ln.TLSAddr().String())}
	var ccs []*grpc.ClientConn
	for range 2 {
		cc, err := Dial(ctxT(t), "inventory", opts...)
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		ccs = append(ccs, cc)
		p, err := check(t, cc)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if p.Transport != KindMuxTLS || len(p.Chain) == 0 || p.Chain[0].DNSNames[0] != "inventory" {
			t.Fatalf("client peer = %v with chain %d, want mux+tls with the inventory certificate", p.Transport, len(p.Chain))
		}
	}
	c := DefaultClient.ready()
	cfg, _ := c.config(opts)
	c.mu.Lock()
	e := c.pools[cfg.poolKey()]
	c.mu.Unlock()
	if e == nil {
		t.Fatalf("no shared pool for the dial configuration")
	}
	infos := e.pool.Sessions()
	if len(infos) != 1 || infos[0].Streams != 2 {
		t.Errorf("pool sessions = %+v, want 1 session carrying 2 streams", infos)
	}
	for _, cc := range ccs {
		cc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.pools)
		c.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pools still open 5s after every ClientConn closed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResolversShareOneDirWatch(t *testing.T) {
	dir := shortTempDir(t)
	startServer(t, ListenConfig{Service: "inventory", SocketDir: dir})
	var ccs []*grpc.ClientConn
	for range 3 {
		cc := dialT(t, "inventory", WithSocketDir(dir))
		if _, err := check(t, cc); err != nil {
			t.Fatalf("Check: %v", err)
		}
		ccs = append(ccs, cc)
	}
	dirs := DefaultClient.ready().dirs
	dirs.mu.Lock()
	d := dirs.watches[dir]
	refs := 0
	if d != nil {
		refs = d.refs
	}
	dirs.mu.Unlock()
	if refs != 3 {
		t.Errorf("watch refs on %s = %d, want 3 resolvers sharing one watcher", dir, refs)
	}
	for _, cc := range ccs {
		cc.Close()
	}
	dirs.mu.Lock()
	_, still := dirs.watches[dir]
	dirs.mu.Unlock()
	if still {
		t.Errorf("watch on %s still open after every ClientConn closed", dir)
	}
}

func TestSelectionSocketDirCreatedLater(t *testing.T) {
	certDir := testCertDir(t, "inventory", "client")
	remote := startServer(t, serverTLS(ListenConfig{Service: "inventory", NoUnix: true}, certDir, "inventory"))
	sockDir := filepath.Join(shortTempDir(t), "later")
	cc := dialT(t, "inventory", WithSocketDir(sockDir), tlsFiles(certDir, "client"),
		WithPeerAddr("inventory", remote.ln.TLSAddr().String()))
	waitTransport(t, cc, remoteKind)
	startServer(t, ListenConfig{Service: "inventory", SocketDir: sockDir}) // creates the dir
	waitTransport(t, cc, KindUnix)
}
