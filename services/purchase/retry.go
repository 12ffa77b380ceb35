package purchase

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Retryable reports whether a failed call to inventory may be repeated:
// Unavailable, DeadlineExceeded, ResourceExhausted and Aborted. Every call
// purchase makes to inventory is idempotent, so repeating one is safe even
// when the first attempt took effect and only its reply was lost.
func Retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// call runs fn until it succeeds, fails for good, or ctx ends, backing off
// exponentially with full jitter between attempts. Each attempt has its own
// AttemptTimeout. It returns the name of the transport the successful
// attempt used.
func (s *Server) call(ctx context.Context, op string, fn func(context.Context, ...grpc.CallOption) error) (string, error) {
	backoff := s.cfg.RetryBase
	for attempt := 1; ; attempt++ {
		var p peer.Peer
		actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
		err := fn(actx, grpc.Peer(&p))
		cancel()
		if err == nil {
			return s.peerName(&p), nil
		}
		if ctx.Err() != nil {
			return "", status.Errorf(status.FromContextError(ctx.Err()).Code(), "purchase: inventory %s did not succeed within the request deadline after %d attempts, last error: %v; retry with the same idempotency key", op, attempt, err)
		}
		if !Retryable(err) {
			return "", err
		}
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return "", status.Errorf(codes.Unavailable, "purchase: inventory %s failed %d times and the request deadline leaves no time for another attempt, last error: %v; retry with the same idempotency key", op, attempt, err)
		}
		s.log.Debug("purchase: retrying inventory", "op", op, "attempt", attempt, "wait", wait, "err", err)
		s.metrics.retry(op)
		if err := sleep(ctx, wait); err != nil {
			return "", status.FromContextError(err).Err()
		}
		backoff = min(2*backoff, s.cfg.RetryMax)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// definitive reports whether inventory refused the request for good (bad
// input, unknown SKU, not enough stock), as opposed to failing to answer.
func definitive(err error) bool {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		return true
	}
	return false
}

// upstream turns a failure of inventory that is neither the client's
// fault (definitive) nor transient into Internal: the client cannot fix
// it, an operator can, and the message says how.
func upstream(op string, err error) error {
	if definitive(err) || Retryable(err) || status.Code(err) == codes.Canceled {
		return err
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.PermissionDenied, codes.Unauthenticated:
		return status.Errorf(codes.Internal, "purchase: inventory refused purchase's %s (%v: %s); allow purchase's identity in inventory's --allow or fix purchase's certificate", op, st.Code(), st.Message())
	}
	return status.Errorf(codes.Internal, "purchase: inventory %s failed (%v: %s)", op, st.Code(), st.Message())
}
