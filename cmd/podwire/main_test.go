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
	for _, env := range []string{"PODWIRE_OUT", "PODWIRE_SERVICE", "PODWIRE_TRUST_DOMAIN"} {
		t.Setenv(env, "") // the command reads flags from the environment too
		os.Unsetenv(env)
	}
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
		{"missing --service", func(dir string) []string { return []string{"certs", "--out", dir} },
			2, "--service NAME", nil},
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

// TestBadFlagIsUsageError: every subcommand answers an unknown flag with
// exit code 2 and names itself, and -h with exit 0.
func TestBadFlagIsUsageError(t *testing.T) {
	for _, c := range commands() {
		if c.name == "version" { // takes no flags at all
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := mainCode(context.Background(), []string{c.name, "--no-such-flag"}, &out, &out); got != 2 {
				t.Errorf("podwire %s --no-such-flag exit = %d, want 2; output:\n%s", c.name, got, out.String())
			}
			if want := "podwire " + c.name; !strings.Contains(out.String(), want) {
				t.Errorf("podwire %s --no-such-flag output = %q, want it to name %q", c.name, out.String(), want)
			}
			out.Reset()
			if got := mainCode(context.Background(), []string{c.name, "-h"}, &out, &out); got != 0 {
				t.Errorf("podwire %s -h exit = %d, want 0", c.name, got)
			}
		})
	}
}
