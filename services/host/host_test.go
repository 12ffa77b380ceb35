package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"google.golang.org/grpc/status"

	"github.com/podwire/podwire/transport"
	"github.com/podwire/podwire/transport/certs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	ok := Config{Service: "s", DataPath: "/tmp/s.db"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr bool
	}{
		{"minimal", func(*Config) {}, false},
		{"no service", func(c *Config) { c.Service = "" }, true},
		{"no data", func(c *Config) { c.DataPath = "" }, true},
		{"tls without files", func(c *Config) { c.TLSListen = "127.0.0.1:0" }, true},
		{"tls with files", func(c *Config) { c.TLSListen, c.CertFile, c.KeyFile, c.CAFile = "127.0.0.1:0", "c", "k", "ca" }, false},
		{"admin loopback v4", func(c *Config) { c.AdminAddr = "127.0.0.1:9090" }, false},
		{"admin loopback v6", func(c *Config) { c.AdminAddr = "[::1]:9090" }, false},
		{"admin localhost", func(c *Config) { c.AdminAddr = "localhost:9090" }, false},
		{"admin all interfaces", func(c *Config) { c.AdminAddr = ":9090" }, true},
		{"admin public", func(c *Config) { c.AdminAddr = "10.0.0.1:9090" }, true},
		{"admin no port", func(c *Config) { c.AdminAddr = "127.0.0.1" }, true},
		{"admin unix socket", func(c *Config) { c.AdminAddr = "unix:/run/podwire/s-admin.sock" }, false},
		{"admin relative unix socket", func(c *Config) { c.AdminAddr = "unix:s-admin.sock" }, true},
		{"negative shutdown", func(c *Config) { c.ShutdownTimeout = -time.Second }, true},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		err := c.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Validate() = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not match ErrConfig", tt.name, err)
		}
	}
}

// blockStarted receives a value each time a block stream starts.
var blockStarted = make(chan struct{}, 16)

// blockDesc is a service whose one stream never ends on its own.
var blockDesc = grpc.ServiceDesc{
	ServiceName: "test.Block",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{StreamName: "Block", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
		blockStarted <- struct{}{}
		<-ss.Context().Done()
		return nil
	}}},
}

// runBlock runs cfg with the block stream under Run and waits until it
// serves; stop cancels Run and returns what Run returned.
func runBlock(t *testing.T, cfg Config) (addrs Addrs, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	started, done := make(chan Addrs, 1), make(chan error, 1)
	svc := Service{HealthName: "svc.v1.Svc", Register: func(g grpc.ServiceRegistrar) { g.RegisterService(&blockDesc, struct{}{}) }}
	go func() { done <- Run(ctx, cfg, prometheus.NewRegistry(), svc, func(a Addrs) { started <- a }) }()
	select {
	case addrs = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	return addrs, func() error { cancel(); return <-done }
}

// startRun runs a service with the block stream under Run in a temp socket
// dir and returns a client, and a stop func that reports how long Run took
// to return.
func startRun(t *testing.T, shutdown time.Duration) (*grpc.ClientConn, func() (time.Duration, error)) {
	t.Helper()
	dir := t.TempDir()
	_, stop := runBlock(t, Config{Service: "svc", SocketDir: dir, DataPath: filepath.Join(dir, "unused"), ShutdownTimeout: shutdown})
	cc, err := transport.Dial(t.Context(), "svc", transport.WithSocketDir(dir))
	if err != nil {
		_ = stop()
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc, func() (time.Duration, error) {
		start := time.Now()
		err := stop()
		return time.Since(start), err
	}
}

// TestRunHealthAndWatchersDoNotHoldTheStop checks health while serving,
// and that an open health Watch does not delay the graceful stop.
func TestRunHealthAndWatchersDoNotHoldTheStop(t *testing.T) {
	cc, stop := startRun(t, 10*time.Second)
	hc := healthpb.NewHealthClient(cc)
	if r, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "svc.v1.Svc"}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, %v; want SERVING", r.GetStatus(), err)
	}
	w, err := hc.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatalf("Watch Recv: %v", err)
	}
	d, err := stop()
	if err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if d > 2*time.Second {
		t.Errorf("stop took %v with only a health watcher open; want it not to wait for the 10s deadline", d)
	}
	for {
		if _, err := w.Recv(); err != nil {
			break
		}
	}
}

// TestRunCutsOffAtDeadline holds a stream that never ends: the stop must
// give up on it after ShutdownTimeout and still return.
func TestRunCutsOffAtDeadline(t *testing.T) {
	cc, stop := startRun(t, 200*time.Millisecond)
	cs, err := cc.NewStream(t.Context(), &blockDesc.Streams[0], "/test.Block/Block")
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	if err := cs.SendMsg(&healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("SendMsg: %v", err)
	}
	select {
	case <-blockStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the block stream never reached its handler")
	}
	d, err := stop()
	if err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("stop took %v, want about the 200ms deadline", d)
	}
}

// TestRunHealthForDeniedPeers: a caller --allow excludes still gets
// health SERVING over the Unix socket and TLS (unless HealthUnderAllow),
// other methods PermissionDenied, and the admin's /metrics shows the
// standard gRPC series with a transport label.
func TestRunHealthForDeniedPeers(t *testing.T) {
	for _, underAllow := range []bool{false, true} {
		t.Run(fmt.Sprintf("HealthUnderAllow=%v", underAllow), func(t *testing.T) {
			dir := t.TempDir()
			if err := certs.Write(dir, []string{"svc", "client"}); err != nil {
				t.Fatal(err)
			}
			addrs, stop := runBlock(t, Config{Service: "svc", SocketDir: dir, DataPath: filepath.Join(dir, "unused"), AdminAddr: "127.0.0.1:0",
				TLSListen: "127.0.0.1:0", CertFile: filepath.Join(dir, "svc.crt"), KeyFile: filepath.Join(dir, "svc.key"), CAFile: filepath.Join(dir, "ca.crt"),
				Allow: []string{"uid:" + strconv.Itoa(os.Getuid()+4242), "spiffe://podwire.local/other"}, HealthUnderAllow: underAllow})
			t.Cleanup(func() { _ = stop() })
			want := codes.OK
			if underAllow {
				want = codes.PermissionDenied
			}
			targets := map[string][]transport.DialOption{
				"unix://" + addrs.Socket: nil,
				"tls://" + addrs.TLS.String(): {transport.WithServerName("svc"), transport.WithTLSFiles(
					filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.crt"))},
			}
			for target, opts := range targets {
				cc, err := transport.Dial(t.Context(), target, opts...)
				if err != nil {
					t.Fatalf("Dial %s: %v", target, err)
				}
				r, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "svc.v1.Svc"})
				if status.Code(err) != want || (want == codes.OK && r.GetStatus() != healthpb.HealthCheckResponse_SERVING) {
					t.Errorf("%s: health Check = %v, %v; want %v (SERVING)", target, r.GetStatus(), err, want)
				}
				cs, err := cc.NewStream(t.Context(), &blockDesc.Streams[0], "/test.Block/Block")
				if err == nil {
					if err = cs.SendMsg(&healthpb.HealthCheckRequest{}); err == nil {
						err = cs.RecvMsg(&healthpb.HealthCheckResponse{})
					}
				}
				if status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s: test.Block = %v, want PermissionDenied", target, err)
				}
				cc.Close()
			}
			// A mux+tls call (podwire_mux_* on the SDK server) and a
			// connection that is not TLS (podwire_tls_handshake_failures_total).
			mc, err := transport.Dial(t.Context(), "svc", transport.WithSocketDir(t.TempDir()), transport.WithPeerAddr("svc", addrs.TLS.String()),
				transport.WithTLSFiles(filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.crt")))
			if err != nil {
				t.Fatal(err)
			}
			_, err = healthpb.NewHealthClient(mc).Check(t.Context(), &healthpb.HealthCheckRequest{})
			mc.Close()
			if status.Code(err) != want {
				t.Errorf("mux+tls health Check = %v, want %v", err, want)
			}
			if raw, err := net.Dial("tcp", addrs.TLS.String()); err == nil {
				fmt.Fprintf(raw, "GET / HTTP/1.1\r\n\r\n")
				_, _ = raw.Read(make([]byte, 64))
				raw.Close()
			}
			time.Sleep(100 * time.Millisecond)
			resp, err := http.Get("http://" + addrs.Admin.String() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, s := range []string{
				`grpc_server_handled_total{grpc_code="PermissionDenied",grpc_method="Block",grpc_service="test.Block",grpc_type="server_stream",transport="unix"} 1`,
				`grpc_server_handled_total{grpc_code="PermissionDenied",grpc_method="Block",grpc_service="test.Block",grpc_type="server_stream",transport="tls"} 1`,
				`podwire_authz_denied_total{method="/test.Block/Block",transport="tls"} 1`,
				`podwire_mux_streams_opened_total{direction="inbound"} 1`,
				`podwire_tls_handshake_failures_total{reason="not_tls"} 1`,
				`grpc_server_handling_seconds_bucket{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary",transport="unix",le="60"} 1`,
			} {
				if !strings.Contains(string(body), s) {
					t.Errorf("/metrics lacks %s", s)
				}
			}
			if strings.Contains(string(body), "podwire_service_rpcs_total") {
				t.Error("/metrics still has podwire_service_rpcs_total")
			}
		})
	}
}

// TestRunAdminOnUnixSocket: --admin unix:PATH serves /healthz, /readyz and
// /metrics on the socket, and removes it on stop.
func TestRunAdminOnUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "svc-admin.sock")
	_, stop := runBlock(t, Config{Service: "svc", SocketDir: dir, DataPath: filepath.Join(dir, "unused"), AdminAddr: "unix:" + sock})
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "go_goroutines"} {
		resp, err := client.Get("http://admin" + path)
		if err != nil {
			t.Fatalf("GET %s over %s: %v", path, sock, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %.80q, want 200 with %q", path, resp.StatusCode, body, want)
		}
	}
	tr.CloseIdleConnections()
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket still there after stop: %v", err)
	}
}
