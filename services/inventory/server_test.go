package inventory

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/grpctest"
)

type stock struct{ available, reserved, sold int64 }

func getStock(tb testing.TB, c inventoryv1.InventoryServiceClient, sku string) stock {
	tb.Helper()
	resp, err := c.GetItem(ctxT(tb), &inventoryv1.GetItemRequest{Sku: sku})
	if err != nil {
		tb.Fatalf("GetItem(%s): %v", sku, err)
	}
	it := resp.GetItem()
	return stock{it.GetAvailable(), it.GetReserved(), it.GetSold()}
}

// TestReservationLifecycle walks reservations through their states on
// every connection kind; each step checks the code, the replay flag, the
// state, and the stock of both SKUs afterwards.
func TestReservationLifecycle(t *testing.T) {
	type step struct {
		name         string
		call         func(c inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error)
		wantCode     codes.Code
		wantReplayed bool
		wantState    inventoryv1.ReservationState
		wantA, wantB stock
	}
	held := inventoryv1.ReservationState_RESERVATION_STATE_HELD
	released := inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	committed := inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED
	reserve := func(id string, lines ...*inventoryv1.Line) func(inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
		return func(c inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
			r, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: id, Lines: lines})
			return r.GetReservation(), r.GetReplayed(), err
		}
	}
	release := func(id string) func(inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
		return func(c inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
			r, err := c.Release(t.Context(), &inventoryv1.ReleaseRequest{OrderId: id})
			return r.GetReservation(), false, err
		}
	}
	commit := func(id string) func(inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
		return func(c inventoryv1.InventoryServiceClient) (*inventoryv1.Reservation, bool, error) {
			r, err := c.Commit(t.Context(), &inventoryv1.CommitRequest{OrderId: id})
			return r.GetReservation(), false, err
		}
	}
	steps := []step{
		{"reserve o1", reserve("o1", line("a", 3), line("b", 2)), codes.OK, false, held, stock{7, 3, 0}, stock{3, 2, 0}},
		{"replay o1, lines reordered", reserve("o1", line("b", 2), line("a", 3)), codes.OK, true, held, stock{7, 3, 0}, stock{3, 2, 0}},
		{"o1 with other lines", reserve("o1", line("a", 4)), codes.AlreadyExists, false, 0, stock{7, 3, 0}, stock{3, 2, 0}},
		{"not enough b, nothing held", reserve("o2", line("a", 1), line("b", 4)), codes.FailedPrecondition, false, 0, stock{7, 3, 0}, stock{3, 2, 0}},
		{"unknown sku, nothing held", reserve("o2", line("a", 1), line("zz", 1)), codes.NotFound, false, 0, stock{7, 3, 0}, stock{3, 2, 0}},
		{"reserve o2", reserve("o2", line("a", 7)), codes.OK, false, held, stock{0, 10, 0}, stock{3, 2, 0}},
		{"a is out", reserve("o3", line("a", 1)), codes.FailedPrecondition, false, 0, stock{0, 10, 0}, stock{3, 2, 0}},
		{"release o2", release("o2"), codes.OK, false, released, stock{7, 3, 0}, stock{3, 2, 0}},
		{"release o2 again", release("o2"), codes.OK, false, released, stock{7, 3, 0}, stock{3, 2, 0}},
		{"commit released o2", commit("o2"), codes.FailedPrecondition, false, 0, stock{7, 3, 0}, stock{3, 2, 0}},
		{"replay released o2", reserve("o2", line("a", 7)), codes.OK, true, released, stock{7, 3, 0}, stock{3, 2, 0}},
		{"commit o1", commit("o1"), codes.OK, false, committed, stock{7, 0, 3}, stock{3, 0, 2}},
		{"commit o1 again", commit("o1"), codes.OK, false, committed, stock{7, 0, 3}, stock{3, 0, 2}},
		{"release committed o1", release("o1"), codes.FailedPrecondition, false, 0, stock{7, 0, 3}, stock{3, 0, 2}},
		{"release unknown", release("nope"), codes.NotFound, false, 0, stock{7, 0, 3}, stock{3, 0, 2}},
		{"commit unknown", commit("nope"), codes.NotFound, false, 0, stock{7, 0, 3}, stock{3, 0, 2}},
	}
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			c, _ := serve(t, k)
			restock(t, c, "a", 10)
			restock(t, c, "b", 5)
			for _, s := range steps {
				res, replayed, err := s.call(c)
				if got := status.Code(err); got != s.wantCode {
					t.Fatalf("%s: code = %v (%v), want %v", s.name, got, err, s.wantCode)
				}
				if err == nil && (replayed != s.wantReplayed || res.GetState() != s.wantState) {
					t.Errorf("%s: replayed=%v state=%v, want %v %v", s.name, replayed, res.GetState(), s.wantReplayed, s.wantState)
				}
				if got := getStock(t, c, "a"); got != s.wantA {
					t.Errorf("%s: stock a = %+v, want %+v", s.name, got, s.wantA)
				}
				if got := getStock(t, c, "b"); got != s.wantB {
					t.Errorf("%s: stock b = %+v, want %+v", s.name, got, s.wantB)
				}
			}
		})
	}
}

// TestValidation sends every kind of bad field and checks the code, that
// the message names the field, and that the store did not change.
func TestValidation(t *testing.T) {
	long := strings.Repeat("x", 65)
	tests := []struct {
		name      string
		call      func(c inventoryv1.InventoryServiceClient) error
		wantCode  codes.Code
		wantField string
	}{
		{"get: empty sku", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.GetItem(t.Context(), &inventoryv1.GetItemRequest{})
			return err
		}, codes.InvalidArgument, "sku"},
		{"get: bad byte", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.GetItem(t.Context(), &inventoryv1.GetItemRequest{Sku: "a b"})
			return err
		}, codes.InvalidArgument, "sku"},
		{"get: unknown", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.GetItem(t.Context(), &inventoryv1.GetItemRequest{Sku: "zz"})
			return err
		}, codes.NotFound, "sku"},
		{"list: negative page", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.ListItems(t.Context(), &inventoryv1.ListItemsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"list: oversized page", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.ListItems(t.Context(), &inventoryv1.ListItemsRequest{PageSize: 501})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"list: forged token", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.ListItems(t.Context(), &inventoryv1.ListItemsRequest{PageToken: "bm9wZQ"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"reserve: no order id", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{Lines: []*inventoryv1.Line{line("a", 1)}})
			return err
		}, codes.InvalidArgument, "order_id"},
		{"reserve: order id too long", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: strings.Repeat("o", 129), Lines: []*inventoryv1.Line{line("a", 1)}})
			return err
		}, codes.InvalidArgument, "order_id"},
		{"reserve: no lines", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o"})
			return err
		}, codes.InvalidArgument, "lines"},
		{"reserve: 101 lines", func(c inventoryv1.InventoryServiceClient) error {
			lines := make([]*inventoryv1.Line, 101)
			for i := range lines {
				lines[i] = line(fmt.Sprint("s", i), 1)
			}
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: lines})
			return err
		}, codes.InvalidArgument, "lines"},
		{"reserve: zero quantity", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", 1), line("b", 0)}})
			return err
		}, codes.InvalidArgument, "lines[1].quantity"},
		{"reserve: negative quantity", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", -3)}})
			return err
		}, codes.InvalidArgument, "lines[0].quantity"},
		{"reserve: quantity too big", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", 1_000_001)}})
			return err
		}, codes.InvalidArgument, "lines[0].quantity"},
		{"reserve: empty sku", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("", 1)}})
			return err
		}, codes.InvalidArgument, "lines[0].sku"},
		{"reserve: sku too long", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line(long, 1)}})
			return err
		}, codes.InvalidArgument, "lines[0].sku"},
		{"reserve: duplicate sku", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", 1), line("a", 2)}})
			return err
		}, codes.InvalidArgument, "lines[1].sku"},
		{"reserve: unknown sku", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "o", Lines: []*inventoryv1.Line{line("a", 1), line("zz", 1)}})
			return err
		}, codes.NotFound, "lines[1].sku"},
		{"release: no order id", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Release(t.Context(), &inventoryv1.ReleaseRequest{})
			return err
		}, codes.InvalidArgument, "order_id"},
		{"commit: control char", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Commit(t.Context(), &inventoryv1.CommitRequest{OrderId: "o\n1"})
			return err
		}, codes.InvalidArgument, "order_id"},
		{"restock: zero", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Restock(t.Context(), &inventoryv1.RestockRequest{Sku: "a"})
			return err
		}, codes.InvalidArgument, "quantity"},
		{"restock: bad sku", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Restock(t.Context(), &inventoryv1.RestockRequest{Sku: "a/b", Quantity: 1})
			return err
		}, codes.InvalidArgument, "sku"},
		{"restock: name too long", func(c inventoryv1.InventoryServiceClient) error {
			_, err := c.Restock(t.Context(), &inventoryv1.RestockRequest{Sku: "new", Quantity: 1, Name: strings.Repeat("n", 201)})
			return err
		}, codes.InvalidArgument, "name"},
		{"watch: bad sku", func(c inventoryv1.InventoryServiceClient) error {
			s, err := c.WatchStock(t.Context(), &inventoryv1.WatchStockRequest{Skus: []string{"a", "b c"}})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}, codes.InvalidArgument, "skus[1]"},
	}
	for _, k := range grpctest.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			c, st := serve(t, k)
			restock(t, c, "a", 10)
			restock(t, c, "b", 10)
			if _, err := c.Reserve(t.Context(), &inventoryv1.ReserveRequest{OrderId: "held", Lines: []*inventoryv1.Line{line("a", 2)}}); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			for _, tt := range tests {
				before := dump(t, st)
				err := tt.call(c)
				if got := status.Code(err); got != tt.wantCode {
					t.Errorf("%s: code = %v (%v), want %v", tt.name, got, err, tt.wantCode)
				}
				if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, tt.wantField+": ") {
					t.Errorf("%s: message %q does not start with the field %q", tt.name, msg, tt.wantField)
				}
				if after := dump(t, st); after != before {
					t.Errorf("%s: the store changed on a bad request", tt.name)
				}
			}
		})
	}
}

// TestListItemsPages walks 23 items in pages of 5 and checks order,
// completeness and that the last page has no token.
func TestListItemsPages(t *testing.T) {
	c, _ := serve(t, grpctest.Kinds()[0])
	var want []string
	for i := 22; i >= 0; i-- {
		sku := fmt.Sprintf("sku-%02d", i)
		restock(t, c, sku, 1)
		want = append([]string{sku}, want...)
	}
	var got []string
	tok, pages := "", 0
	for {
		resp, err := c.ListItems(t.Context(), &inventoryv1.ListItemsRequest{PageSize: 5, PageToken: tok})
		if err != nil {
			t.Fatalf("ListItems page %d: %v", pages, err)
		}
		pages++
		for _, it := range resp.GetItems() {
			got = append(got, it.GetSku())
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if pages != 5 {
		t.Errorf("pages = %d, want 5", pages)
	}
	resp, err := c.ListItems(t.Context(), &inventoryv1.ListItemsRequest{})
	if err != nil || len(resp.GetItems()) != 23 || resp.GetNextPageToken() != "" {
		t.Errorf("default page: %d items, token %q, err %v; want 23, empty, nil", len(resp.GetItems()), resp.GetNextPageToken(), err)
	}
}
