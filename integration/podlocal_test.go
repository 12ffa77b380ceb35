package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/transport"
)

// TestPodLocal is scenario 1: inventory and purchase in two containers of
// one pod, with no network at all, sharing /run/podwire. Orders can only
// flow over Unix sockets; inventory admits purchase by uid.
func TestPodLocal(t *testing.T) {
	p := newPod(t, "shop")
	allowInv := fmt.Sprintf("uid:%d,%s", runtimeUID, selfUID()) // purchase, and this test for audits
	start(t, podSpec{
		name: "inventory",
		args: []string{"serve", "inventory", "--seed", "--data", "/var/lib/podwire/inventory.db", "--allow", allowInv},
		opts: []testcontainers.ContainerCustomizer{p.mounts(), noNetwork()},
	})
	start(t, podSpec{
		name: "purchase",
		args: []string{"serve", "purchase", "--data", "/var/lib/podwire/purchase.db", "--allow", selfUID()},
		opts: []testcontainers.ContainerCustomizer{p.mounts(), noNetwork()},
	})
	waitSocket(t, p.socket("inventory"), 30*time.Second)
	waitSocket(t, p.socket("purchase"), 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv := inventoryv1.NewInventoryServiceClient(dialUnix(t, p.socket("inventory")))
	pur := purchasev1.NewPurchaseServiceClient(dialUnix(t, p.socket("purchase")))

	before, err := stockOf(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 {
		t.Fatal(errNoItems)
	}
	skus := make([]string, 0, len(before))
	for sku := range before {
		skus = append(skus, sku)
	}

	// The purchase process runs as the image's user: the socket's peer
	// credentials say so.
	var pr peer.Peer
	if _, err := pur.ListOrders(ctx, &purchasev1.ListOrdersRequest{}, grpc.Peer(&pr)); err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if got, ok := transport.PeerOf(&pr); !ok || got.Transport != transport.KindUnix || got.UID != runtimeUID {
		t.Errorf("purchase peer = %+v (ok %v), want transport unix, uid %d", got, ok, runtimeUID)
	}

	const orders = 40
	var (
		mu      sync.Mutex
		ordered = map[string]int64{}
		wg      sync.WaitGroup
	)
	errs := make(chan error, orders)
	for i := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sku := skus[i%len(skus)]
			resp, err := pur.PlaceOrder(ctx, orderFor(fmt.Sprintf("podlocal-%d", i), sku, 2))
			if err != nil {
				errs <- fmt.Errorf("order %d: %w", i, err)
				return
			}
			if got := resp.GetOrder().GetInventoryTransport(); got != "unix" {
				errs <- fmt.Errorf("order %d reached inventory over %q, want unix", i, got)
			}
			mu.Lock()
			ordered[sku] += 2
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	after, err := stockOf(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	for sku, b := range before {
		a := after[sku]
		if got, want := a.GetAvailable(), b.GetAvailable()-ordered[sku]; got != want {
			t.Errorf("%s available = %d, want %d (before %d − ordered %d)", sku, got, want, b.GetAvailable(), ordered[sku])
		}
		if got, want := a.GetReserved()+a.GetSold(), b.GetReserved()+b.GetSold()+ordered[sku]; got != want {
			t.Errorf("%s reserved+sold = %d, want %d", sku, got, want)
		}
	}
}
