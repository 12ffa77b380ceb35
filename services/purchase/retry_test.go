package purchase

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

// TestRetries arms failures between purchase and inventory and checks the
// outcome: retryable ones are retried (one reservation even when replies
// were lost), others are returned at once and leave nothing behind.
func TestRetries(t *testing.T) {
	tests := []struct {
		name          string
		before, after int
		code          codes.Code
		wantCode      codes.Code
		wantCalls     int
		wantReserved  int
	}{
		{"unavailable twice", 2, 0, codes.Unavailable, codes.OK, 3, 1},
		{"replies lost twice", 0, 2, codes.Unavailable, codes.OK, 3, 1},
		{"resource exhausted then lost", 1, 1, codes.ResourceExhausted, codes.OK, 3, 1},
		{"aborted", 1, 0, codes.Aborted, codes.OK, 2, 1},
		{"deadline exceeded", 1, 0, codes.DeadlineExceeded, codes.OK, 2, 1},
		{"permission denied is final", 1, 0, codes.PermissionDenied, codes.Internal, 1, 0},
		{"internal is final", 1, 0, codes.Internal, codes.Internal, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, grpctest.Kinds()[0])
			e.flaky.arm(tt.before, tt.after, tt.code)
			_, err := e.pc.PlaceOrder(t.Context(), place("k", "alice", ol("a", 2)))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("PlaceOrder code = %v (%v), want %v", got, err, tt.wantCode)
			}
			if got := e.flaky.calls(); got != tt.wantCalls {
				t.Errorf("Reserve attempts = %d, want %d", got, tt.wantCalls)
			}
			if got := e.reservations(t); got != tt.wantReserved {
				t.Errorf("reservations = %d, want %d", got, tt.wantReserved)
			}
			if err := e.inv.Audit(seed); err != nil {
				t.Errorf("inventory audit: %v", err)
			}
		})
	}
}

// TestDeadlineLeavesPendingThenRetryFinishes: inventory answers only after
// the reply is lost until the request deadline runs out; the client's retry
// with the same key then completes the one order and one reservation.
func TestDeadlineLeavesPendingThenRetryFinishes(t *testing.T) {
	e := newEnv(t, grpctest.Kinds()[1])
	e.flaky.arm(0, 1_000_000, codes.Unavailable)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.pc.PlaceOrder(ctx, place("k", "alice", ol("b", 5)))
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Unavailable {
		t.Fatalf("PlaceOrder under a lost-reply storm = %v, want DeadlineExceeded or Unavailable", err)
	}
	if _, err := e.pc.GetOrder(t.Context(), &purchasev1.GetOrderRequest{OrderId: OrderID("k")}); status.Code(err) != codes.NotFound {
		t.Errorf("GetOrder of an unfinished order = %v, want NotFound", err)
	}
	if got := e.reservations(t); got != 1 {
		t.Errorf("reservations after the storm = %d, want 1 (every attempt replayed the first)", got)
	}
	e.flaky.arm(0, 0, codes.OK)
	resp, err := e.pc.PlaceOrder(t.Context(), place("k", "alice", ol("b", 5)))
	if err != nil || resp.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED || !resp.GetReplayed() {
		t.Fatalf("retry = %v replayed=%v, %v; want confirmed, replayed", resp.GetOrder().GetState(), resp.GetReplayed(), err)
	}
	if got := e.reservations(t); got != 1 {
		t.Errorf("reservations after the retry = %d, want 1", got)
	}
	if err := e.inv.Audit(seed); err != nil {
		t.Errorf("inventory audit: %v", err)
	}
}

// TestRestartRecoversPending leaves an order pending, closes the purchase
// store, reopens it under a new Server, and lets Recover finish it.
func TestRestartRecoversPending(t *testing.T) {
	e := newEnv(t, grpctest.Kinds()[0])
	e.flaky.arm(0, 1_000_000, codes.Unavailable)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err := e.pc.PlaceOrder(ctx, place("k", "alice", ol("a", 7)))
	cancel()
	if err == nil {
		t.Fatal("PlaceOrder succeeded under a lost-reply storm; want an error")
	}
	// The handler may still be running when the client gives up (a loaded
	// machine): close the store only once it holds the pending order and
	// the handler has let go of the order's lock.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ids, _ := e.st.Pending()
		if len(ids) == 1 {
			if unlock, err := e.srv.locks.lock(t.Context(), ids[0]); err == nil {
				unlock()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending orders %v 5s after the failed PlaceOrder; want one", ids)
		}
	}
	if err := e.st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st, err := OpenStore(e.st.db.Path())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	e.flaky.arm(0, 0, codes.OK)
	srv, err := NewServer(st, e.flaky, WithConfig(fastRetries()))
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	n, err := srv.Recover(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1, nil", n, err)
	}
	got, err := srv.GetOrder(t.Context(), &purchasev1.GetOrderRequest{OrderId: OrderID("k")})
	if err != nil || got.GetOrder().GetState() != purchasev1.OrderState_ORDER_STATE_CONFIRMED {
		t.Fatalf("GetOrder after Recover = %v, %v; want confirmed", got.GetOrder().GetState(), err)
	}
	if n := e.reservations(t); n != 1 {
		t.Errorf("reservations = %d, want 1", n)
	}
	if n, err := srv.Recover(t.Context()); n != 0 || err != nil {
		t.Errorf("second Recover = %d, %v; want 0, nil", n, err)
	}
}

// TestStoreClosed checks that a closed store reports ErrClosed in a
// *StoreError naming the step and the file, and that a second OpenStore of
// a file in use fails saying so.
func TestStoreClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	st, err := OpenStore(path)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	_, err = OpenStore(path)
	if got, want := fmt.Sprint(err), "podwire/purchase: open "+path+": timeout (is another purchase using this --data file?)"; got != want {
		t.Errorf("second OpenStore = %q, want %q", got, want)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = st.Order("x")
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Order after Close = %v, want ErrClosed", err)
	}
	var se *StoreError
	if !errors.As(err, &se) || se.Op != "get order" || se.Path != path {
		t.Errorf("Order after Close = %#v, want a *StoreError{Op: get order, Path: %s}", err, path)
	}
	if got, want := fmt.Sprint(err), "podwire/purchase: get order "+path+": "+ErrClosed.Error(); got != want {
		t.Errorf("Order after Close = %q, want %q", got, want)
	}
}
