package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/host"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
	"github.com/podwire/podwire/transport"
)

// TestInventorySurvivesSIGKILL runs inventory as a process, kills it with
// SIGKILL in the middle of a batch of orders, restarts it on the same data
// file, lets purchase's retries (and the client's, with the same keys)
// finish, and then audits the data file: stock = initial − reserved − sold
// for every SKU, and every accepted order has exactly one reservation with
// its lines.
func TestInventorySurvivesSIGKILL(t *testing.T) {
	const orders, killAfter = 120, 30
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	inv := startInventory(ctx, t, dir)
	pc := startPurchase(ctx, t, dir)

	skus := skusOf(inventory.DemoStock())
	jobs := make([]job, orders)
	for i := range jobs {
		req := &purchasev1.PlaceOrderRequest{IdempotencyKey: fmt.Sprint("kill-", i), CustomerId: "c"}
		for j := range 1 + i%3 {
			req.Lines = append(req.Lines, &purchasev1.OrderLine{Sku: skus[(i+j)%len(skus)], Quantity: 1 + int32(i%5)})
		}
		jobs[i] = job{kind: kindValid, req: req}
	}
	var accepted, atKill atomic.Int32
	killed := make(chan struct{})
	var once sync.Once
	place := func(req *purchasev1.PlaceOrderRequest) (*purchasev1.Order, error) {
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		resp, err := pc.PlaceOrder(cctx, req)
		if err == nil && accepted.Add(1) == killAfter {
			once.Do(func() { close(killed) })
		}
		return resp.GetOrder(), err
	}
	got := make([]*purchasev1.Order, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				got[i], _ = place(jobs[i].req)
			}
		})
	}
	wg.Go(func() {
		<-killed
		if err := inv.cmd.Process.Kill(); err != nil {
			t.Errorf("SIGKILL inventory: %v", err)
		}
		<-inv.done
		atKill.Store(accepted.Load())
		t.Logf("inventory SIGKILLed after %d of %d orders were accepted", atKill.Load(), orders)
		inv = startInventory(ctx, t, dir)
	})
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	if atKill.Load() >= orders {
		t.Fatalf("all %d orders were accepted before the kill took effect; the kill was not mid-batch", orders)
	}
	retried := 0
	for i, o := range got { // a client retries what failed, with the same key
		if o == nil {
			retried++
			var err error
			if got[i], err = place(jobs[i].req); err != nil {
				t.Fatalf("order %d failed again after the restart: %v", i, err)
			}
		}
	}
	t.Logf("%d of %d orders were retried by the client after the restart", retried, orders)
	if err := inv.stop(15 * time.Second); err != nil {
		t.Errorf("stop restarted inventory: %v", err)
	}
	auditInventory(t, filepath.Join(dir, "inventory.db"), got)
}

// startInventory starts `podwire serve inventory --seed` on dir and waits
// for it; a running one is stopped at cleanup.
func startInventory(ctx context.Context, tb testing.TB, dir string) *child {
	tb.Helper()
	c, err := startChild(podwireBin, dir, "inventory", false, "--seed")
	if err != nil {
		tb.Fatalf("start inventory: %v", err)
	}
	tb.Cleanup(func() { _ = c.stop(5 * time.Second) })
	if err := c.waitHealthy(ctx, 20*time.Second); err != nil {
		tb.Fatalf("inventory: %v", err)
	}
	return c
}

// startPurchase runs purchase in this process on dir and returns a client
// that reaches it by name.
func startPurchase(ctx context.Context, tb testing.TB, dir string) purchasev1.PurchaseServiceClient {
	tb.Helper()
	pctx, cancel := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- purchase.Run(pctx, host.Config{SocketDir: dir, DataPath: filepath.Join(dir, "purchase.db")}, func(host.Addrs) { close(ready) })
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("purchase.Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		done <- err
		tb.Fatalf("purchase.Run: %v", err)
	}
	cc, err := transport.Dial(ctx, "purchase", transport.WithSocketDir(dir))
	if err != nil {
		tb.Fatalf("Dial purchase: %v", err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	return purchasev1.NewPurchaseServiceClient(cc)
}

// auditInventory opens the data file and checks it against the orders.
func auditInventory(tb testing.TB, path string, orders []*purchasev1.Order) {
	tb.Helper()
	st, err := inventory.OpenStore(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	if err := st.Audit(inventory.DemoStock()); err != nil {
		tb.Errorf("audit: %v", err)
	}
	res := map[string]*inventoryv1.Reservation{}
	err = st.Reservations(func(r *inventoryv1.Reservation) error {
		res[r.GetOrderId()] = r
		return nil
	})
	if err != nil {
		tb.Fatalf("Reservations: %v", err)
	}
	if len(res) != len(orders) {
		tb.Errorf("%d reservations for %d accepted orders", len(res), len(orders))
	}
	for i, o := range orders {
		r := res[o.GetOrderId()]
		if r == nil || r.GetState() != inventoryv1.ReservationState_RESERVATION_STATE_HELD {
			tb.Errorf("order %d (%s): reservation %v, want one held", i, o.GetOrderId(), r)
			continue
		}
		if a, b := fmt.Sprint(linesOf(r)), fmt.Sprint(orderLines(o)); a != b {
			tb.Errorf("order %d: reservation lines %s, order lines %s", i, a, b)
		}
	}
}

func skusOf(items []inventory.SeedItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SKU
	}
	return out
}

func linesOf(r *inventoryv1.Reservation) map[string]int32 {
	m := map[string]int32{}
	for _, l := range r.GetLines() {
		m[l.GetSku()] = l.GetQuantity()
	}
	return m
}

func orderLines(o *purchasev1.Order) map[string]int32 {
	m := map[string]int32{}
	for _, l := range o.GetLines() {
		m[l.GetSku()] = l.GetQuantity()
	}
	return m
}
