package boltdb_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	purchasev1 "github.com/podwire/podwire/proto/podwire/purchase/v1"
	"github.com/podwire/podwire/services/internal/boltdb"
	"github.com/podwire/podwire/services/internal/damagetest"
	"github.com/podwire/podwire/services/inventory"
	"github.com/podwire/podwire/services/purchase"
)

// marker is stored in one record of each service's file, in a field that
// appears nowhere else, so damagetest.SmashRecord can corrupt that record.
const marker = "CORRUPTME-record"

// service adapts one sample service's store to the damage table.
type service struct {
	name string
	// populate writes a healthy file over 64 KiB with one record holding
	// marker.
	populate func(tb testing.TB, path string)
	open     func(path string) (io.Closer, error)
	// readMarked and writeMarked read and change the marked record.
	readMarked, writeMarked func(io.Closer) error
}

var services = []service{
	{
		name: "inventory",
		populate: func(tb testing.TB, path string) {
			st, err := inventory.OpenStore(path)
			if err != nil {
				tb.Fatal(err)
			}
			defer st.Close()
			items := []inventory.SeedItem{{SKU: "marked", Name: marker, Quantity: 5}}
			for i := range 3000 {
				items = append(items, inventory.SeedItem{SKU: fmt.Sprintf("sku-%04d", i), Name: "an item on the shelf", Quantity: 10})
			}
			if _, err := st.Seed(items); err != nil {
				tb.Fatal(err)
			}
		},
		open: func(path string) (io.Closer, error) { return inventory.OpenStore(path) },
		readMarked: func(c io.Closer) error {
			_, err := c.(*inventory.Store).Item("marked")
			return err
		},
		writeMarked: func(c io.Closer) error {
			_, err := c.(*inventory.Store).Restock("marked", "", 1)
			return err
		},
	},
	{
		name: "purchase",
		populate: func(tb testing.TB, path string) {
			st, err := purchase.OpenStore(path)
			if err != nil {
				tb.Fatal(err)
			}
			defer st.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 { // concurrent writers share fsyncs (group commit)
				wg.Go(func() {
					for i := w; i < 400; i += 8 {
						key := fmt.Sprintf("key-%04d", i)
						if i == 0 {
							key = marker
						}
						o := &purchasev1.Order{OrderId: purchase.OrderID(key), IdempotencyKey: key, CustomerId: "alice",
							Lines: []*purchasev1.OrderLine{{Sku: "milk-1l", Quantity: 1}}, CreateTime: timestamppb.Now()}
						if err := st.PutPending(o); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				tb.Fatal(err)
			}
		},
		open: func(path string) (io.Closer, error) { return purchase.OpenStore(path) },
		readMarked: func(c io.Closer) error {
			_, err := c.(*purchase.Store).Order(purchase.OrderID(marker))
			return err
		},
		writeMarked: func(c io.Closer) error {
			_, err := c.(*purchase.Store).SetState(purchase.OrderID(marker), purchasev1.OrderState_ORDER_STATE_CONFIRMED, "unix")
			return err
		},
	},
}

// readOnly makes the file at path read-only the way a deployment would: a
// read-only mount as root, the file's mode otherwise. It returns the path
// to use and the words the open error must contain.
func readOnly(tb testing.TB, path string) (string, string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			tb.Fatal(err)
		}
		return path, "permission denied"
	}
	mnt := damagetest.Tmpfs(tb, "4m")
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	ro := filepath.Join(mnt, filepath.Base(path))
	if err := os.WriteFile(ro, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	damagetest.ReadOnly(tb, mnt)
	return ro, "read-only filesystem"
}

// TestDamagedFiles opens each service's data file after each kind of
// damage. A damaged file fails to open with "data file X is damaged: ...;
// restore from backup"; a corrupt record opens, but reading it fails and
// writing it is refused; a directory or read-only file gets its own words.
// In every case the file's bytes are unchanged and the lock hint ("is
// another ... using") is absent.
func TestDamagedFiles(t *testing.T) {
	tests := []struct {
		name        string
		damage      func(tb testing.TB, path string) (string, string) // returns the path to open, and the words the open error must contain ("" = opens)
		wantDamaged bool
	}{
		{"healthy", func(testing.TB, string) (string, string) { return "", "" }, false},
		{"truncated to 64 KiB", func(tb testing.TB, p string) (string, string) {
			damagetest.Truncate(tb, p, 64<<10)
			return p, "truncated"
		}, true},
		{"random bytes in a page", func(tb testing.TB, p string) (string, string) {
			damagetest.SmashPage(tb, p)
			return p, "is damaged"
		}, true},
		{"random bytes in a record", func(tb testing.TB, p string) (string, string) {
			damagetest.SmashRecord(tb, p, marker)
			return p, ""
		}, false},
		{"directory", func(tb testing.TB, p string) (string, string) { return filepath.Dir(p), "is a directory" }, false},
		{"read-only", readOnly, false},
	}
	for _, svc := range services {
		for _, tt := range tests {
			t.Run(svc.name+"/"+tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), svc.name+".db")
				svc.populate(t, path)
				open, want := tt.damage(t, path)
				if open == "" {
					open = path
				}
				before := hashIfFile(t, open)
				st, err := svc.open(open)
				t.Logf("open: %v", err)
				switch {
				case want == "" && err != nil:
					t.Fatalf("open: %v, want it to open", err)
				case want != "" && err == nil:
					_ = st.Close()
					t.Fatalf("open succeeded; want an error containing %q", want)
				case want != "":
					msg := err.Error()
					if !strings.Contains(msg, want) || strings.Contains(msg, "is another") || strings.Contains(msg, "open "+open+": ") {
						t.Errorf("open error %q: want it to contain %q, not repeat the path, and not blame another process", msg, want)
					}
					if got := errors.Is(err, boltdb.ErrDamaged); got != tt.wantDamaged {
						t.Errorf("errors.Is(ErrDamaged) = %v, want %v", got, tt.wantDamaged)
					}
					if tt.wantDamaged && !strings.Contains(msg, "data file "+open+" is damaged: ") || tt.wantDamaged && !strings.Contains(msg, "restore from backup") {
						t.Errorf("open error %q: want \"data file %s is damaged: ...; restore from backup\"", msg, open)
					}
				}
				if err == nil && tt.name == "random bytes in a record" {
					if err := svc.readMarked(st); err == nil {
						t.Errorf("reading the corrupt record succeeded")
					}
					if err := svc.writeMarked(st); err == nil || !strings.Contains(err.Error(), "corrupt") {
						t.Errorf("writing the corrupt record = %v, want it refused as corrupt", err)
					}
				}
				if err == nil {
					if err := st.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
				if after := hashIfFile(t, open); after != before {
					t.Errorf("file changed: sha256 %s before, %s after", before, after)
				}
			})
		}
	}
}

// hashIfFile is damagetest.Hash for a file, "dir" for a directory.
func hashIfFile(tb testing.TB, path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return "dir"
	}
	return damagetest.Hash(tb, path)
}
