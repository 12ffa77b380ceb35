package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
	"github.com/podwire/podwire/transport"
)

// TestSIGKILLMidBatch runs inventory and purchase as processes, kills one
// of them with SIGKILL in the middle of a batch of orders, restarts it on
// the same data file, lets the retries (purchase's towards inventory, the
// client's towards purchase, always with the same keys) finish, and then
// checks: one confirmed order per key, and in inventory's data file
// stock = initial − reserved − sold for every SKU and exactly one
// reservation, with the order's lines, per accepted order.
func TestSIGKILLMidBatch(t *testing.T) {
	for _, victim := range []string{"inventory", "purchase"} {
		t.Run(victim, func(t *testing.T) { killMidBatch(t, victim) })
	}
}

func killMidBatch(t *testing.T, victim string) {
	const orders, killAfter = 120, 30
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	procs := map[string]*child{
		"inventory": startService(ctx, t, dir, "inventory", "--seed"),
		"purchase":  startService(ctx, t, dir, "purchase"),
	}
	cc, err := transport.Dial(ctx, "purchase", transport.WithSocketDir(dir))
	if err != nil {
		t.Fatalf("Dial purchase: %v", err)
	}
	defer cc.Close()
	pc := purchasev1.NewPurchaseServiceClient(cc)
	jobs := killJobs(orders)
	var accepted, atKill atomic.Int32
	killed := make(chan struct{})
	var once sync.Once
	got := make([]*purchasev1.Order, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				var err error
				if got[i], err = placeRetrying(ctx, pc, jobs[i].req); err != nil {
					t.Errorf("order %d: %v", i, err)
				} else if accepted.Add(1) == killAfter {
					once.Do(func() { close(killed) })
				}
			}
		})
	}
	wg.Go(func() {
		<-killed
		c := procs[victim]
		if err := c.cmd.Process.Kill(); err != nil {
			t.Errorf("SIGKILL %s: %v", victim, err)
		}
		<-c.done
		atKill.Store(accepted.Load())
		c, err := startChild(podwireBin, dir, victim, false)
		if err != nil {
			t.Errorf("restart %s: %v", victim, err)
			return
		}
		t.Cleanup(func() { _ = c.stop(5 * time.Second) })
		if err := c.waitHealthy(ctx, 20*time.Second); err != nil {
			t.Errorf("restarted %s: %v", victim, err)
		}
		procs[victim] = c
	})
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%s SIGKILLed and restarted after %d of %d orders were accepted", victim, atKill.Load(), orders)
	if atKill.Load() >= orders {
		t.Fatalf("all %d orders were accepted before the kill took effect; the kill was not mid-batch", orders)
	}
	checkOrders(ctx, t, pc, got)
	for _, name := range []string{"purchase", "inventory"} {
		if err := procs[name].stop(15 * time.Second); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	}
	auditInventory(t, filepath.Join(dir, "inventory.db"), got)
}

// killJobs makes n valid orders over the demo stock.
func killJobs(n int) []job {
	skus := skusOf(inventory.DemoStock())
	jobs := make([]job, n)
	for i := range jobs {
		req := &purchasev1.PlaceOrderRequest{IdempotencyKey: fmt.Sprint("kill-", i), CustomerId: "c"}
		for j := range 1 + i%3 {
			req.Lines = append(req.Lines, &purchasev1.OrderLine{Sku: skus[(i+j)%len(skus)], Quantity: 1 + int32(i%5)})
		}
		jobs[i] = job{kind: kindValid, req: req}
	}
	return jobs
}

// placeRetrying is a well-behaved client: it retries a PlaceOrder that
// failed for a transient reason, with the same idempotency key.
func placeRetrying(ctx context.Context, pc purchasev1.PurchaseServiceClient, req *purchasev1.PlaceOrderRequest) (*purchasev1.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		resp, err := pc.PlaceOrder(ctx, req, grpc.WaitForReady(true))
		if err == nil || !purchase.Retryable(err) || ctx.Err() != nil {
			return resp.GetOrder(), err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOrders checks one distinct confirmed order per job, and that
// purchase lists exactly those.
func checkOrders(ctx context.Context, tb testing.TB, pc purchasev1.PurchaseServiceClient, got []*purchasev1.Order) {
	tb.Helper()
	ids := map[string]bool{}
	for _, o := range got {
		ids[o.GetOrderId()] = true
	}
	if len(ids) != len(got) {
		tb.Errorf("%d distinct order ids for %d keys", len(ids), len(got))
	}
	resp, err := pc.ListOrders(ctx, &purchasev1.ListOrdersRequest{PageSize: 500})
	if err != nil {
		tb.Fatalf("ListOrders: %v", err)
	}
	for _, o := range resp.GetOrders() {
		if !ids[o.GetOrderId()] || o.GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			tb.Errorf("listed order %s (%v) is not one confirmed accepted order", o.GetOrderId(), o.GetState())
		}
	}
	if len(resp.GetOrders()) != len(got) {
		tb.Errorf("purchase lists %d orders, %d were accepted", len(resp.GetOrders()), len(got))
	}
}

// startService starts `podwire serve <name>` on dir and waits for it; it
// is stopped at cleanup unless already gone.
func startService(ctx context.Context, tb testing.TB, dir, name string, extra ...string) *child {
	tb.Helper()
	c, err := startChild(podwireBin, dir, name, false, extra...)
	if err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	tb.Cleanup(func() { _ = c.stop(5 * time.Second) })
	if err := c.waitHealthy(ctx, 20*time.Second); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return c
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
