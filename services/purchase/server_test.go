package purchase

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

func available(tb testing.TB, e *env, sku string) int64 {
	tb.Helper()
	r, err := e.ic.GetItem(tb.Context(), &inventoryv1.GetItemRequest{Sku: sku})
	if err != nil {
		tb.Fatalf("GetItem(%s): %v", sku, err)
	}
	return r.GetItem().GetAvailable()
}

// TestOrderLifecycle places, replays, conflicts, refuses and cancels orders
// on every connection kind, checking codes, states and stock.
func TestOrderLifecycle(t *testing.T) {
	confirmed := purchasev1.OrderState_ORDER_STATE_CONFIRMED
	cancelled := purchasev1.OrderState_ORDER_STATE_CANCELLED
	steps := []struct {
		name         string
		req          any // *PlaceOrderRequest or cancel order id (string)
		wantCode     codes.Code
		wantReplayed bool
		wantState    purchasev1.OrderState
		wantA, wantC int64
	}{
		{"place k1", place("k1", "alice", ol("a", 10), ol("c", 2)), codes.OK, false, confirmed, 90, 3},
		{"retry k1", place("k1", "alice", ol("c", 2), ol("a", 10)), codes.OK, true, confirmed, 90, 3},
		{"k1 other lines", place("k1", "alice", ol("a", 11), ol("c", 2)), codes.AlreadyExists, false, 0, 90, 3},
		{"k1 other customer", place("k1", "bob", ol("a", 10), ol("c", 2)), codes.AlreadyExists, false, 0, 90, 3},
		{"not enough c", place("k2", "bob", ol("a", 1), ol("c", 4)), codes.FailedPrecondition, false, 0, 90, 3},
		{"unknown sku", place("k2", "bob", ol("a", 1), ol("zz", 1)), codes.NotFound, false, 0, 90, 3},
		{"k2 after refusals", place("k2", "bob", ol("a", 1), ol("c", 3)), codes.OK, false, confirmed, 89, 0},
		{"cancel k1", OrderID("k1"), codes.OK, false, cancelled, 99, 2},
		{"cancel k1 again", OrderID("k1"), codes.OK, false, cancelled, 99, 2},
		{"retry cancelled k1", place("k1", "alice", ol("a", 10), ol("c", 2)), codes.OK, true, cancelled, 99, 2},
		{"cancel unknown", OrderID("nope"), codes.NotFound, false, 0, 99, 2},
	}
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			e := newEnv(t, k)
			for _, s := range steps {
				var o *purchasev1.Order
				var replayed bool
				var err error
				switch r := s.req.(type) {
				case *purchasev1.PlaceOrderRequest:
					var resp *purchasev1.PlaceOrderResponse
					resp, err = e.pc.PlaceOrder(t.Context(), r)
					o, replayed = resp.GetOrder(), resp.GetReplayed()
				case string:
					var resp *purchasev1.CancelOrderResponse
					resp, err = e.pc.CancelOrder(t.Context(), &purchasev1.CancelOrderRequest{OrderId: r})
					o = resp.GetOrder()
				}
				if got := status.Code(err); got != s.wantCode {
					t.Fatalf("%s: code = %v (%v), want %v", s.name, got, err, s.wantCode)
				}
				if err == nil {
					if o.GetState() != s.wantState || replayed != s.wantReplayed {
						t.Errorf("%s: state %v replayed %v, want %v %v", s.name, o.GetState(), replayed, s.wantState, s.wantReplayed)
					}
					if o.GetInventoryTransport() != k.Name {
						t.Errorf("%s: inventory_transport = %q, want %q", s.name, o.GetInventoryTransport(), k.Name)
					}
				}
				if a, c := available(t, e, "a"), available(t, e, "c"); a != s.wantA || c != s.wantC {
					t.Errorf("%s: available a=%d c=%d, want a=%d c=%d", s.name, a, c, s.wantA, s.wantC)
				}
			}
			if _, err := e.pc.GetOrder(t.Context(), &purchasev1.GetOrderRequest{OrderId: OrderID("k2")}); err != nil {
				t.Errorf("GetOrder(k2): %v", err)
			}
			if err := e.inv.Audit(seed); err != nil {
				t.Errorf("inventory audit: %v", err)
			}
		})
	}
}

// TestPlaceOrderConcurrentRetries sends the same PlaceOrder 50 times at
// once: one order, one reservation, stock taken once, one caller sees
// replayed=false.
func TestPlaceOrderConcurrentRetries(t *testing.T) {
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			e := newEnv(t, k)
			req := place("same-key", "alice", ol("a", 3), ol("b", 1))
			var wg sync.WaitGroup
			var mu sync.Mutex
			ids, fresh := map[string]int{}, 0
			for range 50 {
				wg.Go(func() {
					resp, err := e.pc.PlaceOrder(t.Context(), req)
					if err != nil {
						t.Errorf("PlaceOrder: %v", err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					ids[resp.GetOrder().GetOrderId()]++
					if !resp.GetReplayed() {
						fresh++
					}
				})
			}
			wg.Wait()
			if len(ids) != 1 || fresh != 1 {
				t.Errorf("got order ids %v and %d fresh replies, want one id and 1 fresh", ids, fresh)
			}
			if n := e.reservations(t); n != 1 {
				t.Errorf("inventory holds %d reservations, want 1", n)
			}
			if got := available(t, e, "a"); got != 97 {
				t.Errorf("available a = %d, want 97", got)
			}
			if n := e.srv.locks.size(); n != 0 {
				t.Errorf("%d key locks left behind, want 0", n)
			}
		})
	}
}

// TestValidation sends every kind of bad field: the right code, a message
// naming the field, and no change to either store.
func TestValidation(t *testing.T) {
	long := strings.Repeat("k", 129)
	many := make([]*purchasev1.OrderLine, 101)
	for i := range many {
		many[i] = ol(fmt.Sprint("s", i), 1)
	}
	tests := []struct {
		name      string
		req       any
		wantCode  codes.Code
		wantField string
	}{
		{"no key", place("", "alice", ol("a", 1)), codes.InvalidArgument, "idempotency_key"},
		{"key too long", place(long, "alice", ol("a", 1)), codes.InvalidArgument, "idempotency_key"},
		{"no customer", place("k", "", ol("a", 1)), codes.InvalidArgument, "customer_id"},
		{"customer too long", place("k", long, ol("a", 1)), codes.InvalidArgument, "customer_id"},
		{"no lines", place("k", "alice"), codes.InvalidArgument, "lines"},
		{"101 lines", place("k", "alice", many...), codes.InvalidArgument, "lines"},
		{"zero quantity", place("k", "alice", ol("a", 1), ol("b", 0)), codes.InvalidArgument, "lines[1].quantity"},
		{"negative quantity", place("k", "alice", ol("a", -1)), codes.InvalidArgument, "lines[0].quantity"},
		{"huge quantity", place("k", "alice", ol("a", 1_000_001)), codes.InvalidArgument, "lines[0].quantity"},
		{"empty sku", place("k", "alice", ol("", 1)), codes.InvalidArgument, "lines[0].sku"},
		{"bad sku", place("k", "alice", ol("a b", 1)), codes.InvalidArgument, "lines[0].sku"},
		{"duplicate sku", place("k", "alice", ol("a", 1), ol("a", 1)), codes.InvalidArgument, "lines[1].sku"},
		{"unknown sku", place("k", "alice", ol("a", 1), ol("zz", 1)), codes.NotFound, "lines[1].sku"},
		{"more than stock", place("k", "alice", ol("c", 6)), codes.FailedPrecondition, "lines[0].quantity"},
		{"reused key", place("held", "alice", ol("a", 2)), codes.AlreadyExists, "idempotency_key"},
		{"get: no id", &purchasev1.GetOrderRequest{}, codes.InvalidArgument, "order_id"},
		{"get: unknown", &purchasev1.GetOrderRequest{OrderId: "ord_x"}, codes.NotFound, "order_id"},
		{"cancel: no id", &purchasev1.CancelOrderRequest{}, codes.InvalidArgument, "order_id"},
		{"cancel: unknown", &purchasev1.CancelOrderRequest{OrderId: "ord_x"}, codes.NotFound, "order_id"},
		{"list: negative page", &purchasev1.ListOrdersRequest{PageSize: -5}, codes.InvalidArgument, "page_size"},
		{"list: oversized page", &purchasev1.ListOrdersRequest{PageSize: 501}, codes.InvalidArgument, "page_size"},
		{"list: forged token", &purchasev1.ListOrdersRequest{PageToken: "abc"}, codes.InvalidArgument, "page_token"},
		{"list: bad customer", &purchasev1.ListOrdersRequest{CustomerId: "a\x01"}, codes.InvalidArgument, "customer_id"},
	}
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			e := newEnv(t, k)
			if _, err := e.pc.PlaceOrder(t.Context(), place("held", "alice", ol("a", 1))); err != nil {
				t.Fatalf("PlaceOrder: %v", err)
			}
			for _, tt := range tests {
				before := e.dump(t)
				var err error
				switch r := tt.req.(type) {
				case *purchasev1.PlaceOrderRequest:
					_, err = e.pc.PlaceOrder(t.Context(), r)
				case *purchasev1.GetOrderRequest:
					_, err = e.pc.GetOrder(t.Context(), r)
				case *purchasev1.CancelOrderRequest:
					_, err = e.pc.CancelOrder(t.Context(), r)
				case *purchasev1.ListOrdersRequest:
					_, err = e.pc.ListOrders(t.Context(), r)
				}
				if got := status.Code(err); got != tt.wantCode {
					t.Errorf("%s: code = %v (%v), want %v", tt.name, got, err, tt.wantCode)
				}
				if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, tt.wantField+": ") {
					t.Errorf("%s: message %q does not start with the field %q", tt.name, msg, tt.wantField)
				}
				if after := e.dump(t); after != before {
					t.Errorf("%s: state changed on a bad request", tt.name)
				}
			}
		})
	}
}

// TestListOrdersPages pages through 12 orders of two customers, newest
// first, with and without the customer filter.
func TestListOrdersPages(t *testing.T) {
	e := newEnv(t, grpctest.Kinds()[0])
	var all, bobs []string
	for i := range 12 {
		cust := []string{"alice", "bob"}[i%2]
		resp, err := e.pc.PlaceOrder(t.Context(), place(fmt.Sprint("key-", i), cust, ol("a", 1)))
		if err != nil {
			t.Fatalf("PlaceOrder %d: %v", i, err)
		}
		all = append([]string{resp.GetOrder().GetOrderId()}, all...)
		if cust == "bob" {
			bobs = append([]string{resp.GetOrder().GetOrderId()}, bobs...)
		}
	}
	tests := []struct {
		customer  string
		size      int32
		want      []string
		wantPages int
	}{{"", 5, all, 3}, {"bob", 4, bobs, 2}, {"", 0, all, 1}, {"carol", 3, nil, 1}}
	for _, tt := range tests {
		var got []string
		tok, pages := "", 0
		for {
			resp, err := e.pc.ListOrders(t.Context(), &purchasev1.ListOrdersRequest{CustomerId: tt.customer, PageSize: tt.size, PageToken: tok})
			if err != nil {
				t.Fatalf("ListOrders(%q): %v", tt.customer, err)
			}
			pages++
			for _, o := range resp.GetOrders() {
				got = append(got, o.GetOrderId())
			}
			if tok = resp.GetNextPageToken(); tok == "" {
				break
			}
			if tt.customer != "" {
				_, err := e.pc.ListOrders(t.Context(), &purchasev1.ListOrdersRequest{PageToken: tok})
				if status.Code(err) != codes.InvalidArgument {
					t.Errorf("customer token on the full listing: %v, want InvalidArgument", err)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || pages != tt.wantPages {
			t.Errorf("ListOrders(%q, %d) = %v in %d pages, want %v in %d", tt.customer, tt.size, got, pages, tt.want, tt.wantPages)
		}
	}
}
