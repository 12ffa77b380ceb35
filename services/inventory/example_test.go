package inventory_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"google.golang.org/grpc"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/transport"
)

// ExampleNewServer serves inventory on a Unix socket with podwire's
// transport and reserves stock twice under one order id: the second call
// is a replay and reserves nothing more.
func ExampleNewServer() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "podwire-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := inventory.OpenStore(filepath.Join(dir, "inventory.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Seed([]inventory.SeedItem{{SKU: "tea-green", Name: "Green tea", Quantity: 10}}); err != nil {
		log.Fatal(err)
	}
	srv, err := inventory.NewServer(st)
	if err != nil {
		log.Fatal(err)
	}
	opts, err := transport.ServerOptions() // caller identity; allows this uid
	if err != nil {
		log.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	srv.Register(gs)
	lis, err := transport.Listen(ctx, transport.ListenConfig{Service: "inventory", SocketDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()

	cc, err := transport.Dial(ctx, "inventory", transport.WithSocketDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	c := inventoryv1.NewInventoryServiceClient(cc)
	req := &inventoryv1.ReserveRequest{OrderId: "order-1", Lines: []*inventoryv1.Line{{Sku: "tea-green", Quantity: 3}}}
	first, err := c.Reserve(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	again, err := c.Reserve(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	item, err := c.GetItem(ctx, &inventoryv1.GetItemRequest{Sku: "tea-green"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.GetReservation().GetState(), "replayed:", again.GetReplayed())
	fmt.Println("available:", item.GetItem().GetAvailable(), "reserved:", item.GetItem().GetReserved())
	// Output:
	// RESERVATION_STATE_HELD replayed: true
	// available: 7 reserved: 3
}
