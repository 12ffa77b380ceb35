package transport

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// idleChannels is how many channels BenchmarkIdleHeap holds per row.
const idleChannels = 200

// heapInUse returns the live heap after two collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleHeapPerChannel opens n channels with dial, makes one call on each,
// lets them go idle and returns the heap they hold (client and server,
// same process) per channel. The channels are closed before it returns.
func idleHeapPerChannel(tb testing.TB, n int, dial func() (*grpc.ClientConn, error)) float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ccs := make([]*grpc.ClientConn, 0, n)
	defer func() {
		for _, cc := range ccs {
			cc.Close()
		}
	}()
	before := heapInUse()
	for range n {
		cc, err := dial()
		if err != nil {
			tb.Fatalf("dial: %v", err)
		}
		ccs = append(ccs, cc)
		if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			tb.Fatalf("Check: %v", err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let both ends finish their post-RPC work
	after := heapInUse()
	return (float64(after) - float64(before)) / float64(n)
}

// bareServer serves health with bare grpc-go on ln until Cleanup.
func bareServer(tb testing.TB, ln net.Listener, opts ...grpc.ServerOption) {
	tb.Helper()
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	tb.Cleanup(srv.Stop)
}

// idleRow is one transport of BenchmarkIdleHeap: setup starts the server
// and returns how to dial one more channel to it.
type idleRow struct {
	name  string
	setup func(tb testing.TB) func() (*grpc.ClientConn, error)
}

// idleRows are the bare grpc-go and podwire rows of each transport.
func idleRows() []idleRow {
	quiet := slog.New(slog.DiscardHandler)
	bareListen := func(tb testing.TB, network, addr string) net.Listener {
		tb.Helper()
		ln, err := net.Listen(network, addr)
		if err != nil {
			tb.Fatal(err)
		}
		return ln
	}
	insecureDial := func(target string) func() (*grpc.ClientConn, error) {
		return func() (*grpc.ClientConn, error) {
			return grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		}
	}
	podwire := func(tb testing.TB, cfg ListenConfig, target string, opts ...DialOption) func() (*grpc.ClientConn, error) {
		cfg.Logger = quiet
		s := startServer(tb, cfg)
		if target == "" {
			target = "tcp://" + s.ln.PlainAddr().String()
		}
		return func() (*grpc.ClientConn, error) { return Dial(context.Background(), target, opts...) }
	}
	return []idleRow{
		{"grpc-uds", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			path := filepath.Join(shortTempDir(tb), "bare.sock")
			bareServer(tb, bareListen(tb, "unix", path))
			return insecureDial("unix://" + path)
		}},
		{"podwire-uds", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			dir := shortTempDir(tb)
			return podwire(tb, ListenConfig{Service: "inventory", SocketDir: dir}, "inventory", WithSocketDir(dir))
		}},
		{"grpc-tcp", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			ln := bareListen(tb, "tcp", "127.0.0.1:0")
			bareServer(tb, ln)
			return insecureDial(ln.Addr().String())
		}},
		{"podwire-tcp", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			return podwire(tb, ListenConfig{Service: "inventory", NoUnix: true, PlainAddr: "127.0.0.1:0"}, "", WithInsecureLoopback())
		}},
		{"grpc-tls", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			dir := testCertDir(tb, "inventory", "client")
			srvCerts, cliCerts := certSourceT(tb, dir, "inventory"), certSourceT(tb, dir, "client")
			ln := bareListen(tb, "tcp", "127.0.0.1:0")
			bareServer(tb, ln, grpc.Creds(credentials.NewTLS(srvCerts.ServerConfig([]string{ALPNGRPC}))))
			conf := cliCerts.ClientConfig("inventory", []string{ALPNGRPC})
			return func() (*grpc.ClientConn, error) {
				return grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(conf)))
			}
		}},
		{"podwire-tls", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			dir := testCertDir(tb, "inventory", "client")
			s := startServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true, Logger: quiet}, dir, "inventory"))
			target := "tls://" + s.ln.TLSAddr().String()
			return func() (*grpc.ClientConn, error) {
				return Dial(context.Background(), target, tlsFiles(dir, "client"), WithServerName("inventory"))
			}
		}},
		{"podwire-mux-tls", func(tb testing.TB) func() (*grpc.ClientConn, error) {
			dir := testCertDir(tb, "inventory", "client")
			s := startServer(tb, serverTLS(ListenConfig{Service: "inventory", NoUnix: true, Logger: quiet}, dir, "inventory"))
			sockDir, addr := shortTempDir(tb), s.ln.TLSAddr().String()
			// One channel held open keeps the shared mux session alive, so
			// the rows measure channels, not the session.
			keep, err := Dial(context.Background(), "inventory", WithSocketDir(sockDir), tlsFiles(dir, "client"), WithPeerAddr("inventory", addr))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { keep.Close() })
			if _, err := check(tb, keep); err != nil {
				tb.Fatal(err)
			}
			return func() (*grpc.ClientConn, error) {
				return Dial(context.Background(), "inventory", WithSocketDir(sockDir), tlsFiles(dir, "client"), WithPeerAddr("inventory", addr))
			}
		}},
	}
}

// BenchmarkIdleHeap reports the heap an idle channel holds, both ends in
// one process, for bare grpc-go and podwire over each transport. Each
// iteration opens 200 channels that answered once; run it with
// -benchtime=1x (or a few x) and compare rows of the same run.
func BenchmarkIdleHeap(b *testing.B) {
	for _, row := range idleRows() {
		b.Run(row.name, func(b *testing.B) {
			dial := row.setup(b)
			var sum float64
			for b.Loop() {
				sum += idleHeapPerChannel(b, idleChannels, dial)
			}
			b.ReportMetric(sum/float64(b.N), "heapB/chan")
		})
	}
}
