package purchase

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
	"github.com/podwire/podwire/services/inventory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// seed is the inventory every test starts from.
var seed = []inventory.SeedItem{{SKU: "a", Name: "A", Quantity: 100}, {SKU: "b", Name: "B", Quantity: 50}, {SKU: "c", Name: "C", Quantity: 5}}

// env is a purchase service wired to a real inventory service, both served
// over one connection kind.
type env struct {
	pc    purchasev1.PurchaseServiceClient
	ic    inventoryv1.InventoryServiceClient
	inv   *inventory.Store
	st    *Store
	srv   *Server
	flaky *flaky
}

// newEnv starts inventory (seeded) and purchase over kind k; purchase
// reaches inventory through a flaky wrapper that the test can arm.
func newEnv(tb testing.TB, k grpctest.Kind, opts ...Option) *env {
	tb.Helper()
	return newEnvAt(tb, k, filepath.Join(tb.TempDir(), "purchase.db"), opts...)
}

// newEnvAt is newEnv with purchase's data file at purchasePath.
func newEnvAt(tb testing.TB, k grpctest.Kind, purchasePath string, opts ...Option) *env {
	tb.Helper()
	dir := tb.TempDir()
	inv, err := inventory.OpenStore(filepath.Join(dir, "inventory.db"))
	if err != nil {
		tb.Fatalf("inventory.OpenStore: %v", err)
	}
	tb.Cleanup(func() { _ = inv.Close() })
	if _, err := inv.Seed(seed); err != nil {
		tb.Fatalf("Seed: %v", err)
	}
	isrv, err := inventory.NewServer(inv)
	if err != nil {
		tb.Fatalf("inventory.NewServer: %v", err)
	}
	icc := k.Serve(tb, func(g grpc.ServiceRegistrar) { isrv.Register(g) })
	ic := inventoryv1.NewInventoryServiceClient(icc)
	st, err := OpenStore(purchasePath)
	if err != nil {
		tb.Fatalf("OpenStore: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	fl := &flaky{InventoryServiceClient: ic}
	srv, err := NewServer(st, fl, append([]Option{WithConfig(fastRetries())}, opts...)...)
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	pcc := k.Serve(tb, func(g grpc.ServiceRegistrar) { srv.Register(g) })
	return &env{pc: purchasev1.NewPurchaseServiceClient(pcc), ic: ic, inv: inv, st: st, srv: srv, flaky: fl}
}

func fastRetries() Config {
	c := DefaultConfig()
	c.RetryBase, c.RetryMax, c.CallTimeout = time.Millisecond, 10*time.Millisecond, 2*time.Second
	return c
}

// flaky passes calls to inventory through, failing the next failBefore
// Reserve calls without forwarding them, and failing the next failAfter
// after they took effect (a lost reply).
type flaky struct {
	inventoryv1.InventoryServiceClient
	mu         sync.Mutex // guards the fields below
	failBefore int
	failAfter  int
	code       codes.Code
	reserves   int
	// afterReserve, if set, runs after a Reserve went through, before
	// purchase sees the reply.
	afterReserve func()
}

func (f *flaky) arm(before, after int, code codes.Code) {
	f.mu.Lock()
	f.failBefore, f.failAfter, f.code = before, after, code
	f.mu.Unlock()
}

func (f *flaky) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserves
}

func (f *flaky) Reserve(ctx context.Context, req *inventoryv1.ReserveRequest, opts ...grpc.CallOption) (*inventoryv1.ReserveResponse, error) {
	f.mu.Lock()
	f.reserves++
	before := f.failBefore > 0
	if before {
		f.failBefore--
	}
	after := !before && f.failAfter > 0
	if after {
		f.failAfter--
	}
	code, hook := f.code, f.afterReserve
	f.mu.Unlock()
	if before {
		return nil, status.Error(code, "injected failure before inventory")
	}
	resp, err := f.InventoryServiceClient.Reserve(ctx, req, opts...)
	if hook != nil && err == nil {
		hook()
	}
	if after && err == nil {
		return nil, status.Error(codes.Unavailable, "injected: inventory's reply was lost")
	}
	return resp, err
}

// dump encodes both stores deterministically to compare whole states.
func (e *env) dump(tb testing.TB) string {
	tb.Helper()
	mo := proto.MarshalOptions{Deterministic: true}
	var out []byte
	items, err := e.inv.Snapshot(nil)
	if err != nil {
		tb.Fatalf("Snapshot: %v", err)
	}
	for _, it := range items {
		b, _ := mo.Marshal(it)
		out = append(out, b...)
	}
	_ = e.inv.Reservations(func(r *inventoryv1.Reservation) error {
		b, _ := mo.Marshal(r)
		out = append(out, b...)
		return nil
	})
	ids, err := e.st.Pending()
	if err != nil {
		tb.Fatalf("Pending: %v", err)
	}
	for _, id := range ids {
		out = append(out, id...)
	}
	orders, _, err := e.st.List("", nil, 1<<20)
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	for _, o := range orders {
		b, _ := mo.Marshal(o)
		out = append(out, b...)
	}
	return string(out)
}

// reservations counts inventory reservations.
func (e *env) reservations(tb testing.TB) int {
	tb.Helper()
	n := 0
	if err := e.inv.Reservations(func(*inventoryv1.Reservation) error { n++; return nil }); err != nil {
		tb.Fatalf("Reservations: %v", err)
	}
	return n
}

func place(key, customer string, lines ...*purchasev1.OrderLine) *purchasev1.PlaceOrderRequest {
	return &purchasev1.PlaceOrderRequest{IdempotencyKey: key, CustomerId: customer, Lines: lines}
}

func ol(sku string, q int32) *purchasev1.OrderLine {
	return &purchasev1.OrderLine{Sku: sku, Quantity: q}
}
