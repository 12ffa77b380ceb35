package demo

import (
	"fmt"
	"math/rand/v2"

	"google.golang.org/grpc/codes"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
)

// kind is what an order of the batch is meant to show.
type kind int

const (
	kindValid      kind = iota // placed once
	kindRetried                // placed three times with one key: two at once, then again
	kindZeroQty                // InvalidArgument on lines[0].quantity
	kindUnknownSKU             // NotFound on lines[1].sku
	kindNoCustomer             // InvalidArgument on customer_id
	kindTooMany                // FailedPrecondition on lines[0].quantity (more than the stock)
)

// reason is a rejection: its code and the field the message names.
type reason struct {
	code  codes.Code
	field string
}

// expected returns the rejection a kind must get, if any.
func (k kind) expected() (reason, bool) {
	switch k {
	case kindZeroQty:
		return reason{codes.InvalidArgument, "lines[0].quantity"}, true
	case kindUnknownSKU:
		return reason{codes.NotFound, "lines[1].sku"}, true
	case kindNoCustomer:
		return reason{codes.InvalidArgument, "customer_id"}, true
	case kindTooMany:
		return reason{codes.FailedPrecondition, "lines[0].quantity"}, true
	}
	return reason{}, false
}

// job is one order of the batch.
type job struct {
	kind kind
	req  *purchasev1.PlaceOrderRequest
}

// calls is how many PlaceOrder calls the job makes.
func (j job) calls() int {
	if j.kind == kindRetried {
		return 3
	}
	return 1
}

// kindOf spreads the kinds over the batch: of every 20 orders, one of each
// invalid kind, two retried, fourteen plain.
func kindOf(i int) kind {
	switch i % 20 {
	case 3:
		return kindZeroQty
	case 8:
		return kindUnknownSKU
	case 13:
		return kindNoCustomer
	case 17:
		return kindTooMany
	case 5, 15:
		return kindRetried
	}
	return kindValid
}

// plan builds n orders over skus (at least two) with keys unique to run;
// the same seed gives the same batch.
func plan(n int, skus []string, run string, seed uint64) []job {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	jobs := make([]job, n)
	for i := range jobs {
		k := kindOf(i)
		req := &purchasev1.PlaceOrderRequest{
			IdempotencyKey: fmt.Sprintf("demo-%s-%05d", run, i),
			CustomerId:     fmt.Sprintf("customer-%02d", r.IntN(25)),
		}
		nlines := 1 + r.IntN(3)
		if k == kindUnknownSKU {
			nlines = 2
		}
		for _, p := range r.Perm(len(skus))[:min(nlines, len(skus))] {
			req.Lines = append(req.Lines, &purchasev1.OrderLine{Sku: skus[p], Quantity: int32(1 + r.IntN(5))})
		}
		switch k {
		case kindZeroQty:
			req.Lines[0].Quantity = 0
		case kindUnknownSKU:
			req.Lines[1].Sku = "no-such-sku"
		case kindNoCustomer:
			req.CustomerId = ""
		case kindTooMany:
			req.Lines[0].Quantity = 999_999
		}
		jobs[i] = job{kind: k, req: req}
	}
	return jobs
}
