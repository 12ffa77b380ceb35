package mux

import (
	"crypto/tls"
	"testing"
)

// BenchPKI returns mutual-TLS client and server configs signed by an
// in-test ECDSA P-256 CA, for the external benchmarks.
func BenchPKI(tb testing.TB) (client, server *tls.Config) {
	p := testPKI(tb)
	return p.client.Clone(), p.server.Clone()
}

// SetCoalesce turns header/body write coalescing on or off (for A/B
// benchmarks) and returns the previous setting.
func SetCoalesce(on bool) bool {
	old := coalesce
	coalesce = on
	return old
}
