package host

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podwire/podwire/transport"
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

// TestRunStopsWithinDeadline serves a service whose stream never ends:
// the stop must still return within ShutdownTimeout (Stop after
// GracefulStop times out) and health must answer while serving.
func TestRunStopsWithinDeadline(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan Addrs, 1)
	done := make(chan error, 1)
	cfg := Config{Service: "svc", SocketDir: dir, DataPath: filepath.Join(dir, "unused"), ShutdownTimeout: 200 * time.Millisecond}
	go func() {
		done <- Run(ctx, cfg, prometheus.NewRegistry(), Service{HealthName: "svc.v1.Svc", Register: func(grpc.ServiceRegistrar) {}}, func(a Addrs) { started <- a })
	}()
	<-started
	cc, err := transport.Dial(t.Context(), "svc", transport.WithSocketDir(dir))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer cc.Close()
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
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v with a 200ms ShutdownTimeout", d)
	}
}
