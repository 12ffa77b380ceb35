package purchase

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/damagetest"
	"github.com/podwire/podwire/services/internal/grpctest"
)

// TestDiskFull fills the disk under purchase's data file and keeps placing
// orders: every failure is Unavailable, in purchase's words (no path, no
// Go error text), and names the idempotency key to retry with. After the
// space returns, Recover runs for half of the failed orders and then every
// failed key is retried: each gives one confirmed order (Recover's
// outcome where it ran first), and inventory holds exactly one reservation
// per confirmed order.
func TestDiskFull(t *testing.T) {
	mnt := damagetest.Tmpfs(t, "1m")
	e := newEnvAt(t, grpctest.Kinds()[0], filepath.Join(mnt, "purchase.db"))
	ctx := t.Context()
	if _, err := e.pc.PlaceOrder(ctx, place("before", "alice", ol("a", 1))); err != nil {
		t.Fatalf("PlaceOrder before the disk is full: %v", err)
	}
	free := damagetest.FillDisk(t, mnt)
	var failed []string
	kinds := map[string]int{}
	for i := 0; i < 400 && len(failed) < 10; i++ {
		key := fmt.Sprintf("full-%03d", i)
		_, err := e.pc.PlaceOrder(ctx, place(key, "alice", ol("a", 1)))
		if err == nil {
			continue
		}
		failed = append(failed, key)
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Errorf("PlaceOrder %s on a full disk: %v, want Unavailable", key, err)
		}
		msg := st.Message()
		for _, bad := range []string{mnt, "no space left", "bolt", "write "} {
			if strings.Contains(msg, bad) {
				t.Errorf("message %q contains %q; want purchase's own words", msg, bad)
			}
		}
		if !strings.Contains(msg, fmt.Sprintf("idempotency key %q", key)) || !strings.Contains(msg, "disk is full") {
			t.Errorf("message %q: want it to say the disk is full and name idempotency key %q", msg, key)
		}
		switch {
		case strings.Contains(msg, "nothing was reserved"):
			kinds["before reserve"]++
		case strings.Contains(msg, "stock is reserved"):
			kinds["after reserve"]++
		default:
			kinds["reading"]++
		}
	}
	t.Logf("disk full: %d of the orders placed failed, by stage %v", len(failed), kinds)
	if len(failed) == 0 {
		t.Fatal("no order failed on a full disk")
	}
	free()
	recovered, err := e.srv.Recover(ctx)
	if err != nil {
		t.Fatalf("Recover after space returned: %v", err)
	}
	t.Logf("Recover confirmed %d pending orders", recovered)
	for _, key := range failed {
		resp, err := e.pc.PlaceOrder(ctx, place(key, "alice", ol("a", 1)))
		if err != nil || resp.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			t.Errorf("retry of %s after space returned = %v, %v; want CONFIRMED", key, resp.GetOrder().GetState(), err)
		}
	}
	orders, _, err := e.st.List("", nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := e.st.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.reservations(t), len(orders); got != want || len(pending) != 0 {
		t.Errorf("%d reservations for %d orders (%d pending); want one per order and none pending", got, want, len(pending))
	}
	it, err := e.ic.GetItem(ctx, &inventoryv1.GetItemRequest{Sku: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := it.GetItem().GetReserved(); got != int64(len(orders)) {
		t.Errorf("item a has %d reserved for %d orders of 1 each", got, len(orders))
	}
}

// TestUnknownOutcomeIsRetryable: inventory reserved the stock but purchase
// could not record the order as confirmed (its store failed right after
// the reservation). The caller gets Unavailable naming the idempotency
// key; after a restart on the same file, a retry with that key — with or
// without Recover running first — returns one confirmed order, and
// inventory holds one reservation.
func TestUnknownOutcomeIsRetryable(t *testing.T) {
	for _, recoverFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("recover first %v", recoverFirst), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "purchase.db")
			e := newEnvAt(t, grpctest.Kinds()[0], path)
			e.flaky.afterReserve = func() { _ = e.st.Close() }
			_, err := e.pc.PlaceOrder(t.Context(), place("u1", "alice", ol("a", 2)))
			msg := status.Convert(err).Message()
			if status.Code(err) != codes.Unavailable || !strings.Contains(msg, `idempotency key "u1"`) || !strings.Contains(msg, "stock is reserved") {
				t.Fatalf("PlaceOrder whose confirmation failed = %v; want Unavailable naming the reservation and key \"u1\"", err)
			}
			if strings.Contains(msg, path) {
				t.Errorf("message %q names the data file", msg)
			}
			st, err := OpenStore(path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			srv, err := NewServer(st, e.ic, WithConfig(fastRetries()))
			if err != nil {
				t.Fatal(err)
			}
			if recoverFirst {
				if n, err := srv.Recover(t.Context()); n != 1 || err != nil {
					t.Fatalf("Recover = %d, %v; want 1 order confirmed", n, err)
				}
			}
			resp, err := srv.PlaceOrder(t.Context(), place("u1", "alice", ol("a", 2)))
			if err != nil || resp.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED || !resp.GetReplayed() {
				t.Fatalf("retry with key u1 = %v, %v; want the same order, CONFIRMED and replayed", resp, err)
			}
			if resp.GetOrder().GetOrderId() != OrderID("u1") {
				t.Errorf("order id %s, want %s", resp.GetOrder().GetOrderId(), OrderID("u1"))
			}
			if n := e.reservations(t); n != 1 {
				t.Errorf("%d reservations, want 1", n)
			}
		})
	}
}
