package certs

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestHostSANs: every leaf carries its name, localhost, 127.0.0.1 and ::1;
// WithHosts adds DNS names and IPs (each once); the leaf verifies for each
// of them against the CA, as a TLS client checking the server name would.
func TestHostSANs(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		wantDNS []string
		wantIPs []string
	}{
		{"defaults", nil, []string{"inventory", "localhost"}, []string{"127.0.0.1", "::1"}},
		{"dns and ip", []string{"inventory.shop.svc", "10.0.0.7", "fd00::1"},
			[]string{"inventory", "localhost", "inventory.shop.svc"}, []string{"127.0.0.1", "::1", "10.0.0.7", "fd00::1"}},
		{"duplicates once", []string{"localhost", "127.0.0.1", "Inventory", "0:0:0:0:0:0:0:1"},
			[]string{"inventory", "localhost"}, []string{"127.0.0.1", "::1"}},
		{"wildcard", []string{"*.shop.example"}, []string{"inventory", "localhost", "*.shop.example"}, []string{"127.0.0.1", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, []string{"inventory"}, WithHosts(tt.hosts...)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			leaf := readCert(t, filepath.Join(dir, "inventory.crt"))
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) || !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("SANs = DNS %q IP %q, want DNS %q IP %q", leaf.DNSNames, ips, tt.wantDNS, tt.wantIPs)
			}
			pool := x509.NewCertPool()
			pool.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
			for _, h := range append(slices.Clone(tt.wantDNS), tt.wantIPs...) {
				if h[0] == '*' {
					h = "api" + h[1:]
				}
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
					t.Errorf("leaf does not verify for %q: %v", h, err)
				}
			}
			if err := leaf.VerifyHostname("192.0.2.1"); err == nil {
				t.Error("leaf verifies for 192.0.2.1, which it was not made for")
			}
		})
	}
}

// TestBadHosts: a host that is neither an IP nor a DNS name is refused
// before anything is written.
func TestBadHosts(t *testing.T) {
	for _, h := range []string{"", "-bad.example", "bad-.example", "a..b", "under_score", "spaces here", "http://x", string(make([]byte, 254))} {
		t.Run(h, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			err := Write(dir, []string{"inventory"}, WithHosts(h))
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("Write with host %q = %v, want ErrBadInput", h, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("Write with host %q created %s (stat: %v), want nothing written", h, dir, err)
			}
		})
	}
}
