package transport

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestReconnectAfterOutage: a channel whose server was gone long enough
// for grpc's default backoff to reach seconds reconnects within
// Config.ReconnectMaxDelay of the server's return.
func TestReconnectAfterOutage(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "inventory.sock")
	cc, err := Dial(context.Background(), "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	// 3 s without a server: grpc's default backoff (1 s × 1.6^n) would
	// next retry about 2 s after the server returns.
	outage := time.Now().Add(3 * time.Second)
	for time.Now().Before(outage) {
		if check() == nil {
			t.Fatal("Check succeeded with no server")
		}
		time.Sleep(50 * time.Millisecond)
	}

	ln, err := Listen(context.Background(), ListenConfig{Service: "inventory", SocketDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()
	back := time.Now()

	limit := DefaultConfig().ReconnectMaxDelay + 500*time.Millisecond
	for check() != nil {
		if time.Since(back) > limit {
			t.Fatalf("server back for %v and the channel has not reconnected; want within ReconnectMaxDelay %v (+0.5 s)", time.Since(back), DefaultConfig().ReconnectMaxDelay)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("reconnected %v after the server returned", time.Since(back).Round(time.Millisecond))
}
