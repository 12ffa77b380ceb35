package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readCert parses the PEM certificate at path.
func readCert(tb testing.TB, path string) *x509.Certificate {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatalf("parse %s: %v", path, err)
	}
	return c
}

func TestWriteLeaves(t *testing.T) {
	tests := []struct {
		name, domain, wantID string
		opts                 []Option
	}{
		{name: "inventory", domain: "", wantID: "spiffe://podwire.local/inventory"},
		{name: "purchase", domain: "shop.example", wantID: "spiffe://shop.example/purchase", opts: []Option{WithTrustDomain("shop.example")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, []string{tt.name}, tt.opts...); err != nil {
				t.Fatalf("Write: %v", err)
			}
			ca := readCert(t, filepath.Join(dir, "ca.crt"))
			leaf := readCert(t, filepath.Join(dir, tt.name+".crt"))
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, tt.name+".crt"), filepath.Join(dir, tt.name+".key")); err != nil {
				t.Fatalf("key pair: %v", err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: tt.name, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("Verify(usage %v): %v", usage, err)
				}
			}
			if got := leaf.URIs[0].String(); len(leaf.URIs) != 1 || got != tt.wantID {
				t.Errorf("URI SAN = %v, want [%s]", leaf.URIs, tt.wantID)
			}
			pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("leaf key = %T, want ECDSA P-256", leaf.PublicKey)
			}
			fi, err := os.Stat(filepath.Join(dir, tt.name+".key"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode = %v (err %v), want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

func TestWriteReusesCA(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, []string{"a"}); err != nil {
		t.Fatalf("Write a: %v", err)
	}
	first := readCert(t, filepath.Join(dir, "ca.crt"))
	if err := Write(dir, []string{"b"}); err != nil {
		t.Fatalf("Write b: %v", err)
	}
	if got := readCert(t, filepath.Join(dir, "ca.crt")); !got.Equal(first) {
		t.Errorf("second Write replaced the CA; want it reused")
	}
	if err := Write(dir, []string{"c"}, WithNewCA()); err != nil {
		t.Fatalf("Write c: %v", err)
	}
	if got := readCert(t, filepath.Join(dir, "ca.crt")); got.Equal(first) {
		t.Errorf("WithNewCA kept the old CA; want a new one")
	}
}

func TestWriteExpired(t *testing.T) {
	dir := t.TempDir()
	nb := time.Now().Add(-48 * time.Hour)
	if err := Write(dir, []string{"old"}, WithValidity(nb, nb.Add(time.Hour))); err != nil {
		t.Fatalf("Write: %v", err)
	}
	leaf := readCert(t, filepath.Join(dir, "old.crt"))
	if !leaf.NotAfter.Before(time.Now()) {
		t.Errorf("NotAfter = %v, want in the past", leaf.NotAfter)
	}
}

func TestWriteBadInput(t *testing.T) {
	tests := []struct {
		name     string
		services []string
		opts     []Option
	}{
		{"no services", nil, nil},
		{"upper case", []string{"Inventory"}, nil},
		{"empty domain", []string{"a"}, []Option{WithTrustDomain("")}},
		{"domain with path", []string{"a"}, []Option{WithTrustDomain("x/y")}},
		{"inverted validity", []string{"a"}, []Option{WithValidity(time.Now(), time.Now().Add(-time.Hour))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(t.TempDir(), tt.services, tt.opts...)
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("Write = %v, want ErrBadInput", err)
			}
		})
	}
}
