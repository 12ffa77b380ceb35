package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMainCode(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no args prints help", nil, 2, "Commands:"},
		{"help serve", []string{"help", "serve"}, 0, "PODWIRE_SERVE_DATA"},
		{"help certs", []string{"help", "certs"}, 0, "PODWIRE_CERTS_HOST"},
		{"help unknown", []string{"help", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help two", []string{"help", "serve", "certs"}, 2, `unexpected argument "certs"`},
		{"help", []string{"help"}, 0, "Commands:"},
		{"version", []string{"version"}, 0, "podwire "},
		{"unknown", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got := mainCode(context.Background(), tt.args, &out, &out)
			if got != tt.wantCode {
				t.Errorf("mainCode(%q) = %d, want %d; output:\n%s", tt.args, got, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("mainCode(%q) output = %q, want it to contain %q", tt.args, out.String(), tt.wantOut)
			}
		})
	}
}

// TestCertsCommand: `podwire certs` writes the CA and one service's pair,
// the leaf verifies against the CA with the service's SPIFFE ID, and a
// missing --out or --service is a usage error (exit 2) that writes nothing.
func TestCertsCommand(t *testing.T) {
	clearPodwireEnv(t)
	tests := []struct {
		name     string
		args     func(dir string) []string
		wantCode int
		wantOut  string
		wantFile []string // written into dir
	}{
		{"one service", func(dir string) []string { return []string{"certs", "--out", dir, "--service", "inventory"} },
			0, "inventory.key", []string{"ca.crt", "ca.key", "inventory.crt", "inventory.key"}},
		{"missing --out", func(string) []string { return []string{"certs", "--service", "inventory"} },
			2, "--out DIR", nil},
		{"bad service name", func(dir string) []string { return []string{"certs", "--out", dir, "--service", "../evil"} },
			2, `"../evil"`, nil},
		{"bad host", func(dir string) []string { return []string{"certs", "--out", dir, "--service", "a", "--host", "a..b"} },
			2, `host "a..b"`, nil},
		{"missing --service", func(dir string) []string { return []string{"certs", "--out", dir} },
			2, "--service NAME", nil},
		{"service and host from env", func(dir string) []string {
			t.Setenv("PODWIRE_CERTS_SERVICE", "inventory")
			t.Setenv("PODWIRE_CERTS_HOST", "inventory.shop.svc,10.1.2.3")
			return []string{"certs", "--out", dir}
		}, 0, "10.1.2.3", []string{"ca.crt", "ca.key", "inventory.crt", "inventory.key"}},
		{"unknown flag", func(dir string) []string { return []string{"certs", "--out", dir, "--service", "a", "--bogus"} },
			2, "bogus", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var out bytes.Buffer
			if got := mainCode(context.Background(), tt.args(dir), &out, &out); got != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; output:\n%s", got, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output = %q, want it to contain %q", out.String(), tt.wantOut)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tt.wantFile) {
				t.Errorf("files in --out = %q, want %q", got, tt.wantFile)
			}
			if tt.wantCode == 0 {
				verifyLeaf(t, dir, "inventory")
			}
		})
	}
}

// verifyLeaf checks that NAME.crt in dir is signed by ca.crt, carries the
// SPIFFE ID spiffe://podwire.local/NAME and matches NAME.key.
func verifyLeaf(t testing.TB, dir, name string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatalf("load %s pair: %v", name, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no PEM certificate")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("%s.crt does not verify against ca.crt: %v", name, err)
	}
	if want := "spiffe://podwire.local/" + name; len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		t.Errorf("%s.crt URI SANs = %v, want [%s]", name, leaf.URIs, want)
	}
}
