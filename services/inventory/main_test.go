package inventory

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStore opens a store in a temp dir, closed at cleanup.
func newStore(tb testing.TB) *Store {
	tb.Helper()
	st, err := OpenStore(filepath.Join(tb.TempDir(), "inventory.db"))
	if err != nil {
		tb.Fatalf("OpenStore: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// serve runs a Server on a fresh store over kind k and returns a client and
// the store.
func serve(tb testing.TB, k grpctest.Kind, opts ...Option) (inventoryv1.InventoryServiceClient, *Store) {
	tb.Helper()
	st := newStore(tb)
	srv, err := NewServer(st, opts...)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	cc := k.Serve(tb, func(g grpc.ServiceRegistrar) { srv.Register(g) })
	tb.Cleanup(func() { _ = srv.Close() })
	return inventoryv1.NewInventoryServiceClient(cc), st
}

func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// dump returns every item and reservation, encoded deterministically, to
// compare whole-store states.
func dump(tb testing.TB, st *Store) string {
	tb.Helper()
	var out []byte
	mo := proto.MarshalOptions{Deterministic: true}
	items, err := st.Snapshot(nil)
	if err != nil {
		tb.Fatalf("Snapshot: %v", err)
	}
	for _, it := range items {
		b, _ := mo.Marshal(it)
		out = append(out, b...)
	}
	err = st.Reservations(func(r *inventoryv1.Reservation) error {
		b, _ := mo.Marshal(r)
		out = append(out, b...)
		return nil
	})
	if err != nil {
		tb.Fatalf("Reservations: %v", err)
	}
	return string(out)
}

func restock(tb testing.TB, c inventoryv1.InventoryServiceClient, sku string, q int32) *inventoryv1.Item {
	tb.Helper()
	resp, err := c.Restock(ctxT(tb), &inventoryv1.RestockRequest{Sku: sku, Quantity: q, Name: "item " + sku})
	if err != nil {
		tb.Fatalf("Restock(%s, %d): %v", sku, q, err)
	}
	return resp.GetItem()
}

func line(sku string, q int32) *inventoryv1.Line { return &inventoryv1.Line{Sku: sku, Quantity: q} }
