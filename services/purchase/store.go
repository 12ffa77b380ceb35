package purchase

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/boltdb"
	"github.com/podwire/podwire/services/internal/valid"
)

var (
	bucketOrders     = []byte("orders")      // order id -> purchasev1.Order (state UNSPECIFIED = pending)
	bucketByTime     = []byte("by_time")     // be64(create ns) + order id -> nil
	bucketByCustomer = []byte("by_customer") // be16(len) + customer + be64(create ns) + order id -> nil
)

// Store keeps orders in one bbolt file; every write is fsynced before it
// returns. A write that finds others in flight joins a group commit (bbolt
// Batch: writes up to 2ms apart share one fsync); a lone write commits at
// once. Batch may run a write function twice, so each one is idempotent. An order is first stored pending (state UNSPECIFIED, never shown
// to clients) and then confirmed once inventory holds its stock. Safe for
// concurrent use.
type Store struct {
	db      *boltdb.DB
	writers atomic.Int32 // writes in flight
}

// OpenStore opens (creating if needed) the bbolt file at path.
func OpenStore(path string) (*Store, error) {
	db, err := boltdb.Open(path, boltdb.Options{
		Service:       "purchase",
		Buckets:       [][]byte{bucketOrders, bucketByTime, bucketByCustomer},
		MaxBatchDelay: 2 * time.Millisecond,
		Closed:        ErrClosed,
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the file. Safe to call twice.
func (s *Store) Close() error { return s.db.Close() }

// Order returns the stored order (pending ones included), or nil.
func (s *Store) Order(id string) (*purchasev1.Order, error) {
	var o *purchasev1.Order
	err := s.db.View("get order", func(tx *bolt.Tx) error {
		var err error
		o, err = getOrder(tx, id)
		return err
	})
	return o, err
}

// PutPending stores o (state UNSPECIFIED) and indexes it by time and
// customer.
func (s *Store) PutPending(o *purchasev1.Order) error {
	return s.update("store pending order", func(tx *bolt.Tx) error {
		o.State = purchasev1.OrderState_ORDER_STATE_UNSPECIFIED
		if err := putOrder(tx, o); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByTime).Put(timeKey(o), nil); err != nil {
			return err
		}
		return tx.Bucket(bucketByCustomer).Put(customerKey(o), nil)
	})
}

// DeletePending removes a pending order and its index entries; it leaves
// any other order alone.
func (s *Store) DeletePending(id string) error {
	return s.update("delete pending order", func(tx *bolt.Tx) error {
		o, err := getOrder(tx, id)
		if err != nil || o == nil || o.GetState() != purchasev1.OrderState_ORDER_STATE_UNSPECIFIED {
			return err
		}
		if err := tx.Bucket(bucketByTime).Delete(timeKey(o)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByCustomer).Delete(customerKey(o)); err != nil {
			return err
		}
		return tx.Bucket(bucketOrders).Delete([]byte(id))
	})
}

// SetState moves order id to state and, if transport is not empty,
// records the transport that reached inventory. It returns the order after
// the change.
func (s *Store) SetState(id string, state purchasev1.OrderState, transport string) (*purchasev1.Order, error) {
	var out *purchasev1.Order
	err := s.update("set order state", func(tx *bolt.Tx) error {
		o, err := getOrder(tx, id)
		if err != nil {
			return err
		}
		if o == nil {
			return valid.NotFound("order_id", "no order %q", id)
		}
		o.State = state
		if transport != "" {
			o.InventoryTransport = transport
		}
		out = o
		return putOrder(tx, o)
	})
	return out, err
}

// Pending returns the ids of orders stored pending, oldest first.
func (s *Store) Pending() ([]string, error) {
	var ids []string
	err := s.db.View("list pending", func(tx *bolt.Tx) error {
		orders := tx.Bucket(bucketOrders)
		return tx.Bucket(bucketByTime).ForEach(func(k, _ []byte) error {
			id := string(k[8:])
			o, err := decodeOrder(orders.Get([]byte(id)))
			if err == nil && o.GetState() == purchasev1.OrderState_ORDER_STATE_UNSPECIFIED {
				ids = append(ids, id)
			}
			return err
		})
	})
	return ids, err
}

// List returns up to n non-pending orders, newest first, of one customer
// if customer is not empty, starting after the index key after (nil for
// the first page). next is the key to resume after, nil on the last page.
func (s *Store) List(customer string, after []byte, n int) (orders []*purchasev1.Order, next []byte, err error) {
	bucket, prefix := bucketByTime, []byte(nil)
	if customer != "" {
		bucket, prefix = bucketByCustomer, customerPrefix(customer)
	}
	if after != nil && (!bytes.HasPrefix(after, prefix) || len(after) < len(prefix)+9) {
		return nil, nil, valid.Invalid("page_token", "not a token for this listing; send next_page_token from a previous response with the same customer_id")
	}
	err = s.db.View("list orders", func(tx *bolt.Tx) error {
		orders, next = nil, nil
		all := tx.Bucket(bucketOrders)
		c := tx.Bucket(bucket).Cursor()
		bound := after
		if bound == nil && prefix != nil {
			bound = prefixEnd(prefix)
		}
		var prevKey []byte
		for k, _ := seekBefore(c, bound); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			o, err := decodeOrder(all.Get(k[len(prefix)+8:]))
			if err != nil {
				return err
			}
			if o.GetState() == purchasev1.OrderState_ORDER_STATE_UNSPECIFIED {
				continue
			}
			if len(orders) == n {
				next = bytes.Clone(prevKey)
				return nil
			}
			orders = append(orders, o)
			prevKey = k
		}
		return nil
	})
	return orders, next, err
}

// seekBefore positions c on the greatest key below bound (the last key if
// bound is nil).
func seekBefore(c *bolt.Cursor, bound []byte) ([]byte, []byte) {
	if bound == nil {
		return c.Last()
	}
	if k, _ := c.Seek(bound); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func timeKey(o *purchasev1.Order) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(o.GetCreateTime().AsTime().UnixNano()))
	return append(k, o.GetOrderId()...)
}

func customerPrefix(customer string) []byte {
	k := binary.BigEndian.AppendUint16(nil, uint16(len(customer)))
	return append(k, customer...)
}

func customerKey(o *purchasev1.Order) []byte {
	k := customerPrefix(o.GetCustomerId())
	k = binary.BigEndian.AppendUint64(k, uint64(o.GetCreateTime().AsTime().UnixNano()))
	return append(k, o.GetOrderId()...)
}

func getOrder(tx *bolt.Tx, id string) (*purchasev1.Order, error) {
	v := tx.Bucket(bucketOrders).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return decodeOrder(v)
}

func decodeOrder(v []byte) (*purchasev1.Order, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: index names a missing order", ErrCorrupt)
	}
	o, err := boltdb.Decode[purchasev1.Order](v)
	if err != nil {
		return nil, fmt.Errorf("%w: order: %v", ErrCorrupt, err)
	}
	return o, nil
}

func putOrder(tx *bolt.Tx, o *purchasev1.Order) error {
	return boltdb.Put(tx, bucketOrders, []byte(o.GetOrderId()), o)
}

// update runs fn in a write transaction; request errors pass through,
// anything else is a *StoreError naming the step. It writes alone when no
// other write is in flight (no batching delay), and joins a group commit
// when some are.
func (s *Store) update(op string, fn func(*bolt.Tx) error) error {
	defer s.writers.Add(-1)
	if s.writers.Add(1) > 1 {
		return s.db.Batch(op, fn)
	}
	return s.db.Update(op, fn)
}
