package inventory

import (
	"errors"
	"fmt"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
)

// ErrInconsistent is matched by the error Audit returns.
var ErrInconsistent = errors.New("podwire/inventory: stock and reservations disagree")

// Audit checks the store's invariants: no count is negative; each item's
// reserved and sold equal the sums of its held and committed reservations;
// and, for the SKUs in initial (stock placed by Seed and never restocked),
// available = initial − reserved − sold. It returns every violation found,
// joined, each matching ErrInconsistent. Audit reads one consistent
// snapshot only if no writes run meanwhile; run it on a quiet store.
func (s *Store) Audit(initial []SeedItem) error {
	held := map[string]int64{}
	sold := map[string]int64{}
	err := s.Reservations(func(r *inventoryv1.Reservation) error {
		for _, l := range r.GetLines() {
			switch r.GetState() {
			case inventoryv1.ReservationState_RESERVATION_STATE_HELD:
				held[l.GetSku()] += int64(l.GetQuantity())
			case inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED:
				sold[l.GetSku()] += int64(l.GetQuantity())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	items, err := s.Snapshot(nil)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInconsistent, fmt.Sprintf(format, args...)))
	}
	bySKU := make(map[string]*inventoryv1.Item, len(items))
	for _, it := range items {
		bySKU[it.GetSku()] = it
		if it.GetAvailable() < 0 || it.GetReserved() < 0 || it.GetSold() < 0 {
			bad("%s has a negative count (available %d, reserved %d, sold %d)", it.GetSku(), it.GetAvailable(), it.GetReserved(), it.GetSold())
		}
		if it.GetReserved() != held[it.GetSku()] {
			bad("%s reserved %d, held reservations sum to %d", it.GetSku(), it.GetReserved(), held[it.GetSku()])
		}
		if it.GetSold() != sold[it.GetSku()] {
			bad("%s sold %d, committed reservations sum to %d", it.GetSku(), it.GetSold(), sold[it.GetSku()])
		}
	}
	for _, si := range initial {
		it := bySKU[si.SKU]
		if it == nil {
			bad("%s is missing", si.SKU)
			continue
		}
		if got := it.GetAvailable() + it.GetReserved() + it.GetSold(); got != si.Quantity {
			bad("%s available %d + reserved %d + sold %d = %d, want the initial %d", si.SKU, it.GetAvailable(), it.GetReserved(), it.GetSold(), got, si.Quantity)
		}
	}
	return errors.Join(errs...)
}
