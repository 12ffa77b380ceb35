package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// TestSDKDirect is scenario 3: no sidecar. Inventory serves TCP+TLS itself
// (--tls-listen) and purchase, finding no inventory socket in its own pod,
// dials PODWIRE_PEER_INVENTORY with its client certificate: gRPC on a mux
// stream over TLS.
func TestSDKDirect(t *testing.T) {
	const tlsPort = 8443
	n := newNetwork(t)
	a, b := newPod(t, "a"), newPod(t, "b")
	certs := tlsDir(t, []string{"purchase", "inventory"})

	start(t, podSpec{
		name: "inventory",
		args: append([]string{"serve", "inventory", "--seed", "--data", "/var/lib/podwire/inventory.db",
			"--tls-listen", fmt.Sprintf(":%d", tlsPort),
			"--allow", fmt.Sprintf("%s,%s", spiffeOf("purchase"), selfUID())}, tlsFlags("inventory")...),
		opts: []testcontainers.ContainerCustomizer{b.mounts(), tlsFiles(certs), onNetwork(n, "inventory")},
	})
	start(t, podSpec{
		name: "purchase",
		args: append([]string{"serve", "purchase", "--data", "/var/lib/podwire/purchase.db", "--allow", selfUID()},
			tlsFlags("purchase")...),
		opts: []testcontainers.ContainerCustomizer{
			a.mounts(), tlsFiles(certs), onNetwork(n, "purchase"),
			testcontainers.WithEnv(map[string]string{"PODWIRE_PEER_INVENTORY": fmt.Sprintf("inventory:%d", tlsPort)}),
		},
	})
	waitSocket(t, b.socket("inventory"), 30*time.Second)
	waitSocket(t, a.socket("purchase"), 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inv := inventoryv1.NewInventoryServiceClient(dialUnix(t, b.socket("inventory")))
	pur := purchasev1.NewPurchaseServiceClient(dialUnix(t, a.socket("purchase")))
	before, err := stockOf(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	skus := make([]string, 0, len(before))
	for sku := range before {
		skus = append(skus, sku)
	}
	if len(skus) == 0 {
		t.Fatal(errNoItems)
	}

	const orders = 50
	ordered := map[string]int64{}
	began := time.Now()
	for i := range orders {
		sku := skus[i%len(skus)]
		resp, err := pur.PlaceOrder(ctx, orderFor(fmt.Sprintf("sdkdirect-%d", i), sku, 1))
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		if got, want := resp.GetOrder().GetInventoryTransport(), "mux+tls"; got != want {
			t.Errorf("order %d reached inventory over %q, want %q", i, got, want)
		}
		ordered[sku]++
	}
	t.Logf("%d sequential orders over the SDK's mux+tls in %s", orders, time.Since(began).Round(time.Millisecond))

	after, err := stockOf(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	checkStock(t, before, after, ordered)
}
