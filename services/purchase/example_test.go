package purchase_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
	"github.com/podwire/podwire/transport"
)

// Example runs inventory and purchase the way `podwire serve` does, on
// Unix sockets in one dir, and places an order by name. Purchase reached
// inventory with transport.Dial(ctx, "inventory") and found its socket.
func Example() {
	dir, err := os.MkdirTemp("", "podwire-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	stopInventory := start(ctx, inventory.Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "inventory.db"), Seed: true})
	stopPurchase := start(ctx, purchase.Run, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "purchase.db")})
	defer func() { cancel(); stopPurchase(); stopInventory() }()

	cc, err := transport.Dial(ctx, "purchase", transport.WithSocketDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	resp, err := purchasev1.NewPurchaseServiceClient(cc).PlaceOrder(ctx, &purchasev1.PlaceOrderRequest{
		IdempotencyKey: "checkout-42", CustomerId: "alice",
		Lines: []*purchasev1.OrderLine{{Sku: "tea-green", Quantity: 2}},
	})
	if err != nil {
		log.Fatal(err)
	}
	o := resp.GetOrder()
	fmt.Println(o.GetOrderId() == purchase.OrderID("checkout-42"), o.GetState(), o.GetInventoryTransport())
	// Output: true ORDER_STATE_CONFIRMED unix
}

// start runs a service until ctx ends and returns once it serves; the
// returned func waits for it to stop.
func start(ctx context.Context, run func(context.Context, host.Config, func(host.Addrs)) error, cfg host.Config) func() {
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- run(ctx, cfg, func(host.Addrs) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		log.Fatal(err)
	}
	return func() {
		if err := <-done; err != nil {
			log.Print(err)
		}
	}
}

// ExampleOrderID shows that the order id is a pure function of the
// idempotency key, so every retry names the same order.
func ExampleOrderID() {
	fmt.Println(purchase.OrderID("checkout-42") == purchase.OrderID("checkout-42"))
	fmt.Println(len(purchase.OrderID("checkout-42")))
	// Output:
	// true
	// 36
}
