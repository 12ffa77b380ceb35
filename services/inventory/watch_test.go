package inventory

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

// TestWatchStockStreamsChanges checks that a watcher of one SKU sees each
// change of it, in order, and nothing of other SKUs.
func TestWatchStockStreamsChanges(t *testing.T) {
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			c, _ := serve(t, k)
			restock(t, c, "a", 10)
			ws, err := c.WatchStock(t.Context(), &inventoryv1.WatchStockRequest{Skus: []string{"a"}})
			if err != nil {
				t.Fatalf("WatchStock: %v", err)
			}
			if _, err := ws.Header(); err != nil {
				t.Fatalf("Header: %v", err)
			}
			restock(t, c, "b", 1)
			if _, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", 4), line("b", 1)}}); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			restock(t, c, "a", 1)
			want := []stock{{6, 4, 0}, {7, 4, 0}}
			for i, w := range want {
				m, err := ws.Recv()
				if err != nil {
					t.Fatalf("Recv %d: %v", i, err)
				}
				it := m.GetItem()
				if got := (stock{it.GetAvailable(), it.GetReserved(), it.GetSold()}); got != w || it.GetSku() != "a" || m.GetResync() {
					t.Errorf("change %d = %s %+v resync=%v, want a %+v resync=false", i, it.GetSku(), got, m.GetResync(), w)
				}
			}
		})
	}
}

// blockingStream is a WatchStock stream whose Send blocks until release is
// closed, to play a consumer that stopped reading.
type blockingStream struct {
	grpc.ServerStream
	ctx     context.Context
	release chan struct{}
	mu      sync.Mutex // guards got
	got     []*inventoryv1.WatchStockResponse
}

func (b *blockingStream) Context() context.Context     { return b.ctx }
func (b *blockingStream) SendHeader(metadata.MD) error { return nil }
func (b *blockingStream) Send(m *inventoryv1.WatchStockResponse) error {
	select {
	case <-b.release:
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
	return nil
}

func (b *blockingStream) received() []*inventoryv1.WatchStockResponse {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*inventoryv1.WatchStockResponse(nil), b.got...)
}

// TestWatchStockSlowConsumer stalls a watcher with a 4-change buffer while
// 50 changes happen: the writes must not wait for it, and once it reads
// again it must get a resync carrying the latest state and never an older
// version after it.
func TestWatchStockSlowConsumer(t *testing.T) {
	st := newStore(t)
	m := NewMetrics(prometheus.NewRegistry())
	srv, err := NewServer(st, WithConfig(Config{WatchBuffer: 4, MaxWatchers: 8}), WithMetrics(m))
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	bs := &blockingStream{ctx: ctx, release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- srv.WatchStock(&inventoryv1.WatchStockRequest{}, bs) }()
	for srv.hub.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	var last *inventoryv1.Item
	for range 50 {
		r, err := srv.Restock(ctx, &inventoryv1.RestockRequest{Sku: "a", Quantity: 1})
		if err != nil {
			t.Fatalf("Restock: %v", err)
		}
		last = r.GetItem()
	}
	t.Logf("50 restocks with a stalled watcher took %v", time.Since(start))
	close(bs.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := bs.received()
		if n := len(got); n > 0 && got[n-1].GetItem().GetVersion() == last.GetVersion() {
			checkResync(t, got, last.GetVersion())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher never reached version %d; got %d messages", last.GetVersion(), len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := value(t, m.resyncs); got < 1 {
		t.Errorf("resyncs metric = %v, want at least 1", got)
	}
	if got := value(t, m.watchers); got != 1 {
		t.Errorf("watchers metric = %v while watching, want 1", got)
	}
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Errorf("WatchStock after cancel = %v, want Canceled", err)
	}
	if got := value(t, m.watchers); got != 0 {
		t.Errorf("watchers metric = %v after the stream ended, want 0", got)
	}
}

func checkResync(tb testing.TB, got []*inventoryv1.WatchStockResponse, latest uint64) {
	tb.Helper()
	resyncs, prev := 0, uint64(0)
	for _, m := range got {
		v := m.GetItem().GetVersion()
		if v <= prev {
			tb.Errorf("version %d after %d: a watcher must never go back", v, prev)
		}
		prev = v
		if m.GetResync() {
			resyncs++
		}
	}
	if resyncs == 0 {
		tb.Errorf("no resync among %d messages; a stalled watcher must be resynchronised", len(got))
	}
	if len(got) >= int(latest) {
		tb.Errorf("got %d messages for %d changes; the backlog should have been dropped", len(got), latest)
	}
}

// TestWatchStockEndsOnShutdown checks that Shutdown ends open streams with
// Unavailable and refuses new ones.
func TestWatchStockEndsOnShutdown(t *testing.T) {
	st := newStore(t)
	srv, err := NewServer(st)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	cc := grpctest.Kinds()[0].Serve(t, func(g grpc.ServiceRegistrar) { srv.Register(g) })
	c := inventoryv1.NewInventoryServiceClient(cc)
	ws, err := c.WatchStock(t.Context(), &inventoryv1.WatchStockRequest{})
	if err != nil {
		t.Fatalf("WatchStock: %v", err)
	}
	if _, err := ws.Header(); err != nil {
		t.Fatalf("Header: %v", err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := ws.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Recv after Shutdown = %v, want Unavailable", err)
	}
	ws2, err := c.WatchStock(t.Context(), &inventoryv1.WatchStockRequest{})
	if err == nil {
		_, err = ws2.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("new watch after Shutdown = %v, want Unavailable", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// value reads a counter or gauge.
func value(tb testing.TB, m prometheus.Metric) float64 {
	tb.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		tb.Fatalf("read metric: %v", err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
