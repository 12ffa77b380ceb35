package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podwire/podwire/services/inventory"
)

// TestServeInventoryFlag: `podwire serve purchase --inventory TARGET` sets
// how purchase reaches inventory, defaults to the name "inventory", and is
// shown in --help.
func TestServeInventoryFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"purchase", "--data", "/p.db"}, "inventory"},
		{[]string{"purchase", "--data", "/p.db", "--inventory", "unix:///run/x/inventory.sock"}, "unix:///run/x/inventory.sock"},
		{[]string{"purchase", "--data", "/p.db", "--inventory", "tls://inventory.shop:8443"}, "tls://inventory.shop:8443"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		_, cfg, err := parseServe(tt.args, &out, &out)
		if err != nil {
			t.Fatalf("parseServe(%q): %v", tt.args, err)
		}
		if cfg.Inventory != tt.want {
			t.Errorf("parseServe(%q).Inventory = %q, want %q", tt.args, cfg.Inventory, tt.want)
		}
	}
	var help bytes.Buffer
	_, _, _ = parseServe([]string{"-h"}, &help, &help)
	if !strings.Contains(help.String(), "-inventory") || !strings.Contains(help.String(), "not ready until inventory answers") {
		t.Errorf("serve -h does not document --inventory:\n%s", help.String())
	}
}

// TestServeDamagedData runs `podwire serve inventory --data damaged.db`
// on a file truncated to 64 KiB and on one with random bytes over its
// second meta page and first data pages:
// exit 1, one line saying the file is damaged and to restore it from
// backup, and the file byte for byte unchanged.
func TestServeDamagedData(t *testing.T) {
	for name, damage := range map[string]func(testing.TB, string){
		"truncated": func(tb testing.TB, p string) {
			if err := os.Truncate(p, 64<<10); err != nil {
				tb.Fatal(err)
			}
		},
		"random bytes": func(tb testing.TB, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				tb.Fatal(err)
			}
			defer f.Close()
			junk := make([]byte, 8192)
			r := rand.New(rand.NewPCG(3, 4))
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			if _, err := f.WriteAt(junk, 4096); err != nil {
				tb.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "inventory.db")
			st, err := inventory.OpenStore(path)
			if err != nil {
				t.Fatal(err)
			}
			var items []inventory.SeedItem
			for i := range 3000 {
				items = append(items, inventory.SeedItem{SKU: fmt.Sprintf("sku-%04d", i), Name: "an item", Quantity: 1})
			}
			if _, err := st.Seed(items); err != nil {
				t.Fatal(err)
			}
			_ = st.Close()
			damage(t, path)
			before := hashFile(t, path)
			var stdout, stderr bytes.Buffer
			code := mainCode(t.Context(), []string{"serve", "inventory", "--data", path, "--socket-dir", dir}, &stdout, &stderr)
			out := stderr.String()
			t.Logf("exit %d, stderr: %s", code, out)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if want := "data file " + path + " is damaged: "; !strings.Contains(out, want) || !strings.Contains(out, "restore from backup") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("stderr %q: want one line with %q ... \"restore from backup\"", out, want)
			}
			if after := hashFile(t, path); after != before {
				t.Errorf("serve changed the damaged file: sha256 %x -> %x", before, after)
			}
		})
	}
}

func hashFile(tb testing.TB, path string) [32]byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sha256.Sum256(b)
}
