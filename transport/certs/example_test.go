package certs_test

import (
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
