package sidecar

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// bareTLS serves the health service over gRPC+mTLS on loopback (ALPN h2)
// with inventory's certificate and returns a client presenting purchase's.
func bareTLS(b *testing.B, pki testPKI) *grpc.ClientConn {
	b.Helper()
	f := pki.files("inventory")
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		b.Fatal(err)
	}
	ccfg := pki.clientTLS(b, "purchase", "inventory")
	scfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ccfg.RootCAs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(scfg)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	b.Cleanup(func() {
		srv.Stop()
		wg.Wait()
	})
	ccfg.NextProtos = nil // grpc sets h2
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(ccfg)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// BenchmarkUnaryPairVsBareTLS measures one unary health Check at a time
// through app → sidecar → mux/mTLS → sidecar → app, interleaved with the
// same call over bare gRPC+mTLS in the same run, and reports both p50s and
// their ratio (the target is pair/bare <= 1.6). For the breakdown it also
// reports one hop: a gRPC client on a mux stream (PAYLOAD_GRPC, as the SDK
// dials) → sidecar B → app.
//
// Two interleavings: "every-call" alternates the paths call by call, so
// every call starts on a path that sat idle while the two others ran (its
// goroutines parked, its data out of the cache) and the ratio mostly
// measures that cold start, which grows with the goroutines a path wakes:
// on the 2-core VM it makes the hop, one sidecar, slower than the pair.
// "blocks-of-50" alternates 50 calls per path, as back-to-back calls run,
// closer to podwire bench (rows interleaved per round).
func BenchmarkUnaryPairVsBareTLS(b *testing.B) {
	for _, block := range []int{1, 50} {
		name := "every-call"
		if block > 1 {
			name = fmt.Sprintf("blocks-of-%d", block)
		}
		b.Run(name, func(b *testing.B) { benchPairVsBare(b, block) })
	}
}

// benchPairVsBare times b.N calls on each path, the paths taking turns
// every block calls.
func benchPairVsBare(b *testing.B, block int) {
	p := newPair(b, pairOpts{})
	waitReady(b, p.a)
	paths := []healthpb.HealthClient{
		healthpb.NewHealthClient(p.dialApp(b)),
		healthpb.NewHealthClient(bareTLS(b, p.pki)),
		healthpb.NewHealthClient(sdkToSidecar(b, p)),
	}
	ctx := context.Background()
	req := &healthpb.HealthCheckRequest{}
	for range 200 { // warm all paths: connections, HTTP/2 windows, pools
		for _, c := range paths {
			if _, err := c.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	lat := make([][]time.Duration, len(paths))
	for i := range lat {
		lat[i] = make([]time.Duration, 0, b.N)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		for i, c := range paths {
			for range n {
				t0 := time.Now()
				if _, err := c.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}
	}
	b.StopTimer()
	pairLat, bareLat, hopLat := lat[0], lat[1], lat[2]
	pp, bp := percentile(pairLat, 50), percentile(bareLat, 50)
	b.ReportMetric(float64(pp.Microseconds()), "pair-p50-µs")
	b.ReportMetric(float64(bp.Microseconds()), "bare-p50-µs")
	b.ReportMetric(float64(percentile(pairLat, 99).Microseconds()), "pair-p99-µs")
	b.ReportMetric(float64(percentile(bareLat, 99).Microseconds()), "bare-p99-µs")
	b.ReportMetric(float64(percentile(hopLat, 50).Microseconds()), "sdk-to-sidecar-p50-µs")
	b.ReportMetric(float64(pp)/float64(bp), "pair/bare-p50")
}

// sdkToSidecar is a gRPC client whose connection is a mux stream to B
// opened with DialService, as an SDK client reaching a sidecar.
func sdkToSidecar(b *testing.B, p *pair) *grpc.ClientConn {
	b.Helper()
	sess := p.muxPeer(b, "purchase")
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		return sess.DialService(ctx, &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC})
	}
	cc, err := grpc.NewClient("passthrough:///inventory", grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

// percentile returns the q-th percentile of d (sorted in place).
func percentile(d []time.Duration, q int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[(len(d)-1)*q/100]
}

// BenchmarkUnaryPair and BenchmarkUnaryBareTLS are the pair path and the
// bare gRPC+mTLS path of BenchmarkUnaryPairVsBareTLS, each alone, for
// profiles and syscall counts (strace -c -f) that must not mix the two.
// Each reports its p50 and the allocations per call.
func BenchmarkUnaryPair(b *testing.B) {
	p := newPair(b, pairOpts{})
	waitReady(b, p.a)
	benchUnary(b, healthpb.NewHealthClient(p.dialApp(b)))
}

// BenchmarkUnarySDKToSidecar is the hop of BenchmarkUnaryPairVsBareTLS
// alone: gRPC on a mux stream → sidecar B → app, no sidecar A.
func BenchmarkUnarySDKToSidecar(b *testing.B) {
	p := newPair(b, pairOpts{})
	benchUnary(b, healthpb.NewHealthClient(sdkToSidecar(b, p)))
}

func BenchmarkUnaryBareTLS(b *testing.B) {
	benchUnary(b, healthpb.NewHealthClient(bareTLS(b, newTestPKI(b, "inventory", "purchase"))))
}

// benchUnary warms c up and times b.N sequential health Checks on it.
func benchUnary(b *testing.B, c healthpb.HealthClient) {
	b.Helper()
	ctx := context.Background()
	req := &healthpb.HealthCheckRequest{}
	for range 200 {
		if _, err := c.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := c.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
}
