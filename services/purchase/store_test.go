package purchase

import (
	"fmt"
	"testing"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
	"github.com/podwire/podwire/services/inventory"
)

// TestStoresSurviveReopen places and cancels orders, closes both data
// files, reopens them and checks that nothing changed and inventory still
// agrees with the orders.
func TestStoresSurviveReopen(t *testing.T) {
	e := newEnv(t, grpctest.Kinds()[0])
	for i := range 20 {
		resp, err := e.pc.PlaceOrder(t.Context(), place(fmt.Sprint("k", i), "alice", ol("a", 2), ol("b", 1)))
		if err != nil {
			t.Fatalf("PlaceOrder %d: %v", i, err)
		}
		if i%4 == 0 {
			if _, err := e.pc.CancelOrder(t.Context(), &purchasev1.CancelOrderRequest{OrderId: resp.GetOrder().GetOrderId()}); err != nil {
				t.Fatalf("CancelOrder %d: %v", i, err)
			}
		}
	}
	before := e.dump(t)
	for _, c := range []interface{ Close() error }{e.st, e.inv} {
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	var err error
	if e.st, err = OpenStore(e.st.db.Path()); err != nil {
		t.Fatalf("reopen purchase: %v", err)
	}
	t.Cleanup(func() { _ = e.st.Close() })
	if e.inv, err = inventory.OpenStore(e.inv.Path()); err != nil {
		t.Fatalf("reopen inventory: %v", err)
	}
	t.Cleanup(func() { _ = e.inv.Close() })
	if after := e.dump(t); after != before {
		t.Fatal("state changed across close and reopen")
	}
	if err := e.inv.Audit(seed); err != nil {
		t.Errorf("inventory audit: %v", err)
	}
	orders, _, err := e.st.List("", nil, 100)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	held := 0
	for _, o := range orders {
		if o.GetState() == purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			held += 2
		}
	}
	it, err := e.inv.Item("a")
	if err != nil || it.GetReserved() != int64(held) {
		t.Errorf("a reserved = %d (%v), want %d from the confirmed orders", it.GetReserved(), err, held)
	}
}
