package inventory

import (
	"fmt"
	"sync/atomic"
	"testing"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

// BenchmarkReserve makes new reservations over a Unix socket from
// b.RunParallel's goroutines; each is one fsynced bbolt transaction.
func BenchmarkReserve(b *testing.B) {
	c, _ := serve(b, grpctest.Kinds()[1])
	restock(b, c, "a", 1_000_000)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := &inventoryv1.ReserveRequest{OrderId: fmt.Sprint("o-", n.Add(1)), Lines: []*inventoryv1.Line{line("a", 1)}}
			if _, err := c.Reserve(b.Context(), req); err != nil {
				b.Errorf("Reserve: %v", err)
				return
			}
		}
	})
}

// BenchmarkGetItem reads one item over a Unix socket: the RPC and bbolt
// read path without fsync.
func BenchmarkGetItem(b *testing.B) {
	c, _ := serve(b, grpctest.Kinds()[1])
	restock(b, c, "a", 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetItem(b.Context(), &inventoryv1.GetItemRequest{Sku: "a"}); err != nil {
			b.Fatalf("GetItem: %v", err)
		}
	}
}
