package transport

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/podwire/podwire/mux"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in       string
		wantKind targetKind
		wantAddr string
		wantErr  bool
	}{
		{"inventory", targetName, "inventory", false},
		{"order-db2", targetName, "order-db2", false},
		{"unix:///run/podwire/inventory.sock", targetUnix, "/run/podwire/inventory.sock", false},
		{"unix://relative.sock", 0, "", true},
		{"unix-abstract:podwire-inventory", targetAbstract, "podwire-inventory", false},
		{"unix-abstract:", 0, "", true},
		{"tls://inventory.shop:8443", targetTLS, "inventory.shop:8443", false},
		{"tls://[::1]:8443", targetTLS, "[::1]:8443", false},
		{"tls://host", 0, "", true},
		{"tls://:443", 0, "", true},
		{"tls://host:99999", 0, "", true},
		{"tcp://127.0.0.1:9000", targetTCP, "127.0.0.1:9000", false},
		{"tcp://127.0.0.1:0", 0, "", true},
		{"", 0, "", true},
		{"Inventory", 0, "", true},
		{"inventory-", 0, "", true},
		{"9lives", 0, "", true},
		{strings.Repeat("a", 64), 0, "", true},
		{"dns:///inventory", 0, "", true},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadTarget) {
				t.Errorf("parseTarget(%q) = %+v, %v; want ErrBadTarget", tt.in, got, err)
			}
			continue
		}
		if err != nil || got.kind != tt.wantKind || got.addr != tt.wantAddr {
			t.Errorf("parseTarget(%q) = %+v, %v; want kind %d addr %q", tt.in, got, err, tt.wantKind, tt.wantAddr)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"inventory", "unix:///a.sock", "unix-abstract:x", "tls://h:1", "tcp://127.0.0.1:80", "tls://[::1]:443", "tls://h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTarget(s)
		if err != nil {
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("parseTarget(%q) error %v does not wrap ErrBadTarget", s, err)
			}
			return
		}
		switch got.kind {
		case targetName:
			if mux.ValidateServiceName(got.addr) != nil || got.addr != s {
				t.Fatalf("parseTarget(%q) accepted invalid name %q", s, got.addr)
			}
		case targetUnix:
			if !strings.HasPrefix(got.addr, "/") || strings.ContainsRune(got.addr, 0) {
				t.Fatalf("parseTarget(%q) unix path %q", s, got.addr)
			}
		case targetAbstract:
			if got.addr == "" || strings.ContainsRune(got.addr, 0) {
				t.Fatalf("parseTarget(%q) abstract name %q", s, got.addr)
			}
		case targetTLS, targetTCP:
			host, port, err := net.SplitHostPort(got.addr)
			if err != nil || host == "" || port == "" || port == "0" {
				t.Fatalf("parseTarget(%q) host:port %q (%v)", s, got.addr, err)
			}
			if again, err := parseTarget(s[:strings.Index(s, "://")+3] + got.addr); err != nil || again != got {
				t.Fatalf("parseTarget(%q) not stable: %+v then %+v, %v", s, got, again, err)
			}
		}
	})
}
