package purchase

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/transport"
)

// runService starts run in a goroutine and returns its addresses once it
// serves; the returned stop cancels it and returns Run's error.
func runService(tb testing.TB, run func(context.Context, host.Config, func(host.Addrs)) error, cfg host.Config) (host.Addrs, func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan host.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, func(a host.Addrs) { addrs <- a }) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	select {
	case a := <-addrs:
		tb.Cleanup(func() { _ = stop() })
		return a, stop
	case err := <-done:
		cancel()
		tb.Fatalf("Run %s: %v", cfg.Service, err)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatalf("Run %s did not start within 10s", cfg.Service)
	}
	return host.Addrs{}, nil
}

// TestRunOverUnixSockets runs inventory and purchase the way `podwire
// serve` does and checks that purchase reached inventory over "unix",
// that health, reflection and the admin endpoint answer, and that a stop
// removes the sockets.
func TestRunOverUnixSockets(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	invAddrs, stopInv := runService(t, inventory.Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "inv.db"), Seed: true, Logger: log})
	purAddrs, stopPur := runService(t, Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "pur.db"), AdminAddr: "127.0.0.1:0", Logger: log})

	cc, err := transport.Dial(t.Context(), ServiceName, transport.WithSocketDir(dir))
	if err != nil {
		t.Fatalf("Dial purchase: %v", err)
	}
	defer cc.Close()
	waitReady(t, healthpb.NewHealthClient(cc), purAddrs.Admin.String(), true)
	resp, err := purchasev1.NewPurchaseServiceClient(cc).PlaceOrder(t.Context(), place("k1", "alice", ol("milk-1l", 2)))
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if got := resp.GetOrder().GetInventoryTransport(); got != "unix" {
		t.Errorf("inventory_transport = %q, want unix", got)
	}
	h, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: purchasev1.PurchaseService_ServiceDesc.ServiceName})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v; want SERVING", h.GetStatus(), err)
	}
	rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	_ = rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	rr, err := rs.Recv()
	if err != nil || len(rr.GetListServicesResponse().GetService()) < 3 {
		t.Errorf("reflection list = %v, %v; want purchase, health and reflection", rr.GetListServicesResponse(), err)
	}
	_ = rs.CloseSend()
	for path, want := range map[string]int{"/readyz": 200, "/healthz": 200, "/metrics": 200} {
		r, err := http.Get("http://" + purAddrs.Admin.String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_ = r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
	if err := stopPur(); err != nil {
		t.Errorf("purchase Run = %v, want nil after stop", err)
	}
	if err := stopInv(); err != nil {
		t.Errorf("inventory Run = %v, want nil after stop", err)
	}
	for _, p := range []string{purAddrs.Socket, invAddrs.Socket} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s still there after stop (%v)", p, err)
		}
	}
}
