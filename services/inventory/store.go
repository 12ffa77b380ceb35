package inventory

import (
	"bytes"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/boltdb"
	"github.com/podwire/podwire/services/internal/valid"
)

var (
	bucketItems        = []byte("items")        // sku -> inventoryv1.Item
	bucketReservations = []byte("reservations") // order id -> inventoryv1.Reservation
)

// Store keeps items and reservations in one bbolt file. Every write is one
// bbolt transaction, fsynced before it returns, so a crash loses nothing that
// was acknowledged. A Store is safe for concurrent use; bbolt serialises
// writers.
type Store struct {
	db *boltdb.DB
}

// OpenStore opens (creating if needed) the bbolt file at path. It waits up
// to one second for another process holding the file to let go.
func OpenStore(path string) (*Store, error) {
	db, err := boltdb.Open(path, boltdb.Options{
		Service: "inventory",
		Buckets: [][]byte{bucketItems, bucketReservations},
		Closed:  ErrClosed,
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Path returns the data file's path.
func (s *Store) Path() string { return s.db.Path() }

// Close closes the file. Safe to call twice.
func (s *Store) Close() error { return s.db.Close() }

// Item returns one item, or a NotFound *valid.FieldError naming "sku".
func (s *Store) Item(sku string) (*inventoryv1.Item, error) {
	var it *inventoryv1.Item
	err := s.db.View("get item", func(tx *bolt.Tx) error {
		var err error
		it, err = getItem(tx, sku)
		if err == nil && it == nil {
			err = valid.NotFound("sku", "no item %q; Restock creates it", sku)
		}
		return err
	})
	return it, err
}

// Items returns up to n items with SKUs after `after` (all if nil), in SKU
// order, and the SKU to resume after, or nil on the last page.
func (s *Store) Items(after []byte, n int) ([]*inventoryv1.Item, []byte, error) {
	var items []*inventoryv1.Item
	var next []byte
	err := s.db.View("list items", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if len(items) == n {
				next = []byte(items[n-1].GetSku())
				return nil
			}
			it, err := decodeItem(v)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return nil
	})
	return items, next, err
}

// Snapshot returns the current state of the named SKUs (every item if none
// are named), skipping SKUs that do not exist.
func (s *Store) Snapshot(skus []string) ([]*inventoryv1.Item, error) {
	var items []*inventoryv1.Item
	err := s.db.View("snapshot", func(tx *bolt.Tx) error {
		if len(skus) == 0 {
			return tx.Bucket(bucketItems).ForEach(func(_, v []byte) error {
				it, err := decodeItem(v)
				items = append(items, it)
				return err
			})
		}
		for _, sku := range skus {
			it, err := getItem(tx, sku)
			if err != nil {
				return err
			}
			if it != nil {
				items = append(items, it)
			}
		}
		return nil
	})
	return items, err
}

// Reservations calls fn for every reservation in order-id order; an error
// from fn stops the walk and is returned. Audits and tests use it.
func (s *Store) Reservations(fn func(*inventoryv1.Reservation) error) error {
	return s.db.View("list reservations", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReservations).ForEach(func(_, v []byte) error {
			r, err := boltdb.Decode[inventoryv1.Reservation](v)
			if err != nil {
				return fmt.Errorf("%w: reservation: %v", ErrCorrupt, err)
			}
			return fn(r)
		})
	})
}

// Restock adds q units to sku, creating the item (named name) if it is new.
// It returns the item after the change.
func (s *Store) Restock(sku, name string, q int32) (*inventoryv1.Item, error) {
	var out *inventoryv1.Item
	err := s.db.Update("restock", func(tx *bolt.Tx) error {
		it, err := getItem(tx, sku)
		if err != nil {
			return err
		}
		if it == nil {
			it = &inventoryv1.Item{Sku: sku, Name: name}
		}
		if it.GetAvailable() > math.MaxInt64-int64(q) {
			return valid.Precondition("quantity", "would overflow the stock of %q", sku)
		}
		it.Available += int64(q)
		it.Version++
		out = it
		return putItem(tx, it)
	})
	return out, err
}

// Reserve holds stock for every line, or for none. The same order id with
// the same lines (in any order) returns the stored reservation and
// replayed=true; with other lines it is AlreadyExists. changed holds the
// items after the change (nil on replay).
func (s *Store) Reserve(orderID string, lines []*inventoryv1.Line, now time.Time) (res *inventoryv1.Reservation, replayed bool, changed []*inventoryv1.Item, err error) {
	err = s.db.Update("reserve", func(tx *bolt.Tx) error {
		changed = nil
		old, err := getReservation(tx, orderID)
		if err != nil {
			return err
		}
		if old != nil {
			if !valid.SameLines(old.GetLines(), lines) {
				return valid.Exists("order_id", "order %q was reserved with other lines; use a new order id", orderID)
			}
			res, replayed = old, true
			return nil
		}
		for i, l := range lines {
			it, err := getItem(tx, l.GetSku())
			if err != nil {
				return err
			}
			if it == nil {
				return valid.NotFound(fmt.Sprintf("lines[%d].sku", i), "unknown SKU %q", l.GetSku())
			}
			if it.GetAvailable() < int64(l.GetQuantity()) {
				return valid.Precondition(fmt.Sprintf("lines[%d].quantity", i), "SKU %q has %d available, %d asked; order less or restock", l.GetSku(), it.GetAvailable(), l.GetQuantity())
			}
			it.Available -= int64(l.GetQuantity())
			it.Reserved += int64(l.GetQuantity())
			it.Version++
			if err := putItem(tx, it); err != nil {
				return err
			}
			changed = append(changed, it)
		}
		ts := timestamppb.New(now)
		res = &inventoryv1.Reservation{
			OrderId: orderID, Lines: cloneLines(lines),
			State: inventoryv1.ReservationState_RESERVATION_STATE_HELD, CreateTime: ts, UpdateTime: ts,
		}
		return putReservation(tx, res)
	})
	if err != nil {
		return nil, false, nil, err
	}
	return res, replayed, changed, nil
}

// Release returns the held stock of a reservation to the shelf; releasing a
// released one is a no-op, releasing a committed one is FailedPrecondition.
func (s *Store) Release(orderID string, now time.Time) (*inventoryv1.Reservation, []*inventoryv1.Item, error) {
	return s.settle("release", orderID, now, inventoryv1.ReservationState_RESERVATION_STATE_RELEASED)
}

// Commit turns the held stock of a reservation into sold stock; committing
// a committed one is a no-op, committing a released one is
// FailedPrecondition.
func (s *Store) Commit(orderID string, now time.Time) (*inventoryv1.Reservation, []*inventoryv1.Item, error) {
	return s.settle("commit", orderID, now, inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED)
}

// settle moves a held reservation to the state to, adjusting its items.
func (s *Store) settle(op, orderID string, now time.Time, to inventoryv1.ReservationState) (*inventoryv1.Reservation, []*inventoryv1.Item, error) {
	var res *inventoryv1.Reservation
	var changed []*inventoryv1.Item
	err := s.db.Update(op, func(tx *bolt.Tx) error {
		changed = nil
		r, err := getReservation(tx, orderID)
		if err != nil {
			return err
		}
		switch {
		case r == nil:
			return valid.NotFound("order_id", "no reservation for order %q", orderID)
		case r.GetState() == to:
			res = r
			return nil
		case r.GetState() != inventoryv1.ReservationState_RESERVATION_STATE_HELD:
			return valid.Precondition("order_id", "reservation of order %q is %s; it cannot %s", orderID, stateName(r.GetState()), op)
		}
		for _, l := range r.GetLines() {
			it, err := getItem(tx, l.GetSku())
			if err != nil {
				return err
			}
			if it == nil || it.GetReserved() < int64(l.GetQuantity()) {
				return fmt.Errorf("%w: item %q does not hold the reservation of order %q", ErrCorrupt, l.GetSku(), orderID)
			}
			it.Reserved -= int64(l.GetQuantity())
			if to == inventoryv1.ReservationState_RESERVATION_STATE_RELEASED {
				it.Available += int64(l.GetQuantity())
			} else {
				it.Sold += int64(l.GetQuantity())
			}
			it.Version++
			if err := putItem(tx, it); err != nil {
				return err
			}
			changed = append(changed, it)
		}
		r.State, r.UpdateTime = to, timestamppb.New(now)
		res = r
		return putReservation(tx, r)
	})
	if err != nil {
		return nil, nil, err
	}
	return res, changed, nil
}

func stateName(s inventoryv1.ReservationState) string {
	switch s {
	case inventoryv1.ReservationState_RESERVATION_STATE_HELD:
		return "held"
	case inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED:
		return "committed"
	case inventoryv1.ReservationState_RESERVATION_STATE_RELEASED:
		return "released"
	}
	return s.String()
}

func getItem(tx *bolt.Tx, sku string) (*inventoryv1.Item, error) {
	it, err := boltdb.Get[inventoryv1.Item](tx, bucketItems, []byte(sku))
	if err != nil {
		return nil, fmt.Errorf("%w: item: %v", ErrCorrupt, err)
	}
	return it, nil
}

func decodeItem(v []byte) (*inventoryv1.Item, error) {
	it, err := boltdb.Decode[inventoryv1.Item](v)
	if err != nil {
		return nil, fmt.Errorf("%w: item: %v", ErrCorrupt, err)
	}
	return it, nil
}

func putItem(tx *bolt.Tx, it *inventoryv1.Item) error {
	return boltdb.Put(tx, bucketItems, []byte(it.GetSku()), it)
}

func getReservation(tx *bolt.Tx, orderID string) (*inventoryv1.Reservation, error) {
	r, err := boltdb.Get[inventoryv1.Reservation](tx, bucketReservations, []byte(orderID))
	if err != nil {
		return nil, fmt.Errorf("%w: reservation %q: %v", ErrCorrupt, orderID, err)
	}
	return r, nil
}

func putReservation(tx *bolt.Tx, r *inventoryv1.Reservation) error {
	return boltdb.Put(tx, bucketReservations, []byte(r.GetOrderId()), r)
}

func cloneLines(lines []*inventoryv1.Line) []*inventoryv1.Line {
	out := make([]*inventoryv1.Line, len(lines))
	for i, l := range lines {
		out[i] = &inventoryv1.Line{Sku: l.GetSku(), Quantity: l.GetQuantity()}
	}
	return out
}
