package purchase

import (
	"fmt"
	"sync/atomic"
	"testing"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

// BenchmarkPlaceOrder places new orders through purchase and inventory,
// both served over Unix sockets, with b.RunParallel's goroutines (one per
// GOMAXPROCS by default; -cpu changes it). Every order is three fsyncs,
// which dominate.
func BenchmarkPlaceOrder(b *testing.B) {
	e := newEnv(b, grpctest.Kinds()[1])
	if _, err := e.ic.Restock(b.Context(), &inventoryv1.RestockRequest{Sku: "bench", Quantity: 1_000_000}); err != nil {
		b.Fatalf("Restock: %v", err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := place(fmt.Sprint("bench-", n.Add(1)), "alice", ol("bench", 1))
			if _, err := e.pc.PlaceOrder(b.Context(), req); err != nil {
				b.Errorf("PlaceOrder: %v", err)
				return
			}
		}
	})
}

// BenchmarkPlaceOrderReplay replays one order: the path of a retried call,
// which reads and never writes.
func BenchmarkPlaceOrderReplay(b *testing.B) {
	e := newEnv(b, grpctest.Kinds()[1])
	req := place("replayed", "alice", ol("a", 1))
	if _, err := e.pc.PlaceOrder(b.Context(), req); err != nil {
		b.Fatalf("PlaceOrder: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.pc.PlaceOrder(b.Context(), req); err != nil {
			b.Fatalf("PlaceOrder: %v", err)
		}
	}
}
