package inventory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/boltdb"
	"github.com/podwire/podwire/services/internal/valid"
)

// Server implements inventoryv1.InventoryServiceServer on a Store. It is
// safe for concurrent use. It does not own the Store: close the Store after
// the Server.
type Server struct {
	inventoryv1.UnimplementedInventoryServiceServer

	store *Store
	cfg   Config
	log   *slog.Logger
	hub   *hub
	now   func() time.Time
	stats *Metrics

	// writeMu is held across every store write and the publication of its
	// changes, so each watcher sees the versions of a SKU in order.
	writeMu sync.Mutex
}

// NewServer returns the inventory service on st. It fails only on an
// invalid Config.
func NewServer(st *Store, opts ...Option) (*Server, error) {
	o := options{cfg: DefaultConfig()}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{store: st, cfg: o.cfg, log: o.log, hub: newHub(o.cfg.WatchBuffer, o.cfg.MaxWatchers), now: time.Now, stats: o.metrics}, nil
}

// Register registers the service on g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	inventoryv1.RegisterInventoryServiceServer(g, s)
}

// Shutdown ends every WatchStock stream (they never end on their own, so
// there is nothing to wait for) and refuses new ones; unary RPCs keep
// working. Call it before grpc.Server.GracefulStop. Safe to call twice.
func (s *Server) Shutdown(context.Context) error {
	s.hub.close()
	return nil
}

// Close is Shutdown without a context. Safe to call twice.
func (s *Server) Close() error {
	s.hub.close()
	return nil
}

// GetItem returns one item.
func (s *Server) GetItem(_ context.Context, req *inventoryv1.GetItemRequest) (*inventoryv1.GetItemResponse, error) {
	if err := valid.SKU("sku", req.GetSku()); err != nil {
		return nil, err
	}
	it, err := s.store.Item(req.GetSku())
	if err != nil {
		return nil, s.fail("get item", err)
	}
	return &inventoryv1.GetItemResponse{Item: it}, nil
}

// ListItems returns a page of items in SKU order.
func (s *Server) ListItems(_ context.Context, req *inventoryv1.ListItemsRequest) (*inventoryv1.ListItemsResponse, error) {
	n, err := valid.PageSize("page_size", req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := valid.DecodeToken("page_token", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	items, next, err := s.store.Items(after, n)
	if err != nil {
		return nil, s.fail("list items", err)
	}
	resp := &inventoryv1.ListItemsResponse{Items: items}
	if next != nil {
		resp.NextPageToken = valid.EncodeToken(next)
	}
	return resp, nil
}

// Reserve holds stock for every line of an order, or for none.
func (s *Server) Reserve(_ context.Context, req *inventoryv1.ReserveRequest) (*inventoryv1.ReserveResponse, error) {
	if err := valid.ID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	lines := req.GetLines()
	if err := valid.Lines("lines", lines); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, replayed, changed, err := s.store.Reserve(req.GetOrderId(), lines, s.now())
	if err != nil {
		return nil, s.fail("reserve", err)
	}
	s.hub.publish(changed)
	if replayed {
		s.stats.reservation("replayed")
	} else {
		s.stats.reservation("created")
	}
	return &inventoryv1.ReserveResponse{Reservation: res, Replayed: replayed}, nil
}

// Release returns held stock to the shelf.
func (s *Server) Release(_ context.Context, req *inventoryv1.ReleaseRequest) (*inventoryv1.ReleaseResponse, error) {
	if err := valid.ID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, changed, err := s.store.Release(req.GetOrderId(), s.now())
	if err != nil {
		return nil, s.fail("release", err)
	}
	s.hub.publish(changed)
	if changed != nil {
		s.stats.reservation("released")
	}
	return &inventoryv1.ReleaseResponse{Reservation: res}, nil
}

// Commit turns held stock into sold stock.
func (s *Server) Commit(_ context.Context, req *inventoryv1.CommitRequest) (*inventoryv1.CommitResponse, error) {
	if err := valid.ID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, changed, err := s.store.Commit(req.GetOrderId(), s.now())
	if err != nil {
		return nil, s.fail("commit", err)
	}
	s.hub.publish(changed)
	if changed != nil {
		s.stats.reservation("committed")
	}
	return &inventoryv1.CommitResponse{Reservation: res}, nil
}

// Restock adds stock, creating the item if the SKU is new.
func (s *Server) Restock(_ context.Context, req *inventoryv1.RestockRequest) (*inventoryv1.RestockResponse, error) {
	if err := valid.SKU("sku", req.GetSku()); err != nil {
		return nil, err
	}
	if err := valid.Quantity("quantity", req.GetQuantity()); err != nil {
		return nil, err
	}
	if err := valid.Name("name", req.GetName()); err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	it, err := s.store.Restock(req.GetSku(), req.GetName(), req.GetQuantity())
	if err != nil {
		return nil, s.fail("restock", err)
	}
	s.hub.publish([]*inventoryv1.Item{it})
	return &inventoryv1.RestockResponse{Item: it}, nil
}

// WatchStock streams stock changes; see the package doc for the slow
// consumer policy. Response headers are sent once the watcher is
// registered, so a client that has read them sees every later change.
func (s *Server) WatchStock(req *inventoryv1.WatchStockRequest, stream grpc.ServerStreamingServer[inventoryv1.WatchStockResponse]) error {
	skus := req.GetSkus()
	if len(skus) > valid.MaxLines {
		return valid.Invalid("skus", "%d SKUs is too many; send at most %d, or none to watch all", len(skus), valid.MaxLines)
	}
	for i, sku := range skus {
		if err := valid.SKU(fmt.Sprintf("skus[%d]", i), sku); err != nil {
			return err
		}
	}
	w, full, ok := s.hub.subscribe(skus)
	if !ok {
		if full {
			return status.Errorf(codes.ResourceExhausted, "inventory: %d watchers already open; retry later", s.cfg.MaxWatchers)
		}
		return status.Error(codes.Unavailable, "inventory: server is shutting down; retry on another replica")
	}
	defer s.hub.unsubscribe(w)
	s.stats.watching(1)
	defer s.stats.watching(-1)
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	return s.pump(stream, w, skus)
}

// pump sends w's changes until the stream or the server ends.
func (s *Server) pump(stream grpc.ServerStreamingServer[inventoryv1.WatchStockResponse], w *watcher, skus []string) error {
	floor := make(map[string]uint64) // per SKU, the version a resync already sent
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.hub.done:
			return status.Error(codes.Unavailable, "inventory: server is shutting down; reconnect to resume watching")
		case <-w.lagged:
			drain(w)
			items, err := s.store.Snapshot(skus)
			if err != nil {
				return s.fail("watch resync", err)
			}
			s.log.Debug("inventory: slow watcher resynchronised", "items", len(items))
			s.stats.resync()
			for _, it := range items {
				floor[it.GetSku()] = it.GetVersion()
				if err := stream.Send(&inventoryv1.WatchStockResponse{Item: it, Resync: true}); err != nil {
					return err
				}
			}
		case it := <-w.ch:
			if it.GetVersion() <= floor[it.GetSku()] {
				continue
			}
			if err := stream.Send(&inventoryv1.WatchStockResponse{Item: it}); err != nil {
				return err
			}
		}
	}
}

// fail passes request errors through and answers store failures in
// inventory's words (boltdb.Status: Unavailable for a full disk, an I/O
// error or a closed store, DataLoss for damage), logging the cause.
func (s *Server) fail(op string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	st := boltdb.Status("inventory", op, err, ErrClosed, ErrCorrupt, "retry")
	s.log.Error("inventory: store failure", "op", op, "code", st.Code(), "err", err)
	return st.Err()
}
