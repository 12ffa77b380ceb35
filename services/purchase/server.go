package purchase

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/boltdb"
	"github.com/podwire/podwire/services/internal/valid"
)

const pending = purchasev1.OrderState_ORDER_STATE_UNSPECIFIED

// Server implements purchasev1.PurchaseServiceServer. It is safe for
// concurrent use. It owns neither the Store nor the inventory client.
type Server struct {
	purchasev1.UnimplementedPurchaseServiceServer

	store    *Store
	inv      inventoryv1.InventoryServiceClient
	cfg      Config
	log      *slog.Logger
	metrics  *Metrics
	peerName func(*peer.Peer) string
	now      func() time.Time
	locks    keyLocks // one PlaceOrder/CancelOrder per order id at a time
}

// NewServer returns the purchase service on st, reserving stock through
// inv. It fails only on an invalid Config.
func NewServer(st *Store, inv inventoryv1.InventoryServiceClient, opts ...Option) (*Server, error) {
	o := options{cfg: DefaultConfig(), peerName: defaultPeerName}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{store: st, inv: inv, cfg: o.cfg, log: o.log, metrics: o.metrics, peerName: o.peerName, now: time.Now}, nil
}

// Register registers the service on g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	purchasev1.RegisterPurchaseServiceServer(g, s)
}

// OrderID returns the order id PlaceOrder derives from an idempotency key:
// "ord_" and 32 hex digits of its SHA-256. Deterministic, so retries after
// any failure reserve under the same id.
func OrderID(idempotencyKey string) string {
	sum := sha256.Sum256([]byte(idempotencyKey))
	return "ord_" + hex.EncodeToString(sum[:16])
}

// PlaceOrder creates an order and reserves its stock, idempotently.
func (s *Server) PlaceOrder(ctx context.Context, req *purchasev1.PlaceOrderRequest) (*purchasev1.PlaceOrderResponse, error) {
	if err := validatePlace(req); err != nil {
		s.metrics.order("rejected")
		return nil, err
	}
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	id := OrderID(req.GetIdempotencyKey())
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	defer unlock()
	o, err := s.store.Order(id)
	if err != nil {
		return nil, s.fail("place order", fmt.Sprintf("retry with the same idempotency key %q", req.GetIdempotencyKey()), err)
	}
	replayed := o != nil
	switch {
	case o != nil && !sameRequest(o, req):
		s.metrics.order("rejected")
		return nil, valid.Exists("idempotency_key", "key %q was used for a different order; use a new key for a new order", req.GetIdempotencyKey())
	case o != nil && o.GetState() != pending:
		s.metrics.order("replayed")
		return &purchasev1.PlaceOrderResponse{Order: o, Replayed: true}, nil
	case o == nil:
		o = &purchasev1.Order{
			OrderId: id, IdempotencyKey: req.GetIdempotencyKey(), CustomerId: req.GetCustomerId(),
			Lines: req.GetLines(), CreateTime: timestamppb.New(s.now()),
		}
		if err := s.store.PutPending(o); err != nil {
			return nil, s.fail("place order", fmt.Sprintf("nothing was reserved: retry with the same idempotency key %q", req.GetIdempotencyKey()), err)
		}
	}
	o, err = s.confirmLocked(ctx, o)
	if err != nil {
		return nil, err
	}
	if replayed {
		s.metrics.order("replayed")
	} else {
		s.metrics.order("placed")
	}
	return &purchasev1.PlaceOrderResponse{Order: o, Replayed: replayed}, nil
}

// confirmLocked reserves the stock of pending order o and confirms it. On
// a definitive refusal the pending order is deleted, so a bad request
// leaves nothing behind; on anything else it stays pending for the retry.
// The caller holds o's key lock.
func (s *Server) confirmLocked(ctx context.Context, o *purchasev1.Order) (*purchasev1.Order, error) {
	req := &inventoryv1.ReserveRequest{OrderId: o.GetOrderId(), Lines: make([]*inventoryv1.Line, len(o.GetLines()))}
	for i, l := range o.GetLines() {
		req.Lines[i] = &inventoryv1.Line{Sku: l.GetSku(), Quantity: l.GetQuantity()}
	}
	via, err := s.call(ctx, "reserve", func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := s.inv.Reserve(ctx, req, opts...)
		return err
	})
	if err != nil {
		if definitive(err) {
			s.metrics.order("rejected")
			if derr := s.store.DeletePending(o.GetOrderId()); derr != nil {
				return nil, s.fail("place order", "inventory refused it ("+status.Convert(err).Message()+") but "+retryKey(o), derr)
			}
			return nil, err
		}
		s.metrics.order("failed")
		s.log.Warn("purchase: order left pending", "order_id", o.GetOrderId(), "err", err)
		if st := status.Convert(err); Retryable(err) {
			return nil, status.Errorf(st.Code(), "%s (%s)", st.Message(), retryKey(o))
		}
		return nil, upstream("reserve", err)
	}
	o2, err := s.store.SetState(o.GetOrderId(), purchasev1.OrderState_ORDER_STATE_CONFIRMED, via)
	if err != nil {
		s.metrics.order("failed")
		return nil, s.fail("confirm order", "its stock is reserved and "+retryKey(o), err)
	}
	o = o2
	return o, nil
}

// GetOrder returns one order.
func (s *Server) GetOrder(_ context.Context, req *purchasev1.GetOrderRequest) (*purchasev1.GetOrderResponse, error) {
	if err := valid.ID("order_id", req.GetOrderId()); err != nil {
		return nil, err
	}
	o, err := s.store.Order(req.GetOrderId())
	if err != nil {
		return nil, s.fail("get order", "retry later", err)
	}
	if o == nil || o.GetState() == pending {
		return nil, valid.NotFound("order_id", "no order %q", req.GetOrderId())
	}
	return &purchasev1.GetOrderResponse{Order: o}, nil
}

// CancelOrder cancels an order and releases its stock, idempotently.
func (s *Server) CancelOrder(ctx context.Context, req *purchasev1.CancelOrderRequest) (*purchasev1.CancelOrderResponse, error) {
	id := req.GetOrderId()
	if err := valid.ID("order_id", id); err != nil {
		return nil, err
	}
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	defer unlock()
	o, err := s.store.Order(id)
	if err != nil {
		return nil, s.fail("cancel order", "retry later with the same order id", err)
	}
	switch {
	case o == nil || o.GetState() == pending:
		return nil, valid.NotFound("order_id", "no order %q", id)
	case o.GetState() == purchasev1.OrderState_ORDER_STATE_CANCELLED:
		return &purchasev1.CancelOrderResponse{Order: o}, nil
	}
	_, err = s.call(ctx, "release", func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := s.inv.Release(ctx, &inventoryv1.ReleaseRequest{OrderId: id}, opts...)
		return err
	})
	if err != nil {
		return nil, upstream("release", err)
	}
	o, err = s.store.SetState(id, purchasev1.OrderState_ORDER_STATE_CANCELLED, "")
	if err != nil {
		return nil, s.fail("cancel order", "its stock was released but the order is not yet saved as cancelled: retry CancelOrder with the same order id", err)
	}
	s.metrics.order("cancelled")
	return &purchasev1.CancelOrderResponse{Order: o}, nil
}

// ListOrders returns a page of orders, newest first.
func (s *Server) ListOrders(_ context.Context, req *purchasev1.ListOrdersRequest) (*purchasev1.ListOrdersResponse, error) {
	if c := req.GetCustomerId(); c != "" {
		if err := valid.ID("customer_id", c); err != nil {
			return nil, err
		}
	}
	n, err := valid.PageSize("page_size", req.GetPageSize())
	if err != nil {
		return nil, err
	}
	// A token starts with the kind of listing it continues, so one from a
	// customer's listing cannot be replayed on another listing.
	kind := byte('t')
	if req.GetCustomerId() != "" {
		kind = 'c'
	}
	after, err := valid.DecodeToken("page_token", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if after != nil {
		if after[0] != kind {
			return nil, valid.Invalid("page_token", "token is from a listing with another customer_id; send the same customer_id as the first page")
		}
		after = after[1:]
	}
	orders, next, err := s.store.List(req.GetCustomerId(), after, n)
	if err != nil {
		return nil, s.fail("list orders", "retry later", err)
	}
	resp := &purchasev1.ListOrdersResponse{Orders: orders}
	if next != nil {
		resp.NextPageToken = valid.EncodeToken(append([]byte{kind}, next...))
	}
	return resp, nil
}

// Recover finishes orders a crash left pending by reserving their stock
// again under the same order id (a no-op in inventory if the first attempt
// got through). Run calls it at start. It returns how many it confirmed
// and the first error; orders it could not finish stay pending.
func (s *Server) Recover(ctx context.Context) (int, error) {
	ids, err := s.store.Pending()
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		n, err := s.recoverOne(ctx, id)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (s *Server) recoverOne(ctx context.Context, id string) (int, error) {
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	o, err := s.store.Order(id)
	if err != nil || o == nil || o.GetState() != pending {
		return 0, err
	}
	if _, err := s.confirmLocked(ctx, o); err != nil {
		if definitive(err) {
			return 0, nil
		}
		return 0, err
	}
	s.log.Info("purchase: recovered pending order", "order_id", id)
	return 1, nil
}

// withDeadline applies CallTimeout when the caller set no deadline.
func (s *Server) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.cfg.CallTimeout)
}

// fail passes request errors through and answers store failures in
// purchase's words (boltdb.Status: Unavailable for a full disk, an I/O
// error or a closed store, DataLoss for damage), logging the cause. retry
// says what to retry with.
func (s *Server) fail(op, retry string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	st := boltdb.Status("purchase", op, err, ErrClosed, ErrCorrupt, retry)
	s.log.Error("purchase: store failure", "op", op, "code", st.Code(), "err", err)
	return st.Err()
}

// retryKey is the retry advice for an order whose outcome is not known
// yet: the same idempotency key returns it, whether the retry or Recover
// settles it first.
func retryKey(o *purchasev1.Order) string {
	return fmt.Sprintf("order %s stays pending: retry with the same idempotency key %q to get its outcome", o.GetOrderId(), o.GetIdempotencyKey())
}
