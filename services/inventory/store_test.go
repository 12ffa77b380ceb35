package inventory

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
)

// TestStoreSurvivesReopen reserves, releases and commits from many
// goroutines, closes the file, reopens it, and checks that stock and
// reservations agree: available = initial − reserved − sold per SKU, and
// reserved/sold equal the sums of held/committed reservations.
func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inv.db")
	st, err := OpenStore(path)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	seed := []SeedItem{{"a", "A", 100}, {"b", "B", 50}}
	if n, err := st.Seed(seed); err != nil || n != 2 {
		t.Fatalf("Seed = %d, %v; want 2, nil", n, err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("o-%d-%d", g, i)
				lines := []*inventoryv1.Line{line("a", 1), line("b", int32(1+i%2))}
				if _, _, _, err := st.Reserve(id, lines, time.Now()); err != nil {
					continue // b runs out; refused reservations hold nothing
				}
				switch i % 3 {
				case 1:
					_, _, _ = st.Release(id, time.Now())
				case 2:
					_, _, _ = st.Commit(id, time.Now())
				}
			}
		})
	}
	wg.Wait()
	before := dump(t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	st2, err := OpenStore(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st2.Close()
	if after := dump(t, st2); after != before {
		t.Fatalf("store changed across close and reopen")
	}
	if n, err := st2.Seed(seed); err != nil || n != 0 {
		t.Errorf("reseed = %d, %v; want 0, nil (existing SKUs are left alone)", n, err)
	}
	if err := st2.Audit(seed); err != nil {
		t.Error(err)
	}
}

// TestAuditFindsDrift checks that Audit reports a store whose stock does
// not add up to the stated initial stock.
func TestAuditFindsDrift(t *testing.T) {
	st := newStore(t)
	if _, err := st.Seed([]SeedItem{{"a", "A", 10}}); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if _, err := st.Restock("a", "", 1); err != nil {
		t.Fatalf("Restock: %v", err)
	}
	err := st.Audit([]SeedItem{{"a", "A", 10}, {"gone", "", 1}})
	if !errors.Is(err, ErrInconsistent) {
		t.Fatalf("Audit = %v, want ErrInconsistent", err)
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 2 {
		t.Errorf("Audit reported %d problems, want 2: %v", got, err)
	}
}

// TestStoreErrors checks the *StoreError a locked or closed data file gives:
// its step, its cause and its message.
func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name    string
		run     func(t *testing.T, path string) error
		wantOp  string
		wantErr error // matched with errors.Is
		want    string
	}{
		{
			name: "locked",
			run: func(t *testing.T, path string) error {
				_, err := OpenStore(path)
				return err
			},
			wantOp:  "open",
			wantErr: bolt.ErrTimeout,
			want:    "podwire/inventory: open PATH: timeout (is another inventory using this --data file?)",
		},
		{
			name: "closed",
			run: func(t *testing.T, path string) error {
				st, err := OpenStore(path + ".2")
				if err != nil {
					t.Fatalf("OpenStore: %v", err)
				}
				if err := st.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				_, err = st.Item("a")
				return err
			},
			wantOp:  "get item",
			wantErr: ErrClosed,
			want:    "podwire/inventory: get item PATH.2: " + ErrClosed.Error(),
		},
	}
	st := newStore(t) // holds its file, so opening it again times out
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(t, st.Path())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.wantErr)
			}
			var se *StoreError
			if !errors.As(err, &se) || se.Op != tt.wantOp {
				t.Fatalf("got %#v, want a *StoreError with Op %q", err, tt.wantOp)
			}
			if got, want := err.Error(), strings.ReplaceAll(tt.want, "PATH", st.Path()); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}
