package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/inventory"
)

// listOrders returns every confirmed or cancelled order whose idempotency
// key starts with prefix, grouped by key.
func listOrders(ctx context.Context, pur purchasev1.PurchaseServiceClient, prefix string) (map[string][]*purchasev1.Order, error) {
	out := map[string][]*purchasev1.Order{}
	tok := ""
	for {
		resp, err := pur.ListOrders(ctx, &purchasev1.ListOrdersRequest{PageSize: 500, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, o := range resp.GetOrders() {
			if strings.HasPrefix(o.GetIdempotencyKey(), prefix) {
				out[o.GetIdempotencyKey()] = append(out[o.GetIdempotencyKey()], o)
			}
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			return out, nil
		}
	}
}

// checkOrders checks, after l stopped, that purchase and inventory agree
// with what the client saw: every accepted order exists exactly once and
// is confirmed (ListOrders and GetOrder); every order purchase lists was
// accepted (when the client retried to acceptance); and inventory's stock
// moved by exactly the confirmed orders: available fell and reserved+sold
// rose by their units per SKU, so no reservation exists without its order,
// and each SKU still adds up to its initial stock.
func checkOrders(t testing.TB, pur purchasev1.PurchaseServiceClient, inv inventoryv1.InventoryServiceClient, l *orderLoad, before map[string]*inventoryv1.Item) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l.mu.Lock()
	accepted := make(map[string]*purchasev1.Order, len(l.accepted))
	for k, o := range l.accepted {
		accepted[k] = o
	}
	for k, err := range l.gaveUp {
		t.Errorf("order %s was never accepted within %s; last error: %v", k, l.giveUp, err)
	}
	l.mu.Unlock()

	listed, err := listOrders(ctx, pur, l.prefix+"-")
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	units := map[string]int64{}
	for key, orders := range listed {
		if len(orders) != 1 {
			t.Errorf("key %s has %d orders, want exactly 1", key, len(orders))
		}
		o := orders[0]
		if o.GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			t.Errorf("order %s (key %s) is %v, want CONFIRMED", o.GetOrderId(), key, o.GetState())
		}
		if accepted[key] == nil && l.retry {
			t.Errorf("purchase lists order %s (key %s) that the client never saw accepted", o.GetOrderId(), key)
		}
		for _, line := range o.GetLines() {
			units[line.GetSku()] += int64(line.GetQuantity())
		}
	}
	for key, o := range accepted {
		if len(listed[key]) == 0 {
			t.Errorf("accepted order %s (key %s) is missing from ListOrders", o.GetOrderId(), key)
			continue
		}
		got, err := pur.GetOrder(ctx, &purchasev1.GetOrderRequest{OrderId: o.GetOrderId()})
		if err != nil {
			t.Errorf("GetOrder(%s) of an accepted order: %v", o.GetOrderId(), err)
			continue
		}
		if got.GetOrder().GetIdempotencyKey() != key || got.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			t.Errorf("GetOrder(%s) = key %q state %v, want key %q CONFIRMED", o.GetOrderId(), got.GetOrder().GetIdempotencyKey(), got.GetOrder().GetState(), key)
		}
	}

	after, err := stockOf(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	checkStock(t, before, after, units)
}

// checkStock wants each SKU's available stock down and reserved+sold up by
// exactly units[sku] between before and after, and each SKU to still add
// up to its seeded stock (inventory.DemoStock).
func checkStock(t testing.TB, before, after map[string]*inventoryv1.Item, units map[string]int64) {
	t.Helper()
	initial := map[string]int64{}
	for _, si := range inventory.DemoStock() {
		initial[si.SKU] = si.Quantity
	}
	for sku, b := range before {
		a := after[sku]
		if got, want := a.GetAvailable(), b.GetAvailable()-units[sku]; got != want {
			t.Errorf("%s available = %d, want %d (before %d − %d units of confirmed orders)", sku, got, want, b.GetAvailable(), units[sku])
		}
		if got, want := a.GetReserved()+a.GetSold(), b.GetReserved()+b.GetSold()+units[sku]; got != want {
			t.Errorf("%s reserved+sold = %d, want %d (before %d + %d units of confirmed orders): a reservation without its order, or an order without its reservation",
				sku, got, want, b.GetReserved()+b.GetSold(), units[sku])
		}
		if got, want := a.GetAvailable()+a.GetReserved()+a.GetSold(), initial[sku]; got != want {
			t.Errorf("%s available+reserved+sold = %d, want the initial %d", sku, got, want)
		}
	}
}
