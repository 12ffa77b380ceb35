package purchase

import (
	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/valid"
)

func validatePlace(req *purchasev1.PlaceOrderRequest) error {
	if err := valid.ID("idempotency_key", req.GetIdempotencyKey()); err != nil {
		return err
	}
	if err := valid.ID("customer_id", req.GetCustomerId()); err != nil {
		return err
	}
	lines := req.GetLines()
	return valid.Lines("lines", len(lines), func(i int) (string, int32) { return lines[i].GetSku(), lines[i].GetQuantity() })
}

// sameRequest reports whether a stored order was placed by an equivalent
// request: same customer and the same quantities of the same SKUs.
func sameRequest(o *purchasev1.Order, req *purchasev1.PlaceOrderRequest) bool {
	if o.GetCustomerId() != req.GetCustomerId() || len(o.GetLines()) != len(req.GetLines()) {
		return false
	}
	want := make(map[string]int32, len(o.GetLines()))
	for _, l := range o.GetLines() {
		want[l.GetSku()] = l.GetQuantity()
	}
	for _, l := range req.GetLines() {
		if q, ok := want[l.GetSku()]; !ok || q != l.GetQuantity() {
			return false
		}
	}
	return true
}
