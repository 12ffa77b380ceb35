package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/status"
)

// TestCrossPod is scenario 2: purchase in pod A reaches inventory in pod B
// only through the two sidecars (mTLS on a suite network); the apps have no
// network. 500 concurrent orders succeed, and pod B's sidecar carries them
// all on one TCP connection from pod A.
func TestCrossPod(t *testing.T) {
	s := newShop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before, err := stockOf(ctx, s.invc)
	if err != nil {
		t.Fatal(err)
	}

	const orders = 500
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ordered = map[string]int64{}
		errs    = make(chan error, orders)
		via     = map[string]int{}
	)
	began := time.Now()
	for i := range orders {
		wg.Go(func() {
			sku := s.sku(i)
			resp, err := s.pur.PlaceOrder(ctx, orderFor(fmt.Sprintf("crosspod-%d", i), sku, 1))
			if err != nil {
				errs <- fmt.Errorf("order %d: %v (code %v)", i, err, status.Code(err))
				return
			}
			mu.Lock()
			ordered[sku]++
			via[resp.GetOrder().GetInventoryTransport()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		if failed <= 10 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent orders failed, want 0", failed, orders)
	}
	t.Logf("%d concurrent orders through two sidecars in %s; purchase reached inventory via %v", orders, elapsed.Round(time.Millisecond), via)
	// purchase sees its own pod's socket: the sidecar is invisible to it.
	if via["unix"] != orders {
		t.Errorf("inventory_transport counts = %v, want all %d over unix (the sidecar's socket)", via, orders)
	}

	checkOneSession(t, s)

	after, err := stockOf(ctx, s.invc)
	if err != nil {
		t.Fatal(err)
	}
	checkStock(t, before, after, ordered)
}

// checkOneSession wants one mux session between the pods: inbound at pod
// B's sidecar from purchase's identity, outbound at pod A's to inventory's.
func checkOneSession(t testing.TB, s *shop) {
	t.Helper()
	snapB := s.b.snapshot(t, adminOfPod)
	if got := inboundFrom(snapB, spiffeOf("purchase")); len(got) != 1 {
		t.Errorf("pod B's sidecar has %d inbound sessions from %s, want exactly 1: %+v", len(got), spiffeOf("purchase"), snapB.Sessions)
	} else if got[0].BytesRx == 0 {
		t.Errorf("the one inbound session from pod A carried no bytes: %+v", got[0])
	}
	snapA := s.a.snapshot(t, adminOfPod)
	outbound := 0
	for _, si := range snapA.Sessions {
		if si.Direction == "outbound" {
			outbound++
			if si.SPIFFEID != spiffeOf("inventory") {
				t.Errorf("pod A's outbound session peer = %q, want %q", si.SPIFFEID, spiffeOf("inventory"))
			}
		}
	}
	if outbound != 1 {
		t.Errorf("pod A's sidecar has %d outbound sessions, want 1: %+v", outbound, snapA.Sessions)
	}
}
