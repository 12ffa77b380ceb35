package inventory

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/damagetest"
)

// TestDiskFull fills the disk under inventory's data file: writes fail
// Unavailable in inventory's words (no path, no Go error text), reads are
// still served, and once the space returns the same writes succeed.
func TestDiskFull(t *testing.T) {
	mnt := damagetest.Tmpfs(t, "1m")
	st, err := OpenStore(filepath.Join(mnt, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := NewServer(st)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	restock := func(i int) error {
		_, err := srv.Restock(t.Context(), &inventoryv1.RestockRequest{Sku: fmt.Sprintf("sku-%04d", i), Name: "an item", Quantity: 1})
		return err
	}
	if err := restock(0); err != nil {
		t.Fatal(err)
	}
	free := damagetest.FillDisk(t, mnt)
	failedAt := -1
	for i := 1; i < 2000; i++ {
		if err := restock(i); err != nil {
			failedAt = i
			st := status.Convert(err)
			msg := st.Message()
			t.Logf("Restock #%d on a full disk: %v: %s", i, st.Code(), msg)
			if st.Code() != codes.Unavailable || !strings.Contains(msg, "disk is full") {
				t.Errorf("Restock on a full disk: %v, want Unavailable saying the disk is full", err)
			}
			for _, bad := range []string{mnt, "no space left", "bolt", "write "} {
				if strings.Contains(msg, bad) {
					t.Errorf("message %q contains %q; want inventory's own words", msg, bad)
				}
			}
			break
		}
	}
	if failedAt < 0 {
		t.Fatal("no Restock failed on a full disk")
	}
	if _, err := srv.GetItem(t.Context(), &inventoryv1.GetItemRequest{Sku: "sku-0000"}); err != nil {
		t.Errorf("GetItem on a full disk: %v, want reads served", err)
	}
	free()
	if err := restock(failedAt); err != nil {
		t.Errorf("Restock after space returned: %v", err)
	}
	it, err := srv.GetItem(t.Context(), &inventoryv1.GetItemRequest{Sku: fmt.Sprintf("sku-%04d", failedAt)})
	if err != nil || it.GetItem().GetAvailable() != 1 {
		t.Errorf("item restocked across the failure = %v, %v; want 1 available (the failed write left nothing)", it.GetItem(), err)
	}
}
