package transport

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// benchUnary runs b.N sequential health Checks and reports p50/p99 latency.
func benchUnary(b *testing.B, cc *grpc.ClientConn) {
	b.Helper()
	client := healthpb.NewHealthClient(cc)
	ctx := context.Background()
	req := &healthpb.HealthCheckRequest{}
	for range 200 { // warm up the connection and pools
		if _, err := client.Check(ctx, req); err != nil {
			b.Fatalf("Check: %v", err)
		}
	}
	hist := hdrhistogram.New(1, int64(time.Second), 3)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := client.Check(ctx, req); err != nil {
			b.Fatalf("Check: %v", err)
		}
		_ = hist.RecordValue(int64(time.Since(start)))
	}
	b.StopTimer()
	b.ReportMetric(float64(hist.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(hist.ValueAtQuantile(99)), "p99-ns")
}

// bareUDS starts bare grpc-go on a Unix socket and returns a client.
func bareUDS(b *testing.B) *grpc.ClientConn {
	b.Helper()
	path := filepath.Join(shortTempDir(b), "bare.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	b.Cleanup(srv.Stop)
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// podwireUDS starts a podwire server and returns a client of its bare name.
func podwireUDS(b *testing.B) *grpc.ClientConn {
	b.Helper()
	dir := shortTempDir(b)
	ln, err := Listen(context.Background(), ListenConfig{Service: "inventory", SocketDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	opts, err := ServerOptions()
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	b.Cleanup(srv.Stop)
	cc, err := Dial(context.Background(), "inventory", WithSocketDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// BenchmarkUnaryUDSPaired alternates one bare and one podwire call per
// iteration so both see the same machine noise, and reports each p50 and
// their ratio (the target is podwire/bare <= 1.03).
func BenchmarkUnaryUDSPaired(b *testing.B) {
	bare, pw := healthpb.NewHealthClient(bareUDS(b)), healthpb.NewHealthClient(podwireUDS(b))
	ctx := context.Background()
	req := &healthpb.HealthCheckRequest{}
	hBare, hPW := hdrhistogram.New(1, int64(time.Second), 3), hdrhistogram.New(1, int64(time.Second), 3)
	call := func(c healthpb.HealthClient, h *hdrhistogram.Histogram) {
		start := time.Now()
		if _, err := c.Check(ctx, req); err != nil {
			b.Fatalf("Check: %v", err)
		}
		_ = h.RecordValue(int64(time.Since(start)))
	}
	for range 200 {
		call(bare, hBare)
		call(pw, hPW)
	}
	hBare.Reset()
	hPW.Reset()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 { // alternate who goes first
			call(bare, hBare)
			call(pw, hPW)
		} else {
			call(pw, hPW)
			call(bare, hBare)
		}
	}
	b.StopTimer()
	p50b, p50p := float64(hBare.ValueAtQuantile(50)), float64(hPW.ValueAtQuantile(50))
	b.ReportMetric(p50b, "bare-p50-ns")
	b.ReportMetric(p50p, "podwire-p50-ns")
	b.ReportMetric(p50p/p50b, "p50-ratio")
}

// BenchmarkUnaryUDS compares a unary RPC over a Unix socket with bare
// grpc-go (net.Listen + insecure credentials) and with podwire (Listen,
// ServerOptions with the allow-list interceptors, Dial of a bare name).
func BenchmarkUnaryUDS(b *testing.B) {
	b.Run("bare-grpc", func(b *testing.B) { benchUnary(b, bareUDS(b)) })
	b.Run("podwire", func(b *testing.B) { benchUnary(b, podwireUDS(b)) })
}

// BenchmarkUnaryRemote measures the remote paths on loopback, for
// reference: gRPC over TLS (ALPN h2) and gRPC on a mux stream (a bare name
// with a peer address).
func BenchmarkUnaryRemote(b *testing.B) {
	certDir := testCertDir(b, "inventory", "client")
	cfg := serverTLS(ListenConfig{Service: "inventory", NoUnix: true, Logger: slog.New(slog.DiscardHandler)}, certDir, "inventory")
	s := startServer(b, cfg)
	addr := s.ln.TLSAddr().String()
	b.Run("tls", func(b *testing.B) {
		cc, err := Dial(context.Background(), "tls://"+addr, tlsFiles(certDir, "client"), WithServerName("inventory"))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		benchUnary(b, cc)
	})
	b.Run("mux+tls", func(b *testing.B) {
		cc, err := Dial(context.Background(), "inventory", WithSocketDir(shortTempDir(b)), tlsFiles(certDir, "client"),
			WithPeerAddr("inventory", addr))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		benchUnary(b, cc)
	})
}
