package inventory

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/services/internal/valid"
)

// SeedItem is one item of initial stock.
type SeedItem struct {
	SKU      string
	Name     string
	Quantity int64
}

// DemoStock returns the stock `podwire serve inventory --seed` loads: eight
// SKUs with 10,000 units each, enough for thousands of demo orders.
func DemoStock() []SeedItem {
	names := []struct{ sku, name string }{
		{"apple-1kg", "Apples, 1 kg"}, {"bread-rye", "Rye bread"},
		{"coffee-250", "Coffee beans, 250 g"}, {"eggs-10", "Eggs, box of 10"},
		{"milk-1l", "Milk, 1 l"}, {"oats-500", "Rolled oats, 500 g"},
		{"rice-1kg", "Rice, 1 kg"}, {"tea-green", "Green tea, 20 bags"},
	}
	out := make([]SeedItem, len(names))
	for i, n := range names {
		out[i] = SeedItem{SKU: n.sku, Name: n.name, Quantity: 10_000}
	}
	return out
}

// Seed creates the items whose SKUs do not exist yet, in one transaction,
// and leaves existing ones alone, so seeding a store twice (a restart with
// --seed) adds nothing. It returns how many items it created.
func (s *Store) Seed(items []SeedItem) (int, error) {
	added := 0
	err := s.db.Update("seed", func(tx *bolt.Tx) error {
		added = 0
		for i, si := range items {
			if err := valid.SKU(fmt.Sprintf("seed[%d].sku", i), si.SKU); err != nil {
				return err
			}
			if si.Quantity < 0 {
				return valid.Invalid(fmt.Sprintf("seed[%d].quantity", i), "%d is negative; stock never is", si.Quantity)
			}
			old, err := getItem(tx, si.SKU)
			if err != nil {
				return err
			}
			if old != nil {
				continue
			}
			if err := putItem(tx, &inventoryv1.Item{Sku: si.SKU, Name: si.Name, Available: si.Quantity, Version: 1}); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	return added, err
}
