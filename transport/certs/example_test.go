package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podwire/podwire/transport/certs"
)

// Write a dev CA and a certificate for the inventory service.
func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "certs")
	defer os.RemoveAll(dir)
	if err := certs.Write(dir, []string{"inventory"}); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, n := range names {
		fmt.Println(filepath.Base(n))
	}
	// Output:
	// ca.crt
	// ca.key
	// inventory.crt
	// inventory.key
}

// Add a DNS name and a pod IP to the leaf's SANs (localhost, 127.0.0.1 and
// ::1 are always there).
func ExampleWithHosts() {
	dir, _ := os.MkdirTemp("", "certs")
	defer os.RemoveAll(dir)
	if err := certs.Write(dir, []string{"inventory"}, certs.WithHosts("inventory.shop.svc", "10.0.0.7")); err != nil {
		fmt.Println(err)
		return
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "inventory.crt"), filepath.Join(dir, "inventory.key"))
	if err != nil {
		fmt.Println(err)
		return
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	fmt.Println(leaf.DNSNames)
	fmt.Println(leaf.IPAddresses)
	// Output:
	// [inventory localhost inventory.shop.svc]
	// [127.0.0.1 ::1 10.0.0.7]
}
