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
	return valid.Lines("lines", req.GetLines())
}

// sameRequest reports whether a stored order was placed by an equivalent
// request: same customer and the same quantities of the same SKUs.
func sameRequest(o *purchasev1.Order, req *purchasev1.PlaceOrderRequest) bool {
	return o.GetCustomerId() == req.GetCustomerId() && valid.SameLines(o.GetLines(), req.GetLines())
}
