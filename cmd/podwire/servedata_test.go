package main

import (
	"bytes"
	"strings"
	"testing"
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
