package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// summary is what the demo found; problems lists every failed check.
type summary struct {
	orders, calls     int
	placed            int            // distinct accepted orders
	rejected          map[reason]int // per code and field, every failed call
	retried, retryOK  int            // retried jobs, and those that made one order
	transports        map[string]int // inventory_transport of the placed orders
	skus              int            // SKUs whose stock was checked
	p50, p99          time.Duration
	latencyCalls      int64
	elapsed           time.Duration
	problems          []string
	rejectedConfirmed int // rejected calls whose code and field were as planned
}

func (s *summary) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// checkResults checks each job's replies against its plan and returns the
// accepted orders by id.
func (s *summary) checkResults(results []result) map[string]*purchasev1.Order {
	accepted := map[string]*purchasev1.Order{}
	for i, r := range results {
		s.calls += r.job.calls()
		for _, err := range r.errs {
			s.rejected[reasonOf(err)]++
		}
		if want, invalid := r.job.kind.expected(); invalid {
			if len(r.orders) > 0 || len(r.errs) != 1 || reasonOf(r.errs[0]) != want {
				s.problem("order %d should be rejected with %v on %s; got %d orders, errors %v", i, want.code, want.field, len(r.orders), r.errs)
				continue
			}
			s.rejectedConfirmed++
			continue
		}
		if len(r.errs) > 0 {
			s.problem("order %d failed: %v", i, r.errs[0])
			continue
		}
		id, fresh := r.orders[0].GetOrderId(), 0
		for j, o := range r.orders {
			if o.GetOrderId() != id {
				s.problem("order %d: one key gave two order ids %s and %s", i, id, o.GetOrderId())
			}
			if !r.replayed[j] {
				fresh++
			}
		}
		if r.job.kind == kindRetried {
			s.retried++
			if fresh == 1 {
				s.retryOK++
			} else {
				s.problem("order %d: %d of its %d calls created an order, want exactly 1", i, fresh, len(r.orders))
			}
		}
		accepted[id] = r.orders[0]
	}
	s.placed = len(accepted)
	return accepted
}

// checkOrders lists every order of this run from purchase and compares
// them with the accepted ones; retried orders are also read one by one.
func (s *summary) checkOrders(ctx context.Context, pc purchasev1.PurchaseServiceClient, accepted map[string]*purchasev1.Order, results []result, keyPrefix string) {
	listed := map[string]*purchasev1.Order{}
	tok := ""
	for {
		resp, err := pc.ListOrders(ctx, &purchasev1.ListOrdersRequest{PageSize: 500, PageToken: tok})
		if err != nil {
			s.problem("ListOrders: %v", err)
			return
		}
		for _, o := range resp.GetOrders() {
			if strings.HasPrefix(o.GetIdempotencyKey(), keyPrefix) {
				if listed[o.GetOrderId()] != nil {
					s.problem("ListOrders returned order %s twice", o.GetOrderId())
				}
				listed[o.GetOrderId()] = o
			}
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			break
		}
	}
	if len(listed) != len(accepted) {
		s.problem("purchase lists %d orders of this run, %d were accepted", len(listed), len(accepted))
	}
	for id, o := range listed {
		if accepted[id] == nil {
			s.problem("purchase lists order %s that no reply accepted", id)
		}
		if o.GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			s.problem("order %s is %v, want CONFIRMED", id, o.GetState())
		}
		s.transports[o.GetInventoryTransport()]++
	}
	for _, r := range results {
		if r.job.kind != kindRetried || len(r.orders) == 0 {
			continue
		}
		got, err := pc.GetOrder(ctx, &purchasev1.GetOrderRequest{OrderId: r.orders[0].GetOrderId()})
		if err != nil || got.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
			s.problem("GetOrder(%s) of a retried order = %v, %v; want CONFIRMED", r.orders[0].GetOrderId(), got.GetOrder().GetState(), err)
		}
	}
	for tr, n := range s.transports {
		if tr != "unix" {
			s.problem("%d orders reached inventory over %q, want unix", n, tr)
		}
	}
}

// checkStock compares inventory's stock after the batch with the stock
// before it plus exactly one reservation per accepted order.
func (s *summary) checkStock(ctx context.Context, ic inventoryv1.InventoryServiceClient, before map[string]*inventoryv1.Item, accepted map[string]*purchasev1.Order) {
	after, err := listItems(ctx, ic)
	if err != nil {
		s.problem("ListItems: %v", err)
		return
	}
	want := map[string]int64{}
	for _, o := range accepted {
		for _, l := range o.GetLines() {
			want[l.GetSku()] += int64(l.GetQuantity())
		}
	}
	skus := make([]string, 0, len(after))
	for sku := range after {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	for _, sku := range skus {
		a, b := after[sku], before[sku]
		if b == nil {
			s.problem("SKU %s appeared during the batch", sku)
			continue
		}
		dr, da := a.GetReserved()-b.GetReserved(), b.GetAvailable()-a.GetAvailable()
		if dr != want[sku] || da != want[sku] || a.GetSold() != b.GetSold() {
			s.problem("SKU %s: reserved +%d, available −%d, sold %+d; the placed orders hold %d (a duplicate or lost reservation)", sku, dr, da, a.GetSold()-b.GetSold(), want[sku])
		}
	}
	s.skus = len(skus)
}

// listItems reads every item from inventory, by SKU.
func listItems(ctx context.Context, ic inventoryv1.InventoryServiceClient) (map[string]*inventoryv1.Item, error) {
	items := map[string]*inventoryv1.Item{}
	tok := ""
	for {
		resp, err := ic.ListItems(ctx, &inventoryv1.ListItemsRequest{PageSize: 500, PageToken: tok})
		if err != nil {
			return nil, err
		}
		for _, it := range resp.GetItems() {
			items[it.GetSku()] = it
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			return items, nil
		}
	}
}
