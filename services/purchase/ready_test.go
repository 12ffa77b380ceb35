package purchase

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/transport"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitReady polls purchase's health and /readyz until both say want.
func waitReady(tb testing.TB, hc healthpb.HealthClient, admin string, want bool) {
	tb.Helper()
	wantHealth, wantCode := healthpb.HealthCheckResponse_NOT_SERVING, http.StatusServiceUnavailable
	if want {
		wantHealth, wantCode = healthpb.HealthCheckResponse_SERVING, http.StatusOK
	}
	var gotHealth healthpb.HealthCheckResponse_ServingStatus
	var gotCode int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		h, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: purchasev1.PurchaseService_ServiceDesc.ServiceName})
		if err != nil {
			tb.Fatalf("health Check: %v", err)
		}
		r, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			tb.Fatalf("GET /readyz: %v", err)
		}
		_ = r.Body.Close()
		gotHealth, gotCode = h.GetStatus(), r.StatusCode
		if gotHealth == wantHealth && gotCode == wantCode {
			return
		}
	}
	tb.Fatalf("health %v and /readyz %d; want %v and %d within 10s", gotHealth, gotCode, wantHealth, wantCode)
}

// TestRunStartsWithoutInventory starts purchase with no inventory: its
// socket opens at once and it reports NOT_SERVING, an order fails
// Unavailable (retryable); once inventory starts, purchase turns SERVING
// and an order goes through; when inventory stops it turns NOT_SERVING
// again. The log has one line per change of state, not one per retry.
func TestRunStartsWithoutInventory(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	quiet := slog.New(slog.DiscardHandler)
	purAddrs, stopPur := runService(t, Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "pur.db"), AdminAddr: "127.0.0.1:0", Logger: log})

	cc, err := transport.Dial(t.Context(), "unix://"+purAddrs.Socket)
	if err != nil {
		t.Fatalf("Dial purchase: %v", err)
	}
	defer cc.Close()
	hc, pc := healthpb.NewHealthClient(cc), purchasev1.NewPurchaseServiceClient(cc)
	waitReady(t, hc, purAddrs.Admin.String(), false)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err = pc.PlaceOrder(ctx, place("early", "alice", ol("milk-1l", 1)))
	cancel()
	if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Errorf("PlaceOrder without inventory: %v; want Unavailable or DeadlineExceeded (retryable)", err)
	}
	time.Sleep(time.Second) // several dial retries: still one log line
	if n := strings.Count(logs.String(), "inventory not found"); n != 1 {
		t.Errorf("%d 'inventory not found' lines after 1s of retries, want 1:\n%s", n, logs.String())
	}

	_, stopInv := runService(t, inventory.Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "inv.db"), Seed: true, Logger: quiet})
	waitReady(t, hc, purAddrs.Admin.String(), true)
	resp, err := pc.PlaceOrder(t.Context(), place("k1", "alice", ol("milk-1l", 2)))
	if err != nil {
		t.Fatalf("PlaceOrder once inventory serves: %v", err)
	}
	if got := resp.GetOrder().GetState(); got != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
		t.Errorf("order state %v, want CONFIRMED", got)
	}
	// The early order, left pending, is replayed by its key to the outcome
	// Recover gave it (or confirmed now): one order either way.
	early, err := pc.PlaceOrder(t.Context(), place("early", "alice", ol("milk-1l", 1)))
	if err != nil || early.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
		t.Errorf("retry of the early order = %v, %v; want CONFIRMED", early.GetOrder().GetState(), err)
	}

	if err := stopInv(); err != nil {
		t.Errorf("inventory Run = %v", err)
	}
	waitReady(t, hc, purAddrs.Admin.String(), false)
	if err := stopPur(); err != nil {
		t.Errorf("purchase Run = %v", err)
	}
	t.Logf("purchase log:\n%s", logs.String())
	for _, line := range []string{"inventory not found", "inventory reachable; purchase is ready", "inventory not reachable"} {
		if n := strings.Count(logs.String(), line); n != 1 {
			t.Errorf("%d %q lines, want 1:\n%s", n, line, logs.String())
		}
	}
}

// TestRunBadInventoryTarget: a target that can never work stops Run at
// once with an error naming the flag.
func TestRunBadInventoryTarget(t *testing.T) {
	dir := t.TempDir()
	err := Run(t.Context(), host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "pur.db"), Inventory: "tls://inventory.example:443"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--inventory") {
		t.Errorf("Run with tls:// and no certificates = %v; want an error naming --inventory", err)
	}
}
